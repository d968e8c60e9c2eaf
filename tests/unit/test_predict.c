/* The library predictor (ionhop.h): one model file loaded once, then hops from end points, from an
 * ion and a destination, in batches, from several threads at once, record files and the hops of an
 * element; ensemble mean and spread against the members' values; the default-model lookup; and the
 * one-line errors for misuse. Uses the bundled models and examples. */
#include "check.h"
#include "ionhop_train.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MODEL "models/default.ionhop"
#define INI "examples/LiFePO4_hop/initial.vasp"
#define FIN "examples/LiFePO4_hop/final.vasp"

static void mean_and_spread(const double *v, int n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (int k = 0; k < n; k++) s += v[k], s2 += v[k] * v[k];
    *mean = s / n;
    double var = s2 / n - *mean * *mean;
    *sd = var > 0 ? sqrt(var) : 0;
}

typedef struct worker {
    ih_predictor *p;
    const ih_structure *s;
    int ion;
    double to[3];
    double em[3];
    int rc;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    for (int r = 0; r < 3; r++) {
        ih_hop_result res;
        w->rc |= ih_predict_move(w->p, w->s, "thread", w->ion, w->to, &res, NULL);
        w->em[r] = res.em;
    }
    return NULL;
}

static void test_hops(void) {
    setenv("IONHOP_MODEL", DEFAULT_MODEL, 1);
    CHECK(strcmp(ih_default_model_path(), DEFAULT_MODEL) == 0);
    ih_predictor *p = ih_predictor_load(NULL);
    CHECK_MSG(p != NULL, "%s", ih_last_error());
    if (!p) return;
    CHECK(strcmp(ih_predictor_path(p), DEFAULT_MODEL) == 0);
    int M = ih_predictor_n_members(p);
    CHECK(M >= 1 && ih_predictor_n_tasks(p) == 1 && ih_predictor_reads_hops(p));
    CHECK(ih_predictor_task_name(p, 0) != NULL && ih_predictor_task_name(p, 1) == NULL);
    CHECK(strstr(ih_predictor_metadata(p), "\"tasks\"") != NULL);

    ih_structure ini, fin;
    CHECK(ih_read_structure(INI, IH_FMT_UNKNOWN, &ini) == 0);
    CHECK(ih_read_structure(FIN, IH_FMT_UNKNOWN, &fin) == 0);
    double *members = malloc((size_t)M * 4 * sizeof *members);
    ih_hop_result e;
    CHECK_MSG(ih_predict_endpoints(p, &ini, &fin, INI, FIN, &e, members) == 0, "%s", ih_last_error());
    CHECK(e.ion == 0 && e.length > 2.9 && e.length < 3.1 && isfinite(e.em) && e.spread >= 0);
    CHECK(e.closest_approach > 1.0 && e.nearest_atom >= 0 && ini.z[e.nearest_atom] == 8);
    /* the reported mean and spread are those of the members' values */
    double mean, sd;
    mean_and_spread(members, M, &mean, &sd);
    CHECK_NEAR(e.em, mean, 1e-12);
    CHECK_NEAR(e.spread, sd, 1e-12);

    /* the same hop as ion + destination: a 5-image model reads the same path, the same number */
    ih_hop_result m;
    CHECK(ih_predict_move(p, &ini, INI, e.ion, e.to, &m, NULL) == 0);
    CHECK(m.em == e.em && m.spread == e.spread && m.length == e.length);

    /* a batch of three copies in one pass: each as predicted alone */
    ih_structure three[3] = {ini, ini, ini};
    int ions[3] = {e.ion, e.ion, e.ion};
    double to[3][3];
    for (int k = 0; k < 3; k++) memcpy(to[k], e.to, sizeof e.to);
    ih_hop_result b[3];
    CHECK(ih_predict_moves(p, 3, three, "batch", ions, (const double(*)[3])to, b, members) == 0);
    for (int k = 0; k < 3; k++) CHECK_NEAR(b[k].em, e.em, 1e-5);
    for (int q = 0; q < M; q++) CHECK_NEAR(members[2 * M + q], members[q], 1e-5);

    /* four threads on one predictor: calls are serialised, every answer as from one thread */
    worker w[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        w[t] = (worker){p, &ini, e.ion, {e.to[0], e.to[1], e.to[2]}, {0}, 0};
        CHECK(pthread_create(&th[t], NULL, work, &w[t]) == 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK(w[t].rc == 0);
        for (int r = 0; r < 3; r++) CHECK_NEAR(w[t].em[r], e.em, 1e-6);
    }

    /* a structure over the size limit is refused before its line graph is built, named */
    setenv("IONHOP_MAX_TRIPLETS", "1000", 1);
    CHECK(ih_predict_move(p, &ini, "big.vasp", e.ion, e.to, &m, NULL) == -1);
    CHECK_MSG(strstr(ih_last_error(), "big.vasp: ") && strstr(ih_last_error(), "over the limit of 1000") &&
                  strstr(ih_last_error(), "IONHOP_MAX_TRIPLETS"), "%s", ih_last_error());
    unsetenv("IONHOP_MAX_TRIPLETS");
    /* misuse: one line each, naming the structure */
    double onto[3];
    memcpy(onto, ini.frac + 3 * 1, sizeof onto); /* atom 2's site, not emptied */
    CHECK(ih_predict_move(p, &ini, "LiFePO4.vasp", 0, onto, &m, NULL) == -1);
    CHECK_MSG(strstr(ih_last_error(), "LiFePO4.vasp with atom 1 moved to") != NULL, "%s", ih_last_error());
    CHECK(ih_predict_move(p, &ini, "LiFePO4.vasp", 0, ini.frac, &m, NULL) == -1);
    CHECK(strstr(ih_last_error(), "the destination is where atom 1 already is") != NULL);
    CHECK(ih_predict_move(p, &ini, "LiFePO4.vasp", ini.n_atoms, e.to, &m, NULL) == -1);
    CHECK(strstr(ih_last_error(), "is not in it") != NULL);
    double nan_to[3] = {NAN, 0, 0};
    CHECK(ih_predict_move(p, &ini, "LiFePO4.vasp", 0, nan_to, &m, NULL) == -1);
    CHECK(strstr(ih_last_error(), "not a finite point") != NULL);
    CHECK(ih_predict_endpoints(p, &ini, &ini, "a.vasp", "b.vasp", &m, NULL) == -1);
    CHECK(strstr(ih_last_error(), "a.vasp") != NULL);

    /* the hops of an element: classes ordered by barrier, each as predicted as a single move */
    ih_structure host;
    CHECK(ih_read_structure("examples/LiFePO4/LiFePO4.vasp", IH_FMT_UNKNOWN, &host) == 0);
    ih_element_hops h;
    CHECK_MSG(ih_predict_element_hops(p, &host, "LiFePO4.vasp", 3, 5.0, 0.01, &h) == 0, "%s", ih_last_error());
    CHECK(h.n == 2 && h.info.spacegroup == 62);
    for (int r = 1; r < h.n; r++) CHECK(h.result[h.order[r - 1]].em <= h.result[h.order[r]].em);
    ih_structure canon;
    double shift[3];
    CHECK(ih_canonical_cell(&host, 0.01, &canon, shift) == 0);
    for (int k = 0; k < h.n; k++) {
        ih_structure hop_ini;
        ih_hop hc;
        int ion;
        double dest[3];
        CHECK(ih_hop_to_cell(&host, &h.hops[k], &canon, shift, 0.01, &hc) == 0);
        CHECK(ih_hop_cell(&canon, &hc, IH_HOP_MIN_SPACING, &hop_ini, &ion, dest) == 0);
        CHECK(ih_predict_move(p, &hop_ini, "hop", ion, dest, &m, NULL) == 0);
        CHECK_NEAR(m.em, h.result[k].em, 1e-5);
        ih_structure_free(&hop_ini);
    }
    ih_structure_free(&canon);
    /* the olivine network: one-dimensional along b at the channel hop, 2D at the second class */
    CHECK_NEAR(h.percolation.barrier[0], h.result[h.order[0]].em, 1e-12);
    CHECK(abs(h.percolation.direction[0][0][1]) == 1 && h.percolation.direction[0][0][0] == 0 &&
          h.percolation.direction[0][0][2] == 0);
    CHECK(!isnan(h.percolation.barrier[1]) && isnan(h.percolation.barrier[2]));
    ih_element_hops_free(&h);
    CHECK(ih_predict_element_hops(p, &host, "LiFePO4.vasp", 3, 1.0, 0.01, &h) == -1);
    CHECK(strstr(ih_last_error(), "LiFePO4.vasp: no Li-Li hop up to 1.0") != NULL);
    ih_structure_free(&host);

    free(members);
    ih_structure_free(&ini);
    ih_structure_free(&fin);
    ih_predictor_free(p);
    unsetenv("IONHOP_MODEL");
}

static void test_records(void) {
    ih_predictor *p = ih_predictor_load(DEFAULT_MODEL);
    if (!p) return;
    const char *path = "tests/fixtures/em_jid7.json";
    ih_record_predictions r;
    CHECK_MSG(ih_predict_file(p, path, &r) == 0, "%s", ih_last_error());
    CHECK(r.n >= 1 && r.n_tasks == 1 && r.n_members == ih_predictor_n_members(p));
    for (int i = 0; i < r.n; i++) {
        double mean, sd;
        mean_and_spread(r.members + (size_t)i * r.n_members, r.n_members, &mean, &sd);
        CHECK_NEAR(r.mean[i], mean, 1e-12);
        CHECK_NEAR(r.spread[i], sd, 1e-12);
    }
    /* the same records as a structure set */
    ih_structure_set set;
    CHECK(ih_read_structures(path, IH_FMT_UNKNOWN, &set) == 0);
    ih_record_predictions r2;
    CHECK(ih_predict_set(p, &set, path, &r2) == 0);
    CHECK(r2.n == r.n && memcmp(r2.mean, r.mean, (size_t)r.n * sizeof *r.mean) == 0);
    ih_record_predictions_free(&r2);
    ih_structure_set_free(&set);
    ih_record_predictions_free(&r);
    /* a host structure is not a hop record */
    CHECK(ih_predict_file(p, "examples/LiFePO4/LiFePO4.vasp", &r) == -1);
    CHECK(strstr(ih_last_error(), "is not a 5-image path structure") != NULL);
    ih_predictor_free(p);

    /* a property model predicts records but not hops */
    p = ih_predictor_load("models/mpt.ionhop");
    CHECK(p != NULL && !ih_predictor_reads_hops(p) && ih_predictor_n_tasks(p) == 7);
    if (p) {
        ih_structure s;
        CHECK(ih_read_structure(INI, IH_FMT_UNKNOWN, &s) == 0);
        double to[3] = {0.75, 0.75, 0.5};
        ih_hop_result m;
        CHECK(ih_predict_move(p, &s, INI, 0, to, &m, NULL) == -1);
        CHECK(strstr(ih_last_error(), "not a migration-barrier model") != NULL);
        ih_structure_free(&s);
        ih_predictor_free(p);
    }
    CHECK(ih_predictor_load("no/such/model.ionhop") == NULL);
    CHECK(strstr(ih_last_error(), "no/such/model.ionhop") != NULL);
}

int main(void) {
    test_hops();
    test_records();
    return test_summary("test_predict");
}
