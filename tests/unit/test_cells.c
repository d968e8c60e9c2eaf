/* Answers that do not depend on how a crystal's cell was written: the hop network, the barriers of
 * its classes and the percolation barriers of spinel LiMn2O4, layered LiCoO2, olivine LiFePO4 and
 * a low-symmetry (P1) olivine, each given as written, as its primitive or conventional cell, as a
 * supercell, with its origin shifted, rotated, and with its atoms in reverse order. Structures are
 * built here from textbook crystal data. Uses the bundled default model. */
#include "check.h"
#include "ionhop.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATOMS 4096

typedef struct atom_list {
    int n;
    int z[MAX_ATOMS];
    double f[MAX_ATOMS][3];
} atom_list;

static double wrap01(double x) {
    x -= floor(x);
    return x >= 1.0 - 1e-9 ? 0.0 : x;
}

/* add an atom unless one of the same element sits within 1e-4 (fractional, periodic) */
static void add_atom(atom_list *a, int z, const double f[3]) {
    double w[3] = {wrap01(f[0]), wrap01(f[1]), wrap01(f[2])};
    for (int i = 0; i < a->n; i++) {
        double d = 0;
        for (int c = 0; c < 3; c++) {
            double x = w[c] - a->f[i][c];
            x -= nearbyint(x);
            d += fabs(x);
        }
        if (d < 1e-4 && a->z[i] == z) return;
    }
    if (a->n == MAX_ATOMS) return;
    a->z[a->n] = z;
    memcpy(a->f[a->n], w, sizeof w);
    a->n++;
}

static void to_structure(const double L[3][3], const atom_list *a, ih_structure *s) {
    CHECK(ih_structure_init(s, a->n) == 0);
    memcpy(s->lattice, L, sizeof s->lattice);
    for (int i = 0; i < a->n; i++) {
        s->z[i] = a->z[i];
        memcpy(s->frac + 3 * i, a->f[i], 3 * sizeof(double));
    }
}

/* the same crystal in the cell whose rows are P·L (P integer or rational, det ≠ 0) */
static void transform(const ih_structure *s, const double P[3][3], ih_structure *out) {
    double L[3][3] = {{0}}, inv[3][3];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 3; k++) L[r][c] += P[r][k] * s->lattice[k][c];
    CHECK(ih_mat3_inverse(L, inv, NULL) == 0);
    static atom_list a;
    a.n = 0;
    int R = 4;
    for (int i = 0; i < s->n_atoms; i++)
        for (int x = -R; x <= R; x++)
            for (int y = -R; y <= R; y++)
                for (int zz = -R; zz <= R; zz++) {
                    double f[3] = {s->frac[3 * i] + x, s->frac[3 * i + 1] + y, s->frac[3 * i + 2] + zz}, r[3], g[3];
                    ih_frac_to_cart(s->lattice, f, r);
                    for (int j = 0; j < 3; j++) g[j] = r[0] * inv[0][j] + r[1] * inv[1][j] + r[2] * inv[2][j];
                    if (g[0] < -1e-7 || g[0] >= 1 - 1e-7 || g[1] < -1e-7 || g[1] >= 1 - 1e-7 || g[2] < -1e-7 ||
                        g[2] >= 1 - 1e-7)
                        continue;
                    add_atom(&a, s->z[i], g);
                }
    to_structure(L, &a, out);
}

static void shifted(const ih_structure *s, const double t[3], ih_structure *out) {
    CHECK(ih_structure_copy(out, s) == 0);
    for (int i = 0; i < s->n_atoms; i++)
        for (int c = 0; c < 3; c++) out->frac[3 * i + c] = wrap01(s->frac[3 * i + c] + t[c]);
}

