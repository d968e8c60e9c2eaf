/* Candidate vacancy hops of one mobile species in a user's structure: every hop from a site of the
 * element to the nearest image of another of its sites, up to a length, grouped into classes that
 * the crystal's symmetry operations (spglib) map onto each other. One representative per class is
 * what `ionhop predict STRUCTURE --ion Li` predicts. */
#include "core/util.h"

#include <math.h>
#include <spglib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double norm3(const double x[3]) { return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]); }

/* Cartesian length of the fractional difference d after removing whole lattice vectors
 * component-wise (enough for a tolerance test on near-zero differences). */
static double wrapped_length(const double (*L)[3], const double *d) {
    double w[3], x[3];
    for (int c = 0; c < 3; c++) w[c] = d[c] - nearbyint(d[c]);
    ih_frac_to_cart(L, w, x);
    return norm3(x);
}

/* Does operation (R, t) map hop a (start fa, step sa) onto hop b? The start must land on b's start
 * modulo the lattice, and the rotated step must equal b's step exactly (same image, same direction). */
static int op_maps(const double (*L)[3], const int (*R)[3], const double *t, const double *fa,
                   const double *sa, const double *fb, const double *sb, double tol) {
    double d[3], ds[3];
    for (int i = 0; i < 3; i++) {
        double rf = 0, rs = 0;
        for (int j = 0; j < 3; j++) rf += R[i][j] * fa[j], rs += R[i][j] * sa[j];
        d[i] = rf + t[i] - fb[i];
        ds[i] = rs - sb[i];
    }
    double x[3];
    ih_frac_to_cart(L, ds, x);
    return norm3(x) < tol && wrapped_length(L, d) < tol;
}

/* The structure's space-group operations (spglib), or the identity alone if spglib finds none. */
typedef struct sym_ops {
    SpglibDataset *sym;
    const int (*rot)[3][3];
    const double (*tra)[3];
    int n;
} sym_ops;

static int find_symmetry(const ih_structure *s, double symprec, sym_ops *ops, ih_hops_info *info) {
    static const int identity[1][3][3] = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
    static const double no_shift[1][3] = {{0, 0, 0}};
    /* spglib takes lattice vectors as columns */
    double lat[3][3], (*pos)[3] = malloc((size_t)s->n_atoms * sizeof *pos);
    if (!pos) return ih_set_error("out of memory");
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) lat[c][r] = s->lattice[r][c];
    for (int i = 0; i < s->n_atoms; i++)
        for (int c = 0; c < 3; c++) pos[i][c] = s->frac[3 * i + c];
    ops->sym = spg_get_dataset(lat, pos, s->z, s->n_atoms, symprec);
    free(pos);
    ops->rot = identity, ops->tra = no_shift, ops->n = 1;
    if (ops->sym) {
        ops->rot = (const int(*)[3][3])ops->sym->rotations;
        ops->tra = (const double(*)[3])ops->sym->translations;
        ops->n = ops->sym->n_operations;
        info->spacegroup = ops->sym->spacegroup_number;
        snprintf(info->spacegroup_symbol, sizeof info->spacegroup_symbol, "%s", ops->sym->international_symbol);
    }
    return 0;
}

typedef struct hop_list {
    ih_hop *v;
    int n, cap;
} hop_list;

/* The hop from site a by `step` (fractional, length len): counted in the class of an earlier hop
 * that a symmetry operation maps onto it, else appended as a new class. */
static int add_hop(hop_list *l, const ih_structure *s, const sym_ops *ops, int a, int b, const double step[3],
                   double len, double symprec) {
    for (int h = 0; h < l->n; h++) {
        if (fabs(l->v[h].length - len) > symprec) continue;
        const double *fh = s->frac + 3 * l->v[h].from;
        for (int o = 0; o < ops->n; o++)
            if (op_maps(s->lattice, ops->rot[o], ops->tra[o], fh, l->v[h].step, s->frac + 3 * a, step, symprec)) {
                l->v[h].multiplicity++;
                return 0;
            }
    }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        ih_hop *grown = realloc(l->v, (size_t)cap * sizeof *grown);
        if (!grown) return ih_set_error("out of memory");
        l->v = grown, l->cap = cap;
    }
    ih_hop *h = &l->v[l->n++];
    h->from = a, h->to = b, h->length = len, h->multiplicity = 1;
    memcpy(h->step, step, 3 * sizeof *step);
    return 0;
}

