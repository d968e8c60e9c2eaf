/* The description a model file carries beside its tensors ("ionhop" metadata): the tasks with
 * their target scaling, per-member scalings of cross-validation ensembles, the input kind
 * (5-image paths or structures), the arch name, the pre-trained model it started from and the
 * training summary. Every command writes it through ih_model_desc_json and every reader goes
 * through ih_model_set_load, so the format lives here alone. */
#include "ionhop_train.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ih_model_set_free(ih_model_set *ms) {
    for (int k = 0; k < ms->n_members; k++) ih_model_free(ms->members[k]);
    free(ms->members);
    free(ms->meta);
    free(ms->member_lo_hi);
    memset(ms, 0, sizeof *ms);
}

/* the "tasks", "member_scaling", "input" and "arch" entries of the metadata */
static int describe(const char *path, ih_model_set *ms) {
    cJSON *j = cJSON_Parse(ms->meta);
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(j, "tasks");
    int P = ih_model_config(ms->members[0])->n_outputs, rc = 0;
    if (!cJSON_IsArray(tasks) || cJSON_GetArraySize(tasks) != P || P > IH_MAX_TASKS)
        rc = ih_set_error("%s: model metadata lacks a \"tasks\" list of %d entries", path, P);
    for (int p = 0; rc == 0 && p < P; p++) {
        const cJSON *t = cJSON_GetArrayItem(tasks, p);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(t, "lo");
        const cJSON *hi = cJSON_GetObjectItemCaseSensitive(t, "hi");
        if (!cJSON_IsString(name) || !cJSON_IsNumber(lo) || !cJSON_IsNumber(hi) || !(hi->valuedouble > lo->valuedouble)) {
            rc = ih_set_error("%s: task %d of the model metadata is malformed", path, p + 1);
            break;
        }
        snprintf(ms->sc[p].name, sizeof ms->sc[p].name, "%s", name->valuestring);
        ms->sc[p].lo = lo->valuedouble;
        ms->sc[p].hi = hi->valuedouble;
        const cJSON *log_offset = cJSON_GetObjectItemCaseSensitive(t, "log_offset");
        ms->sc[p].log_offset = cJSON_IsNumber(log_offset) ? log_offset->valuedouble : 0;
        if (log_offset && (!cJSON_IsNumber(log_offset) || !(log_offset->valuedouble > 0) ||
                           !(lo->valuedouble + log_offset->valuedouble > 0)))
            rc = ih_set_error("%s: task %d has a bad \"log_offset\" (must be > 0 and above -lo)", path, p + 1);
    }
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(j, "member_scaling");
    if (rc == 0 && scaling) {
        int ok = P == 1 && cJSON_IsArray(scaling) && cJSON_GetArraySize(scaling) == ms->n_members;
        ms->member_lo_hi = ok ? malloc(sizeof(double) * 2 * (size_t)ms->n_members) : NULL;
        for (int k = 0; ok && k < ms->n_members; k++) {
            const cJSON *e = cJSON_GetArrayItem(scaling, k);
            const cJSON *lo = cJSON_GetArrayItem(e, 0), *hi = cJSON_GetArrayItem(e, 1);
            ok = ms->member_lo_hi && cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsNumber(lo) &&
                 cJSON_IsNumber(hi) && hi->valuedouble > lo->valuedouble;
            if (ok) ms->member_lo_hi[2 * k] = lo->valuedouble, ms->member_lo_hi[2 * k + 1] = hi->valuedouble;
        }
        if (!ok) rc = ih_set_error("%s: \"member_scaling\" of the model metadata is malformed", path);
    }
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(j, "input");
    ms->five_image = cJSON_IsString(input) && !strcmp(input->valuestring, "5-image");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(j, "arch");
    snprintf(ms->arch, sizeof ms->arch, "%s", cJSON_IsString(arch) ? arch->valuestring : "single");
    ms->n_tasks = P;
    cJSON_Delete(j);
    return rc;
}

int ih_model_set_load(const char *path, ih_model_set *ms) {
    memset(ms, 0, sizeof *ms);
    ms->members = ih_ensemble_load(path, &ms->n_members, &ms->meta);
    if (!ms->members) return -1;
    if (describe(path, ms) != 0) {
        ih_model_set_free(ms);
        return -1;
    }
    return 0;
}

/* the "tasks" list: name, scaling range, log offset where set, unit where given */
static void add_tasks(cJSON *j, const ih_task_scaling *sc, int n_tasks, const char *unit) {
    cJSON *tasks = cJSON_AddArrayToObject(j, "tasks");
    for (int p = 0; p < n_tasks; p++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", sc[p].name);
        cJSON_AddNumberToObject(t, "lo", sc[p].lo);
        cJSON_AddNumberToObject(t, "hi", sc[p].hi);
        if (sc[p].log_offset > 0) cJSON_AddNumberToObject(t, "log_offset", sc[p].log_offset);
        if (unit) cJSON_AddStringToObject(t, "unit", unit);
        cJSON_AddItemToArray(tasks, t);
    }
}

char *ih_model_desc_json(const ih_model_desc *d) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return ih_set_error("out of memory"), NULL;
    add_tasks(j, d->sc, d->n_tasks, d->unit);
    if (d->member_lo_hi) {
        cJSON *ms = cJSON_AddArrayToObject(j, "member_scaling");
        for (int k = 0; k < d->n_members; k++) {
            cJSON *e = cJSON_CreateArray();
            cJSON_AddItemToArray(e, cJSON_CreateNumber(d->member_lo_hi[2 * k]));
            cJSON_AddItemToArray(e, cJSON_CreateNumber(d->member_lo_hi[2 * k + 1]));
            cJSON_AddItemToArray(ms, e);
        }
    }
    cJSON_AddStringToObject(j, "input", d->five_image ? "5-image" : "structure");
    cJSON_AddStringToObject(j, "arch", d->arch);
    if (d->init) cJSON_AddStringToObject(j, "init", d->init);
    if (d->training_json) {
        cJSON *tr = cJSON_Parse(d->training_json);
        if (!cJSON_IsObject(tr)) {
            cJSON_Delete(tr), cJSON_Delete(j);
            return ih_set_error("model description: the training summary is not a JSON object"), NULL;
        }
        cJSON_AddItemToObject(j, "training", tr);
    }
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text) ih_set_error("out of memory");
    return text;
}

/* ---- merging model files into one ensemble ---- */

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

int ih_model_sets_merge(const ih_model_set *sets, const char *const *paths, int n_sets, const char *out,
                        const char *command) {
    if (check_compatible(sets, paths, n_sets) != 0) return -1;
    int total = 0;
    for (int f = 0; f < n_sets; f++) total += sets[f].n_members;
    ih_model **ms = malloc((size_t)total * sizeof *ms);
    char *meta = merged_meta(sets, paths, n_sets, command);
    int rc = ms && meta ? 0 : ih_set_error("%s: out of memory", out);
    if (rc == 0) {
        int w = 0;
        for (int f = 0; f < n_sets; f++)
            for (int k = 0; k < sets[f].n_members; k++) ms[w++] = sets[f].members[k];
        rc = ih_ensemble_save(out, ms, total, meta);
    }
    free(ms), free(meta);
    return rc;
}
