/* Periodic k-nearest-neighbour search with ties (docs/method.md §2.1-2.3) on a cell list.
 *
 * The reference enumerates every (centre, atom, image) triple inside a box of images: O(N²·images).
 * Here a cell list over fractional coordinates decides which (j, image) pairs are worth evaluating;
 * each of those is then evaluated with exactly the reference's floating-point formula, so the
 * tie decisions at the k-th shell are the reference's.
 *
 * The selected set "all (j, n) with 0.15 < d ≤ d_k(i)" does not depend on the cutoff once every
 * atom has k candidates (docs/method.md §2.3), so each centre searches an adaptive radius that only has to
 * reach its own k-th neighbour; the structure's final cutoff is then replayed from the largest
 * d_k with the retry rule, which gives the same number as the reference's restart loop.
 *
 * With a tie tolerance t > 0 the set is "0.15 < d ≤ d_k(i) + t": a k-th shell that is degenerate
 * by symmetry is then kept whole, whatever rounding does to its distances (with t = 0 a rotated
 * copy of the cell can keep another part of it), and the final cutoff covers d_k + t. */
#include "graph/graph_internal.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_DIST 0.15   /* sites closer than this are never neighbours (docs/method.md §2.2) */
#define MAX_RETRIES 30  /* the reference gives up after 30 enlargements */
#define MIN_PLANE_SPACING 0.05 /* Å */
#define MAX_SCAN 50000000.0 /* bins one centre may scan: beyond this the cell is degenerate */

const char *ih_structure_name(const ih_structure *s, char *buf, size_t cap) {
    if (s->jid[0])
        snprintf(buf, cap, "jid %s", s->jid);
    else
        snprintf(buf, cap, "structure");
    return buf;
}

/* numpy's round(x, decimals): rint(x·10^d)/10^d, round half to even. */
static double round_decimals(double x, double scale) { return nearbyint(x * scale) / scale; }


/* Row vector v times M the way OpenBLAS dgemm rounds it on an FMA machine (docs/method.md §2.7). The
 * Makefile's -ffp-contract=off keeps the compiler from fusing anything else. */
static inline void row_times(const double v[3], const double M[3][3], double out[3]) {
    for (int c = 0; c < 3; c++) out[c] = fma(v[2], M[2][c], fma(v[1], M[1][c], v[0] * M[0][c]));
}

int ih_geom_init(ih_geom *g, const ih_structure *s, const char *what) {
    memset(g, 0, sizeof *g);
    if (s->n_atoms <= 0) return ih_set_error("%s: no atoms", what);
    g->n = s->n_atoms;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            if (!isfinite(s->lattice[r][c]))
                return ih_set_error("%s: lattice contains a non-finite number", what);
            g->Lraw[r][c] = s->lattice[r][c];
            g->Lr[r][c] = round_decimals(s->lattice[r][c], 1e5);
        }
    double det;
    int singular = ih_mat3_inverse(g->Lr, g->Lr_inv, &det);
    g->volume = fabs(det);
    if (singular != 0)
        return ih_set_error("%s: degenerate lattice (zero cell volume)", what);
    /* lattice planes closer than this put thousands of images inside the 0.15 Å exclusion
     * sphere: no crystal looks like that, and the search would crawl */
    for (int k = 0; k < 3; k++) {
        double b = sqrt(g->Lr_inv[0][k] * g->Lr_inv[0][k] + g->Lr_inv[1][k] * g->Lr_inv[1][k] +
                        g->Lr_inv[2][k] * g->Lr_inv[2][k]);
        if (!(1.0 / b >= MIN_PLANE_SPACING))
            return ih_set_error("%s: degenerate lattice (lattice planes %.3g Å apart)", what, 1.0 / b);
    }
    g->amax = 0;
    for (int r = 0; r < 3; r++) {
        const double *a = g->Lr[r];
        /* numpy's norm along a row: first element plus the reduced rest */
        double len = round_decimals(sqrt(a[0] * a[0] + (a[1] * a[1] + a[2] * a[2])), 1e6);
        if (len > g->amax) g->amax = len;
    }
    size_t n3 = 3 * (size_t)g->n;
    g->x = malloc(n3 * sizeof *g->x);
    g->f = malloc(n3 * sizeof *g->f);
    if (!g->x || !g->f) {
        ih_geom_free(g);
        return ih_set_error("%s: out of memory for %d atoms", what, s->n_atoms);
    }
    for (int i = 0; i < g->n; i++) {
        double *x = g->x + 3 * i, *f = g->f + 3 * i;
        if (s->cart) {
            memcpy(x, s->cart + 3 * i, 3 * sizeof *x);
            row_times(x, g->Lr_inv, f);
        } else {
            memcpy(f, s->frac + 3 * i, 3 * sizeof *f);
            row_times(f, g->Lr, x);
        }
        for (int c = 0; c < 3; c++)
            if (!isfinite(x[c]) || !isfinite(f[c]) || fabs(f[c]) > 1e6) {
                ih_geom_free(g);
                return ih_set_error("%s: atom %d has a non-finite or absurd coordinate", what, i + 1);
            }
    }
    return 0;
}

