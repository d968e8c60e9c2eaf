/* The hop network of one mobile species in a user's structure: every vacancy hop from a site of
 * the element in cell (0,0,0) to a site of the element in any cell up to a length (hops to a
 * periodic image of the same site included), grouped into classes that the crystal's symmetry
 * operations (spglib) map onto each other, direction included. The network does not depend on how
 * the cell was written: a hop is a pair of sites and a lattice image, never "the nearest image".
 *
 * Classes are found in the crystal's canonical (primitive) cell, whose lattice carries the whole
 * point group, orbit by orbit: each operation permutes the sites (with a lattice shift per site),
 * so it maps hop (i, j, n) to (p(i), p(j), R·n + s(j) − s(i)), looked up in a hash table of the
 * hops; every hop of the user's cell then takes the class of the same hop there. The work grows as
 * hops × operations. */
#include "core/util.h"

#include <math.h>
#include <spglib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double norm3(const double x[3]) { return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]); }

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

/* Cartesian length of a fractional difference after removing whole lattice vectors componentwise. */
static double wrapped_length(const double (*L)[3], const double d[3]) {
    double w[3], x[3];
    for (int c = 0; c < 3; c++) w[c] = d[c] - nearbyint(d[c]);
    ih_frac_to_cart(L, w, x);
    return norm3(x);
}

/* perm[o·n + a] = the site (0..n-1) operation o maps site a onto, shift[...] its lattice shift:
 * R·f_a + t = f_perm + shift. -1 if an operation maps a site onto no site (symprec too tight). */
static int site_permutations(const ih_structure *s, const int *site, int n, const sym_ops *ops, double symprec,
                             int *perm, int (*shift)[3]) {
    for (int o = 0; o < ops->n; o++)
        for (int a = 0; a < n; a++) {
            const double *f = s->frac + 3 * site[a];
            double y[3];
            for (int i = 0; i < 3; i++) {
                y[i] = ops->tra[o][i];
                for (int j = 0; j < 3; j++) y[i] += ops->rot[o][i][j] * f[j];
            }
            int best = -1;
            double best_d = symprec;
            for (int b = 0; b < n; b++) {
                const double *g = s->frac + 3 * site[b];
                double d[3] = {y[0] - g[0], y[1] - g[1], y[2] - g[2]};
                double len = wrapped_length(s->lattice, d);
                if (len < best_d) best_d = len, best = b;
            }
            if (best < 0) return ih_set_error("symmetry operation %d maps site %d onto no site", o + 1, site[a] + 1);
            perm[(size_t)o * n + a] = best;
            for (int i = 0; i < 3; i++) shift[(size_t)o * n + a][i] = (int)nearbyint(y[i] - s->frac[3 * site[best] + i]);
        }
    return 0;
}

/* ---- the hops, and a hash table of them keyed by (from, to, image) ---- */

typedef struct hop_table {
    size_t cap; /* power of two */
    int *slot;  /* hop index + 1, 0 = empty */
} hop_table;

static uint64_t hop_key_hash(int a, int b, const int n[3]) {
    uint64_t h = 1469598103934665603ULL;
    int v[5] = {a, b, n[0], n[1], n[2]};
    for (int k = 0; k < 5; k++) h = (h ^ (uint32_t)v[k]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static int table_find(const hop_table *t, const ih_hop *hops, int a, int b, const int n[3]) {
    for (size_t q = hop_key_hash(a, b, n) & (t->cap - 1);; q = (q + 1) & (t->cap - 1)) {
        int k = t->slot[q] - 1;
        if (k < 0) return -1;
        const ih_hop *h = &hops[k];
        if (h->from == a && h->to == b && h->image[0] == n[0] && h->image[1] == n[1] && h->image[2] == n[2]) return k;
    }
}

/* The table of n hops (a load under one half); -1 when out of memory. */
static int table_build(hop_table *t, const ih_hop *hops, int n) {
    t->cap = 16;
    while (t->cap < 2 * (size_t)n) t->cap *= 2;
    t->slot = calloc(t->cap, sizeof *t->slot);
    if (!t->slot) return ih_set_error("out of memory");
    for (int k = 0; k < n; k++) {
        size_t q = hop_key_hash(hops[k].from, hops[k].to, hops[k].image) & (t->cap - 1);
        while (t->slot[q]) q = (q + 1) & (t->cap - 1);
        t->slot[q] = k + 1;
    }
    return 0;
}

typedef struct hop_list {
    ih_hop *v;
    int n, cap;
} hop_list;

static int push_hop(hop_list *l, const ih_hop *h) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        ih_hop *grown = realloc(l->v, (size_t)cap * sizeof *grown);
        if (!grown) return ih_set_error("out of memory");
        l->v = grown, l->cap = cap;
    }
    l->v[l->n++] = *h;
    return 0;
}

