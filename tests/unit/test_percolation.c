/* Percolation barriers: hand-built networks whose answer is known (chains, layers, cubic, a loop
 * that wraps twice, crossing chains, non-orthogonal generators, closed clusters, NaN barriers,
 * unsorted input), bad input, and random networks against a brute force on a finite block of
 * cells that knows nothing of union-find offsets or lattice bases. */
#include "check.h"
#include "ionhop.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONN 16

/* A network under construction. */
typedef struct net {
    int n_sites, n;
    int from[MAX_CONN], to[MAX_CONN], image[MAX_CONN][3];
    double em[MAX_CONN];
} net;

static void hop(net *g, int from, int to, int a, int b, int c, double em) {
    g->from[g->n] = from, g->to[g->n] = to;
    g->image[g->n][0] = a, g->image[g->n][1] = b, g->image[g->n][2] = c;
    g->em[g->n++] = em;
}

static ih_percolation compute(const net *g) {
    ih_percolation p;
    int rc = ih_percolation_compute(g->n_sites, g->n, g->from, g->to, (const int(*)[3])g->image, g->em, &p);
    CHECK_MSG(rc == 0, "%s", ih_last_error());
    return p;
}

/* v equals (a, b, c) up to sign */
static int is_vec(const int *v, int a, int b, int c) {
    return (v[0] == a && v[1] == b && v[2] == c) || (v[0] == -a && v[1] == -b && v[2] == -c);
}