void ih_geom_free(ih_geom *g) {
    free(g->x);
    free(g->f);
    g->x = g->f = NULL;
}

void ih_geom_bond_vector(const ih_geom *g, int s, int t, const int n[3], double out[3]) {
    double d[3];
    for (int c = 0; c < 3; c++) d[c] = (g->f[3 * t + c] + (double)n[c]) - g->f[3 * s + c];
    row_times(d, g->Lr, out);
}

/* ---------------------------------------------------------------------------------------------- */
/* cell list over fractional coordinates                                                           */
/* ---------------------------------------------------------------------------------------------- */

/* Atoms are binned by their fractional coordinates wrapped into [0, 1) (f = g + w, w integer).
 * Bins are slabs of the cell, so the scheme works for any triclinic cell: a sphere of radius ρ
 * spans at most ρ·|column k of L⁻¹| in fractional coordinate k. */
typedef struct cell_list {
    int nb[3];
    int *start;      /* nbins + 1 */
    int *atoms;      /* atom indices grouped by bin */
    double *g;       /* n × 3 wrapped fractional coordinates */
    int *w;          /* n × 3 integer parts */
    double blen[3];  /* |column k of Lr⁻¹|: fractional extent per Å along axis k */
    double dlen[3];  /* |row k of Lraw − Lr|: how far the image offsets stray from Lr */
    int wspread[3];  /* max − min of w along each axis */
    double bin_radius; /* half the longest diagonal of a bin (Å) */
} cell_list;

static void cell_list_free(cell_list *cl) {
    free(cl->start);
    free(cl->atoms);
    free(cl->g);
    free(cl->w);
}

static int floordiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

