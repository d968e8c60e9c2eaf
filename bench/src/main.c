/* ionhop-bench NAME ...: the benchmark program, apart from the ionhop tool. Each sub-benchmark
 * lives in its own file (bench_graph.c, ...); adding one is a file plus a line in the table. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} benches[] = {
    {"graph", bench_graph, "graph construction throughput on a record file (--data FILE)"},
    {"train", bench_train, "training step throughput"},
    {"gemm", bench_gemm, "GEMM throughput of the model's shapes"},
    {"read", bench_read, "reading and checking structure files (parsing, symmetry expansion, overlaps)"},
    {"cells", bench_cells, "the cells hops are predicted in, against the training records' cells"},
    {"allreduce", bench_allreduce, "the gradient all-reduce of data-parallel training (under mpirun)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: ionhop-bench NAME [options]   ('ionhop-bench NAME --help' for its options)\n\n");
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        fprintf(f, "  %-8s %s\n", benches[i].name, benches[i].help);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (!strcmp(argv[1], benches[i].name)) return benches[i].fn(argc - 1, argv + 1);
    return cli_usage_error("bench: unknown benchmark '%s' (try 'ionhop-bench --help')", argv[1]);
}
