/* Partly occupied and shared sites of a CIF made into one ordered structure (docs/method.md §12).
 *
 * A diffraction refinement describes a disordered crystal by sites that are occupied only part of
 * the time (the mobile ions of a fast-ion conductor), sites shared by two species (Al/Ti in LATP,
 * S/Cl in argyrodites) and split sites: positions closer together than two atoms can sit, each
 * occupied part of the time. The network needs one species per position and no two atoms closer
 * than a bond, so:
 *   1. atoms closer than IH_SHARED_SITE_DISTANCE (any species) share one site, and atoms of one
 *      species that are partly occupied and closer than IH_SPLIT_SITE_DISTANCE are one split
 *      site; each such cluster becomes one atom of its majority species (the largest summed
 *      occupancy; ties go to the first listed) at the occupancy-weighted mean position of that
 *      species' positions, with the cluster's summed occupancy;
 *   2. IH_DISORDER_SITES keeps every site (each partly occupied site a candidate site of the
 *      network, all of them filled); IH_DISORDER_HALF keeps the sites whose occupancy is at least
 *      one half.
 * Every change is reported by ih_warn, by the CIF rows it came from. */
#include "io/io_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTIAL_BELOW 0.99 /* an occupancy under this is partial (refinements print 0.995 for 1) */
#define MAX_WARNINGS 12

typedef struct {
    int *parent;
} uf;

static int uf_find(uf *u, int a) {
    while (u->parent[a] != a) a = u->parent[a] = u->parent[u->parent[a]];
    return a;
}

static void uf_join(uf *u, int a, int b) {
    a = uf_find(u, a), b = uf_find(u, b);
    if (a != b) u->parent[a > b ? a : b] = a < b ? a : b; /* the lower index leads: file order */
}

/* Cartesian minimum-image distance between fractional points a and b */
static double frac_distance(const double L[3][3], const double *a, const double *b, double step[3]) {
    double d[3], x[3];
    for (int k = 0; k < 3; k++) {
        d[k] = b[k] - a[k];
        d[k] -= floor(d[k] + 0.5);
        if (step) step[k] = d[k];
    }
    ih_frac_to_cart(L, d, x);
    return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
}

/* Join the pairs of candidates closer than the cluster distances, comparing each with the
 * candidates of its own and neighbouring bins only (bins at least the split distance wide). */
static int join_close(const double L[3][3], int m, const int *cand, const double *pos, const int *z,
                      const double *occ, uf *u) {
    double spacing[3];
    ih_lattice_plane_spacings(L, spacing);
    int nb[3];
    for (int k = 0; k < 3; k++) {
        double per = floor(spacing[k] / IH_SPLIT_SITE_DISTANCE);
        nb[k] = per < 1 ? 1 : per > 48 ? 48 : (int)per;
    }
    size_t n_bins = (size_t)nb[0] * nb[1] * nb[2];
    int *head = malloc(n_bins * sizeof *head), *next = malloc((size_t)m * sizeof *next);
    if (!head || !next) {
        free(head), free(next);
        return -1;
    }
    for (size_t b = 0; b < n_bins; b++) head[b] = -1;
    int (*bin)[3] = malloc((size_t)m * sizeof *bin);
    if (!bin) {
        free(head), free(next);
        return -1;
    }
    for (int c = 0; c < m; c++) {
        const double *p = pos + 3 * cand[c];
        for (int k = 0; k < 3; k++) {
            int b = (int)floor((p[k] - floor(p[k])) * nb[k]);
            bin[c][k] = b < 0 ? 0 : b >= nb[k] ? nb[k] - 1 : b;
        }
        size_t key = (size_t)bin[c][0] + (size_t)nb[0] * (bin[c][1] + (size_t)nb[1] * bin[c][2]);
        next[c] = head[key];
        head[key] = c;
    }
    for (int c = 0; c < m; c++) {
        int i = cand[c];
        /* each distinct neighbouring bin once (an axis of fewer than 3 bins has fewer neighbours) */
        int span[3];
        for (int k = 0; k < 3; k++) span[k] = nb[k] < 3 ? nb[k] : 3;
        for (int dx = 0; dx < span[0]; dx++)
            for (int dy = 0; dy < span[1]; dy++)
                for (int dz = 0; dz < span[2]; dz++) {
                    int o[3] = {dx, dy, dz}, q[3];
                    for (int k = 0; k < 3; k++)
                        q[k] = nb[k] < 3 ? o[k] : ((bin[c][k] + o[k] - 1) % nb[k] + nb[k]) % nb[k];
                    size_t key = (size_t)q[0] + (size_t)nb[0] * (q[1] + (size_t)nb[1] * q[2]);
                    for (int e = head[key]; e >= 0; e = next[e]) {
                        int j = cand[e];
                        if (j <= i) continue;
                        double d = frac_distance(L, pos + 3 * i, pos + 3 * j, NULL);
                        int shared = d < IH_SHARED_SITE_DISTANCE;
                        int split = z[i] == z[j] && occ[i] < PARTIAL_BELOW && occ[j] < PARTIAL_BELOW &&
                                    d < IH_SPLIT_SITE_DISTANCE;
                        if (shared || split) uf_join(u, i, j);
                    }
                }
    }
    free(head), free(next), free(bin);
    return 0;
}