static int cell_list_init(cell_list *cl, const ih_geom *geo, double bin_width) {
    memset(cl, 0, sizeof *cl);
    int n = geo->n;
    for (int k = 0; k < 3; k++) {
        double b2 = 0, d2 = 0;
        for (int c = 0; c < 3; c++) {
            b2 += geo->Lr_inv[c][k] * geo->Lr_inv[c][k];
            double dl = geo->Lraw[k][c] - geo->Lr[k][c];
            d2 += dl * dl;
        }
        cl->blen[k] = sqrt(b2);
        cl->dlen[k] = sqrt(d2);
    }
    /* slab thickness along k is 1/blen[k] Å; aim for bins about bin_width thick, at most ~2 bins
     * per atom so memory stays O(N) for sparse cells */
    double want[3], total = 1;
    for (int k = 0; k < 3; k++) {
        want[k] = floor(1.0 / (cl->blen[k] * bin_width));
        if (!(want[k] >= 1)) want[k] = 1;
        if (want[k] > 1024) want[k] = 1024;
        total *= want[k];
    }
    double cap = 2.0 * n + 8;
    if (total > cap) {
        double shrink = cbrt(total / cap);
        for (int k = 0; k < 3; k++) want[k] = fmax(1, floor(want[k] / shrink));
    }
    for (int k = 0; k < 3; k++) cl->nb[k] = (int)want[k];
    cl->bin_radius = 0;
    for (int sb = -1; sb <= 1; sb += 2)
        for (int sc = -1; sc <= 1; sc += 2) {
            double d2 = 0;
            for (int c = 0; c < 3; c++) {
                double v = geo->Lr[0][c] / cl->nb[0] + sb * geo->Lr[1][c] / cl->nb[1] +
                           sc * geo->Lr[2][c] / cl->nb[2];
                d2 += v * v;
            }
            cl->bin_radius = fmax(cl->bin_radius, 0.5 * sqrt(d2));
        }
    size_t nbins = (size_t)cl->nb[0] * cl->nb[1] * cl->nb[2];
    cl->start = calloc(nbins + 1, sizeof *cl->start);
    cl->atoms = malloc((size_t)n * sizeof *cl->atoms);
    cl->g = malloc(3 * (size_t)n * sizeof *cl->g);
    cl->w = malloc(3 * (size_t)n * sizeof *cl->w);
    int *bin = malloc((size_t)n * sizeof *bin);
    if (!cl->start || !cl->atoms || !cl->g || !cl->w || !bin) {
        free(bin);
        cell_list_free(cl);
        return -1;
    }
    int wmin[3] = {0, 0, 0}, wmax[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        int h[3];
        for (int k = 0; k < 3; k++) {
            double f = geo->f[3 * i + k], fl = floor(f);
            int w = (int)fl;
            double g = f - fl;
            if (g >= 1.0) g = 0.0, w += 1; /* f a hair below an integer */
            cl->g[3 * i + k] = g;
            cl->w[3 * i + k] = w;
            if (i == 0 || w < wmin[k]) wmin[k] = w;
            if (i == 0 || w > wmax[k]) wmax[k] = w;
            h[k] = (int)(g * cl->nb[k]);
            if (h[k] >= cl->nb[k]) h[k] = cl->nb[k] - 1;
        }
        bin[i] = (h[0] * cl->nb[1] + h[1]) * cl->nb[2] + h[2];
        cl->start[bin[i] + 1]++;
    }
    for (int k = 0; k < 3; k++) cl->wspread[k] = wmax[k] - wmin[k];
    for (size_t b = 0; b < nbins; b++) cl->start[b + 1] += cl->start[b];
    int *fill = malloc(nbins * sizeof *fill);
    if (!fill) {
        free(bin);
        cell_list_free(cl);
        return -1;
    }
    memcpy(fill, cl->start, nbins * sizeof *fill);
    for (int i = 0; i < n; i++) cl->atoms[fill[bin[i]]++] = i;
    free(fill);
    free(bin);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* per-centre search                                                                               */
/* ---------------------------------------------------------------------------------------------- */

typedef struct nbuf {
    ih_neighbor *v;
    size_t n, cap;
} nbuf;

/* Room for `more` further entries. */
static int nbuf_reserve(nbuf *b, size_t more) {
    if (b->n + more <= b->cap) return 0;
    size_t cap = b->cap ? 2 * b->cap : 256;
    while (cap < b->n + more) cap *= 2;
    ih_neighbor *v = realloc(b->v, cap * sizeof *v);
    if (!v) return -1;
    b->v = v;
    b->cap = cap;
    return 0;
}

static int nbuf_push(nbuf *b, const ih_neighbor *x) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        ih_neighbor *v = realloc(b->v, cap * sizeof *v);
        if (!v) return -1;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *x;
    return 0;
}

static int cmp_neighbor(const void *pa, const void *pb) {
    const ih_neighbor *a = pa, *b = pb;
    if (a->dist != b->dist) return a->dist < b->dist ? -1 : 1;
    if (a->j != b->j) return a->j < b->j ? -1 : 1;
    for (int c = 0; c < 3; c++)
        if (a->image[c] != b->image[c]) return a->image[c] < b->image[c] ? -1 : 1;
    return 0;
}

/* Insertion sort: a centre keeps only ~12-20 neighbours. */
static void sort_neighbors(ih_neighbor *v, size_t n) {
    for (size_t a = 1; a < n; a++) {
        ih_neighbor x = v[a];
        size_t b = a;
        while (b > 0 && cmp_neighbor(&v[b - 1], &x) > 0) {
            v[b] = v[b - 1];
            b--;
        }
        v[b] = x;
    }
}

/* Every (j, n) of centre i with 0.15 < d ≤ rho appended to b (d exactly as the reference),
 * except, for i < n_apart, the other sites below n_apart (a path's images do not bond to each
 * other). Returns -1 if the scan would be absurdly large (degenerate cell). */
