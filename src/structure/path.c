/* Migration paths: the 5-image structure of docs/method.md §1.3 from two end points (or from a structure,
 * an ion and a destination), and the end points back from a 5-image structure (§1.4). */
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hop shorter than this is not a hop; end points whose second-largest displacement exceeds
 * IH_HOP_AMBIGUITY × the largest do not single out one moving ion. Separately relaxed end points
 * move host atoms by up to ~0.9 Å (docs/method.md §1.4), hops are 1.5-9 Å long. */
#define IH_HOP_MIN 0.5
#define IH_HOP_AMBIGUITY 0.6

static double min_image_frac(double d) {
    if (fabs(d) > 0.5) d -= nearbyint(d);
    return d;
}

/* Cartesian length of the smallest periodic image of fractional difference df, over the 27
 * neighbouring translations of its component-wise reduced form. */
static double min_image_length(const double L[3][3], const double df[3]) {
    double best = INFINITY;
    for (int a = -1; a <= 1; a++)
        for (int b = -1; b <= 1; b++)
            for (int c = -1; c <= 1; c++) {
                double f[3] = {min_image_frac(df[0]) + a, min_image_frac(df[1]) + b,
                               min_image_frac(df[2]) + c};
                double x[3];
                ih_frac_to_cart(L, f, x);
                double r = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
                if (r < best) best = r;
            }
    return best;
}

int ih_path_5image(const ih_structure *ini, int ion, const double final_frac[3], ih_structure *out) {
    int n = ini->n_atoms;
    if (ion < 0 || ion >= n) return ih_set_error("ion index %d outside 1..%d", ion + 1, n);
    if (ih_structure_init(out, n + 4) != 0) return -1;
    memcpy(out->lattice, ini->lattice, sizeof out->lattice);
    double delta[3];
    for (int c = 0; c < 3; c++) delta[c] = min_image_frac(final_frac[c] - ini->frac[3 * ion + c]);
    for (int k = 0; k < 5; k++) {
        out->z[k] = ini->z[ion];
        for (int c = 0; c < 3; c++) out->frac[3 * k + c] = ini->frac[3 * ion + c] + 0.25 * k * delta[c];
    }
    int m = 5;
    for (int i = 0; i < n; i++) {
        if (i == ion) continue;
        out->z[m] = ini->z[i];
        memcpy(out->frac + 3 * m, ini->frac + 3 * i, 3 * sizeof(double));
        m++;
    }
    snprintf(out->jid, sizeof out->jid, "%s", ini->jid);
    return 0;
}

/* The largest and second-largest displacement between ini atom i and fin atom match[i] (NULL:
 * the same index): the moving ion, or an error naming both files. */
static int find_mover(const ih_structure *ini, const ih_structure *fin, const int *match, const char *ini_name,
                      const char *fin_name, int *ion, int *fin_site, double *hop_length) {
    int first = -1, second = -1;
    double d1 = -1, d2 = -1;
    for (int i = 0; i < ini->n_atoms; i++) {
        int j = match ? match[i] : i;
        if (ini->z[i] != fin->z[j])
            return ih_set_error("%s, %s: site %d is %s in one end point and %s in the other (end "
                                "points must hold the same atoms)",
                                ini_name, fin_name, i + 1, ih_element_symbol(ini->z[i]),
                                ih_element_symbol(fin->z[j]));
        double df[3];
        for (int c = 0; c < 3; c++) df[c] = fin->frac[3 * j + c] - ini->frac[3 * i + c];
        double d = min_image_length(ini->lattice, df);
        if (d > d1) {
            second = first;
            d2 = d1;
            first = i;
            d1 = d;
        } else if (d > d2) {
            second = i;
            d2 = d;
        }
    }
    if (d1 < IH_HOP_MIN)
        return ih_set_error("%s, %s: no atom moves more than %.1f Å between the end points", ini_name,
                            fin_name, IH_HOP_MIN);
    if (second >= 0 && d2 > IH_HOP_AMBIGUITY * d1)
        return ih_set_error("%s, %s: ambiguous hop: atoms %d (%s, %.2f Å) and %d (%s, %.2f Å) both "
                            "move; give one ion with --ion",
                            ini_name, fin_name, first + 1, ih_element_symbol(ini->z[first]), d1,
                            second + 1, ih_element_symbol(ini->z[second]), d2);
    *ion = first;
    *fin_site = match ? match[first] : first;
    if (hop_length) *hop_length = d1;
    return 0;
}

