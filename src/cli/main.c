/* ionhop command-line entry point: dispatches to the sub-commands of cli.h. Under mpirun (an MPI
 * build, docs/mpi.md) the commands that run on several ranks start MPI here: only rank 0 prints
 * to stdout, and a failure on any rank ends the whole job after its message. */
#include "cli.h"
#include "core/dist.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
    int dist; /* runs on several MPI ranks */
} commands[] = {
    {"predict", cmd_predict, "predict migration barriers (Em, eV) for a hop or a record file", 0},
    {"screen", cmd_screen, "hop networks, barriers and percolation of many structures", 1},
    {"graph", cmd_graph, "summarise the crystal graph of a structure file", 0},
    {"train", cmd_train, "train a single-target model on a record file", 1},
    {"pretrain", cmd_pretrain, "multi-property pre-training (MPT)", 1},
    {"finetune", cmd_finetune, "fine-tune a migration-barrier model", 1},
    {"evaluate", cmd_evaluate, "metrics of a model on a record file", 0},
    {"info", cmd_info, "describe a model file", 0},
    {"merge", cmd_merge, "combine model files into one ensemble (e.g. two archs)", 0},
    {"calibrate", cmd_calibrate, "store prediction-interval calibration in a model file", 0},
};

/* A command that may run on several ranks: MPI started around it; the other ranks' stdout
 * discarded (rank 0 reports); a failure on any rank aborts every rank. */
static int run_dist(int (*fn)(int, char **), int argc, char **argv) {
    if (ih_dist_init(&argc, &argv) != 0) return cli_fail();
    if (ih_dist_rank() != 0 && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "ionhop: rank %d: cannot discard its standard output\n", ih_dist_rank());
        ih_dist_abort(1);
    }
    int rc = fn(argc - 1, argv + 1);
    if (rc != 0 && ih_dist_size() > 1) ih_dist_abort(rc);
    ih_dist_finalize();
    return rc;
}

static void usage(FILE *f) {
    fprintf(f, "ionhop %s: ionic migration barriers from crystal structures\n\nusage: ionhop COMMAND [options]\n\n",
            IH_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'ionhop COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv) {
    /* progress lines must reach a log file as they happen */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ionhop %s\n", IH_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        if (commands[i].dist) return run_dist(commands[i].fn, argc, argv);
        /* every process of the job would do the whole job and write the same outputs */
        int n = ih_dist_launched_size();
        if (n > 1) {
            fprintf(stderr,
                    "ionhop: %s runs as one process, but was launched as one of %d: run it without mpirun/srun "
                    "(screen, train, pretrain and finetune run on several)\n",
                    argv[1], n);
            return 2;
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "ionhop: unknown command '%s' (try 'ionhop --help')\n", argv[1]);
    return 2;
}