static int scan_radius(const ih_geom *geo, const cell_list *cl, int i, double rho, int n_apart,
                       nbuf *b, int *oom) {
    int lo[3], hi[3];
    /* an image n strays from n·Lr by n·(Lraw − Lr) (up to ~1e-5 Å per cell); bound |n| by the
     * scanned extent plus the spread of the integer parts of the coordinates */
    double margin = 1e-6;
    for (int k = 0; k < 3; k++) margin += (ceil(rho * cl->blen[k]) + 2 + cl->wspread[k]) * cl->dlen[k];
    double nbins = 1;
    for (int k = 0; k < 3; k++) {
        double e = (rho + margin) * cl->blen[k] * (1 + 1e-6) + 1e-9;
        double g = cl->g[3 * i + k];
        double a = floor((g - e) * cl->nb[k]), z = floor((g + e) * cl->nb[k]);
        nbins *= z - a + 1;
        if (!(nbins <= MAX_SCAN)) return -1;
        lo[k] = (int)a;
        hi[k] = (int)z;
    }
    const double *xi = geo->x + 3 * i;
    const int *wi = cl->w + 3 * i;
    const double(*R)[3] = geo->Lraw;
    const double(*L)[3] = geo->Lr;
    const double *gi = cl->g + 3 * i;
    /* a bin can hold a candidate only if its centre is within rho + margin + bin_radius */
    double reach = (rho + margin + cl->bin_radius) * (1 + 1e-9) + 1e-9, reach2 = reach * reach;
    double lo2 = MIN_DIST * MIN_DIST * (1 - 1e-9), hi2 = rho * rho * (1 + 1e-9);
    size_t first = b->n;
    for (int q0 = lo[0]; q0 <= hi[0]; q0++) {
        int m0 = floordiv(q0, cl->nb[0]), h0 = q0 - m0 * cl->nb[0];
        double u0 = (q0 + 0.5) / cl->nb[0] - gi[0];
        for (int q1 = lo[1]; q1 <= hi[1]; q1++) {
            int m1 = floordiv(q1, cl->nb[1]), h1 = q1 - m1 * cl->nb[1];
            double u1 = (q1 + 0.5) / cl->nb[1] - gi[1];
            double r0 = u0 * L[0][0] + u1 * L[1][0], r1 = u0 * L[0][1] + u1 * L[1][1],
                   r2 = u0 * L[0][2] + u1 * L[1][2];
            for (int q2 = lo[2]; q2 <= hi[2]; q2++) {
                double u2 = (q2 + 0.5) / cl->nb[2] - gi[2];
                double c0 = r0 + u2 * L[2][0], c1 = r1 + u2 * L[2][1], c2 = r2 + u2 * L[2][2];
                if (c0 * c0 + c1 * c1 + c2 * c2 > reach2) continue;
                int m2 = floordiv(q2, cl->nb[2]), h2 = q2 - m2 * cl->nb[2];
                int bin = (h0 * cl->nb[1] + h1) * cl->nb[2] + h2;
                int p0 = cl->start[bin], p1 = cl->start[bin + 1];
                if (nbuf_reserve(b, (size_t)(p1 - p0)) != 0) {
                    *oom = 1;
                    return 0;
                }
                ih_neighbor *slot = b->v;
                size_t cnt = b->n;
                for (int p = p0; p < p1; p++) {
                    int j = cl->atoms[p];
                    const int *wj = cl->w + 3 * j;
                    int n0 = m0 + wi[0] - wj[0], n1 = m1 + wi[1] - wj[1], n2 = m2 + wi[2] - wj[2];
                    double d0 = (double)n0, d1 = (double)n1, d2 = (double)n2;
                    const double *xj = geo->x + 3 * j;
                    /* docs/method.md §2.7: offset ((n0·R0c + n1·R1c) + n2·R2c) with the unrounded lattice,
                     * y = x_j + offset, d = sqrt((dx² + dy²) + dz²) */
                    double dx = (xj[0] + ((d0 * R[0][0] + d1 * R[1][0]) + d2 * R[2][0])) - xi[0];
                    double dy = (xj[1] + ((d0 * R[0][1] + d1 * R[1][1]) + d2 * R[2][1])) - xi[1];
                    double dz = (xj[2] + ((d0 * R[0][2] + d1 * R[1][2]) + d2 * R[2][2])) - xi[2];
                    double s2 = (dx * dx + dy * dy) + dz * dz;
                    /* written unconditionally and kept by advancing the count: the test is a
                     * coin flip, and a branch here cost more than the store. The bounds on d²
                     * are loose; the exact test on d follows below. */
                    slot[cnt] = (ih_neighbor){i, j, {n0, n1, n2}, s2};
                    cnt += (s2 >= lo2) & (s2 <= hi2);
                }
                b->n = cnt;
            }
        }
    }
    /* the exact test of the reference on d = sqrt(d²), away from the scan's dependency chain */
    size_t kept = first;
    for (size_t q = first; q < b->n; q++) {
        double d = sqrt(b->v[q].dist);
        int j = b->v[q].j;
        b->v[kept] = b->v[q];
        b->v[kept].dist = d;
        kept += (d > MIN_DIST) & (d <= rho) & !(i < n_apart && j < n_apart && j != i);
    }
    b->n = kept;
    return 0;
}