static long det3(const int (*m)[3]) {
    return (long)m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
           (long)m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
           (long)m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

static void cross(const int *a, const int *b, long *c) {
    c[0] = (long)a[1] * b[2] - (long)a[2] * b[1];
    c[1] = (long)a[2] * b[0] - (long)a[0] * b[2];
    c[2] = (long)a[0] * b[1] - (long)a[1] * b[0];
}

static int row_is_zero(const int *v) { return !v[0] && !v[1] && !v[2]; }

static void test_chain(void) {
    net g = {.n_sites = 1};
    hop(&g, 0, 0, 1, 0, 0, 0.3);
    ih_percolation p = compute(&g);
    CHECK_NEAR(p.barrier[0], 0.3, 0);
    CHECK(isnan(p.barrier[1]) && isnan(p.barrier[2]));
    CHECK(is_vec(p.direction[0][0], 1, 0, 0));
    CHECK(row_is_zero(p.direction[0][1]) && row_is_zero(p.direction[0][2]));
    CHECK(row_is_zero(p.direction[1][0]) && row_is_zero(p.direction[2][0]));
}

/* 0 -> 1 in the cell, 1 -> 0 of the next cell along c: the chain needs both hops */
static void test_alternating_chain(void) {
    net g = {.n_sites = 2};
    hop(&g, 0, 1, 0, 0, 0, 0.2);
    hop(&g, 1, 0, 0, 0, 1, 0.5);
    ih_percolation p = compute(&g);
    CHECK_NEAR(p.barrier[0], 0.5, 0);
    CHECK(isnan(p.barrier[1]) && isnan(p.barrier[2]));
    CHECK(is_vec(p.direction[0][0], 0, 0, 1));
}

static void test_layers(void) {
    net g = {.n_sites = 1};
    hop(&g, 0, 0, 0, 0, 1, 0.9); /* unsorted on purpose */
    hop(&g, 0, 0, 1, 0, 0, 0.2);
    hop(&g, 0, 0, 0, 1, 0, 0.4);
    ih_percolation p = compute(&g);
    CHECK_NEAR(p.barrier[0], 0.2, 0);
    CHECK_NEAR(p.barrier[1], 0.4, 0);
    CHECK_NEAR(p.barrier[2], 0.9, 0);
    CHECK(is_vec(p.direction[0][0], 1, 0, 0));
    long c[3];
    cross(p.direction[1][0], p.direction[1][1], c); /* the ab plane, a basis of its lattice */
    CHECK(c[0] == 0 && c[1] == 0 && labs(c[2]) == 1);
    CHECK(row_is_zero(p.direction[1][2]));
    CHECK_INT(labs(det3((const int(*)[3])p.direction[2])), 1);
}

static void test_simple_cubic(void) {
    net g = {.n_sites = 1};
    hop(&g, 0, 0, 1, 0, 0, 0.3);
    hop(&g, 0, 0, 0, 1, 0, 0.3);
    hop(&g, 0, 0, 0, 0, 1, 0.3);
    ih_percolation p = compute(&g);
    for (int d = 0; d < 3; d++) CHECK_NEAR(p.barrier[d], 0.3, 0);
    CHECK_INT(labs(det3((const int(*)[3])p.direction[2])), 1);
    /* fewer directions than the network has: d of its (unit) basis vectors */
    CHECK(is_vec(p.direction[0][0], 1, 0, 0) || is_vec(p.direction[0][0], 0, 1, 0) ||
          is_vec(p.direction[0][0], 0, 0, 1));
    CHECK(row_is_zero(p.direction[0][1]) && row_is_zero(p.direction[1][2]));
}

/* 0 -> 1 one cell up b, 1 -> 0 one cell up b: the cycle through both sites ends two cells up.
 * Two interleaved chains, each repeating every 2 cells: still 1-D, and the network's own
 * translation is [0,2,0] (a shift by one cell maps it onto the other chain, not onto itself). */
static void test_loop_wrapping_twice(void) {
    net g = {.n_sites = 2};
    hop(&g, 0, 1, 0, 1, 0, 0.25);
    hop(&g, 1, 0, 0, 1, 0, 0.25);
    ih_percolation p = compute(&g);
    CHECK_NEAR(p.barrier[0], 0.25, 0);
    CHECK(isnan(p.barrier[1]));
    CHECK(is_vec(p.direction[0][0], 0, 2, 0));
}

/* two separate chains (a through site 0, b through site 1) are each 1-D; only the hop between
 * them makes one 2-D network */
static void test_crossing_chains(void) {
    net g = {.n_sites = 2};
    hop(&g, 0, 0, 1, 0, 0, 0.2);
    hop(&g, 1, 1, 0, 1, 0, 0.3);
    hop(&g, 0, 1, 0, 0, 0, 0.6);
    ih_percolation p = compute(&g);
    CHECK_NEAR(p.barrier[0], 0.2, 0);
    CHECK_NEAR(p.barrier[1], 0.6, 0);
    CHECK(isnan(p.barrier[2]));
    CHECK(is_vec(p.direction[0][0], 1, 0, 0));
    long c[3];
    cross(p.direction[1][0], p.direction[1][1], c);
    CHECK(c[0] == 0 && c[1] == 0 && labs(c[2]) == 1);
}

static void test_long_hops(void) {
    net g = {.n_sites = 1};
    hop(&g, 0, 0, 2, 0, 0, 0.4); /* a chain hopping over every other cell */
    ih_percolation p = compute(&g);
    CHECK_NEAR(p.barrier[0], 0.4, 0);
    CHECK(isnan(p.barrier[1]));
    CHECK(is_vec(p.direction[0][0], 2, 0, 0));

    net h = {.n_sites = 2}; /* +3 cells out, -5 back: a chain that repeats every 2 cells */
    hop(&h, 0, 1, 3, 0, 0, 0.1);
    hop(&h, 1, 0, -5, 0, 0, 0.1);
    p = compute(&h);
    CHECK_NEAR(p.barrier[0], 0.1, 0);
    CHECK(is_vec(p.direction[0][0], 2, 0, 0));
    hop(&h, 0, 0, 3, 0, 0, 0.2); /* a later 3-cell loop refines the repeat to 1 cell at 0.2 ... */
    p = compute(&h);
    CHECK_NEAR(p.barrier[0], 0.1, 0);
    CHECK(isnan(p.barrier[1]));
    CHECK(is_vec(p.direction[0][0], 2, 0, 0)); /* ... but the 1-D report is of 0.1, before it opened */
}

static void test_closed_cluster(void) {
    net g = {.n_sites = 3};
    hop(&g, 0, 1, 0, 0, 0, 0.1);
    hop(&g, 1, 2, 0, 0, 0, 0.1);
    hop(&g, 2, 0, 0, 0, 0, 0.1);
    ih_percolation p = compute(&g);
    for (int d = 0; d < 3; d++) CHECK(isnan(p.barrier[d]));
    for (int d = 0; d < 3; d++)
        for (int r = 0; r < 3; r++) CHECK(row_is_zero(p.direction[d][r]));

    /* the same cluster reached from the next cell over is still closed (a tree, no cycle) */
    net h = {.n_sites = 3};
    hop(&h, 0, 1, 1, 0, 0, 0.1);
    hop(&h, 1, 2, 0, -1, 0, 0.1);
    p = compute(&h);
    CHECK(isnan(p.barrier[0]));

    net e = {.n_sites = 4}; /* no connections at all */
    p = compute(&e);
    CHECK(isnan(p.barrier[0]));
}

static void test_nan_and_no_ops(void) {
    net g = {.n_sites = 2};
    hop(&g, 0, 0, 1, 0, 0, NAN); /* never opens */
    hop(&g, 1, 1, 0, 0, 0, 0.05); /* to itself in the same cell: nothing */
    hop(&g, 0, 1, 0, 0, 0, 0.1);
    hop(&g, 1, 0, 0, 1, 0, 0.7);
    hop(&g, 1, 0, 0, 1, 0, 0.3); /* the same hop again, cheaper: the cheaper one counts */
    hop(&g, 1, 1, 0, 0, 1, NAN);
    ih_percolation p = compute(&g);
    CHECK_NEAR(p.barrier[0], 0.3, 0);
    CHECK(isnan(p.barrier[1]));
    CHECK(is_vec(p.direction[0][0], 0, 1, 0));
}

/* [1,1,0] and [1,-1,0] span an index-2 sublattice of the ab plane: 2-D all the same */
static void test_non_orthogonal(void) {
    net g = {.n_sites = 1};
    hop(&g, 0, 0, 1, 1, 0, 0.2);
    hop(&g, 0, 0, 1, -1, 0, 0.2);
    ih_percolation p = compute(&g);
    CHECK_NEAR(p.barrier[0], 0.2, 0);
    CHECK_NEAR(p.barrier[1], 0.2, 0);
    CHECK(isnan(p.barrier[2]));
    long c[3];
    cross(p.direction[1][0], p.direction[1][1], c);
    CHECK(c[0] == 0 && c[1] == 0 && labs(c[2]) == 2);
    CHECK(is_vec(p.direction[1][0], 1, 1, 0) || is_vec(p.direction[1][0], 1, -1, 0));
    CHECK(is_vec(p.direction[1][1], 1, 1, 0) || is_vec(p.direction[1][1], 1, -1, 0));

    net h = {.n_sites = 1}; /* skewed generators of the whole cubic lattice: the report is reduced */
    hop(&h, 0, 0, 1, 0, 0, 0.1);
    hop(&h, 0, 0, 7, 1, 0, 0.1);
    hop(&h, 0, 0, 5, 3, 1, 0.1);
    p = compute(&h);
    CHECK_NEAR(p.barrier[2], 0.1, 0);
    CHECK_INT(labs(det3((const int(*)[3])p.direction[2])), 1);
    for (int r = 0; r < 3; r++)
        for (int c2 = 0; c2 < 3; c2++) CHECK(abs(p.direction[2][r][c2]) <= 1);
}

static void test_bad_input(void) {
    int from[2] = {0, 1}, to[2] = {1, 7}, image[2][3] = {{0, 0, 0}, {1, 0, 0}};
    double em[2] = {0.1, 0.2};
    ih_percolation p;
    CHECK_INT(ih_percolation_compute(4, 2, from, to, (const int(*)[3])image, em, &p), -1);
    CHECK_MSG(strstr(ih_last_error(), "site") && strstr(ih_last_error(), "7") && !strchr(ih_last_error(), '\n'),
              "%s", ih_last_error());
    CHECK(isnan(p.barrier[0]));
    from[0] = -1, to[1] = 0;
    CHECK_INT(ih_percolation_compute(4, 2, from, to, (const int(*)[3])image, em, &p), -1);
    CHECK(strstr(ih_last_error(), "site") != NULL);
    from[0] = 0;
    CHECK_INT(ih_percolation_compute(4, 2, from, to, (const int(*)[3])image, em, &p), 0);
    CHECK_INT(ih_percolation_compute(0, 2, from, to, (const int(*)[3])image, em, &p), -1);
    CHECK_INT(ih_percolation_compute(4, -1, from, to, (const int(*)[3])image, em, &p), -1);
    CHECK_INT(ih_percolation_compute(4, 2, NULL, to, (const int(*)[3])image, em, &p), -1);
    CHECK_INT(ih_percolation_compute(4, 2, from, to, NULL, em, &p), -1);
    CHECK_INT(ih_percolation_compute(4, 2, from, to, (const int(*)[3])image, NULL, &p), -1);
    CHECK_INT(ih_percolation_compute(4, 2, from, to, (const int(*)[3])image, em, NULL), -1);
    CHECK_INT(ih_percolation_compute(4, 0, NULL, NULL, NULL, NULL, &p), 0); /* nothing to read */
    CHECK(isnan(p.barrier[0]));
}

/* ---------------------------------------------------------------------------------------- */
/* brute force                                                                              */
/* ---------------------------------------------------------------------------------------- */

/* The network is laid out explicitly on a B×B×B block of cells (no wrap), every translate of every
 * open hop whose two ends lie in the block joined by a plain union-find. Translations t with site s
 * of the centre cell connected to site s of cell centre + t inside the block belong to the
 * network's repeat lattice; their rank is its dimension. Why the block is big enough: with S <= 4
 * sites and images in -2..2, every cycle of a spanning tree (rooted anywhere, depth <= S - 1)
 * has at most 2(S-1)+1 = 7 hops, so it stays within 14 cells of where it starts; these cycles
 * generate the repeat lattice, so a half-width of 14 sees its full rank. */
#define BR_SITES 4
#define BR_HALF 14
#define BR_SIDE (2 * BR_HALF + 1)
#define BR_CELLS (BR_SIDE * BR_SIDE * BR_SIDE)

static int br_parent[BR_CELLS * BR_SITES];

static int br_node(int s, int x, int y, int z) { return ((x * BR_SIDE + y) * BR_SIDE + z) * BR_SITES + s; }

static int br_find(int i) {
    while (br_parent[i] != i) i = br_parent[i] = br_parent[br_parent[i]];
    return i;
}

/* Integer row echelon form of up to 3 vectors (fraction-free, rows divided by their gcd). */
typedef struct span {
    long row[3][3];
    int rank;
} span;

static long gcdl(long a, long b) {
    a = labs(a), b = labs(b);
    while (b) {
        long t = a % b;
        a = b, b = t;
    }
    return a;
}

static void span_add(span *sp, const long *v_in) {
    long v[3] = {v_in[0], v_in[1], v_in[2]};
    for (int r = 0; r < sp->rank; r++) {
        int p = 0;
        while (sp->row[r][p] == 0) p++;
        if (v[p] == 0) continue;
        long a = sp->row[r][p], b = v[p], g = 0;
        for (int c = 0; c < 3; c++) v[c] = a * v[c] - b * sp->row[r][c], g = gcdl(g, v[c]);
        if (g > 1)
            for (int c = 0; c < 3; c++) v[c] /= g;
    }
    if (!v[0] && !v[1] && !v[2]) return;
    /* keep rows ordered by pivot column so later reductions see them in order */
    int pv = 0;
    while (v[pv] == 0) pv++;
    int at = sp->rank;
    while (at > 0) {
        int pp = 0;
        while (sp->row[at - 1][pp] == 0) pp++;
        if (pp < pv) break;
        memcpy(sp->row[at], sp->row[at - 1], sizeof v);
        at--;
    }
    memcpy(sp->row[at], v, sizeof v);
    sp->rank++;
    /* clear the new pivot column from the rows above (keeps the form echelon for the next add) */
    for (int r = 0; r < sp->rank; r++) {
        if (r == at || sp->row[r][pv] == 0) continue;
        long a = v[pv], b = sp->row[r][pv], g = 0;
        for (int c = 0; c < 3; c++) sp->row[r][c] = a * sp->row[r][c] - b * v[c], g = gcdl(g, sp->row[r][c]);
        if (g > 1)
            for (int c = 0; c < 3; c++) sp->row[r][c] /= g;
    }
}

static int rank_of(const int (*v)[3], int n) {
    span sp = {.rank = 0};
    for (int i = 0; i < n; i++) {
        long w[3] = {v[i][0], v[i][1], v[i][2]};
        span_add(&sp, w);
    }
    return sp.rank;
}

/* highest rank over the sites' repeat lattices in the current block state */
static int br_rank(int n_sites) {
    int best = 0;
    for (int s = 0; s < n_sites && best < 3; s++) {
        span sp = {.rank = 0};
        int centre = br_find(br_node(s, BR_HALF, BR_HALF, BR_HALF));
        for (int x = 0; x < BR_SIDE && sp.rank < 3; x++)
            for (int y = 0; y < BR_SIDE && sp.rank < 3; y++)
                for (int z = 0; z < BR_SIDE && sp.rank < 3; z++) {
                    if (br_find(br_node(s, x, y, z)) != centre) continue;
                    long t[3] = {x - BR_HALF, y - BR_HALF, z - BR_HALF};
                    if (t[0] || t[1] || t[2]) span_add(&sp, t);
                }
        if (sp.rank > best) best = sp.rank;
    }
    return best;
}

/* determinant of the n×n matrix m[r][cols[c]] (n <= 3) */
static long minor_det(const long (*m)[3], const int *cols, int n) {
    if (n == 1) return m[0][cols[0]];
    if (n == 2) return m[0][cols[0]] * m[1][cols[1]] - m[0][cols[1]] * m[1][cols[0]];
    long d = 0;
    for (int c = 0; c < 3; c++) {
        int rest[2] = {cols[(c + 1) % 3], cols[(c + 2) % 3]};
        long sub[2][3] = {{m[1][rest[0]], m[1][rest[1]], 0}, {m[2][rest[0]], m[2][rest[1]], 0}};
        static const int first2[2] = {0, 1};
        d += m[0][cols[c]] * minor_det((const long(*)[3])sub, first2, 2);
    }
    return d;
}

/* is t an integer combination of the n independent rows v? Cramer's rule on n columns whose
 * minor is nonzero, then the combination checked on all three. */
static int in_int_span(const int (*v)[3], int n, const long *t) {
    static const int col_sets[3][3][3] = {{{0}, {1}, {2}}, {{0, 1}, {0, 2}, {1, 2}}, {{0, 1, 2}}};
    long m[3][3];
    for (int r = 0; r < n; r++)
        for (int c = 0; c < 3; c++) m[r][c] = v[r][c];
    for (int k = 0; k < 3; k++) {
        const int *cols = col_sets[n - 1][k];
        long det = minor_det((const long(*)[3])m, cols, n);
        if (det == 0) continue;
        long x[3] = {0, 0, 0};
        for (int i = 0; i < n; i++) { /* x_i = det(m with row i replaced by t) / det */
            long mi[3][3];
            memcpy(mi, m, sizeof mi);
            for (int c = 0; c < 3; c++) mi[i][c] = t[c];
            long num = minor_det((const long(*)[3])mi, cols, n);
            if (num % det) return 0;
            x[i] = num / det;
        }
        for (int c = 0; c < 3; c++) {
            long sum = 0;
            for (int i = 0; i < n; i++) sum += x[i] * m[i][c];
            if (sum != t[c]) return 0;
        }
        return 1;
    }
    return 0; /* dependent rows: not a basis */
}

/* Do the n vectors v describe the repeat of one site's network in the current block state: each
 * a translation of it, and (exact = 1, when the network's rank is n) every translation of it in
 * the block an integer combination of them? */
static int br_repeats_along(int n_sites, const int (*v)[3], int n, int exact) {
    for (int s = 0; s < n_sites; s++) {
        int centre = br_find(br_node(s, BR_HALF, BR_HALF, BR_HALF)), all = 1;
        for (int r = 0; r < n && all; r++) {
            int x = BR_HALF + v[r][0], y = BR_HALF + v[r][1], z = BR_HALF + v[r][2];
            if (x < 0 || y < 0 || z < 0 || x >= BR_SIDE || y >= BR_SIDE || z >= BR_SIDE) return 0;
            all = br_find(br_node(s, x, y, z)) == centre;
        }
        for (int x = 0; x < BR_SIDE && all && exact; x++)
            for (int y = 0; y < BR_SIDE && all; y++)
                for (int z = 0; z < BR_SIDE && all; z++) {
                    long t[3] = {x - BR_HALF, y - BR_HALF, z - BR_HALF};
                    if (br_find(br_node(s, x, y, z)) == centre) all = in_int_span(v, n, t);
                }
        if (all) return 1;
    }
    return 0;
}

static uint32_t lcg_state;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

/* one random network checked against the brute force; counts[d] += 1 if it reached d+1 dimensions */
static void random_case(uint32_t seed, int *counts) {
    static const double levels[4] = {0.1, 0.2, 0.3, 0.4};
    lcg_state = seed;
    net g = {.n_sites = 1 + (int)(lcg() % BR_SITES)};
    int n = 1 + (int)(lcg() % 8);
    for (int k = 0; k < n; k++) {
        int im[3];
        for (int c = 0; c < 3; c++) { /* mostly neighbouring cells, sometimes two over */
            uint32_t r = lcg() % 10;
            im[c] = r < 4 ? 0 : r < 6 ? 1 : r < 8 ? -1 : r < 9 ? 2 : -2;
        }
        double em = lcg() % 12 == 0 ? NAN : levels[lcg() % 4];
        hop(&g, (int)(lcg() % (uint32_t)g.n_sites), (int)(lcg() % (uint32_t)g.n_sites), im[0], im[1], im[2], em);
    }
    ih_percolation p = compute(&g);

    for (int i = 0; i < BR_CELLS * BR_SITES; i++) br_parent[i] = i;
    double expect[3] = {NAN, NAN, NAN};
    int reached = 0;
    for (int level = 0; level < 4 && reached < 3; level++) {
        for (int k = 0; k < g.n; k++) {
            if (!(g.em[k] == levels[level])) continue;
            for (int x = 0; x < BR_SIDE; x++)
                for (int y = 0; y < BR_SIDE; y++)
                    for (int z = 0; z < BR_SIDE; z++) {
                        int x2 = x + g.image[k][0], y2 = y + g.image[k][1], z2 = z + g.image[k][2];
                        if (x2 < 0 || y2 < 0 || z2 < 0 || x2 >= BR_SIDE || y2 >= BR_SIDE || z2 >= BR_SIDE)
                            continue;
                        int a = br_find(br_node(g.from[k], x, y, z)), b = br_find(br_node(g.to[k], x2, y2, z2));
                        if (a != b) br_parent[a] = b;
                    }
        }
        int r = br_rank(g.n_sites);
        for (; reached < r; reached++) {
            expect[reached] = levels[level];
            /* the reported directions: d independent vectors along which one network repeats, and
             * a basis of its repeat when it is exactly d-dimensional */
            const int(*dir)[3] = (const int(*)[3])p.direction[reached];
            CHECK_MSG(rank_of(dir, reached + 1) == reached + 1, "seed %u: %dD directions dependent", seed,
                      reached + 1);
            CHECK_MSG(br_repeats_along(g.n_sites, dir, reached + 1, r == reached + 1),
                      "seed %u: %dD directions not the network's repeat", seed, reached + 1);
        }
    }
    for (int d = 0; d < 3; d++) {
        int same = (isnan(expect[d]) && isnan(p.barrier[d])) || expect[d] == p.barrier[d];
        CHECK_MSG(same, "seed %u: %dD barrier %g, brute force %g", seed, d + 1, p.barrier[d], expect[d]);
        if (!isnan(expect[d])) counts[d]++;
    }

    /* the same network written differently: hops reversed (to -> from, -image) and listed in
     * another order, and each site's reference cell shifted (images into a site moved by its
     * shift, out of it by minus it) must give the same barriers */
    net h = {.n_sites = g.n_sites};
    int shift[BR_SITES][3];
    for (int s = 0; s < g.n_sites; s++)
        for (int c = 0; c < 3; c++) shift[s][c] = (int)(lcg() % 5) - 2;
    for (int m = 0; m < g.n; m++) {
        int k = (m * 5 + 3) % g.n;
        if (g.n % 5 == 0) k = g.n - 1 - m; /* 5 m + 3 is a permutation only when gcd(5, n) = 1 */
        int f = g.from[k], t = g.to[k], im[3];
        for (int c = 0; c < 3; c++) im[c] = g.image[k][c] + shift[t][c] - shift[f][c];
        if (lcg() % 2)
            hop(&h, f, t, im[0], im[1], im[2], g.em[k]);
        else
            hop(&h, t, f, -im[0], -im[1], -im[2], g.em[k]);
    }
    ih_percolation q = compute(&h);
    for (int d = 0; d < 3; d++) {
        int same = (isnan(q.barrier[d]) && isnan(p.barrier[d])) || q.barrier[d] == p.barrier[d];
        CHECK_MSG(same, "seed %u: rewritten network %dD barrier %g vs %g", seed, d + 1, q.barrier[d], p.barrier[d]);
    }
}

static void test_random_against_brute_force(void) {
    int counts[3] = {0, 0, 0};
    for (uint32_t seed = 1; seed <= 300; seed++) random_case(seed, counts);
    /* the cases exercise every dimension, not only closed clusters */
    CHECK_MSG(counts[0] >= 30 && counts[1] >= 30 && counts[2] >= 30, "1D %d, 2D %d, 3D %d cases", counts[0],
              counts[1], counts[2]);
}

int main(void) {
    test_chain();
    test_alternating_chain();
    test_layers();
    test_simple_cubic();
    test_loop_wrapping_twice();
    test_crossing_chains();
    test_long_hops();
    test_closed_cluster();
    test_nan_and_no_ops();
    test_non_orthogonal();
    test_bad_input();
    test_random_against_brute_force();
    return test_summary("test_percolation");
}
