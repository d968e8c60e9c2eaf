/* Helpers shared by the sub-commands: option values, model-configuration flags, loading a
 * model with its task description. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_take(int argc, char **argv, int *i, const char *name, const char **val) {
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}

int cli_parse_long(const char *name, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return cli_usage_error("%s expects an integer in %ld..%ld, not '%s'", name, lo, hi, s);
    *out = v;
    return 0;
}

int cli_parse_int(const char *opt, const char *text, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || end == text || *end || errno || v < lo || v > hi) {
        cli_usage_error("%s needs an integer between %d and %d (got '%s')", opt, lo, hi,
                        text ? text : "nothing");
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_double(const char *opt, const char *text, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = text ? strtod(text, &end) : 0;
    if (!text || end == text || *end || errno || !(v >= lo && v <= hi)) {
        cli_usage_error("%s needs a number between %g and %g (got '%s')", opt, lo, hi,
                        text ? text : "nothing");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_graph_option(int argc, char **argv, int *i, ih_graph_opts *o) {
    const char *a = argv[*i];
    if (!strcmp(a, "--canonical")) {
        o->canonical = 1;
        return 1;
    }
    if (!strcmp(a, "--path-apart") || !strcmp(a, "--path-chain")) {
        o->n_apart = 5;
        o->path_chain = !strcmp(a, "--path-chain");
        return 1;
    }
    if (!strcmp(a, "--k") || !strcmp(a, "--cutoff") || !strcmp(a, "--tie-tol")) {
        const char *v = *i + 1 < argc ? argv[++*i] : NULL;
        if (!strcmp(a, "--k")) return cli_parse_int(a, v, 1, 1000, &o->k) ? -1 : 1;
        if (!strcmp(a, "--tie-tol")) return cli_parse_double(a, v, 0.0, 1.0, &o->tie_tol) ? -1 : 1;
        return cli_parse_double(a, v, 1e-3, 1e4, &o->cutoff) ? -1 : 1;
    }
    return 0;
}

/* Model-configuration flags: returns 1 if argv[*i] was one (consumed), 0 if not, 2 on error. */
int cli_config_flag(int argc, char **argv, int *i, ih_config *c) {
    const char *v;
    long n = 0;
    int r;
    static const struct {
        const char *flag;
        size_t off;
        long lo, hi;
    } ints[] = {
        {"--hidden", offsetof(ih_config, hidden), 1, 1024},
        {"--alignn-layers", offsetof(ih_config, alignn_layers), 0, 32},
        {"--gcn-layers", offsetof(ih_config, gcn_layers), 0, 32},
        {"--neighbors", offsetof(ih_config, neighbors), 1, 64},
        {"--embed", offsetof(ih_config, embed), 1, 1024},
        {"--head-width", offsetof(ih_config, head_width), 1, 1024},
        {"--head-hidden", offsetof(ih_config, head_hidden), 1, 2},
    };
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        if ((r = cli_take(argc, argv, i, ints[k].flag, &v)) == 0) continue;
        if (r < 0) return cli_usage_error("%s needs a value", ints[k].flag), 2;
        if (cli_parse_long(ints[k].flag, v, ints[k].lo, ints[k].hi, &n)) return 2;
        *(int *)((char *)c + ints[k].off) = (int)n;
        return 1;
    }
    if ((r = cli_take(argc, argv, i, "--cutoff", &v)) != 0) {
        if (r < 0) return cli_usage_error("--cutoff needs a value"), 2;
        return cli_parse_double("--cutoff", v, 1.0, 50.0, &c->cutoff) ? 2 : 1;
    }
    if ((r = cli_take(argc, argv, i, "--tie-tol", &v)) != 0) {
        if (r < 0) return cli_usage_error("--tie-tol needs a value"), 2;
        return cli_parse_double("--tie-tol", v, 0.0, 1.0, &c->tie_tol) ? 2 : 1;
    }
    if ((r = cli_take(argc, argv, i, "--edges", &v)) != 0) {
        if (r < 0 || (strcmp(v, "full") && strcmp(v, "canonical")))
            return cli_usage_error("--edges expects 'full' or 'canonical'"), 2;
        c->canonical = !strcmp(v, "canonical");
        return 1;
    }
    return 0;
}