typedef struct pair_dist {
    double d;
    int i, j;
} pair_dist;

static int cmp_pair_dist(const void *a, const void *b) {
    const pair_dist *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    if (x->i != y->i) return x->i < y->i ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

/* Atoms of the final structure matched to the initial one's by position, for files that list
 * them in different orders: same-element pairs taken closest first (minimum image), each atom
 * once, so every host atom finds itself and the ion's two sites pair up last. */
static int match_by_position(const ih_structure *ini, const ih_structure *fin, int *match) {
    int n = ini->n_atoms;
    size_t n_pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) n_pairs += ini->z[i] == fin->z[j];
    pair_dist *pairs = malloc((n_pairs ? n_pairs : 1) * sizeof *pairs);
    char *fin_used = calloc(n > 0 ? (size_t)n : 1, 1);
    if (!pairs || !fin_used) {
        free(pairs), free(fin_used);
        return ih_set_error("out of memory");
    }
    size_t q = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (ini->z[i] == fin->z[j]) {
                double df[3];
                for (int c = 0; c < 3; c++) df[c] = fin->frac[3 * j + c] - ini->frac[3 * i + c];
                pairs[q++] = (pair_dist){min_image_length(ini->lattice, df), i, j};
            }
    qsort(pairs, n_pairs, sizeof *pairs, cmp_pair_dist);
    for (int i = 0; i < n; i++) match[i] = -1;
    int matched = 0;
    for (size_t k = 0; k < n_pairs && matched < n; k++)
        if (match[pairs[k].i] < 0 && !fin_used[pairs[k].j]) {
            match[pairs[k].i] = pairs[k].j;
            fin_used[pairs[k].j] = 1;
            matched++;
        }
    free(pairs), free(fin_used);
    return matched == n ? 0 : -1; /* short only if the compositions differ */
}

/* How far the final cell is from the initial one: each lattice vector's relative change of length
 * and each angle's change (degrees); returns the largest of the relative length changes and the
 * angle changes in radians (a shear strain of that size turns an angle by that much). */
static double cell_change(const double A[3][3], const double B[3][3], double length[3], double angle[3]) {
    double la[3], lb[3], worst = 0;
    for (int k = 0; k < 3; k++) {
        la[k] = sqrt(A[k][0] * A[k][0] + A[k][1] * A[k][1] + A[k][2] * A[k][2]);
        lb[k] = sqrt(B[k][0] * B[k][0] + B[k][1] * B[k][1] + B[k][2] * B[k][2]);
        length[k] = lb[k] / la[k] - 1;
        if (!(fabs(length[k]) <= worst)) worst = fabs(length[k]); /* NaN propagates */
    }
    /* alpha between b and c, beta between a and c, gamma between a and b */
    for (int k = 0; k < 3; k++) {
        int i = (k + 1) % 3, j = (k + 2) % 3;
        double ca = (A[i][0] * A[j][0] + A[i][1] * A[j][1] + A[i][2] * A[j][2]) / (la[i] * la[j]);
        double cb = (B[i][0] * B[j][0] + B[i][1] * B[j][1] + B[i][2] * B[j][2]) / (lb[i] * lb[j]);
        double d = acos(fmax(-1.0, fmin(1.0, cb))) - acos(fmax(-1.0, fmin(1.0, ca)));
        angle[k] = d * 180.0 / M_PI;
        if (!(fabs(d) <= worst)) worst = fabs(d);
    }
    return worst;
}

/* "the end points hold different atoms" with the first element whose count differs and the first
 * site whose element differs, or 0 if the compositions agree. */
