/* Hops checked before they are predicted: end points that differ by more than the moving ion (other
 * atoms moved, cells of another size or shape, other atoms), destinations close to another atom,
 * and destinations on a periodic image of the ion itself; the training records' end points and end
 * sites against the thresholds; the nearest atom to a point over all periodic images against a
 * brute force. End points are the bundled example's, changed here; the small layered cell is built
 * here. Uses the bundled default model (a 5-image model). */
#include "check.h"
#include "core/util.h"
#include "ionhop_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MODEL "models/default.ionhop"
#define INI "examples/LiFePO4_hop/initial.vasp"
#define FIN "examples/LiFePO4_hop/final.vasp"

/* The warnings of one call, joined by " | " (so a test can look for each and count them). */
static char warned[8192];
static int n_warned;

static void capture_begin(void) { ih_warnings_capture_begin(); }

static void capture_end(void) {
    char **msgs;
    n_warned = ih_warnings_capture_end(&msgs);
    warned[0] = '\0';
    size_t len = 0;
    for (int k = 0; k < n_warned; k++) {
        if (len < sizeof warned)
            len += (size_t)snprintf(warned + len, sizeof warned - len, "%s%s", k ? " | " : "", msgs[k]);
        free(msgs[k]);
    }
    free(msgs);
}

static void quiet(const char *message, void *user) {
    (void)message, (void)user; /* the capture keeps them; nothing on stderr */
}

static double cart_dist(const double L[3][3], const double f[3]) {
    double x[3];
    ih_frac_to_cart(L, f, x);
    return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
}

/* atom i displaced by `by` Å along the first lattice vector */
static void push_along_a(ih_structure *s, int i, double by) {
    double a = sqrt(s->lattice[0][0] * s->lattice[0][0] + s->lattice[0][1] * s->lattice[0][1] +
                    s->lattice[0][2] * s->lattice[0][2]);
    s->frac[3 * i] += by / a;
}

/* ih_nearest_atom against every image within ±4 cells, in a skewed random cell */
static void test_nearest_atom(void) {
    ih_rng rng;
    ih_rng_seed(&rng, 7);
    for (int trial = 0; trial < 20; trial++) {
        ih_structure s;
        CHECK(ih_structure_init(&s, 6) == 0);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                s.lattice[r][c] = (r == c ? 3.0 + 3 * ih_rng_uniform(&rng) : 0) + 1.5 * (ih_rng_uniform(&rng) - 0.5);
        for (int i = 0; i < 6; i++) {
            s.z[i] = 8;
            for (int c = 0; c < 3; c++) s.frac[3 * i + c] = 2 * ih_rng_uniform(&rng) - 0.5; /* unwrapped */
        }
        double p[3] = {ih_rng_uniform(&rng), ih_rng_uniform(&rng), ih_rng_uniform(&rng)};
        int skip = trial % 3 == 0 ? -1 : trial % 6, atom = -2, want_atom = -1;
        double want = INFINITY;
        for (int j = 0; j < 6; j++) {
            if (j == skip) continue;
            for (int a = -4; a <= 4; a++)
                for (int b = -4; b <= 4; b++)
                    for (int c = -4; c <= 4; c++) {
                        double f[3] = {s.frac[3 * j] + a - p[0], s.frac[3 * j + 1] + b - p[1],
                                       s.frac[3 * j + 2] + c - p[2]};
                        double r = cart_dist(s.lattice, f);
                        if (r < want) want = r, want_atom = j;
                    }
        }
        double got = ih_nearest_atom(&s, p, skip, &atom);
        CHECK_NEAR(got, want, 1e-9);
        CHECK_INT(atom, want_atom);
        ih_structure_free(&s);
    }
    /* a structure of one atom, skipped: nothing is near */
    ih_structure one;
    CHECK(ih_structure_init(&one, 1) == 0);
    for (int r = 0; r < 3; r++) one.lattice[r][r] = 4;
    one.z[0] = 3;
    int atom = 5;
    double p[3] = {0.5, 0.5, 0.5};
    CHECK(isinf(ih_nearest_atom(&one, p, 0, &atom)) && atom == -1);
    ih_structure_free(&one);
}

/* The training records: their two end points share one host, so no other atom moves; and every end
 * site but a duplicated one lies beyond IH_DEST_WARN_HOST from its nearest host atom, so no real
 * site of them would be warned about (docs/results.md, "Checked hops"). */