void cli_graph_opts(const ih_config *c, ih_graph_opts *go, int line_graph) {
    ih_graph_opts_default(go);
    go->cutoff = c->cutoff;
    go->k = c->neighbors;
    go->canonical = c->canonical;
    go->line_graph = line_graph;
    go->n_apart = c->path_apart ? 5 : 0;
    go->path_chain = c->path_apart == 2;
    go->tie_tol = c->tie_tol;
    go->path_desc = c->path_desc;
}

void cli_model_free(cli_model *cm) {
    for (int k = 0; k < cm->n_members; k++) ih_model_free(cm->members[k]);
    free(cm->members);
    free(cm->meta);
    free(cm->member_lo_hi);
    memset(cm, 0, sizeof *cm);
}

int cli_model_load(const char *path, cli_model *cm) {
    memset(cm, 0, sizeof *cm);
    cm->members = ih_ensemble_load(path, &cm->n_members, &cm->meta);
    if (!cm->members) return -1;
    cm->m = cm->members[0];
    cJSON *j = cJSON_Parse(cm->meta);
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(j, "tasks");
    int P = ih_model_config(cm->m)->n_outputs;
    if (!cJSON_IsArray(tasks) || cJSON_GetArraySize(tasks) != P || P > IH_MAX_TASKS) {
        cJSON_Delete(j);
        cli_model_free(cm);
        return ih_set_error("%s: model metadata lacks a \"tasks\" list of %d entries", path, P);
    }
    for (int p = 0; p < P; p++) {
        const cJSON *t = cJSON_GetArrayItem(tasks, p);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(t, "lo");
        const cJSON *hi = cJSON_GetObjectItemCaseSensitive(t, "hi");
        if (!cJSON_IsString(name) || !cJSON_IsNumber(lo) || !cJSON_IsNumber(hi) ||
            !(hi->valuedouble > lo->valuedouble)) {
            cJSON_Delete(j);
            cli_model_free(cm);
            return ih_set_error("%s: task %d of the model metadata is malformed", path, p + 1);
        }
        snprintf(cm->sc[p].name, sizeof cm->sc[p].name, "%s", name->valuestring);
        cm->sc[p].lo = lo->valuedouble;
        cm->sc[p].hi = hi->valuedouble;
        const cJSON *log_offset = cJSON_GetObjectItemCaseSensitive(t, "log_offset");
        cm->sc[p].log_offset = cJSON_IsNumber(log_offset) ? log_offset->valuedouble : 0;
        if (log_offset && (!cJSON_IsNumber(log_offset) || !(log_offset->valuedouble > 0) ||
                           !(lo->valuedouble + log_offset->valuedouble > 0))) {
            cJSON_Delete(j);
            cli_model_free(cm);
            return ih_set_error("%s: task %d has a bad \"log_offset\" (must be > 0 and above -lo)", path, p + 1);
        }
    }
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "member_scaling");
    if (ms) {
        int ok = P == 1 && cJSON_IsArray(ms) && cJSON_GetArraySize(ms) == cm->n_members;
        cm->member_lo_hi = ok ? malloc(sizeof(double) * 2 * (size_t)cm->n_members) : NULL;
        for (int k = 0; ok && k < cm->n_members; k++) {
            const cJSON *e = cJSON_GetArrayItem(ms, k);
            const cJSON *lo = cJSON_GetArrayItem(e, 0), *hi = cJSON_GetArrayItem(e, 1);
            ok = cm->member_lo_hi && cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsNumber(lo) &&
                 cJSON_IsNumber(hi) && hi->valuedouble > lo->valuedouble;
            if (ok) cm->member_lo_hi[2 * k] = lo->valuedouble, cm->member_lo_hi[2 * k + 1] = hi->valuedouble;
        }
        if (!ok) {
            cJSON_Delete(j);
            cli_model_free(cm);
            return ih_set_error("%s: \"member_scaling\" of the model metadata is malformed", path);
        }
    }
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(j, "input");
    cm->five_image = cJSON_IsString(input) && !strcmp(input->valuestring, "5-image");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(j, "arch");
    snprintf(cm->arch, sizeof cm->arch, "%s", cJSON_IsString(arch) ? arch->valuestring : "single");
    cm->n_tasks = P;
    cJSON_Delete(j);
    return 0;
}