static int composition_differs(const ih_structure *ini, const ih_structure *fin, const char *ini_name,
                               const char *fin_name) {
    int n = ini->n_atoms;
    for (int i = 0; i < n; i++) {
        int z = ini->z[i], in_ini = 0, in_fin = 0, seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = ini->z[j] == z;
        if (seen) continue;
        for (int j = 0; j < n; j++) in_ini += ini->z[j] == z, in_fin += fin->z[j] == z;
        if (in_ini == in_fin) continue;
        int site = 0;
        while (site < n - 1 && ini->z[site] == fin->z[site]) site++;
        return ih_set_error("%s, %s: the end points hold different atoms: %d %s in one, %d in the other (site %d is "
                            "%s in one end point and %s in the other); end points must hold the same atoms",
                            ini_name, fin_name, in_ini, ih_element_symbol(z), in_fin, site + 1,
                            ih_element_symbol(ini->z[site]), ih_element_symbol(fin->z[site]));
    }
    return 0;
}

/* The moving ion and the atom matching of two end points: match[i] (n entries) gets the atom of
 * fin that atom i of ini is, the same index when the files list the atoms in one order, else
 * matched by position. Errors name both files. */
static int match_endpoints(const ih_structure *ini, const ih_structure *fin, const char *ini_name,
                           const char *fin_name, int *ion, int *match, double *hop_length, double length[3],
                           double angle[3], double *change) {
    if (ini->n_atoms != fin->n_atoms)
        return ih_set_error("%s, %s: end points have different atom counts (%d vs %d)", ini_name,
                            fin_name, ini->n_atoms, fin->n_atoms);
    if (ini->n_atoms < 1) return ih_set_error("%s, %s: end points without atoms", ini_name, fin_name);
    *change = cell_change(ini->lattice, fin->lattice, length, angle);
    if (!(*change <= IH_CELL_CHANGE_MAX)) {
        static const char *const abc[3] = {"a", "b", "c"}, *const greek[3] = {"alpha", "beta", "gamma"};
        char what[256] = "";
        size_t len = 0;
        for (int k = 0; k < 6; k++) {
            double v = k < 3 ? length[k] : angle[k - 3], size = k < 3 ? fabs(v) : fabs(v) * M_PI / 180;
            if (!(size <= IH_CELL_CHANGE_MAX) && len < sizeof what)
                len += (size_t)snprintf(what + len, sizeof what - len, k < 3 ? "%s%s %+.1f %%" : "%s%s %+.1f°",
                                        len ? ", " : "", k < 3 ? abc[k] : greek[k - 3], k < 3 ? 100 * v : v);
        }
        return ih_set_error("%s, %s: the end points' cells differ by more than %.0f %% (%s): not two states of one "
                            "cell",
                            ini_name, fin_name, 100 * IH_CELL_CHANGE_MAX, what);
    }
    if (composition_differs(ini, fin, ini_name, fin_name) != 0) return -1;
    int site = -1;
    if (find_mover(ini, fin, NULL, ini_name, fin_name, ion, &site, hop_length) == 0) {
        for (int i = 0; i < ini->n_atoms; i++) match[i] = i;
        return 0;
    }
    /* the same atoms listed in another order? then match them by position */
    char same_order_error[1024];
    snprintf(same_order_error, sizeof same_order_error, "%s", ih_last_error());
    int rc = match_by_position(ini, fin, match);
    if (rc == 0) rc = find_mover(ini, fin, match, ini_name, fin_name, ion, &site, hop_length);
    return rc == 0 ? 0 : ih_set_error("%s", same_order_error);
}

int ih_path_find_ion(const ih_structure *ini, const ih_structure *fin, const char *ini_name,
                     const char *fin_name, int *ion, double final_frac[3], double *hop_length) {
    ih_endpoint_diff d;
    if (ih_path_compare_endpoints(ini, fin, ini_name, fin_name, INFINITY, &d) != 0) return -1;
    *ion = d.ion;
    if (final_frac) memcpy(final_frac, d.final_frac, sizeof d.final_frac);
    if (hop_length) *hop_length = d.hop_length;
    return 0;
}

