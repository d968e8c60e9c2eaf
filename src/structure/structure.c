/* The crystal-structure type: allocation, copying, geometry helpers and the sanity checks every
 * reader applies before a structure reaches the graph code. */
#include "core/util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int ih_structure_init(ih_structure *s, int n_atoms) {
    memset(s, 0, sizeof *s);
    if (n_atoms < 0) return ih_set_error("negative atom count");
    s->n_atoms = n_atoms;
    size_t n = n_atoms > 0 ? (size_t)n_atoms : 1;
    s->frac = calloc(3 * n, sizeof *s->frac);
    s->z = calloc(n, sizeof *s->z);
    if (!s->frac || !s->z) {
        ih_structure_free(s);
        return ih_set_error("out of memory for %d atoms", n_atoms);
    }
    return 0;
}

void ih_structure_free(ih_structure *s) {
    if (!s) return;
    free(s->frac);
    free(s->cart);
    free(s->z);
    s->frac = s->cart = NULL;
    s->z = NULL;
    s->n_atoms = 0;
}

void ih_structure_set_free(ih_structure_set *set) {
    if (!set) return;
    for (int i = 0; i < set->n; i++) ih_structure_free(&set->items[i]);
    free(set->items);
    set->items = NULL;
    set->n = 0;
}

int ih_structure_copy(ih_structure *dst, const ih_structure *src) {
    ih_structure tmp = *src;
    if (ih_structure_init(dst, src->n_atoms) != 0) return -1;
    double *frac = dst->frac;
    int *z = dst->z;
    *dst = tmp;
    dst->frac = frac;
    dst->z = z;
    dst->cart = NULL;
    memcpy(dst->frac, src->frac, 3 * (size_t)src->n_atoms * sizeof *dst->frac);
    memcpy(dst->z, src->z, (size_t)src->n_atoms * sizeof *dst->z);
    if (src->cart) {
        dst->cart = malloc(3 * (size_t)src->n_atoms * sizeof *dst->cart);
        if (!dst->cart) {
            ih_structure_free(dst);
            return ih_set_error("out of memory");
        }
        memcpy(dst->cart, src->cart, 3 * (size_t)src->n_atoms * sizeof *dst->cart);
    }
    return 0;
}

void ih_frac_to_cart(const double L[3][3], const double f[3], double x[3]) {
    for (int c = 0; c < 3; c++) x[c] = f[0] * L[0][c] + f[1] * L[1][c] + f[2] * L[2][c];
}

void ih_structure_cart(const ih_structure *s, int i, double out[3]) {
    ih_frac_to_cart(s->lattice, s->frac + 3 * (size_t)i, out);
}

/* signed volume of the cell spanned by the rows of L */
static double det3(const double L[3][3]) {
    return L[0][0] * (L[1][1] * L[2][2] - L[1][2] * L[2][1]) -
           L[0][1] * (L[1][0] * L[2][2] - L[1][2] * L[2][0]) +
           L[0][2] * (L[1][0] * L[2][1] - L[1][1] * L[2][0]);
}

int ih_mat3_inverse(const double L[3][3], double inv[3][3], double *det_out) {
    double det = det3(L);
    if (det_out) *det_out = det;
    if (!isfinite(det) || !(fabs(det) > 1e-12)) return -1;
    inv[0][0] = (L[1][1] * L[2][2] - L[1][2] * L[2][1]) / det;
    inv[0][1] = (L[0][2] * L[2][1] - L[0][1] * L[2][2]) / det;
    inv[0][2] = (L[0][1] * L[1][2] - L[0][2] * L[1][1]) / det;
    inv[1][0] = (L[1][2] * L[2][0] - L[1][0] * L[2][2]) / det;
    inv[1][1] = (L[0][0] * L[2][2] - L[0][2] * L[2][0]) / det;
    inv[1][2] = (L[0][2] * L[1][0] - L[0][0] * L[1][2]) / det;
    inv[2][0] = (L[1][0] * L[2][1] - L[1][1] * L[2][0]) / det;
    inv[2][1] = (L[0][1] * L[2][0] - L[0][0] * L[2][1]) / det;
    inv[2][2] = (L[0][0] * L[1][1] - L[0][1] * L[1][0]) / det;
    return 0;
}

/* The lattice vectors' lengths (hypot: no overflow); -1 naming the first one too long for a cell
 * whose volume is finite (a lattice of 1e308 is not a "zero-volume" cell). */