/* shortest first; ties by sites, then image, so the order does not depend on the input's ordering
 * of equal lengths */
static int cmp_hops(const void *pa, const void *pb) {
    const ih_hop *a = pa, *b = pb;
    if (fabs(a->length - b->length) > 1e-9) return a->length < b->length ? -1 : 1;
    if (a->from != b->from) return a->from < b->from ? -1 : 1;
    if (a->to != b->to) return a->to < b->to ? -1 : 1;
    for (int c = 0; c < 3; c++)
        if (a->image[c] != b->image[c]) return a->image[c] < b->image[c] ? -1 : 1;
    return 0;
}

/* every hop between sites of the element up to max_length: structure-site indices, images */
static int all_hops(const ih_structure *s, const int *site, int n, double max_length, hop_list *l) {
    double spacing[3];
    ih_lattice_plane_spacings(s->lattice, spacing);
    int span[3];
    for (int k = 0; k < 3; k++) span[k] = 1 + (int)ceil(max_length / spacing[k]);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            const double *fa = s->frac + 3 * site[a], *fb = s->frac + 3 * site[b];
            for (int i = -span[0]; i <= span[0]; i++)
                for (int j = -span[1]; j <= span[1]; j++)
                    for (int k = -span[2]; k <= span[2]; k++) {
                        ih_hop h = {.from = site[a], .to = site[b], .image = {i, j, k}, .multiplicity = 1};
                        double x[3];
                        for (int c = 0; c < 3; c++) h.step[c] = fb[c] + h.image[c] - fa[c];
                        ih_frac_to_cart(s->lattice, h.step, x);
                        h.length = norm3(x);
                        /* 0.5 Å: a site and itself, or split sites the reader let through */
                        if (h.length > max_length || h.length < 0.5) continue;
                        if (push_hop(l, &h) != 0) return -1;
                    }
        }
    return 0;
}

void ih_hop_network_free(ih_hop_network *net) {
    free(net->hops), free(net->classes);
    memset(net, 0, sizeof *net);
}

/* the classes: for each hop not yet classed, its orbit under every operation */
static int classify(const ih_structure *s, const int *site, int n_sites, const sym_ops *ops, double symprec,
                    ih_hop_network *net) {
    int N = net->n_hops, rc = 0;
    int *index_of = malloc((size_t)s->n_atoms * sizeof *index_of); /* structure index -> site number */
    int *perm = malloc((size_t)ops->n * n_sites * sizeof *perm);
    int(*shift)[3] = malloc((size_t)ops->n * n_sites * sizeof *shift);
    hop_table t = {0};
    hop_list classes = {0};
    if (!index_of || !perm || !shift) rc = ih_set_error("out of memory");
    if (rc == 0) rc = table_build(&t, net->hops, N);
    for (int a = 0; rc == 0 && a < n_sites; a++) index_of[site[a]] = a;
    if (rc == 0) rc = site_permutations(s, site, n_sites, ops, symprec, perm, shift);
    for (int k = 0; rc == 0 && k < N; k++) net->hops[k].klass = -1;
    for (int k = 0; rc == 0 && k < N; k++) {
        ih_hop *h = &net->hops[k];
        if (h->klass >= 0) continue;
        int c = classes.n;
        h->klass = c;
        ih_hop rep = *h;
        rep.multiplicity = 1;
        int a = index_of[h->from], b = index_of[h->to];
        for (int o = 0; o < ops->n; o++) {
            size_t pa = (size_t)o * n_sites + a, pb = (size_t)o * n_sites + b;
            int img[3];
            for (int i = 0; i < 3; i++) {
                img[i] = shift[pb][i] - shift[pa][i];
                for (int j = 0; j < 3; j++) img[i] += ops->rot[o][i][j] * h->image[j];
            }
            int m = table_find(&t, net->hops, site[perm[pa]], site[perm[pb]], img);
            /* an image just beyond max_length by rounding has no entry: the orbit stays incomplete
             * there, and that hop opens its own class */
            if (m >= 0 && net->hops[m].klass < 0) {
                net->hops[m].klass = c;
                rep.multiplicity++;
            }
        }
        rc = push_hop(&classes, &rep);
    }
    net->classes = classes.v, net->n_classes = classes.n;
    if (rc != 0) free(classes.v), net->classes = NULL, net->n_classes = 0;
    free(index_of), free(perm), free(shift), free(t.slot);
    return rc;
}