/* rotated in space: lattice rows turned by a rotation about (1, 2, 3) */
static void rotated(const ih_structure *s, ih_structure *out) {
    CHECK(ih_structure_copy(out, s) == 0);
    double u[3] = {1, 2, 3}, n = sqrt(14.0), th = 0.7, c = cos(th), sn = sin(th), Rm[3][3];
    for (int k = 0; k < 3; k++) u[k] /= n;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            Rm[i][j] = (i == j ? c : 0) + (1 - c) * u[i] * u[j];
            int k = 3 - i - j;
            if (i != j) Rm[i][j] += ((j == (i + 1) % 3) ? -1 : 1) * sn * u[k];
        }
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 3; i++) {
            out->lattice[r][i] = 0;
            for (int j = 0; j < 3; j++) out->lattice[r][i] += Rm[i][j] * s->lattice[r][j];
        }
}

static void reversed(const ih_structure *s, ih_structure *out) {
    CHECK(ih_structure_copy(out, s) == 0);
    for (int i = 0; i < s->n_atoms; i++) {
        int k = s->n_atoms - 1 - i;
        out->z[i] = s->z[k];
        memcpy(out->frac + 3 * i, s->frac + 3 * k, 3 * sizeof(double));
    }
}

/* what a user compares: the class barriers by hop length, and the percolation barriers */
typedef struct answer {
    int n;
    double length[64], em[64];
    double perc[3];
    int spacegroup;
} answer;