static int lattice_too_long(const double L[3][3], const char *what, double len[3]) {
    for (int r = 0; r < 3; r++) {
        len[r] = hypot(hypot(L[r][0], L[r][1]), L[r][2]);
        if (!(len[r] <= 1e6))
            return ih_set_error("%s: lattice vector %d is %.3g Å long: not a crystal cell", what, r + 1, len[r]);
    }
    return 0;
}

int ih_frac_from_cart(ih_structure *s, const char *name) {
    double inv[3][3], det;
    if (ih_mat3_inverse(s->lattice, inv, &det) != 0) {
        double len[3];
        /* finite numbers whose volume overflows: name the length, not a "zero volume" */
        int finite = 1;
        for (int k = 0; k < 9; k++) finite &= isfinite(s->lattice[k / 3][k % 3]);
        if (finite && lattice_too_long(s->lattice, name, len) != 0) return -1;
        if (!isfinite(det)) return ih_set_error("%s: lattice contains a non-finite number", name);
        return ih_set_error("%s: degenerate lattice (cell volume %.3g Å^3): zero-volume or flat cell",
                            name, fabs(det));
    }
    for (int a = 0; a < s->n_atoms; a++)
        for (int c = 0; c < 3; c++)
            s->frac[3 * a + c] = s->cart[3 * a + 0] * inv[0][c] + s->cart[3 * a + 1] * inv[1][c] +
                                 s->cart[3 * a + 2] * inv[2][c];
    return 0;
}

double ih_structure_volume(const ih_structure *s) { return det3(s->lattice); }

