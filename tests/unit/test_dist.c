/* Several processes (src/core/dist.c) and the BatchNorm statistics log that data-parallel
 * training replays. Built without MPI (make test) it checks the one-process semantics: rank 0 of
 * 1, reductions and gathers leave the data as it is, a launch as several processes is refused.
 * Built with MPI (make test-mpi runs it on two ranks) the same checks hold for any number of
 * ranks: the sum is the rank-order sum, bit for bit, on every rank. */
#include "check.h"
#include "core/dist.h"
#include "core/util.h"
#include "ionhop_train.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* rank r's contribution: values of mixed magnitudes, so that the order of the sum matters */
static float value(int r, size_t k) {
    return (float)((k % 7 == 0 ? 1e7 : 1.0) * ((double)(r + 1) * 0.1 + (double)k * 1e-3) * ((k + (size_t)r) % 2 ? 1 : -1));
}

static void test_collectives(void) {
    int N = ih_dist_size(), me = ih_dist_rank();
    CHECK(N >= 1 && me >= 0 && me < N);
    /* sizes that do and do not divide by the rank count, and smaller than it */
    const size_t sizes[] = {1, 5, 1000, 4099};
    for (size_t q = 0; q < sizeof sizes / sizeof sizes[0]; q++) {
        size_t n = sizes[q];
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        for (size_t k = 0; k < n; k++) x[k] = y[k] = value(me, k);
        CHECK(ih_dist_allreduce_sum(x, n) == 0);
        CHECK(ih_dist_allreduce_sum_any(y, n) == 0);
        int exact = 1, near = 1;
        for (size_t k = 0; k < n; k++) {
            float s = value(0, k);
            for (int r = 1; r < N; r++) s += value(r, k);
            exact &= memcmp(&s, &x[k], sizeof s) == 0;
            near &= fabsf(s - y[k]) <= 1e-5f * (fabsf(s) + 1e7f * (float)N);
        }
        CHECK_MSG(exact, "n %zu: the fixed-order sum is not the rank-order sum", n);
        CHECK_MSG(near, "n %zu: MPI_Allreduce's sum is off", n);
        free(x), free(y);
    }
    double d[3] = {me + 0.5, 1.0, -2.0 * me};
    CHECK(ih_dist_allreduce_sum_f64(d, 3) == 0);
    CHECK_NEAR(d[0], N * N / 2.0, 1e-12);
    CHECK_NEAR(d[1], N, 0);
    CHECK_NEAR(d[2], -(double)N * (N - 1), 1e-12);
    /* broadcast from the last rank */
    long b[2] = {me == N - 1 ? 4242 : -1, me};
    CHECK(ih_dist_bcast(b, sizeof b, N - 1) == 0);
    CHECK_INT(b[0], 4242);
    CHECK_INT(b[1], N - 1);
    /* all-gather of arrays of different lengths (rank r: r + 1 values r·10 + i), rank after rank */
    double mine[64];
    for (int i = 0; i <= me; i++) mine[i] = me * 10 + i;
    double *all = NULL;
    size_t *counts = calloc((size_t)N, sizeof *counts);
    CHECK(ih_dist_allgatherv_f64(mine, (size_t)me + 1, &all, counts) == 0);
    size_t at = 0;
    for (int r = 0; r < N; r++) {
        CHECK_INT(counts[r], r + 1);
        for (int i = 0; i <= r; i++) CHECK_NEAR(all[at++], r * 10 + i, 0);
    }
    free(all), free(counts);
    CHECK(ih_dist_barrier() == 0);
}

static void test_point_to_point(void) {
    int N = ih_dist_size(), me = ih_dist_rank();
    if (N == 1) {
        /* no other rank to talk to: an error, not a hang */
        CHECK(ih_dist_send(1, 0, "x", 1) == -1);
        void *data = (void *)1;
        CHECK(ih_dist_recv(IH_DIST_ANY, IH_DIST_ANY, &data, NULL, NULL, NULL) == -1);
        CHECK(data == NULL);
        CHECK(ih_dist_probe(IH_DIST_ANY, IH_DIST_ANY) == 0);
        return;
    }
    /* a ring: each rank sends its number as text to the next */
    char msg[32];
    snprintf(msg, sizeof msg, "from %d", me);
    CHECK(ih_dist_send((me + 1) % N, 7, msg, strlen(msg)) == 0);
    void *data = NULL;
    size_t len = 0;
    int src = -1, tag = -1;
    CHECK(ih_dist_recv(IH_DIST_ANY, 7, &data, &len, &src, &tag) == 0);
    char want[32];
    snprintf(want, sizeof want, "from %d", (me + N - 1) % N);
    CHECK_INT(src, (me + N - 1) % N);
    CHECK_INT(tag, 7);
    CHECK(data && len == strlen(want) && !strcmp(data, want)); /* NUL-terminated */
    free(data);
    CHECK(ih_dist_barrier() == 0);
}

static void small_config(ih_config *c) {
    ih_config_default(c);
    c->hidden = 8;
    c->alignn_layers = 1;
    c->gcn_layers = 1;
    c->embed = 8;
    c->head_width = 8;
}

/* Two micro-batches' forwards run from the same buffers (as on two ranks), their logs replayed
 * in order, give the buffers of the two forwards run one after the other, bit for bit. */