static int cmp_pair(const void *a, const void *b) {
    const double *x = a, *y = b;
    if (fabs(x[0] - y[0]) > 1e-3) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static int answer_of(ih_predictor *p, const ih_structure *s, int z, double max_hop, answer *a) {
    ih_element_hops h;
    if (ih_predict_element_hops(p, s, "cell", z, max_hop, 0.01, &h) != 0) {
        fprintf(stderr, "%s\n", ih_last_error());
        return -1;
    }
    double pairs[64][2];
    a->n = h.n < 64 ? h.n : 64;
    for (int k = 0; k < a->n; k++) pairs[k][0] = h.hops[k].length, pairs[k][1] = h.result[k].em;
    qsort(pairs, (size_t)a->n, sizeof pairs[0], cmp_pair);
    for (int k = 0; k < a->n; k++) a->length[k] = pairs[k][0], a->em[k] = pairs[k][1];
    memcpy(a->perc, h.percolation.barrier, sizeof a->perc);
    a->spacegroup = h.info.spacegroup;
    ih_element_hops_free(&h);
    return 0;
}

static void same_answer(const char *what, const answer *ref, const answer *a) {
    CHECK_MSG(a->spacegroup == ref->spacegroup, "%s: space group %d vs %d", what, a->spacegroup, ref->spacegroup);
    /* the lowest class barrier and every percolation barrier within 0.01 eV */
    double lo_ref = INFINITY, lo = INFINITY;
    for (int k = 0; k < ref->n; k++) lo_ref = fmin(lo_ref, ref->em[k]);
    for (int k = 0; k < a->n; k++) lo = fmin(lo, a->em[k]);
    CHECK_MSG(fabs(lo - lo_ref) <= 0.01, "%s: lowest class %.4f vs %.4f eV", what, lo, lo_ref);
    for (int d = 0; d < 3; d++) {
        int both_nan = isnan(a->perc[d]) && isnan(ref->perc[d]);
        CHECK_MSG(both_nan || fabs(a->perc[d] - ref->perc[d]) <= 0.01, "%s: %dD barrier %.4f vs %.4f eV", what, d + 1,
                  a->perc[d], ref->perc[d]);
    }
    /* each class of the reference has a class of the same length and barrier */
    for (int k = 0; k < ref->n; k++) {
        int found = 0;
        for (int q = 0; q < a->n && !found; q++)
            found = fabs(a->length[q] - ref->length[k]) < 1e-3 && fabs(a->em[q] - ref->em[k]) <= 0.01;
        CHECK_MSG(found, "%s: no class of %.3f Å at %.4f eV", what, ref->length[k], ref->em[k]);
    }
    printf("  %-28s %2d classes, lowest %.4f eV, percolation 1D %.4f 2D %.4f 3D %.4f\n", what, a->n, lo, a->perc[0],
           a->perc[1], a->perc[2]);
}

/* every variant of s against s itself */
static void check_variants(ih_predictor *p, const char *name, const ih_structure *s, const double P_other[3][3],
                           const char *other_name, int z, double max_hop, int expect_sg) {
    answer ref, a;
    printf("%s:\n", name);
    if (answer_of(p, s, z, max_hop, &ref) != 0) {
        CHECK(0);
        return;
    }
    CHECK_INT(ref.spacegroup, expect_sg);
    same_answer("as written", &ref, &ref);
    ih_structure v;
    char what[64];
    if (P_other) {
        transform(s, P_other, &v);
        snprintf(what, sizeof what, "%s", other_name);
        if (answer_of(p, &v, z, max_hop, &a) == 0) same_answer(what, &ref, &a);
        else CHECK(0);
        ih_structure_free(&v);
    }
    static const double super[3][3] = {{2, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    transform(s, super, &v);
    if (answer_of(p, &v, z, max_hop, &a) == 0) same_answer("2x1x1 supercell", &ref, &a);
    else CHECK(0);
    ih_structure_free(&v);
    double t[3] = {0.123, 0.456, 0.789};
    shifted(s, t, &v);
    if (answer_of(p, &v, z, max_hop, &a) == 0) same_answer("origin shifted", &ref, &a);
    else CHECK(0);
    ih_structure_free(&v);
    rotated(s, &v);
    if (answer_of(p, &v, z, max_hop, &a) == 0) same_answer("rotated", &ref, &a);
    else CHECK(0);
    ih_structure_free(&v);
    reversed(s, &v);
    if (answer_of(p, &v, z, max_hop, &a) == 0) same_answer("atoms reversed", &ref, &a);
    else CHECK(0);
    ih_structure_free(&v);
}

/* LiCoO2, R-3m, hexagonal conventional cell (3 formula units) */
static void licoo2(ih_structure *s) {
    static atom_list a;
    a.n = 0;
    double A = 2.8156, C = 14.0542, zO = 0.2396;
    double L[3][3] = {{A, 0, 0}, {-A / 2, A * sqrt(3.0) / 2, 0}, {0, 0, C}};
    double cent[3][3] = {{0, 0, 0}, {2.0 / 3, 1.0 / 3, 1.0 / 3}, {1.0 / 3, 2.0 / 3, 2.0 / 3}};
    for (int k = 0; k < 3; k++) {
        double li[3] = {cent[k][0], cent[k][1], cent[k][2]};
        double co[3] = {cent[k][0], cent[k][1], cent[k][2] + 0.5};
        double o1[3] = {cent[k][0], cent[k][1], cent[k][2] + zO}, o2[3] = {cent[k][0], cent[k][1], cent[k][2] - zO};
        add_atom(&a, 3, li), add_atom(&a, 27, co), add_atom(&a, 8, o1), add_atom(&a, 8, o2);
    }
    to_structure(L, &a, s);
}

/* LiMn2O4 spinel, Fd-3m (origin choice 2), conventional cubic cell (8 formula units) */
static void limn2o4(ih_structure *s) {
    static atom_list a;
    a.n = 0;
    double A = 8.2477, x = 0.2631;
    double L[3][3] = {{A, 0, 0}, {0, A, 0}, {0, 0, A}};
    double fcc[4][3] = {{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}};
    double li[2][3] = {{0.125, 0.125, 0.125}, {0.875, 0.375, 0.375}};
    double mn[4][3] = {{0.5, 0.5, 0.5}, {0.25, 0.75, 0}, {0.75, 0, 0.25}, {0, 0.25, 0.75}};
    double o[8][3] = {{x, x, x},
                      {-x + 0.75, -x + 0.25, x + 0.5},
                      {-x + 0.25, x + 0.5, -x + 0.75},
                      {x + 0.5, -x + 0.75, -x + 0.25},
                      {-x, -x, -x},
                      {x + 0.25, x + 0.75, -x + 0.5},
                      {x + 0.75, -x + 0.5, x + 0.25},
                      {-x + 0.5, x + 0.25, x + 0.75}};
    for (int t = 0; t < 4; t++) {
        for (int k = 0; k < 2; k++) {
            double f[3] = {li[k][0] + fcc[t][0], li[k][1] + fcc[t][1], li[k][2] + fcc[t][2]};
            add_atom(&a, 3, f);
        }
        for (int k = 0; k < 4; k++) {
            double f[3] = {mn[k][0] + fcc[t][0], mn[k][1] + fcc[t][1], mn[k][2] + fcc[t][2]};
            add_atom(&a, 25, f);
        }
        for (int k = 0; k < 8; k++) {
            double f[3] = {o[k][0] + fcc[t][0], o[k][1] + fcc[t][1], o[k][2] + fcc[t][2]};
            add_atom(&a, 8, f);
        }
    }
    to_structure(L, &a, s);
}

int main(void) {
    ih_predictor *p = ih_predictor_load("models/default.ionhop");
    CHECK(p != NULL);
    if (!p) return test_summary("test_cells");

    ih_structure s;
    /* layered LiCoO2: the rhombohedral primitive cell against the hexagonal one; the in-plane
     * hop (2.82 Å) is a hop to a periodic image of the same site in the primitive cell */
    licoo2(&s);
    CHECK_INT(s.n_atoms, 12);
    static const double to_rhombo[3][3] = {
        {2.0 / 3, 1.0 / 3, 1.0 / 3}, {-1.0 / 3, 1.0 / 3, 1.0 / 3}, {-1.0 / 3, -2.0 / 3, 1.0 / 3}};
    check_variants(p, "LiCoO2 (R-3m, hexagonal cell)", &s, to_rhombo, "rhombohedral primitive", 3, 3.0, 166);
    ih_structure prim;
    transform(&s, to_rhombo, &prim);
    CHECK_INT(prim.n_atoms, 4);
    answer a;
    CHECK(answer_of(p, &prim, 3, 3.0, &a) == 0);
    CHECK_INT(a.n, 1); /* one Li site: its in-plane hops to its own images */
    CHECK_NEAR(a.length[0], 2.8156, 1e-3);
    CHECK(!isnan(a.perc[1]) && isnan(a.perc[2])); /* layers: 2D, not 3D, within 3 Å */
    ih_structure_free(&prim);
    ih_structure_free(&s);

    /* spinel LiMn2O4: the fcc primitive cell (2 formula units) against the cubic one */
    limn2o4(&s);
    CHECK_INT(s.n_atoms, 56);
    static const double to_fcc[3][3] = {{0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}};
    check_variants(p, "LiMn2O4 (Fd-3m, cubic cell)", &s, to_fcc, "fcc primitive", 3, 3.7, 227);
    ih_structure_free(&s);

    /* olivine LiFePO4 (Pnma) and the same with every atom displaced by up to 0.03 Å (P1) */
    CHECK(ih_read_structure("examples/LiFePO4/LiFePO4.vasp", IH_FMT_UNKNOWN, &s) == 0);
    static const double half_a[3][3] = {{0.5, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    check_variants(p, "LiFePO4 (Pnma, 16 formula units)", &s, half_a, "half the cell along a", 3, 5.0, 62);
    ih_structure cell;
    transform(&s, half_a, &cell);
    uint64_t r = 12345;
    for (int i = 0; i < cell.n_atoms * 3; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = ((double)(r >> 11) / 9007199254740992.0 - 0.5) * 0.06;
        cell.frac[i] += u / cell.lattice[i % 3][i % 3];
    }
    check_variants(p, "LiFePO4 displaced (P1)", &cell, NULL, NULL, 3, 3.2, 1);
    ih_structure_free(&cell);
    ih_structure_free(&s);

    ih_predictor_free(p);
    return test_summary("test_cells");
}