/* k-th smallest distance of v[0..n) (n ≥ k): Wirth's selection on a scratch copy. */
static double kth_distance(const ih_neighbor *v, size_t n, int k, double *a) {
    for (size_t q = 0; q < n; q++) a[q] = v[q].dist;
    long l = 0, m = (long)n - 1, want = k - 1;
    while (l < m) {
        double x = a[want];
        long i = l, j = m;
        do {
            while (a[i] < x) i++;
            while (x < a[j]) j--;
            if (i <= j) {
                double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < want) l = i;
        if (want < i) m = j;
    }
    return a[want];
}

/* per-thread scratch for kth_distance */
typedef struct scratch {
    double *v;
    size_t cap;
} scratch;

/* The candidates of centre i (cand: every (j, n) within *rho) and its k-th distance *d_k, the
 * sphere grown from *rho until it holds k candidates and every tie up to tie_tol beyond the k-th.
 * Returns 1 if the cell is degenerate (no k neighbours in a sane radius); *oom on failed memory. */
static int kth_shell(const ih_geom *geo, const cell_list *cl, int i, int k, int n_apart, double tie_tol, nbuf *cand,
                     scratch *work, double *rho, double *d_k, int *oom) {
    for (;;) {
        cand->n = 0;
        if (!(*rho < 1e5) || scan_radius(geo, cl, i, *rho, n_apart, cand, oom) != 0) return 1;
        if (*oom) return 0;
        if (cand->n < (size_t)k) {
            *rho *= cand->n > (size_t)k / 2 ? 1.3 : 1.8;
            continue;
        }
        if (work->cap < cand->n) {
            free(work->v);
            work->cap = 2 * cand->n;
            work->v = malloc(work->cap * sizeof *work->v);
            if (!work->v) {
                work->cap = 0, *oom = 1;
                return 0;
            }
        }
        *d_k = kth_distance(cand->v, cand->n, k, work->v);
        /* ties up to tie_tol beyond the k-th distance may lie just outside the sphere */
        if (*d_k + tie_tol <= *rho) return 0;
        *rho = *d_k + tie_tol;
    }
}

/* ---------------------------------------------------------------------------------------------- */

int ih_neighbors_geom(const ih_geom *geo, const char *what, double cutoff, int k, int n_apart, double tie_tol,
                      ih_neighbor **out, int *n_out, double *final_cutoff, int *retries) {
    *out = NULL;
    *n_out = 0;
    if (!(cutoff > 0) || !isfinite(cutoff))
        return ih_set_error("%s: cutoff must be a positive number (got %g)", what, cutoff);
    if (k < 1) return ih_set_error("%s: k must be at least 1 (got %d)", what, k);
    if (!(tie_tol >= 0 && tie_tol <= 1.0))
        return ih_set_error("%s: tie tolerance must be between 0 and 1 Å (got %g)", what, tie_tol);
    int n = geo->n;
    double vol = geo->volume;
    /* start where a uniform density would hold ~1.5k atoms: most centres need one scan, and
     * rescanning the rest was cheaper than scanning a larger sphere for all (measured) */
    double rho0 = cbrt(3.0 * 1.5 * k * vol / (4.0 * M_PI * n));
    if (!(rho0 > 4 * MIN_DIST)) rho0 = 4 * MIN_DIST;
    cell_list cl;
    if (cell_list_init(&cl, geo, 0.8 * rho0) != 0) return ih_set_error("%s: out of memory", what);

    int *cnt = calloc((size_t)n, sizeof *cnt);
    int *owner = malloc((size_t)n * sizeof *owner);
    size_t *where = malloc((size_t)n * sizeof *where);
    double *dk = malloc((size_t)n * sizeof *dk);
    int nthreads = omp_get_max_threads();
    nbuf *kept = calloc((size_t)nthreads, sizeof *kept);
    if (!cnt || !owner || !where || !dk || !kept) {
        free(cnt), free(owner), free(where), free(dk), free(kept);
        cell_list_free(&cl);
        return ih_set_error("%s: out of memory", what);
    }
    /* errors are thread-local: workers only record what went wrong, the caller reports it */
    int stop = 0, oom = 0, failed_atom = -1;
    double failed_rho = 0;

#pragma omp parallel if (n >= IH_PAR_MIN_ATOMS)
    {
        int tid = omp_get_thread_num();
        nbuf cand = {0}, *mine = &kept[tid];
        scratch work = {0};
#pragma omp for schedule(dynamic, 16)
        for (int i = 0; i < n; i++) {
            int halt;
#pragma omp atomic read
            halt = stop;
            if (halt) continue;
            double rho = rho0, d_k = 0;
            int my_oom = 0, bad = kth_shell(geo, &cl, i, k, n_apart, tie_tol, &cand, &work, &rho, &d_k, &my_oom);
            size_t first = mine->n;
            if (!bad && !my_oom) {
                double d_sel = d_k + tie_tol; /* exactly d_k when tie_tol is 0: the published method's rule */
                for (size_t a = 0; a < cand.n && !my_oom; a++)
                    if (cand.v[a].dist <= d_sel && nbuf_push(mine, &cand.v[a]) != 0) my_oom = 1;
                sort_neighbors(mine->v + first, mine->n - first);
                cnt[i] = (int)(mine->n - first);
                owner[i] = tid;
                where[i] = first;
                dk[i] = d_sel;
            }
            if (bad || my_oom) {
#pragma omp critical(ih_neighbors_fail)
                {
                    if (my_oom) oom = 1;
                    if (bad && failed_atom < 0) failed_atom = i, failed_rho = rho;
                }
#pragma omp atomic write
                stop = 1;
            }
        }
        free(cand.v);
        free(work.v);
    }
    cell_list_free(&cl);

    int rc = 0;
    if (oom) {
        rc = ih_set_error("%s: out of memory in the neighbour search", what);
    } else if (failed_atom >= 0) {
        rc = ih_set_error("%s: degenerate cell: atom %d has fewer than %d neighbours within %.4g Å",
                          what, failed_atom + 1, k, failed_rho);
    }
    double dmax = 0;
    size_t total = 0;
    if (rc == 0) {
        for (int i = 0; i < n; i++) {
            total += (size_t)cnt[i];
            if (dk[i] > dmax) dmax = dk[i];
        }
        if (total > (size_t)0x7fffffff) rc = ih_set_error("%s: too many neighbours", what);
    }
    /* docs/method.md §2.3: some atom has fewer than k candidates within r  ⇔  d_k(i) > r */
    double r = cutoff;
    int tries = 0;
    while (rc == 0 && dmax > r) {
        if (++tries > MAX_RETRIES)
            rc = ih_set_error("%s: degenerate cell: no %d neighbours after %d cutoff enlargements",
                              what, k, MAX_RETRIES);
        r = r < geo->amax ? geo->amax : 2.0 * r;
    }
    ih_neighbor *res = NULL;
    if (rc == 0) {
        res = malloc((total ? total : 1) * sizeof *res);
        if (!res) rc = ih_set_error("%s: out of memory", what);
    }
    if (rc == 0) {
        size_t pos = 0;
        for (int i = 0; i < n; i++) {
            memcpy(res + pos, kept[owner[i]].v + where[i], (size_t)cnt[i] * sizeof *res);
            pos += (size_t)cnt[i];
        }
        *out = res;
        *n_out = (int)total;
        if (final_cutoff) *final_cutoff = r;
        if (retries) *retries = tries;
    }
    for (int t = 0; t < nthreads; t++) free(kept[t].v);
    free(kept), free(cnt), free(owner), free(where), free(dk);
    return rc;
}

int ih_neighbors(const ih_structure *s, double cutoff, int k, int n_apart, double tie_tol,
                 ih_neighbor **out, int *n_out, double *final_cutoff) {
    char what[96];
    ih_structure_name(s, what, sizeof what);
    ih_geom geo;
    *out = NULL;
    *n_out = 0;
    if (ih_geom_init(&geo, s, what) != 0) return -1;
    int rc = ih_neighbors_geom(&geo, what, cutoff, k, n_apart, tie_tol, out, n_out, final_cutoff, NULL);
    ih_geom_free(&geo);
    return rc;
}