int cli_model_predict(cli_model *cm, const ih_dataset *d, const int *idx, int n, double *mean,
                      double *spread) {
    int P = cm->n_tasks;
    long budget = CLI_PREDICT_TRIPLETS;
    float *out = malloc((size_t)(n > 0 ? n : 1) * P * sizeof *out);
    if (!out) return ih_set_error("out of memory");
    for (size_t q = 0; q < (size_t)n * P; q++) mean[q] = spread[q] = 0;
    /* mean and (population) standard deviation over the ensemble, in original units */
    for (int k = 0; k < cm->n_members; k++) {
        if (ih_dataset_reserve_eval(cm->members[k], d, IH_PREDICT_BATCH, budget) != 0 ||
            ih_predict_dataset(cm->members[k], d, idx, n, IH_PREDICT_BATCH, budget, out) != 0) {
            free(out);
            return -1;
        }
        ih_task_scaling sk = cm->sc[0];
        if (cm->member_lo_hi) sk.lo = cm->member_lo_hi[2 * k], sk.hi = cm->member_lo_hi[2 * k + 1];
        for (int i = 0; i < n; i++)
            for (int p = 0; p < P; p++) {
                double y = ih_unscale(cm->member_lo_hi ? &sk : &cm->sc[p], out[(size_t)i * P + p]);
                mean[(size_t)i * P + p] += y;
                spread[(size_t)i * P + p] += y * y;
            }
    }
    for (size_t q = 0; q < (size_t)n * P; q++) {
        mean[q] /= cm->n_members;
        double var = spread[q] / cm->n_members - mean[q] * mean[q];
        spread[q] = var > 0 ? sqrt(var) : 0;
    }
    free(out);
    return 0;
}

void cli_file_preds_free(cli_file_preds *p) {
    free(p->jid), free(p->target), free(p->mean), free(p->spread);
    memset(p, 0, sizeof *p);
}

int cli_predict_file(cli_model *cm, const char *path, cli_file_preds *out) {
    memset(out, 0, sizeof *out);
    ih_structure_set set;
    if (ih_read_structures(path, IH_FMT_UNKNOWN, &set) != 0) return -1;
    int n = set.n, P = cm->n_tasks, rc = 0;
    out->n = n, out->P = P;
    out->jid = malloc((size_t)(n ? n : 1) * sizeof *out->jid);
    out->target = malloc((size_t)(n ? n : 1) * sizeof *out->target);
    out->mean = malloc((size_t)(n ? n : 1) * P * sizeof *out->mean);
    out->spread = malloc((size_t)(n ? n : 1) * P * sizeof *out->spread);
    int *idx = malloc(CLI_PREDICT_CHUNK * sizeof *idx);
    if (!out->jid || !out->target || !out->mean || !out->spread || !idx) rc = ih_set_error("out of memory");
    for (int q = 0; q < CLI_PREDICT_CHUNK && idx; q++) idx[q] = q;
    /* a barrier model reads hops: a host structure would be "predicted" as if it were a path */
    for (int i = 0; rc == 0 && cm->five_image && i < n; i++)
        if (!ih_structure_is_5image(&set.items[i]))
            rc = ih_set_error("%s: record %d%s%s%s is not a 5-image path structure (sites 1-5: one ion at five "
                              "points of its hop); for a host structure use predict STRUCTURE --ion",
                              path, i + 1, set.items[i].jid[0] ? " (jid " : "", set.items[i].jid,
                              set.items[i].jid[0] ? ")" : "");
    ih_graph_opts go;
    cli_graph_opts(ih_model_config(cm->m), &go, 0);
    int input = ih_arch_input(ih_model_config(cm->m)->arch);
    for (int first = 0; rc == 0 && first < n; first += CLI_PREDICT_CHUNK) {
        int cnt = n - first < CLI_PREDICT_CHUNK ? n - first : CLI_PREDICT_CHUNK;
        ih_dataset d;
        rc = ih_dataset_from_structures(&d, &set, first, cnt, &go, input, path);
        if (rc != 0) break;
        rc = cli_model_predict(cm, &d, idx, cnt, out->mean + (size_t)first * P, out->spread + (size_t)first * P);
        for (int i = 0; i < cnt; i++) {
            snprintf(out->jid[first + i], sizeof out->jid[0], "%s", d.jid[i]);
            out->target[first + i] = d.mask[i] != 0.0f ? d.targets[i] : NAN;
        }
        ih_dataset_free(&d);
    }
    free(idx);
    ih_structure_set_free(&set);
    if (rc != 0) cli_file_preds_free(out);
    return rc;
}