static void test_bn_log(void) {
    ih_structure_set all;
    CHECK(ih_read_json(shared_path("data/em/train.json"), &all) == 0);
    const ih_structure *a[2], *b[2];
    int k = 0;
    for (int i = 0; i < all.n && k < 4; i++)
        if (all.items[i].n_atoms <= 40) {
            if (k < 2) a[k] = &all.items[i];
            else b[k - 2] = &all.items[i];
            k++;
        }
    CHECK_INT(k, 4);
    ih_graph_opts go;
    ih_graph_opts_default(&go);
    ih_graph ga, gb;
    CHECK(ih_graph_build_batch(a, 2, &go, &ga) == 0);
    CHECK(ih_graph_build_batch(b, 2, &go, &gb) == 0);
    ih_config c;
    small_config(&c);
    ih_model *serial = ih_model_create(&c, 5), *par = ih_model_create(&c, 5);
    int atoms = ga.n_atoms > gb.n_atoms ? ga.n_atoms : gb.n_atoms, edges = ga.n_edges > gb.n_edges ? ga.n_edges : gb.n_edges;
    int trip = ga.n_triplets > gb.n_triplets ? ga.n_triplets : gb.n_triplets;
    CHECK(ih_model_reserve(serial, 2, atoms, edges, trip, 0, 0, 0) == 0);
    CHECK(ih_model_reserve(par, 2, atoms, edges, trip, 0, 0, 0) == 0);
    float out[2];
    size_t nb = ih_model_n_buffers(par);
    float *start = malloc(nb * sizeof *start);
    memcpy(start, ih_model_buffers(par), nb * sizeof *start);
    /* one process: A then B */
    CHECK(ih_model_forward(serial, &ga, NULL, 1, out) == 0);
    CHECK(ih_model_forward(serial, &gb, NULL, 1, out) == 0);
    CHECK(memcmp(start, ih_model_buffers(serial), nb * sizeof *start) != 0); /* they moved */
    /* "two ranks": each forward from the step's starting buffers, logged */
    ih_bn_log la = {0}, lb = {0};
    ih_model_set_bn_log(par, &la);
    CHECK(ih_model_forward(par, &ga, NULL, 1, out) == 0);
    memcpy(ih_model_buffers(par), start, nb * sizeof *start);
    ih_model_set_bn_log(par, &lb);
    CHECK(ih_model_forward(par, &gb, NULL, 1, out) == 0);
    ih_model_set_bn_log(par, NULL);
    /* every running statistic appears once per forward: 2 channels' worth of doubles per
     * buffer entry pair, plus three header doubles per layer */
    CHECK(la.n > nb && la.n < nb + 3 * nb);
    CHECK(lb.n == la.n);
    /* an evaluation-mode forward logs nothing */
    size_t before = la.n;
    ih_model_set_bn_log(par, &la);
    CHECK(ih_model_reserve_eval(par, 2, atoms, edges, trip, 0, 0, 0) == 0);
    CHECK(ih_model_forward(par, &ga, NULL, 0, out) == 0);
    ih_model_set_bn_log(par, NULL);
    CHECK(la.n == before);
    memcpy(ih_model_buffers(par), start, nb * sizeof *start);
    CHECK(ih_model_bn_replay(par, la.v, la.n) == 0);
    CHECK(ih_model_bn_replay(par, lb.v, lb.n) == 0);
    CHECK_MSG(memcmp(ih_model_buffers(par), ih_model_buffers(serial), nb * sizeof *start) == 0,
              "replayed buffers differ from the one-process forwards");
    /* the other order is another result (the replay is not order-free) */
    memcpy(ih_model_buffers(par), start, nb * sizeof *start);
    CHECK(ih_model_bn_replay(par, lb.v, lb.n) == 0 && ih_model_bn_replay(par, la.v, la.n) == 0);
    CHECK(memcmp(ih_model_buffers(par), ih_model_buffers(serial), nb * sizeof *start) != 0);
    /* malformed logs are refused: cut short, an offset outside the buffers */
    CHECK(ih_model_bn_replay(par, la.v, 2) == -1);
    CHECK(ih_model_bn_replay(par, la.v, la.n - 1) == -1);
    double bad[5] = {(double)nb, 0, 1, 0.5, 0.5};
    CHECK(ih_model_bn_replay(par, bad, 5) == -1);
    CHECK(strstr(ih_last_error(), "outside the buffers") != NULL);
    ih_bn_log_free(&la), ih_bn_log_free(&lb);
    CHECK(la.v == NULL && la.n == 0);
    free(start);
    ih_model_free(serial), ih_model_free(par);
    ih_graph_free(&ga), ih_graph_free(&gb);
    ih_structure_set_free(&all);
}

int main(int argc, char **argv) {
    if (!ih_dist_built()) {
        /* a one-process build launched as one of several processes refuses to run */
        setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
        CHECK_INT(ih_dist_launched_size(), 2);
        CHECK(ih_dist_init(&argc, &argv) == -1);
        CHECK(strstr(ih_last_error(), "make MPI=1") != NULL);
        setenv("PMI_SIZE", "4", 1);
        unsetenv("OMPI_COMM_WORLD_SIZE");
        CHECK_INT(ih_dist_launched_size(), 4);
        unsetenv("PMI_SIZE");
        CHECK_INT(ih_dist_launched_size(), 1);
        setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
        CHECK(ih_dist_init(&argc, &argv) == 0);
        unsetenv("OMPI_COMM_WORLD_SIZE");
        CHECK_INT(ih_dist_size(), 1);
    } else {
        CHECK(ih_dist_init(&argc, &argv) == 0);
    }
    test_collectives();
    test_point_to_point();
    if (ih_dist_rank() == 0) test_bn_log();
    int rc = test_summary("dist");
    if (ih_dist_size() > 1) {
        /* every rank's verdict: a failure on any rank fails the run */
        double bad = rc != 0;
        ih_dist_allreduce_sum_f64(&bad, 1);
        rc = bad > 0;
    }
    ih_dist_finalize();
    return rc;
}
