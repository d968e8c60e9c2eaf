/* Several processes on one job: MPI where the build has it (-DIH_MPI), the one-process case
 * otherwise (dist.h). Until ih_dist_init has started MPI every call is the one-process case too,
 * so the library used without the tool (the Python package) never touches MPI. */
#include "core/dist.h"
#include "core/util.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef IH_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_started = 0;

int ih_dist_rank(void) { return g_rank; }
int ih_dist_size(void) { return g_size; }

/* Open MPI's mpirun and MPICH's (and srun with PMI) name the job's size in each process */
static const char *const launcher_size_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};

int ih_dist_launched_size(void) {
    for (size_t k = 0; k < sizeof launcher_size_vars / sizeof launcher_size_vars[0]; k++) {
        const char *v = getenv(launcher_size_vars[k]);
        if (v && atoi(v) > 1) return atoi(v);
    }
    return 1;
}

#ifdef IH_MPI

/* tag of the reduce-scatter messages, apart from the screen's (small non-negative tags) */
#define TAG_REDUCE 30001

int ih_dist_built(void) { return 1; }

int ih_dist_init(int *argc, char ***argv) {
    if (g_started) return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return ih_set_error("MPI_Init_thread failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_started = 1;
    return 0;
}

void ih_dist_finalize(void) {
    if (g_started) MPI_Finalize();
    g_started = 0;
}

void ih_dist_abort(int code) {
    fflush(stdout);
    fflush(stderr);
    if (g_started && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    if (g_started) MPI_Finalize();
    exit(code);
}

/* rank r's segment of an n-element block: [seg_lo(r), seg_lo(r + 1)) */
static size_t seg_lo(size_t n, int r) { return (size_t)((unsigned long long)n * (unsigned)r / (unsigned)g_size); }

int ih_dist_allreduce_sum(float *x, size_t n) {
    if (g_size == 1 || n == 0) return 0;
    if (n > INT_MAX) return ih_set_error("all-reduce of %zu floats: more than MPI's int counts", n);
    int N = g_size, me = g_rank;
    size_t lo = seg_lo(n, me), c = seg_lo(n, me + 1) - lo;
    float *recv = malloc((c ? c : 1) * (size_t)N * sizeof *recv);
    MPI_Request *req = malloc(2 * (size_t)N * sizeof *req);
    int *counts = malloc((size_t)N * sizeof *counts), *displs = malloc((size_t)N * sizeof *displs);
    if (!recv || !req || !counts || !displs) {
        free(recv), free(req), free(counts), free(displs);
        return ih_set_error("out of memory for an all-reduce of %zu floats", n);
    }
    /* reduce-scatter: rank r gets every rank's copy of segment r ... */
    int nr = 0;
    for (int r = 0; r < N; r++) {
        counts[r] = (int)(seg_lo(n, r + 1) - seg_lo(n, r));
        displs[r] = (int)seg_lo(n, r);
        if (r == me) continue;
        MPI_Irecv(recv + (size_t)r * c, (int)c, MPI_FLOAT, r, TAG_REDUCE, MPI_COMM_WORLD, &req[nr++]);
        MPI_Isend(x + displs[r], counts[r], MPI_FLOAT, r, TAG_REDUCE, MPI_COMM_WORLD, &req[nr++]);
    }
    MPI_Waitall(nr, req, MPI_STATUSES_IGNORE);
    /* ... and sums them in rank order, its own copy in its place */
    memcpy(recv + (size_t)me * c, x + lo, c * sizeof *x);
    float *s = x + lo;
    memcpy(s, recv, c * sizeof *x);
    for (int r = 1; r < N; r++) {
        const float *y = recv + (size_t)r * c;
        for (size_t k = 0; k < c; k++) s[k] += y[k];
    }
    /* all-gather of the summed segments */
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
    free(recv), free(req), free(counts), free(displs);
    return 0;
}

int ih_dist_allreduce_sum_any(float *x, size_t n) {
    if (g_size == 1 || n == 0) return 0;
    if (n > INT_MAX) return ih_set_error("all-reduce of %zu floats: more than MPI's int counts", n);
    MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    return 0;
}

int ih_dist_allreduce_sum_f64(double *x, size_t n) {
    if (g_size == 1 || n == 0) return 0;
    if (n * (size_t)g_size > INT_MAX) return ih_set_error("all-reduce of %zu doubles: too many", n);
    double *all = malloc(n * (size_t)g_size * sizeof *all);
    if (!all) return ih_set_error("out of memory");
    MPI_Allgather(x, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, MPI_COMM_WORLD);
    for (size_t k = 0; k < n; k++) {
        double s = all[k];
        for (int r = 1; r < g_size; r++) s += all[(size_t)r * n + k];
        x[k] = s;
    }
    free(all);
    return 0;
}

int ih_dist_bcast(void *x, size_t bytes, int root) {
    if (g_size == 1) return 0;
    /* in pieces: MPI counts are ints */
    for (size_t off = 0; off < bytes;) {
        size_t piece = bytes - off < (1u << 30) ? bytes - off : (1u << 30);
        MPI_Bcast((char *)x + off, (int)piece, MPI_BYTE, root, MPI_COMM_WORLD);
        off += piece;
    }
    return 0;
}

int ih_dist_barrier(void) {
    if (g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
    return 0;
}

int ih_dist_allgatherv_f64(const double *mine, size_t n, double **all, size_t *counts) {
    *all = NULL;
    if (g_size == 1) {
        counts[0] = n;
        *all = malloc((n ? n : 1) * sizeof **all);
        if (!*all) return ih_set_error("out of memory");
        if (n) memcpy(*all, mine, n * sizeof *mine);
        return 0;
    }
    uint64_t mine_n = n, *cn = malloc((size_t)g_size * sizeof *cn);
    int *ic = malloc((size_t)g_size * sizeof *ic), *id = malloc((size_t)g_size * sizeof *id);
    if (!cn || !ic || !id) {
        free(cn), free(ic), free(id);
        return ih_set_error("out of memory");
    }
    MPI_Allgather(&mine_n, 1, MPI_UINT64_T, cn, 1, MPI_UINT64_T, MPI_COMM_WORLD);
    uint64_t total = 0;
    int rc = 0;
    for (int r = 0; r < g_size; r++) {
        if (total > INT_MAX || cn[r] > INT_MAX) rc = ih_set_error("all-gather of more than 2^31 doubles");
        ic[r] = (int)cn[r], id[r] = (int)total;
        counts[r] = (size_t)cn[r];
        total += cn[r];
    }
    if (rc == 0 && total > INT_MAX) rc = ih_set_error("all-gather of more than 2^31 doubles");
    if (rc == 0 && !(*all = malloc((size_t)(total ? total : 1) * sizeof **all))) rc = ih_set_error("out of memory");
    /* every rank sees the same counts, so every rank takes the same branch */
    if (rc == 0)
        MPI_Allgatherv(mine, (int)n, MPI_DOUBLE, *all, ic, id, MPI_DOUBLE, MPI_COMM_WORLD);
    free(cn), free(ic), free(id);
    return rc;
}

int ih_dist_send(int to, int tag, const void *data, size_t bytes) {
    if (bytes > INT_MAX) return ih_set_error("message of %zu bytes: more than MPI's int counts", bytes);
    MPI_Send(data, (int)bytes, MPI_BYTE, to, tag, MPI_COMM_WORLD);
    return 0;
}

int ih_dist_probe(int from, int tag) {
    int flag = 0;
    MPI_Iprobe(from == IH_DIST_ANY ? MPI_ANY_SOURCE : from, tag == IH_DIST_ANY ? MPI_ANY_TAG : tag, MPI_COMM_WORLD,
               &flag, MPI_STATUS_IGNORE);
    return flag != 0;
}

int ih_dist_recv(int from, int tag, void **data, size_t *bytes, int *source, int *tag_out) {
    MPI_Status st;
    int count = 0;
    MPI_Probe(from == IH_DIST_ANY ? MPI_ANY_SOURCE : from, tag == IH_DIST_ANY ? MPI_ANY_TAG : tag, MPI_COMM_WORLD, &st);
    MPI_Get_count(&st, MPI_BYTE, &count);
    char *buf = malloc((size_t)count + 1);
    if (!buf) return ih_set_error("out of memory for a message of %d bytes", count);
    MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    buf[count] = '\0';
    *data = buf;
    if (bytes) *bytes = (size_t)count;
    if (source) *source = st.MPI_SOURCE;
    if (tag_out) *tag_out = st.MPI_TAG;
    return 0;
}

#else /* one process */

int ih_dist_built(void) { return 0; }

int ih_dist_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    int n = ih_dist_launched_size();
    if (n > 1)
        return ih_set_error("launched as one of %d processes, but this ionhop was built without MPI: build it with "
                            "'make MPI=1' (docs/mpi.md)",
                            n);
    g_started = 1;
    return 0;
}

void ih_dist_finalize(void) { g_started = 0; }

void ih_dist_abort(int code) {
    fflush(stdout);
    fflush(stderr);
    exit(code);
}

int ih_dist_allreduce_sum(float *x, size_t n) { return (void)x, (void)n, 0; }
int ih_dist_allreduce_sum_any(float *x, size_t n) { return (void)x, (void)n, 0; }
int ih_dist_allreduce_sum_f64(double *x, size_t n) { return (void)x, (void)n, 0; }
int ih_dist_bcast(void *x, size_t bytes, int root) { return (void)x, (void)bytes, (void)root, 0; }
int ih_dist_barrier(void) { return 0; }

int ih_dist_allgatherv_f64(const double *mine, size_t n, double **all, size_t *counts) {
    counts[0] = n;
    *all = malloc((n ? n : 1) * sizeof **all);
    if (!*all) return ih_set_error("out of memory");
    if (n) memcpy(*all, mine, n * sizeof *mine);
    return 0;
}

int ih_dist_send(int to, int tag, const void *data, size_t bytes) {
    (void)tag, (void)data, (void)bytes;
    return ih_set_error("send to rank %d: a one-process run has no other rank", to);
}

int ih_dist_probe(int from, int tag) { return (void)from, (void)tag, 0; }

int ih_dist_recv(int from, int tag, void **data, size_t *bytes, int *source, int *tag_out) {
    (void)from, (void)tag, (void)bytes, (void)source, (void)tag_out;
    *data = NULL;
    return ih_set_error("receive: a one-process run has no other rank");
}

#endif