int cli_print_metrics(FILE *f, const double *truth, const double *pred, int n, const char *label) {
    ih_regression_metrics rm;
    ih_class_metrics cm;
    if (ih_regression_metrics_compute(truth, pred, n, &rm) != 0 ||
        ih_class_metrics_compute(truth, pred, n, IH_GOOD_CONDUCTOR_EV, &cm) != 0)
        return -1;
    fprintf(f, "%s: n %d  MAE %.4f eV  RMSE %.4f eV  R² %.4f\n", label, n, rm.mae, rm.rmse, rm.r2);
    fprintf(f, "  good conductor (Em < %.2f eV): accuracy %.1f %%  precision %.1f %%  recall %.1f %%  F1 %.3f\n",
            IH_GOOD_CONDUCTOR_EV, 100 * cm.accuracy, 100 * cm.precision, 100 * cm.recall, cm.f1);
    fprintf(f, "  confusion (truth rows, prediction columns):   pred good  pred poor\n");
    fprintf(f, "                                   true good   %9d  %9d\n", cm.tp, cm.fn);
    fprintf(f, "                                   true poor   %9d  %9d\n", cm.fp, cm.tn);
    return 0;
}

int cli_training_option(int argc, char **argv, int *i, ih_train_opts *o, double *val_fraction) {
    const char *v;
    long n = 0;
    int r;
    if ((r = cli_take(argc, argv, i, "--val", &v))) {
        if (r < 0 || cli_parse_double("--val", v, 0.0, 0.9, val_fraction)) return -1;
    } else if ((r = cli_take(argc, argv, i, "--epochs", &v))) {
        if (r < 0 || cli_parse_long("--epochs", v, 1, 100000, &n)) return -1;
        o->epochs = (int)n;
    } else if ((r = cli_take(argc, argv, i, "--batch", &v))) {
        if (r < 0 || cli_parse_long("--batch", v, 1, 100000, &n)) return -1;
        o->batch = (int)n;
    } else if ((r = cli_take(argc, argv, i, "--lr", &v))) {
        if (r < 0 || cli_parse_double("--lr", v, 1e-8, 1.0, &o->max_lr)) return -1;
    } else if ((r = cli_take(argc, argv, i, "--wd", &v))) {
        if (r < 0 || cli_parse_double("--wd", v, 0.0, 10.0, &o->weight_decay)) return -1;
    } else if ((r = cli_take(argc, argv, i, "--seed", &v))) {
        if (r < 0 || cli_parse_long("--seed", v, 0, 2147483647L, &n)) return -1;
        o->seed = (uint64_t)n;
    } else if ((r = cli_take(argc, argv, i, "--micro-triplets", &v))) {
        if (r < 0 || cli_parse_long("--micro-triplets", v, 1000, 1L << 30, &n)) return -1;
        o->micro_triplets = n;
    } else if ((r = cli_take(argc, argv, i, "--loss", &v))) {
        if (r < 0 || (strcmp(v, "l1") && strcmp(v, "mse"))) return cli_usage_error("--loss expects l1 or mse"), -1;
        o->loss = strcmp(v, "mse") ? IH_LOSS_L1 : IH_LOSS_MSE;
    }
    return r ? 1 : 0;
}
