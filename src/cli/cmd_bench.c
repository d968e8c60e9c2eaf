/* ionhop bench NAME ...: dispatch to the sub-benchmarks. Each lives in its own file
 * (bench_graph.c, ...); the weak placeholders below answer for those not built yet, so adding a
 * benchmark is one file plus, for a new name, one line in the table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define BENCH_NOT_YET(name)                                                                   \
    __attribute__((weak)) int bench_##name(int argc, char **argv) {                           \
        (void)argc;                                                                           \
        (void)argv;                                                                           \
        fprintf(stderr, "ionhop: 'bench %s' is not available in this build yet\n", #name);    \
        return 2;                                                                             \
    }
BENCH_NOT_YET(graph)
BENCH_NOT_YET(train)
BENCH_NOT_YET(gemm)

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} benches[] = {
    {"graph", bench_graph, "graph construction throughput on a record file (--data FILE)"},
    {"train", bench_train, "training step throughput"},
    {"gemm", bench_gemm, "GEMM throughput of the model's shapes"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: ionhop bench NAME [options]   ('ionhop bench NAME --help' for its options)\n\n");
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        fprintf(f, "  %-8s %s\n", benches[i].name, benches[i].help);
}

int cmd_bench(int argc, char **argv) {
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
    return cli_usage_error("bench: unknown benchmark '%s' (try 'ionhop bench --help')", argv[1]);
}