static void test_records(void) {
    ih_structure_set set;
    CHECK(ih_read_json(shared_path("data/em/train.json"), &set) == 0);
    double worst_move = 0, closest = INFINITY;
    int n_close = 0;
    for (int r = 0; r < set.n; r++) {
        ih_structure ini, fin;
        ih_endpoint_diff d;
        CHECK(ih_path_endpoints(&set.items[r], &ini, &fin) == 0);
        CHECK_MSG(ih_path_compare_endpoints(&ini, &fin, "ini", "fin", IH_HOST_MOVE_WARN, &d) == 0, "%s",
                  ih_last_error());
        CHECK(d.ion == 0 && d.n_moved == 0 && d.cell_change == 0);
        if (d.most_moved_by > worst_move) worst_move = d.most_moved_by;
        for (int e = 0; e < 2; e++) {
            const ih_structure *s = e ? &fin : &ini;
            double gap = ih_nearest_atom(s, s->frac, 0, NULL);
            if (gap < IH_DEST_WARN_HOST) n_close++;
            else if (gap < closest) closest = gap;
        }
        ih_structure_free(&ini);
        ih_structure_free(&fin);
    }
    printf("records: largest host move %.3g Å; %d end sites within %.1f Å of a host atom; the closest other %.3f Å\n",
           worst_move, n_close, IH_DEST_WARN_HOST, closest);
    CHECK(worst_move == 0);
    CHECK_INT(n_close, 2); /* Na4MnAlP3O12_2 and _3: a Na site duplicated 0.014 Å away */
    CHECK(closest > IH_DEST_WARN_HOST && closest < 1.6);
    ih_structure_set_free(&set);
}

/* the comparison of two end points, without a model */
static void test_compare(const ih_structure *ini, const ih_structure *fin) {
    ih_endpoint_diff d;
    CHECK_MSG(ih_path_compare_endpoints(ini, fin, "A", "B", IH_HOST_MOVE_WARN, &d) == 0, "%s", ih_last_error());
    CHECK(d.ion == 0 && d.n_moved == 0 && d.cell_change < 1e-12 && d.most_moved_by < 1e-6);
    CHECK(d.hop_length > 2.9 && d.hop_length < 3.1);

    /* one O pushed by 1 Å, two Fe by 0.7 Å and one P by 0.4 Å (below the tolerance) */
    ih_structure f2;
    CHECK(ih_structure_copy(&f2, fin) == 0);
    push_along_a(&f2, 60, 1.0);
    push_along_a(&f2, 20, 0.7);
    push_along_a(&f2, 21, -0.7);
    push_along_a(&f2, 40, 0.4);
    CHECK(ih_path_compare_endpoints(ini, &f2, "A", "B", IH_HOST_MOVE_WARN, &d) == 0);
    CHECK_INT(d.ion, 0);
    CHECK_INT(d.n_moved, 3);
    CHECK_INT(d.most_moved, 60);
    CHECK_NEAR(d.most_moved_by, 1.0, 1e-6);
    ih_structure_free(&f2);

    /* a cell 2 % larger, and a cell sheared: each change measured; the atoms, at the same fractional
     * positions, do not move */
    CHECK(ih_structure_copy(&f2, fin) == 0);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) f2.lattice[r][c] *= 1.02;
    CHECK(ih_path_compare_endpoints(ini, &f2, "A", "B", IH_HOST_MOVE_WARN, &d) == 0);
    for (int k = 0; k < 3; k++) {
        CHECK_NEAR(d.length_change[k], 0.02, 1e-12);
        CHECK_NEAR(d.angle_change[k], 0, 1e-9);
    }
    CHECK_NEAR(d.cell_change, 0.02, 1e-12);
    CHECK_INT(d.n_moved, 0);
    int ion = -1;
    CHECK(ih_path_find_ion(ini, &f2, "A", "B", &ion, NULL, NULL) == 0 && ion == 0);
    memcpy(f2.lattice, fin->lattice, sizeof f2.lattice);
    double t = tan(3.0 * M_PI / 180); /* b tilted towards a by 3 degrees: gamma 87 */
    f2.lattice[1][0] = f2.lattice[1][1] * t;
    CHECK(ih_path_compare_endpoints(ini, &f2, "A", "B", IH_HOST_MOVE_WARN, &d) == 0);
    CHECK_NEAR(d.angle_change[2], -3.0, 1e-9);
    CHECK_NEAR(d.angle_change[0], 0, 1e-9);
    CHECK_NEAR(d.length_change[1], 1 / cos(3.0 * M_PI / 180) - 1, 1e-12);
    CHECK_NEAR(d.cell_change, 3.0 * M_PI / 180, 1e-12);

    /* beyond IH_CELL_CHANGE_MAX: not two states of one cell */
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) f2.lattice[r][c] = fin->lattice[r][c] * (r == 2 ? 1.2 : 1.0);
    CHECK(ih_path_find_ion(ini, &f2, "A", "B", &ion, NULL, NULL) == -1);
    CHECK_MSG(strstr(ih_last_error(), "A, B: the end points' cells differ by more than 10 % (c +20.0 %)"), "%s",
              ih_last_error());
    ih_structure_free(&f2);

    /* other atoms: a Fe where the final file has an O, and one atom fewer */
    CHECK(ih_structure_copy(&f2, fin) == 0);
    f2.z[100] = 26;
    CHECK(ih_path_compare_endpoints(ini, &f2, "A", "B", IH_HOST_MOVE_WARN, &d) == -1);
    CHECK_MSG(strstr(ih_last_error(), "A, B: the end points hold different atoms: 16 Fe in one, 17 in the other "
                                      "(site 101 is O in one end point and Fe in the other)"),
              "%s", ih_last_error());
    f2.n_atoms--;
    CHECK(ih_path_compare_endpoints(ini, &f2, "A", "B", IH_HOST_MOVE_WARN, &d) == -1);
    CHECK(strstr(ih_last_error(), "different atom counts (111 vs 110)") != NULL);
    f2.n_atoms++;
    ih_structure_free(&f2);
}