int ih_path_compare_endpoints(const ih_structure *ini, const ih_structure *fin, const char *ini_name,
                              const char *fin_name, double host_tol, ih_endpoint_diff *out) {
    memset(out, 0, sizeof *out);
    out->ion = out->most_moved = -1;
    int n = ini->n_atoms, *match = malloc((size_t)(n > 0 ? n : 1) * sizeof *match);
    if (!match) return ih_set_error("out of memory");
    if (match_endpoints(ini, fin, ini_name, fin_name, &out->ion, match, &out->hop_length, out->length_change,
                        out->angle_change, &out->cell_change) != 0) {
        free(match);
        return -1;
    }
    memcpy(out->final_frac, fin->frac + 3 * match[out->ion], sizeof out->final_frac);
    /* every other atom's displacement as the hop itself is measured: fractional difference in the
     * initial cell, minimum image (so a final cell of another size moves no atom by itself) */
    for (int i = 0; i < n; i++) {
        if (i == out->ion) continue;
        double df[3];
        for (int c = 0; c < 3; c++) df[c] = fin->frac[3 * match[i] + c] - ini->frac[3 * i + c];
        double d = min_image_length(ini->lattice, df);
        if (d > out->most_moved_by || out->most_moved < 0) out->most_moved = i, out->most_moved_by = d;
        out->n_moved += d > host_tol;
    }
    free(match);
    return 0;
}

int ih_path_endpoints(const ih_structure *five, ih_structure *ini, ih_structure *fin) {
    if (!ih_structure_is_5image(five))
        return ih_set_error("%s: not a 5-image structure (sites 1-5 must be one element on a "
                            "straight, evenly spaced line)",
                            five->jid[0] ? five->jid : "structure");
    int n = five->n_atoms - 4;
    for (int e = 0; e < 2; e++) {
        ih_structure *s = e ? fin : ini;
        if (ih_structure_init(s, n) != 0) {
            if (e) ih_structure_free(ini);
            return -1;
        }
        memcpy(s->lattice, five->lattice, sizeof s->lattice);
        int site = e ? 4 : 0;
        s->z[0] = five->z[site];
        memcpy(s->frac, five->frac + 3 * site, 3 * sizeof(double));
        memcpy(s->z + 1, five->z + 5, (size_t)(n - 1) * sizeof(int));
        memcpy(s->frac + 3, five->frac + 15, 3 * (size_t)(n - 1) * sizeof(double));
        snprintf(s->jid, sizeof s->jid, "%s", five->jid);
        s->has_target = five->has_target;
        s->target = five->target;
        snprintf(s->sys_name, sizeof s->sys_name, "%s", five->sys_name);
        snprintf(s->klass, sizeof s->klass, "%s", five->klass);
    }
    return 0;
}

/* Distance from x to the segment p + t·v, t in [0, 1]. */
static double segment_distance(const double p[3], const double v[3], double vv, const double x[3]) {
    double w[3] = {x[0] - p[0], x[1] - p[1], x[2] - p[2]};
    double t = vv > 0 ? (w[0] * v[0] + w[1] * v[1] + w[2] * v[2]) / vv : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double d[3] = {w[0] - t * v[0], w[1] - t * v[1], w[2] - t * v[2]};
    return sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
}

/* Nearest periodic image of every host site (5..n-1) to the segment p + t·v (v = 0: the point p),
 * over the lattice translations -shift[k]..shift[k] of each site's fractional offset from mid_frac
 * (p's fractional position when v = 0), reduced to [-0.5, 0.5]. count (may be NULL) gets how many
 * images lie closer than radius. */
