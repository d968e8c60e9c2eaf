/* ionhop command-line entry point: dispatches to the sub-commands of cli.h. */
#include "cli.h"

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
} commands[] = {
    {"predict", cmd_predict, "predict migration barriers (Em, eV) for a hop or a record file"},
    {"screen", cmd_screen, "hop networks, barriers and percolation of many structures"},
    {"graph", cmd_graph, "summarise the crystal graph of a structure file"},
    {"train", cmd_train, "train a single-target model on a record file"},
    {"pretrain", cmd_pretrain, "multi-property pre-training (MPT)"},
    {"finetune", cmd_finetune, "fine-tune a migration-barrier model"},
    {"evaluate", cmd_evaluate, "metrics of a model on a record file"},
    {"info", cmd_info, "describe a model file"},
    {"merge", cmd_merge, "combine model files into one ensemble (e.g. two archs)"},
    {"calibrate", cmd_calibrate, "store prediction-interval calibration in a model file"},
};

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
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ionhop: unknown command '%s' (try 'ionhop --help')\n", argv[1]);
    return 2;
}