/* Every hop from site a to site b (other periodic images included) up to max_length. */
static int hops_between(hop_list *l, const ih_structure *s, const sym_ops *ops, int a, int b, const int span[3],
                        double max_length, double symprec, ih_hops_info *info) {
    double d0[3];
    for (int c = 0; c < 3; c++) {
        double d = s->frac[3 * b + c] - s->frac[3 * a + c];
        d0[c] = d - nearbyint(d);
    }
    for (int i = -span[0]; i <= span[0]; i++)
        for (int j = -span[1]; j <= span[1]; j++)
            for (int k = -span[2]; k <= span[2]; k++) {
                double step[3] = {d0[0] + i, d0[1] + j, d0[2] + k}, x[3];
                ih_frac_to_cart(s->lattice, step, x);
                double len = norm3(x);
                if (len > max_length || len < 0.5) continue;
                int nearest = 1;
                /* the 5-image structure takes each step component within [-0.5, 0.5] (a component
                 * of exactly ±0.5 either way), as ih_path_5image does */
                for (int c = 0; c < 3; c++) nearest &= fabs(step[c]) <= 0.5;
                if (!nearest) {
                    info->n_too_long++;
                    continue;
                }
                info->n_hops++;
                if (add_hop(l, s, ops, a, b, step, len, symprec) != 0) return -1;
            }
    return 0;
}

/* shortest first; ties by site order keep the output deterministic */
static void sort_hops(ih_hop *hops, int n) {
    for (int i = 1; i < n; i++) {
        ih_hop h = hops[i];
        int j = i;
        while (j > 0 && (hops[j - 1].length > h.length + 1e-9 ||
                         (fabs(hops[j - 1].length - h.length) <= 1e-9 &&
                          (hops[j - 1].from > h.from || (hops[j - 1].from == h.from && hops[j - 1].to > h.to))))) {
            hops[j] = hops[j - 1];
            j--;
        }
        hops[j] = h;
    }
}

int ih_hops_enumerate(const ih_structure *s, int z, double max_length, double symprec, ih_hop **hops_out,
                      int *n_out, ih_hops_info *info) {
    *hops_out = NULL;
    *n_out = 0;
    memset(info, 0, sizeof *info);
    int n_sites = 0;
    for (int i = 0; i < s->n_atoms; i++) n_sites += s->z[i] == z;
    info->n_sites = n_sites;
    if (n_sites < 2)
        return ih_set_error("only %d %s site%s: a vacancy hop needs two (%s)", n_sites, ih_element_symbol(z),
                            n_sites == 1 ? "" : "s",
                            n_sites == 1 ? "give a supercell, or a destination with --ion INDEX --to"
                                         : "no such atom in the structure");
    sym_ops ops = {0};
    if (find_symmetry(s, symprec, &ops, info) != 0) return -1;
    /* how many lattice translations a hop of max_length can span along each axis */
    double spacing[3];
    ih_lattice_plane_spacings(s->lattice, spacing);
    int span[3];
    for (int k = 0; k < 3; k++) span[k] = 1 + (int)ceil(max_length / spacing[k]);
    hop_list l = {0};
    int rc = 0;
    for (int a = 0; a < s->n_atoms && rc == 0; a++)
        for (int b = 0; b < s->n_atoms && rc == 0 && s->z[a] == z; b++)
            if (b != a && s->z[b] == z) rc = hops_between(&l, s, &ops, a, b, span, max_length, symprec, info);
    if (ops.sym) spg_free_dataset(ops.sym);
    if (rc != 0) {
        free(l.v);
        return -1;
    }
    sort_hops(l.v, l.n);
    if (!l.v) l.v = malloc(sizeof *l.v); /* an empty list is still a valid pointer */
    if (!l.v) return ih_set_error("out of memory");
    *hops_out = l.v;
    *n_out = l.n;
    return 0;
}

int ih_hop_initial(const ih_structure *s, const ih_hop *h, ih_structure *ini, int *ion, double to[3]) {
    if (ih_structure_init(ini, s->n_atoms - 1) != 0) return -1;
    memcpy(ini->lattice, s->lattice, sizeof ini->lattice);
    snprintf(ini->jid, sizeof ini->jid, "%s", s->jid);
    int m = 0;
    for (int i = 0; i < s->n_atoms; i++) {
        if (i == h->to) continue; /* the destination becomes the vacancy */
        ini->z[m] = s->z[i];
        memcpy(ini->frac + 3 * m, s->frac + 3 * i, 3 * sizeof(double));
        m++;
    }
    *ion = h->from - (h->to < h->from);
    for (int c = 0; c < 3; c++) to[c] = s->frac[3 * h->from + c] + h->step[c];
    return 0;
}
