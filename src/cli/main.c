/* ionhop command-line entry point: dispatches to the sub-commands of cli.h. */
#include "cli.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(void) {
    fprintf(stderr, "ionhop: %s\n", ih_last_error());
    return 1;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ionhop: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 2;
}

const char *cli_repo_path(const char *rel) {
    /* The executable lives in <repo>/build/ionhop (or build-san/); look one level up. */
    static char buf[PATH_MAX + 64];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            slash = strrchr(exe, '/');
            if (slash) {
                *slash = '\0';
                snprintf(buf, sizeof buf, "%s/%s", exe, rel);
                if (access(buf, R_OK) == 0) return buf;
            }
        }
    }
    snprintf(buf, sizeof buf, "%s", rel);
    return buf;
}

/* Commands not built yet answer clearly instead of failing to link. */
#define NOT_YET(name)                                                                         \
    __attribute__((weak)) int cmd_##name(int argc, char **argv) {                             \
        (void)argc;                                                                           \
        (void)argv;                                                                           \
        fprintf(stderr, "ionhop: '%s' is not available in this build yet\n", #name);          \
        return 2;                                                                             \
    }
NOT_YET(graph)
NOT_YET(bench)
NOT_YET(train)
NOT_YET(predict)
NOT_YET(info)
NOT_YET(pretrain)
NOT_YET(finetune)
NOT_YET(evaluate)

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"predict", cmd_predict, "predict migration barriers (Em, eV) for a hop or a record file"},
    {"graph", cmd_graph, "summarise the crystal graph of a structure file"},
    {"train", cmd_train, "train a single-target model on a record file"},
    {"pretrain", cmd_pretrain, "multi-property pre-training (MPT)"},
    {"finetune", cmd_finetune, "fine-tune a migration-barrier model"},
    {"evaluate", cmd_evaluate, "metrics of a model on a record file"},
    {"info", cmd_info, "describe a model file"},
    {"merge", cmd_merge, "combine model files into one ensemble (e.g. two archs)"},
    {"bench", cmd_bench, "benchmarks: bench graph|train"},
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