static double closest_within(const ih_structure *five, const double mid_frac[3], const double p[3],
                             const double v[3], const int shift[3], int *site, double radius, int *count) {
    const double(*L)[3] = five->lattice;
    double vv = v[0] * v[0] + v[1] * v[1] + v[2] * v[2], best = INFINITY, mid[3];
    int n_within = 0;
    ih_frac_to_cart(L, mid_frac, mid);
    for (int j = 5; j < five->n_atoms; j++) {
        double df[3];
        for (int c = 0; c < 3; c++) df[c] = min_image_frac(five->frac[3 * j + c] - mid_frac[c]);
        for (int a = -shift[0]; a <= shift[0]; a++)
            for (int b = -shift[1]; b <= shift[1]; b++)
                for (int c = -shift[2]; c <= shift[2]; c++) {
                    double f[3] = {df[0] + a, df[1] + b, df[2] + c}, x[3];
                    ih_frac_to_cart(L, f, x);
                    for (int k = 0; k < 3; k++) x[k] += mid[k];
                    double r = segment_distance(p, v, vv, x);
                    if (r < best) best = r, *site = j;
                    n_within += r < radius;
                }
    }
    if (count) *count = n_within;
    return best;
}

/* Translations per axis that reach every point within `reach` Å: a point at distance R is at most
 * R / spacing_k lattice planes away along axis k, beyond the reduced offset's own half cell. */
static void shifts_for_reach(const double L[3][3], double reach, int shift[3]) {
    double spacing[3];
    ih_lattice_plane_spacings(L, spacing);
    for (int k = 0; k < 3; k++) shift[k] = 1 + (int)ceil(reach / spacing[k]);
}

double ih_path_closest_approach(const ih_structure *five, int *site) {
    const double(*L)[3] = five->lattice;
    int dummy;
    if (!site) site = &dummy;
    *site = -1;
    if (five->n_atoms < 6) return INFINITY;
    double mid_frac[3], p[3], q[3], v[3];
    for (int c = 0; c < 3; c++) mid_frac[c] = 0.5 * (five->frac[c] + five->frac[12 + c]);
    ih_frac_to_cart(L, five->frac, p);
    ih_frac_to_cart(L, five->frac + 12, q);
    for (int k = 0; k < 3; k++) v[k] = q[k] - p[k];
    /* a first bound from the 27 nearest translations, then every translation that could beat it:
     * a site within d of the segment is within d + half its length of the midpoint, and a point at
     * distance R from the midpoint is at most R / spacing_k lattice planes away along axis k */
    int near[3] = {1, 1, 1}, wide[3];
    double bound = closest_within(five, mid_frac, p, v, near, site, 0, NULL);
    shifts_for_reach(L, bound + 0.5 * sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]), wide);
    return closest_within(five, mid_frac, p, v, wide, site, 0, NULL);
}

/* The nearest host site to p (fractional), and how many host images lie within radius, over all
 * periodic images: a first bound from the 27 nearest translations, then every translation that
 * could come within max(bound, radius), so a skewed or unreduced basis gets the same answer as a
 * reduced one. */
static double host_distances(const ih_structure *five, const double p[3], double radius, int *count) {
    int near[3] = {1, 1, 1}, wide[3], site;
    double x[3], zero[3] = {0, 0, 0};
    ih_frac_to_cart(five->lattice, p, x);
    double bound = closest_within(five, p, x, zero, near, &site, 0, NULL);
    shifts_for_reach(five->lattice, bound > radius ? bound : radius, wide);
    return closest_within(five, p, x, zero, wide, &site, radius, count);
}

/* The nearest image of an atom other than `skip` to p (fractional) over the translations
 * -shift[k]..shift[k] of each atom's fractional offset from p, reduced to [-0.5, 0.5]. */
static double nearest_within(const ih_structure *s, const double p[3], int skip, const int shift[3], int *atom) {
    double best = INFINITY;
    *atom = -1;
    for (int j = 0; j < s->n_atoms; j++) {
        if (j == skip) continue;
        double df[3];
        for (int c = 0; c < 3; c++) df[c] = min_image_frac(s->frac[3 * j + c] - p[c]);
        for (int a = -shift[0]; a <= shift[0]; a++)
            for (int b = -shift[1]; b <= shift[1]; b++)
                for (int c = -shift[2]; c <= shift[2]; c++) {
                    double f[3] = {df[0] + a, df[1] + b, df[2] + c}, x[3];
                    ih_frac_to_cart(s->lattice, f, x);
                    double r = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
                    if (r < best) best = r, *atom = j;
                }
    }
    return best;
}