/* end points through the predictor: warnings naming what differs, the same barrier where the model
 * does not read it, errors beyond the limits */
static void test_endpoints(ih_predictor *p, const ih_structure *ini, const ih_structure *fin) {
    ih_hop_result base, r;
    capture_begin();
    int rc = ih_predict_endpoints(p, ini, fin, "A", "B", &base, NULL);
    capture_end();
    CHECK_MSG(rc == 0, "%s", ih_last_error());
    CHECK_INT(n_warned, 0);

    /* another atom moved by 1 Å: a warning naming it; a 5-image model reads the initial host only,
     * so the barrier is the same */
    ih_structure f2;
    CHECK(ih_structure_copy(&f2, fin) == 0);
    push_along_a(&f2, 60, 1.0);
    capture_begin();
    rc = ih_predict_endpoints(p, ini, &f2, "A", "B", &r, NULL);
    capture_end();
    CHECK(rc == 0 && r.em == base.em && r.ion == 0);
    CHECK_INT(n_warned, 1);
    CHECK_MSG(strstr(warned, "A, B: besides the hopping Li (atom 1), atom 61 (O) moves 1.00 Å between the end "
                             "points; the model reads the hop in the initial structure's host only, so these "
                             "displacements are not used"),
              "%s", warned);
    push_along_a(&f2, 30, 0.6);
    push_along_a(&f2, 31, 0.6);
    capture_begin();
    rc = ih_predict_endpoints(p, ini, &f2, "A", "B", &r, NULL);
    capture_end();
    CHECK(rc == 0 && n_warned == 1);
    CHECK_MSG(strstr(warned, "atom 61 (O) moves 1.00 Å between the end points, and 2 other atoms more than 0.5 Å"),
              "%s", warned);
    ih_structure_free(&f2);

    /* a cell 2 % larger: a warning with each length; the hop is read in the initial cell */
    CHECK(ih_structure_copy(&f2, fin) == 0);
    for (int c = 0; c < 3; c++) f2.lattice[1][c] *= 1.02;
    capture_begin();
    rc = ih_predict_endpoints(p, ini, &f2, "A", "B", &r, NULL);
    capture_end();
    CHECK(rc == 0 && r.em == base.em && n_warned == 1);
    CHECK_MSG(strstr(warned, "A, B: the end points' cells differ by more than 0.5 %: b +2.00 % (11.942 to 12.180 Å); "
                             "the hop is predicted in the initial cell"),
              "%s", warned);
    /* 0.4 % is within the tolerance */
    for (int c = 0; c < 3; c++) f2.lattice[1][c] = fin->lattice[1][c] * 1.004;
    capture_begin();
    rc = ih_predict_endpoints(p, ini, &f2, "A", "B", &r, NULL);
    capture_end();
    CHECK(rc == 0 && n_warned == 0);
    /* 20 % larger, or other atoms: refused, one line naming both */
    for (int r2 = 0; r2 < 3; r2++)
        for (int c = 0; c < 3; c++) f2.lattice[r2][c] = fin->lattice[r2][c] * 1.2;
    CHECK(ih_predict_endpoints(p, ini, &f2, "A", "B", &r, NULL) == -1);
    CHECK_MSG(strstr(ih_last_error(), "A, B: the end points' cells differ by more than 10 % (a +20.0 %, b +20.0 %, "
                                      "c +20.0 %): not two states of one cell"),
              "%s", ih_last_error());
    memcpy(f2.lattice, fin->lattice, sizeof f2.lattice);
    f2.z[0] = 11;
    CHECK(ih_predict_endpoints(p, ini, &f2, "A", "B", &r, NULL) == -1);
    CHECK_MSG(strstr(ih_last_error(), "the end points hold different atoms: 15 Li in one, 14 in the other"), "%s",
              ih_last_error());
    ih_structure_free(&f2);
}

