/* ionhop info: describe a model (or optimizer-state) file. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void info_usage(FILE *f) {
    fprintf(f, "usage: ionhop info [--tensors] MODEL\n\n"
               "Prints a model file's format, tensor and parameter counts and its metadata\n"
               "(configuration, tasks, training summary).\n\n"
               "  --tensors   also list every tensor with its shape\n");
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            info_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--tensors")) {
            list = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("info: unknown option '%s' (try 'ionhop info --help')", argv[i]);
        } else if (path) {
            return cli_usage_error("info: one model file at a time ('%s' and '%s' given)", path,
                                   argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return cli_usage_error("info: no model file given (usage: ionhop info [--tensors] MODEL)");
    if (ih_st_describe(stdout, path, list) != 0) return cli_fail();
    return fflush(stdout) == 0 ? 0 : 1;
}