double ih_nearest_atom(const ih_structure *s, const double p[3], int skip, int *atom) {
    int near[3] = {1, 1, 1}, wide[3], dummy;
    if (!atom) atom = &dummy;
    /* a first bound from the 27 nearest translations, then every translation that could beat it */
    double bound = nearest_within(s, p, skip, near, atom);
    if (!isfinite(bound)) return bound;
    shifts_for_reach(s->lattice, bound, wide);
    return nearest_within(s, p, skip, wide, atom);
}

/* Centre and scale of each raw descriptor: its mean and standard deviation over the 559 shared
 * training records (tests/fixtures/gen/path_desc_ref.py), rounded, so the network's inputs are O(1). */
static const double desc_mean[IH_PATH_DESC] = {3.9, 1.65, 2.25, 2.25, 1.8, 7.3, 6.9, 14.4};
static const double desc_scale[IH_PATH_DESC] = {1.1, 0.45, 0.28, 0.29, 0.52, 2.8, 2.8, 5.1};

int ih_path_descriptors(const ih_structure *five, double raw[IH_PATH_DESC], float scaled[IH_PATH_DESC]) {
    if (!ih_structure_is_5image(five)) return ih_set_error("path descriptors: not a 5-image path structure");
    const double(*L)[3] = five->lattice;
    const double *img = five->frac;
    double step[4][3], hop = 0, bottleneck = INFINITY, d[IH_PATH_DESC];
    for (int k = 0; k < 4; k++) {
        double x[3];
        for (int c = 0; c < 3; c++) step[k][c] = min_image_frac(img[3 * (k + 1) + c] - img[3 * k + c]);
        ih_frac_to_cart(L, step[k], x);
        hop += sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
    }
    /* 17 points, four per step between images, then the final site */
    double near_at[17];
    for (int q = 0; q < 17; q++) {
        int k = q < 16 ? q / 4 : 3;
        double t = q < 16 ? (q % 4) / 4.0 : 1.0, p[3];
        for (int c = 0; c < 3; c++) p[c] = img[3 * k + c] + t * step[k][c];
        near_at[q] = host_distances(five, p, 0, NULL);
        if (near_at[q] < bottleneck) bottleneck = near_at[q];
    }
    int n_mid, n_start;
    host_distances(five, img + 6, 3.0, &n_mid);
    host_distances(five, img, 3.0, &n_start);
    double vol = ih_structure_volume(five);
    d[0] = hop;
    d[1] = bottleneck;
    d[2] = near_at[0];
    d[3] = near_at[16];
    d[4] = near_at[8];
    d[5] = n_mid;
    d[6] = n_start;
    d[7] = vol / (five->n_atoms - 5);
    for (int i = 0; i < IH_PATH_DESC; i++) {
        if (raw) raw[i] = d[i];
        if (scaled) scaled[i] = (float)((d[i] - desc_mean[i]) / desc_scale[i]);
    }
    return 0;
}

int ih_path_crystal(const ih_structure *five, ih_structure *out) {
    ih_structure ini, fin;
    if (ih_path_endpoints(five, &ini, &fin) != 0) return -1;
    int rc = ih_structure_init(out, ini.n_atoms + 1);
    if (rc == 0) {
        memcpy(out->lattice, ini.lattice, sizeof out->lattice);
        memcpy(out->z, ini.z, (size_t)ini.n_atoms * sizeof *out->z);
        memcpy(out->frac, ini.frac, 3 * (size_t)ini.n_atoms * sizeof *out->frac);
        out->z[ini.n_atoms] = five->z[0];
        memcpy(out->frac + 3 * ini.n_atoms, five->frac + 12, 3 * sizeof *out->frac);
        snprintf(out->jid, sizeof out->jid, "%s", five->jid);
    }
    ih_structure_free(&ini), ih_structure_free(&fin);
    return rc;
}