/* destinations near another atom: refused below IH_DEST_MIN_HOST, a warning below IH_DEST_WARN_HOST */
static void test_destinations(ih_predictor *p, const ih_structure *s) {
    /* O atom 61, and points 0.32 Å and 1.0 Å from it along c (nothing else is nearer: checked) */
    const double *o = s->frac + 3 * 60;
    double c_len = cart_dist(s->lattice, (const double[3]){0, 0, 1});
    double near[3] = {o[0], o[1], o[2] + 0.32 / c_len}, mid[3] = {o[0], o[1], o[2] + 1.0 / c_len};
    int atom = -1;
    CHECK_NEAR(ih_nearest_atom(s, near, 0, &atom), 0.32, 1e-9);
    CHECK_INT(atom, 60);
    CHECK_NEAR(ih_nearest_atom(s, mid, 0, &atom), 1.0, 1e-9);
    CHECK_INT(atom, 60);
    ih_hop_result r;
    capture_begin();
    int rc = ih_predict_move(p, s, "olivine.vasp", 0, near, &r, NULL);
    capture_end();
    CHECK(rc == -1 && n_warned == 0);
    CHECK_MSG(strstr(ih_last_error(), "olivine.vasp: the destination of atom 1 (") &&
                  strstr(ih_last_error(), ") is 0.32 Å from atom 61 (O): no site is that close to another atom "
                                          "(refused below 0.8 Å"),
              "%s", ih_last_error());
    capture_begin();
    rc = ih_predict_move(p, s, "olivine.vasp", 0, mid, &r, NULL);
    capture_end();
    CHECK_MSG(rc == 0, "%s", ih_last_error());
    CHECK_INT(n_warned, 1);
    CHECK_MSG(strstr(warned, "olivine.vasp: the destination of atom 1 is 1.00 Å from atom 61 (O), closer than the "
                             "sites of the training hops (1.57 Å or more)"),
              "%s", warned);
    /* the real neighbouring site: no warning */
    double site[3] = {0.75, 0.75, 0.5};
    capture_begin();
    rc = ih_predict_move(p, s, "olivine.vasp", 0, site, &r, NULL);
    capture_end();
    CHECK(rc == 0 && n_warned == 0);
}

/* a layered cell of one formula unit (LiCoO2 with O1 stacking, a = 2.8156 Å, c = 4.685 Å): its one
 * Li can only hop to its own periodic images */
static void layered(ih_structure *s) {
    double a = 2.8156, c = 4.685;
    CHECK(ih_structure_init(s, 4) == 0);
    double L[3][3] = {{a, 0, 0}, {-a / 2, a * sqrt(3.0) / 2, 0}, {0, 0, c}};
    memcpy(s->lattice, L, sizeof L);
    static const int z[4] = {3, 27, 8, 8};
    static const double f[4][3] = {{0, 0, 0.5}, {0, 0, 0}, {1.0 / 3, 2.0 / 3, 0.22}, {2.0 / 3, 1.0 / 3, -0.22}};
    for (int i = 0; i < 4; i++) s->z[i] = z[i], memcpy(s->frac + 3 * i, f[i], sizeof f[i]);
}

