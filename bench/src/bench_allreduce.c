/* ionhop-bench allreduce: time of the per-step gradient all-reduce of data-parallel training
 * (docs/mpi.md) for a model's parameter block: the fixed-order reduction training uses
 * (ih_dist_allreduce_sum, bit-identical run to run) against MPI_Allreduce. Run it under
 * mpirun -np N; on one process (or without MPI) both are no-ops and only the sizes are printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/dist.h"

static void usage(FILE *f) {
    fprintf(f, "usage: mpirun -np N ionhop-bench allreduce [--hidden H] [--edges full|canonical] [--tasks P]\n"
               "                                           [--repeat R]\n\n"
               "The model's parameter block (the train defaults: hidden 64, canonical edges; --tasks P\n"
               "output heads, 1) summed over the ranks R times (50) each way, a barrier before each;\n"
               "prints the bytes and the median and minimum milliseconds per all-reduce on rank 0.\n");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median and minimum seconds of R all-reduces of x (n floats) by f */
static void time_it(int (*f)(float *, size_t), float *x, size_t n, int R, double *med, double *min) {
    double *t = malloc((size_t)R * sizeof *t);
    for (int r = 0; r < R; r++) {
        ih_dist_barrier();
        double t0 = ih_now();
        f(x, n);
        t[r] = ih_now() - t0;
    }
    qsort(t, (size_t)R, sizeof *t, cmp_double);
    *med = t[R / 2], *min = t[0];
    free(t);
}

int bench_allreduce(int argc, char **argv) {
    if (ih_dist_init(&argc, &argv) != 0) return cli_fail();
    ih_config c;
    ih_config_default(&c);
    c.hidden = 64;
    c.canonical = 1;
    long R = 50, tasks = 1;
    const char *v;
    for (int i = 1; i < argc; i++) {
        int r = cli_config_flag(argc, argv, &i, &c);
        if (r == 2) return 2;
        if (r == 1) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((r = cli_take(argc, argv, &i, "--repeat", &v))) {
            if (r < 0 || cli_parse_long("--repeat", v, 1, 100000, &R)) return 2;
        } else if ((r = cli_take(argc, argv, &i, "--tasks", &v))) {
            if (r < 0 || cli_parse_long("--tasks", v, 1, 16, &tasks)) return 2;
        } else {
            usage(stderr);
            return cli_usage_error("allreduce: unknown option '%s'", argv[i]);
        }
    }
    c.n_outputs = (int)tasks;
    ih_model *m = ih_model_create(&c, 1);
    if (!m) return cli_fail();
    size_t n = ih_model_n_params(m);
    float *x = malloc(n * sizeof *x);
    for (size_t k = 0; k < n; k++) x[k] = (float)((double)(k % 1000) * 1e-6 * (ih_dist_rank() + 1));
    double med_fixed, min_fixed, med_any, min_any;
    time_it(ih_dist_allreduce_sum, x, n, (int)R, &med_fixed, &min_fixed);
    time_it(ih_dist_allreduce_sum_any, x, n, (int)R, &med_any, &min_any);
    if (ih_dist_rank() == 0) {
        printf("allreduce: %d ranks, hidden %d, %s edges, %ld output(s): %zu parameters, %.2f MB per all-reduce\n",
               ih_dist_size(), c.hidden, c.canonical ? "canonical" : "full", tasks, n, n * 4.0 / 1e6);
        printf("  BatchNorm buffers: %zu floats (a micro-batch's statistics log: about %.0f kB)\n",
               ih_model_n_buffers(m), ih_model_n_buffers(m) * 8.0 / 1e3);
        printf("  fixed order (training):  median %.3f ms  min %.3f ms  (%d repeats)\n", 1e3 * med_fixed,
               1e3 * min_fixed, (int)R);
        printf("  MPI_Allreduce:           median %.3f ms  min %.3f ms\n", 1e3 * med_any, 1e3 * min_any);
    }
    free(x);
    ih_model_free(m);
    ih_dist_finalize();
    return 0;
}