/* The network of s classed with s's own symmetry operations. Only right for a cell whose lattice
 * has the crystal's full point symmetry (a primitive cell): spglib gives an operation only where it
 * maps the cell's lattice onto itself, so a 2×1×1 supercell of a hexagonal crystal loses its 3-fold
 * axis and would split one class into two. */
static int network_in_cell(const ih_structure *s, int z, double max_length, double symprec, ih_hop_network *net) {
    memset(net, 0, sizeof *net);
    int n_sites = 0;
    for (int i = 0; i < s->n_atoms; i++) n_sites += s->z[i] == z;
    net->info.n_sites = n_sites;
    int *site = malloc((size_t)(n_sites ? n_sites : 1) * sizeof *site);
    if (!site) return ih_set_error("out of memory");
    for (int i = 0, m = 0; i < s->n_atoms; i++)
        if (s->z[i] == z) site[m++] = i;
    sym_ops ops = {0};
    hop_list l = {0};
    int rc = find_symmetry(s, symprec, &ops, &net->info);
    if (rc == 0) rc = all_hops(s, site, n_sites, max_length, &l);
    if (rc == 0 && l.n) qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_hops);
    net->hops = l.v, net->n_hops = l.n;
    net->info.n_hops = l.n;
    if (rc == 0) rc = classify(s, site, n_sites, &ops, symprec, net);
    if (ops.sym) spg_free_dataset(ops.sym);
    free(site);
    if (rc != 0) ih_hop_network_free(net);
    return rc;
}

/* Each hop of s takes the class of the same hop in the canonical cell c, whose lattice carries the
 * crystal's whole point group; classes are renumbered in order of first appearance in s. */
static int class_from_canonical(const ih_structure *s, const ih_structure *c, const double shift[3], double symprec,
                                const ih_hop_network *cnet, ih_hop_network *net) {
    int N = net->n_hops, C = cnet->n_classes, rc = 0;
    hop_table t = {0};
    int *renumber = malloc((size_t)(C + N + 1) * sizeof *renumber);
    hop_list classes = {0};
    if (!renumber) rc = ih_set_error("out of memory");
    if (rc == 0) rc = table_build(&t, cnet->hops, cnet->n_hops);
    for (int k = 0; rc == 0 && k < C + N + 1; k++) renumber[k] = -1;
    int extra = C; /* hops with no canonical counterpart (a length rounding at max_length) */
    for (int k = 0; rc == 0 && k < N; k++) {
        ih_hop *h = &net->hops[k], hc;
        rc = ih_hop_to_cell(s, h, c, shift, symprec, &hc);
        if (rc != 0) break;
        int m = table_find(&t, cnet->hops, hc.from, hc.to, hc.image);
        int cc = m >= 0 ? cnet->hops[m].klass : extra++;
        if (renumber[cc] < 0) {
            renumber[cc] = classes.n;
            ih_hop rep = *h;
            rep.multiplicity = 0;
            rep.klass = classes.n;
            rc = push_hop(&classes, &rep);
        }
        h->klass = renumber[cc];
        classes.v[h->klass].multiplicity++;
    }
    net->classes = classes.v, net->n_classes = classes.n;
    if (rc != 0) free(classes.v), net->classes = NULL, net->n_classes = 0;
    free(t.slot), free(renumber);
    return rc;
}

