/* ionhop merge: several model files as one ensemble, e.g. the seed ensembles of two archs whose
 * errors differ more than those of two seeds. The members keep their weights, configurations and
 * target scalings; the merged file predicts the mean over all members. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: ionhop merge --out MODEL MODEL_A MODEL_B [...]\n\n"
               "Writes the members of every given model file as one ensemble: the prediction is the\n"
               "mean over all members, the reported spread their standard deviation. The models must\n"
               "predict the same tasks from the same input (5-image paths or structures) and build the\n"
               "same graphs (k, cutoff, edges, tie tolerance, path bonds); archs and sizes may differ.\n\n"
               "  --out MODEL   the merged model file (written atomically)\n");
}

int cmd_merge(int argc, char **argv) {
    const char *out = NULL, *v;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    int n_files = 0, r;
    if (!paths) return ih_set_error("out of memory"), cli_fail();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(paths);
            return 0;
        } else if ((r = cli_take(argc, argv, &i, "--out", &v))) {
            if (r < 0) return free(paths), cli_usage_error("merge: --out needs a file name");
            out = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            free(paths);
            return cli_usage_error("merge: unknown option '%s' (try 'ionhop merge --help')", argv[i]);
        } else {
            paths[n_files++] = argv[i];
        }
    }
    if (!out || n_files < 2) {
        free(paths);
        return cli_usage_error("merge: %s (try 'ionhop merge --help')",
                               out ? "needs two or more model files" : "needs --out MODEL");
    }
    char command[4096];
    size_t len = (size_t)snprintf(command, sizeof command, "ionhop merge --out %s", out);
    for (int f = 0; f < n_files && len < sizeof command; f++)
        len += (size_t)snprintf(command + len, sizeof command - len, " %s", paths[f]);
    ih_model_set *cms = calloc((size_t)n_files, sizeof *cms);
    int loaded = 0, rc = cms ? 0 : ih_set_error("out of memory"), total = 0;
    for (; rc == 0 && loaded < n_files; loaded++) {
        if (ih_model_set_load(paths[loaded], &cms[loaded]) != 0) break;
        total += cms[loaded].n_members;
    }
    if (loaded < n_files) rc = -1;
    if (rc == 0) rc = ih_model_sets_merge(cms, paths, n_files, out, command);
    if (rc == 0) {
        printf("%d members", total);
        for (int f = 0; f < n_files; f++)
            printf("%s %d × %s (%s)", f ? "," : ":", cms[f].n_members, cms[f].arch, paths[f]);
        printf(" -> %s\n", out);
    }
    for (int f = 0; f < loaded; f++) ih_model_set_free(&cms[f]);
    free(cms), free(paths);
    return rc == 0 ? 0 : cli_fail();
}