/* one line per distinct kind of change, by CIF rows */
typedef struct {
    int kind, row_a, row_b, count;
    double occ_a, occ_b, extent;
} change;

static void note_change(change *list, int *n, int kind, int row_a, int row_b, double occ_a, double occ_b,
                        double extent) {
    for (int k = 0; k < *n; k++)
        if (list[k].kind == kind && list[k].row_a == row_a && list[k].row_b == row_b) {
            list[k].count++;
            if (extent > list[k].extent) list[k].extent = extent;
            return;
        }
    if (*n >= MAX_WARNINGS) return;
    list[(*n)++] = (change){kind, row_a, row_b, 1, occ_a, occ_b, extent};
}

int ih_resolve_disorder(const char *name, const double L[3][3], ih_disorder mode, size_t *n_atoms, double *pos,
                        int *z, double *occ, int *row, const char (*row_name)[32]) {
    size_t n = *n_atoms;
    int m = 0;
    for (size_t i = 0; i < n; i++) m += occ[i] < PARTIAL_BELOW;
    if (m == 0) return 0;
    if (mode == IH_DISORDER_REFUSE) {
        for (size_t i = 0; i < n; i++)
            if (occ[i] < PARTIAL_BELOW)
                return ih_set_error("%s: %s has occupancy %g: a disordered structure (refused by --disorder "
                                    "refuse; the default reads it, see docs/method.md §12)",
                                    name, row_name[row[i]], occ[i]);
    }
    /* candidates: every atom (a fully occupied atom may share its position with a partial one) */
    int *cand = malloc(n * sizeof *cand);
    uf u = {malloc(n * sizeof(int))};
    if (!cand || !u.parent) {
        free(cand), free(u.parent);
        return ih_set_error("%s: out of memory", name);
    }
    for (size_t i = 0; i < n; i++) cand[i] = (int)i, u.parent[i] = (int)i;
    if (join_close(L, (int)n, cand, pos, z, occ, &u) != 0) {
        free(cand), free(u.parent);
        return ih_set_error("%s: out of memory", name);
    }
    free(cand);

    /* clusters in order of their first atom; members listed by a chain through `next` */
    int *first = malloc(n * sizeof *first), *next = malloc(n * sizeof *next), *last = malloc(n * sizeof *last);
    if (!first || !next || !last) {
        free(first), free(next), free(last), free(u.parent);
        return ih_set_error("%s: out of memory", name);
    }
    for (size_t i = 0; i < n; i++) first[i] = -1, next[i] = -1;
    for (size_t i = 0; i < n; i++) {
        int r = uf_find(&u, (int)i);
        if (first[r] < 0)
            first[r] = (int)i;
        else
            next[last[r]] = (int)i;
        last[r] = (int)i;
    }
    change changes[MAX_WARNINGS];
    int n_changes = 0, overfull = 0;
    size_t kept = 0, dropped = 0;
    double occ_sum[128];
    int el_sites[128] = {0};
    double el_occ[128] = {0}, el_min[128], el_max[128] = {0};
    for (int k = 0; k < 128; k++) el_min[k] = 2;
    for (size_t r = 0; r < n; r++) {
        if (first[r] < 0) continue;
        /* the majority species and the cluster's total occupancy */
        double total = 0;
        int n_members = 0, n_species = 0, best = -1;
        memset(occ_sum, 0, sizeof occ_sum);
        for (int i = first[r]; i >= 0; i = next[i]) {
            total += occ[i], n_members++;
            if (occ_sum[z[i] & 127] == 0) n_species++;
            occ_sum[z[i] & 127] += occ[i];
        }
        for (int i = first[r]; i >= 0; i = next[i])
            if (best < 0 || occ_sum[z[i] & 127] > occ_sum[z[best] & 127]) best = i;
        int zb = z[best];
        /* the majority species' weighted mean position, unwrapped around its first atom */
        double mean[3] = {0, 0, 0}, w = 0, extent = 0;
        int second = -1;
        for (int i = first[r]; i >= 0; i = next[i]) {
            if (z[i] != zb) {
                if (second < 0 || occ_sum[z[i] & 127] > occ_sum[z[second] & 127]) second = i;
                continue;
            }
            double step[3], d = frac_distance(L, pos + 3 * best, pos + 3 * i, step);
            if (d > extent) extent = d;
            for (int k = 0; k < 3; k++) mean[k] += occ[i] * step[k];
            w += occ[i];
        }
        double site[3], site_occ = total > 1 ? 1 : total;
        for (int k = 0; k < 3; k++) {
            site[k] = pos[3 * best + k] + (w > 0 ? mean[k] / w : 0);
            site[k] -= floor(site[k]);
        }
        if (total > 1.05) overfull++;
        if (n_species > 1)
            note_change(changes, &n_changes, 1, row[best], row[second], occ_sum[zb & 127], occ_sum[z[second] & 127], 0);
        if (n_members > n_species && occ_sum[zb & 127] > 0)
            note_change(changes, &n_changes, 2, row[best], -1, occ_sum[zb & 127], 0, extent);
        if (mode == IH_DISORDER_HALF && site_occ < 0.5) {
            dropped++;
            continue;
        }
        if (site_occ < PARTIAL_BELOW) {
            el_sites[zb & 127]++;
            el_occ[zb & 127] += site_occ;
            if (site_occ < el_min[zb & 127]) el_min[zb & 127] = site_occ;
            if (site_occ > el_max[zb & 127]) el_max[zb & 127] = site_occ;
        }
        memcpy(pos + 3 * kept, site, sizeof site);
        z[kept] = zb, occ[kept] = site_occ, row[kept] = row[best];
        kept++;
    }
    free(first), free(next), free(last), free(u.parent);

    for (int k = 0; k < n_changes; k++) {
        const change *c = &changes[k];
        if (c->kind == 1)
            ih_warn("%s: %s and %s share a position (occupancies %.3g and %.3g): %d such site%s read as %s, the "
                    "majority",
                    name, row_name[c->row_a], row_name[c->row_b], c->occ_a, c->occ_b, c->count, c->count > 1 ? "s" : "",
                    row_name[c->row_a]);
        else
            ih_warn("%s: %s: split positions up to %.2f Å apart merged into %d site%s at their weighted mean "
                    "(summed occupancy %.3g)",
                    name, row_name[c->row_a], c->extent, c->count, c->count > 1 ? "s" : "", c->occ_a);
    }
    if (overfull) ih_warn("%s: %d site%s with occupancies summing to more than 1 (taken as 1)", name, overfull, overfull > 1 ? "s" : "");
    for (int e = 0; e < 128; e++)
        if (el_sites[e])
            ih_warn("%s: %d partly occupied %s sites (occupancy %.2f-%.2f) each taken as a site occupied by %s, "
                    "where their occupancies sum to %.1f",
                    name, el_sites[e], ih_element_symbol(e), el_min[e], el_max[e], ih_element_symbol(e), el_occ[e]);
    if (dropped)
        ih_warn("%s: %zu site%s with occupancy under 0.5 left empty (--disorder half)", name, dropped,
                dropped > 1 ? "s" : "");
    *n_atoms = kept;
    return 0;
}
