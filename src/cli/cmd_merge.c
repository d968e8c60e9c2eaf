/* ionhop merge: several model files as one ensemble, e.g. the seed ensembles of two archs whose
 * errors differ more than those of two seeds. The members keep their weights, configurations and
 * target scalings; the merged file predicts the mean over all members. */
#include "cli.h"

#include <cjson/cJSON.h>
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

/* member k's (lo, hi) of a one-task model: its own scaling if the file has one per member */
static void member_scaling(const ih_model_set *cm, int k, double lohi[2]) {
    lohi[0] = cm->member_lo_hi ? cm->member_lo_hi[2 * k] : cm->sc[0].lo;
    lohi[1] = cm->member_lo_hi ? cm->member_lo_hi[2 * k + 1] : cm->sc[0].hi;
}

/* The models' tasks and inputs agree (one-line error naming the file that differs). */
static int check_compatible(const ih_model_set *cms, const char *const *paths, int n_files) {
    const ih_model_set *a = &cms[0];
    for (int f = 1; f < n_files; f++) {
        const ih_model_set *b = &cms[f];
        if (b->five_image != a->five_image)
            return ih_set_error("%s reads %s but %s reads %s: they cannot be one ensemble", paths[f],
                                b->five_image ? "5-image paths" : "structures", paths[0],
                                a->five_image ? "5-image paths" : "structures");
        if (b->n_tasks != a->n_tasks)
            return ih_set_error("%s predicts %d tasks, %s %d", paths[f], b->n_tasks, paths[0], a->n_tasks);
        for (int p = 0; p < a->n_tasks; p++) {
            if (strcmp(a->sc[p].name, b->sc[p].name))
                return ih_set_error("%s: task %d is \"%s\", in %s \"%s\"", paths[f], p + 1, b->sc[p].name, paths[0],
                                    a->sc[p].name);
            if (a->sc[p].log_offset != b->sc[p].log_offset)
                return ih_set_error("%s: task \"%s\" is scaled with another log offset than in %s", paths[f],
                                    a->sc[p].name, paths[0]);
            /* per-member scalings are written for one-task models only */
            if (a->n_tasks > 1 && (a->sc[p].lo != b->sc[p].lo || a->sc[p].hi != b->sc[p].hi))
                return ih_set_error("%s: task \"%s\" is scaled differently than in %s", paths[f], a->sc[p].name,
                                    paths[0]);
        }
    }
    return 0;
}

/* name is one of the '+'-separated names of list */
static int has_token(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p; p++)
        if ((p == list || p[-1] == '+') && !strncmp(p, name, n) && (p[n] == '+' || p[n] == '\0')) return 1;
    return 0;
}

/* The merged file's description: the first file's, with each part's arch, init and training
 * kept under "parts", one "arch" naming them all, and per-member scalings where they differ. */
static char *merged_meta(const ih_model_set *cms, const char *const *paths, int n_files, const char *command) {
    cJSON *j = cJSON_Parse(cms[0].meta), *parts = cJSON_CreateArray();
    if (!j || !parts) {
        cJSON_Delete(j), cJSON_Delete(parts);
        return NULL;
    }
    char arch[256] = "";
    double lohi0[2], lohi[2];
    member_scaling(&cms[0], 0, lohi0);
    int per_member = 0;
    for (int f = 0; f < n_files; f++) {
        cJSON *src = cJSON_Parse(cms[f].meta), *part = cJSON_CreateObject();
        cJSON_AddStringToObject(part, "file", paths[f]);
        cJSON_AddNumberToObject(part, "members", cms[f].n_members);
        static const char *const keep[] = {"arch", "init", "training"};
        for (size_t q = 0; q < sizeof keep / sizeof keep[0]; q++) {
            cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(src, keep[q]);
            if (v) cJSON_AddItemToObject(part, keep[q], v);
        }
        cJSON_AddItemToArray(parts, part);
        cJSON_Delete(src);
        if (!has_token(arch, cms[f].arch)) {
            size_t len = strlen(arch);
            snprintf(arch + len, sizeof arch - len, "%s%s", len ? "+" : "", cms[f].arch);
        }
        for (int k = 0; k < cms[f].n_members; k++) {
            member_scaling(&cms[f], k, lohi);
            per_member |= lohi[0] != lohi0[0] || lohi[1] != lohi0[1];
        }
    }
    static const char *const drop[] = {"arch", "init", "training", "member_scaling", "parts"};
    for (size_t q = 0; q < sizeof drop / sizeof drop[0]; q++) cJSON_DeleteItemFromObjectCaseSensitive(j, drop[q]);
    cJSON_AddStringToObject(j, "arch", arch);
    cJSON *tr = cJSON_AddObjectToObject(j, "training");
    cJSON_AddStringToObject(tr, "command", command);
    cJSON_AddItemToObject(j, "parts", parts);
    if (per_member) {
        cJSON *ms = cJSON_AddArrayToObject(j, "member_scaling");
        for (int f = 0; f < n_files; f++)
            for (int k = 0; k < cms[f].n_members; k++) {
                member_scaling(&cms[f], k, lohi);
                cJSON *e = cJSON_CreateArray();
                cJSON_AddItemToArray(e, cJSON_CreateNumber(lohi[0]));
                cJSON_AddItemToArray(e, cJSON_CreateNumber(lohi[1]));
                cJSON_AddItemToArray(ms, e);
            }
    }
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
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
    if (rc == 0) rc = check_compatible(cms, paths, n_files);
    ih_model **ms = rc == 0 ? malloc((size_t)total * sizeof *ms) : NULL;
    char *meta = rc == 0 ? merged_meta(cms, paths, n_files, command) : NULL;
    if (rc == 0 && (!ms || !meta)) rc = ih_set_error("out of memory");
    if (rc == 0) {
        int w = 0;
        for (int f = 0; f < n_files; f++)
            for (int k = 0; k < cms[f].n_members; k++) ms[w++] = cms[f].members[k];
        rc = ih_ensemble_save(out, ms, total, meta);
    }
    if (rc == 0) {
        printf("%d members", total);
        for (int f = 0; f < n_files; f++)
            printf("%s %d × %s (%s)", f ? "," : ":", cms[f].n_members, cms[f].arch, paths[f]);
        printf(" -> %s\n", out);
    }
    for (int f = 0; f < loaded; f++) ih_model_set_free(&cms[f]);
    free(cms), free(ms), free(meta), free(paths);
    return rc == 0 ? 0 : cli_fail();
}