/* a destination on the ion's own image: the vacancy hop in a supercell where the image is a site of
 * its own, with a warning; the same barrier as that hop written out in the supercell by hand */
static void test_own_image(ih_predictor *p) {
    ih_structure s;
    layered(&s);
    double to[3] = {1.0, 0.0, 0.5};
    ih_hop_result r;
    capture_begin();
    int rc = ih_predict_move(p, &s, "LiCoO2.vasp", 0, to, &r, NULL);
    capture_end();
    CHECK_MSG(rc == 0, "%s", ih_last_error());
    CHECK_INT(n_warned, 1);
    CHECK_MSG(strstr(warned, "LiCoO2.vasp: the destination of atom 1 (Li) is its own periodic image [1 0 0], 2.82 Å "
                             "away: this cell is too small to hold that hop between two distinct sites, so it is "
                             "predicted as the vacancy hop into that image in a 3x3x2 supercell"),
              "%s", warned);
    CHECK(r.ion == 0 && r.to[0] == 1.0 && r.from[2] == 0.5);
    CHECK_NEAR(r.length, 2.8156, 1e-9);
    CHECK(isfinite(r.em) && r.nearest_atom >= 2 && s.z[r.nearest_atom] == 8);

    /* the same hop written out: the 3x3x2 supercell, Li of cell (1,0,0) removed, the Li of cell
     * (0,0,0) moving into its place */
    ih_structure big;
    CHECK(ih_structure_init(&big, 4 * 18 - 1) == 0);
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 3; k++) big.lattice[c][k] = s.lattice[c][k] * (c == 2 ? 2 : 3);
    int m = 0, ion = -1;
    for (int i = 0; i < 4; i++) /* atoms by element, cells in reverse: another order than the library's */
        for (int ci = 2; ci >= 0; ci--)
            for (int cj = 2; cj >= 0; cj--)
                for (int ck = 1; ck >= 0; ck--) {
                    if (i == 0 && ci == 1 && cj == 0 && ck == 0) continue;
                    if (i == 0 && ci == 0 && cj == 0 && ck == 0) ion = m;
                    big.z[m] = s.z[i];
                    big.frac[3 * m] = (s.frac[3 * i] + ci) / 3;
                    big.frac[3 * m + 1] = (s.frac[3 * i + 1] + cj) / 3;
                    big.frac[3 * m + 2] = (s.frac[3 * i + 2] + ck) / 2;
                    m++;
                }
    CHECK_INT(m, big.n_atoms);
    double dest[3] = {1.0 / 3, 0, 0.25};
    ih_hop_result w;
    capture_begin();
    rc = ih_predict_move(p, &big, "supercell", ion, dest, &w, NULL);
    capture_end();
    CHECK_MSG(rc == 0 && n_warned == 0, "%s %s", ih_last_error(), warned);
    CHECK_NEAR(r.em, w.em, 1e-4);
    CHECK_NEAR(r.closest_approach, w.closest_approach, 1e-9);

    /* the ion's own site is no move, in any cell of it */
    double here[3] = {0, 0, 0.5};
    CHECK(ih_predict_move(p, &s, "LiCoO2.vasp", 0, here, &r, NULL) == -1);
    CHECK(strstr(ih_last_error(), "LiCoO2.vasp: the destination is where atom 1 already is") != NULL);
    ih_structure_free(&big);
    ih_structure_free(&s);
}

int main(void) {
    ih_set_warning_handler(quiet, NULL);
    test_nearest_atom();
    test_records();
    ih_structure ini, fin;
    CHECK(ih_read_structure(INI, IH_FMT_UNKNOWN, &ini) == 0);
    CHECK(ih_read_structure(FIN, IH_FMT_UNKNOWN, &fin) == 0);
    test_compare(&ini, &fin);
    ih_predictor *p = ih_predictor_load(DEFAULT_MODEL);
    CHECK_MSG(p != NULL, "%s", ih_last_error());
    if (p) {
        test_endpoints(p, &ini, &fin);
        test_destinations(p, &ini);
        test_own_image(p);
        ih_predictor_free(p);
    }
    ih_structure_free(&ini);
    ih_structure_free(&fin);
    ih_set_warning_handler(NULL, NULL);
    return test_summary("test_checked_hops");
}