int ih_hop_network_build(const ih_structure *s, int z, double max_length, double symprec, ih_hop_network *net) {
    memset(net, 0, sizeof *net);
    int n_sites = 0;
    for (int i = 0; i < s->n_atoms; i++) n_sites += s->z[i] == z;
    if (n_sites < 1) return ih_set_error("no %s site: the structure holds no such atom", ih_element_symbol(z));
    if (!(max_length > 0 && max_length <= 50))
        return ih_set_error("hop length limit %g Å outside 0..50", max_length);
    ih_structure c;
    double shift[3];
    if (ih_canonical_cell(s, symprec, &c, shift) != 0) return -1;
    ih_hop_network cnet;
    int rc = network_in_cell(&c, z, max_length, symprec, &cnet);
    int *site = malloc((size_t)n_sites * sizeof *site);
    hop_list l = {0};
    if (rc == 0 && !site) rc = ih_set_error("out of memory");
    for (int i = 0, m = 0; rc == 0 && i < s->n_atoms; i++)
        if (s->z[i] == z) site[m++] = i;
    if (rc == 0) rc = all_hops(s, site, n_sites, max_length, &l);
    if (rc == 0 && l.n) qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_hops);
    net->hops = l.v, net->n_hops = l.n;
    if (rc == 0) {
        net->info = cnet.info;
        net->info.n_sites = n_sites, net->info.n_hops = l.n;
        rc = class_from_canonical(s, &c, shift, symprec, &cnet, net);
    }
    ih_hop_network_free(&cnet);
    ih_structure_free(&c);
    free(site);
    if (rc == 0 && !net->hops) net->hops = malloc(sizeof *net->hops); /* empty lists are still valid pointers */
    if (rc == 0 && !net->classes) net->classes = malloc(sizeof *net->classes);
    if (rc == 0 && (!net->hops || !net->classes)) rc = ih_set_error("out of memory");
    if (rc != 0) ih_hop_network_free(net);
    return rc;
}

int ih_hops_enumerate(const ih_structure *s, int z, double max_length, double symprec, ih_hop **hops_out,
                      int *n_out, ih_hops_info *info) {
    ih_hop_network net;
    *hops_out = NULL, *n_out = 0;
    if (ih_hop_network_build(s, z, max_length, symprec, &net) != 0) {
        memset(info, 0, sizeof *info);
        return -1;
    }
    *info = net.info;
    *hops_out = net.classes, *n_out = net.n_classes;
    net.classes = NULL;
    ih_hop_network_free(&net);
    return 0;
}

/* ---- the cell a hop is predicted in ---- */

int ih_hop_supercell_size(const ih_structure *s, const ih_hop *h, double min_spacing, int n[3]) {
    double spacing[3];
    ih_lattice_plane_spacings(s->lattice, spacing);
    for (int k = 0; k < 3; k++) {
        if (!(spacing[k] > 0)) return ih_set_error("degenerate cell");
        n[k] = (int)ceil(min_spacing / spacing[k] - 1e-9);
        if (n[k] < 1) n[k] = 1;
        /* the path must be the nearest image in the supercell: every step component below half */
        while (fabs(h->step[k]) / n[k] > 0.5 - 1e-6) n[k]++;
        if (n[k] > 64) return ih_set_error("a supercell of %d cells along axis %d: the cell is too small", n[k], k + 1);
    }
    return 0;
}

int ih_hop_cell(const ih_structure *s, const ih_hop *h, double min_spacing, ih_structure *ini, int *ion,
                double to[3]) {
    int n[3];
    if (ih_hop_supercell_size(s, h, min_spacing, n) != 0) return -1;
    int cells = n[0] * n[1] * n[2];
    if ((long)cells * s->n_atoms > 200000)
        return ih_set_error("the cell for this hop would hold %ld atoms", (long)cells * s->n_atoms);
    if (ih_structure_init(ini, cells * s->n_atoms - 1) != 0) return -1;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) ini->lattice[r][c] = s->lattice[r][c] * n[r];
    snprintf(ini->jid, sizeof ini->jid, "%s", s->jid);
    /* the vacancy: site `to` in the cell of the hop's image, folded into the supercell */
    int vac[3];
    for (int c = 0; c < 3; c++) vac[c] = ((h->image[c] % n[c]) + n[c]) % n[c];
    int m = 0;
    *ion = -1;
    for (int i = 0; i < n[0]; i++)
        for (int j = 0; j < n[1]; j++)
            for (int k = 0; k < n[2]; k++) {
                int cell[3] = {i, j, k};
                for (int a = 0; a < s->n_atoms; a++) {
                    if (a == h->to && i == vac[0] && j == vac[1] && k == vac[2]) continue;
                    if (a == h->from && i == 0 && j == 0 && k == 0) *ion = m;
                    ini->z[m] = s->z[a];
                    for (int c = 0; c < 3; c++) ini->frac[3 * m + c] = (s->frac[3 * a + c] + cell[c]) / n[c];
                    m++;
                }
            }
    for (int c = 0; c < 3; c++) to[c] = (s->frac[3 * h->from + c] + h->step[c]) / n[c];
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