void ih_lattice_plane_spacings(const double L[3][3], double spacing[3]) {
    double volume = fabs(det3(L));
    for (int k = 0; k < 3; k++) {
        const double *a = L[(k + 1) % 3], *b = L[(k + 2) % 3];
        double c[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
        spacing[k] = volume / sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
    }
}

int ih_structure_is_5image(const ih_structure *s) {
    if (s->n_atoms < 6) return 0;
    for (int k = 1; k < 5; k++) {
        if (s->z[k] != s->z[0]) return 0;
        for (int c = 0; c < 3; c++) {
            double d01 = s->frac[3 + c] - s->frac[c];
            double dk = s->frac[3 * k + c] - s->frac[3 * (k - 1) + c];
            if (fabs(dk - d01) > 1e-5) return 0;
        }
    }
    return 1;
}

/* Minimum-image distance between atoms i and j over the 27 cells around their reduced
 * fractional difference. */
static double pair_distance(const ih_structure *s, int i, int j) {
    double d[3], best = INFINITY;
    for (int c = 0; c < 3; c++) {
        d[c] = s->frac[3 * j + c] - s->frac[3 * i + c];
        d[c] -= floor(d[c] + 0.5);
    }
    for (int a = -1; a <= 1; a++)
        for (int b = -1; b <= 1; b++)
            for (int e = -1; e <= 1; e++) {
                double f0 = d[0] + a, f1 = d[1] + b, f2 = d[2] + e, x[3];
                for (int c = 0; c < 3; c++)
                    x[c] = f0 * s->lattice[0][c] + f1 * s->lattice[1][c] + f2 * s->lattice[2][c];
                double r = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
                if (r < best) best = r;
            }
    return best;
}

typedef struct binned {
    uint64_t key; /* bin index bx + n0·(by + n1·bz) */
    int i;
} binned;

static int cmp_binned(const void *a, const void *b) {
    const binned *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* first entry with key >= k */
static int lower_bound(const binned *v, int n, uint64_t k) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (v[mid].key < k) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Two atoms closer than r differ in wrapped fractional coordinate k by at most r·|b_k| (b_k the
 * reciprocal row), so with bins at least that wide along each axis they sit in the same or
 * neighbouring bins (periodically). Atoms are sorted by bin and each looks into its 27 bins:
 * O(N log N) whatever the arrangement (a sweep along one axis degenerates to all pairs when many
 * atoms share that coordinate), and a bin holds few atoms unless they overlap. */
static int check_overlaps(const ih_structure *s, const char *what, double r, int n_virtual) {
    int n = s->n_atoms - n_virtual;
    if (n < 2) return 0;
    double inv[3][3];
    if (ih_mat3_inverse(s->lattice, inv, NULL) != 0) return ih_set_error("%s: degenerate lattice", what);
    uint64_t nb[3];
    for (int k = 0; k < 3; k++) {
        /* |b_k| is the norm of column k of L⁻¹ (rows of L are the lattice vectors) */
        double b = sqrt(inv[0][k] * inv[0][k] + inv[1][k] * inv[1][k] + inv[2][k] * inv[2][k]);
        double width = r * b + 1e-12, count = floor(1.0 / width);
        nb[k] = count < 1 ? 1 : count > (1 << 20) ? (1 << 20) : (uint64_t)count;
    }
    binned *v = malloc((size_t)n * sizeof *v);
    int(*bin)[3] = malloc((size_t)n * sizeof *bin);
    if (!v || !bin) {
        free(v), free(bin);
        return ih_set_error("%s: out of memory", what);
    }
    for (int q = 0; q < n; q++) {
        int i = n_virtual + q;
        for (int k = 0; k < 3; k++) {
            double f = s->frac[3 * i + k] - floor(s->frac[3 * i + k]);
            uint64_t b = (uint64_t)(f * (double)nb[k]);
            bin[q][k] = (int)(b >= nb[k] ? nb[k] - 1 : b);
        }
        v[q].key = (uint64_t)bin[q][0] + nb[0] * ((uint64_t)bin[q][1] + nb[1] * (uint64_t)bin[q][2]);
        v[q].i = i;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_binned);
    int rc = 0;
    for (int q = 0; q < n && rc == 0; q++) {
        int i = n_virtual + q;
        /* the distinct neighbouring bins (fewer than 27 when an axis has under three bins) */
        uint64_t seen[27];
        int n_seen = 0;
        for (int dx = -1; dx <= 1; dx++)
            for (int dy = -1; dy <= 1; dy++)
                for (int dz = -1; dz <= 1; dz++) {
                    int d[3] = {dx, dy, dz};
                    uint64_t c[3];
                    for (int k = 0; k < 3; k++) c[k] = (uint64_t)(((int64_t)bin[q][k] + d[k] + (int64_t)nb[k]) % (int64_t)nb[k]);
                    uint64_t key = c[0] + nb[0] * (c[1] + nb[1] * c[2]);
                    int dup = 0;
                    for (int t = 0; t < n_seen && !dup; t++) dup = seen[t] == key;
                    if (dup) continue;
                    seen[n_seen++] = key;
                    for (int e = lower_bound(v, n, key); e < n && v[e].key == key && rc == 0; e++) {
                        int j = v[e].i;
                        if (j <= i) continue; /* each pair once, from its lower index */
                        double dist = pair_distance(s, i, j);
                        if (dist < r)
                            rc = ih_set_error("%s: atoms %d (%s) and %d (%s) overlap (%.3f Å apart)", what, i + 1,
                                              ih_element_symbol(s->z[i]), j + 1, ih_element_symbol(s->z[j]), dist);
                    }
                }
    }
    free(v), free(bin);
    return rc;
}

int ih_structure_validate(const ih_structure *s, const char *what, double min_separation,
                          int n_virtual) {
    if (!what) what = "structure";
    if (s->n_atoms <= 0) return ih_set_error("%s: no atoms", what);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            if (!isfinite(s->lattice[r][c]))
                return ih_set_error("%s: lattice contains a non-finite number", what);
    double len[3];
    if (lattice_too_long(s->lattice, what, len) != 0) return -1;
    double vol = fabs(ih_structure_volume(s));
    if (!(vol > 1e-6) || !(len[0] > 1e-3 && len[1] > 1e-3 && len[2] > 1e-3) ||
        vol < 1e-4 * len[0] * len[1] * len[2])
        return ih_set_error("%s: degenerate lattice (cell volume %.3g Å^3): zero-volume or flat cell",
                            what, vol);
    for (int i = 0; i < s->n_atoms; i++) {
        for (int c = 0; c < 3; c++)
            if (!isfinite(s->frac[3 * i + c]) || fabs(s->frac[3 * i + c]) > 1e6)
                return ih_set_error("%s: atom %d has a non-finite or absurd coordinate", what, i + 1);
        if (s->z[i] < 1 || s->z[i] > 103)
            return ih_set_error("%s: atom %d has an unknown element", what, i + 1);
    }
    return check_overlaps(s, what, min_separation, n_virtual);
}

