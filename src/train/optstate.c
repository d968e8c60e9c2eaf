/* Optimiser state for resuming training, stored as a safetensors file: the AdamW moments as
 * tensors, every scalar as a metadata string (safetensors metadata values are strings). Doubles
 * use %.17g and the RNG words hex, so a load restores the exact state. */
#include "ionhop_train.h"
#include "core/util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPTSTATE_FORMAT "ionhop-optimizer-state"

enum { K_FORMAT, K_STEP, K_WD, K_BETA2, K_EPS, K_TOTAL, K_MAXLR, K_PCT, K_DIV, K_FDIV, K_BMOM,
       K_MMOM, K_SSTEP, K_EPOCH, K_BEST, K_BEST_EPOCH, K_RNG, K_EXTRA, K_N };

static const char *const keys[K_N] = {
    "format",          "adam.step",          "adam.weight_decay",       "adam.beta2",
    "adam.eps",        "sched.total_steps",  "sched.max_lr",            "sched.pct_start",
    "sched.div_factor", "sched.final_div_factor", "sched.base_momentum", "sched.max_momentum",
    "sched.step",      "train.epoch",        "train.best_val",          "train.best_epoch",
    "rng",             "ionhop"};

/* The state file with, when model is given, the network's parameters and buffers in it too
 * ("model.params", "model.buffers"): one file renamed into place holds everything a resume needs,
 * so no kill can leave weights of one epoch beside an optimiser of another. */
static int save_state(const char *path, const ih_adamw *o, const ih_train_state *ts, const char *extra_json,
                      ih_model *model) {
    if (!o->m || !o->v || o->n == 0) return ih_set_error("%s: optimiser not initialised", path);
    if (o->n > (size_t)INT64_MAX) return ih_set_error("%s: too many parameters", path);
    char val[K_N][96];
    const ih_onecycle *s = &ts->sched;
    snprintf(val[K_FORMAT], sizeof val[0], "%s", OPTSTATE_FORMAT);
    snprintf(val[K_STEP], sizeof val[0], "%ld", o->step);
    snprintf(val[K_WD], sizeof val[0], "%.17g", o->weight_decay);
    snprintf(val[K_BETA2], sizeof val[0], "%.17g", o->beta2);
    snprintf(val[K_EPS], sizeof val[0], "%.17g", o->eps);
    snprintf(val[K_TOTAL], sizeof val[0], "%ld", s->total_steps);
    snprintf(val[K_MAXLR], sizeof val[0], "%.17g", s->max_lr);
    snprintf(val[K_PCT], sizeof val[0], "%.17g", s->pct_start);
    snprintf(val[K_DIV], sizeof val[0], "%.17g", s->div_factor);
    snprintf(val[K_FDIV], sizeof val[0], "%.17g", s->final_div_factor);
    snprintf(val[K_BMOM], sizeof val[0], "%.17g", s->base_momentum);
    snprintf(val[K_MMOM], sizeof val[0], "%.17g", s->max_momentum);
    snprintf(val[K_SSTEP], sizeof val[0], "%ld", ts->sched_step);
    snprintf(val[K_EPOCH], sizeof val[0], "%ld", ts->epoch);
    snprintf(val[K_BEST], sizeof val[0], "%.17g", ts->best_val);
    snprintf(val[K_BEST_EPOCH], sizeof val[0], "%ld", ts->best_epoch);
    snprintf(val[K_RNG], sizeof val[0], "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64,
             ts->rng.s[0], ts->rng.s[1], ts->rng.s[2], ts->rng.s[3]);
    ih_st_kv meta[K_N];
    int n_meta = 0;
    for (int k = 0; k < K_EXTRA; k++) meta[n_meta++] = (ih_st_kv){keys[k], val[k]};
    if (extra_json) meta[n_meta++] = (ih_st_kv){keys[K_EXTRA], extra_json};
    ih_st_tensor t[4] = {{.name = "adam.m", .ndim = 1, .shape = {(int64_t)o->n}, .data = o->m},
                         {.name = "adam.v", .ndim = 1, .shape = {(int64_t)o->n}, .data = o->v}};
    int n_t = 2;
    if (model) {
        t[n_t++] = (ih_st_tensor){.name = "model.params", .ndim = 1, .shape = {(int64_t)ih_model_n_params(model)},
                                  .data = ih_model_params(model)};
        if (ih_model_n_buffers(model) > 0)
            t[n_t++] = (ih_st_tensor){.name = "model.buffers", .ndim = 1,
                                      .shape = {(int64_t)ih_model_n_buffers(model)}, .data = ih_model_buffers(model)};
    }
    return ih_st_write(path, t, n_t, meta, n_meta);
}

int ih_adamw_save(const char *path, const ih_adamw *o, const ih_train_state *ts, const char *extra_json) {
    return save_state(path, o, ts, extra_json, NULL);
}

int ih_checkpoint_save(const char *path, const ih_adamw *o, const ih_train_state *ts, ih_model *m,
                       const char *run_json) {
    return save_state(path, o, ts, run_json, m);
}

static int get_str(const ih_st_file *f, const char *path, int k, const char **out) {
    *out = ih_st_meta_get(f, keys[k]);
    if (!*out) return ih_set_error("%s: optimizer state lacks \"%s\"", path, keys[k]);
    return 0;
}

static int get_long(const ih_st_file *f, const char *path, int k, long *out) {
    const char *s;
    if (get_str(f, path, k, &s) != 0) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) return ih_set_error("%s: \"%s\" = \"%.32s\" is not an integer", path, keys[k], s);
    *out = v;
    return 0;
}

static int get_double(const ih_st_file *f, const char *path, int k, double *out) {
    const char *s;
    if (get_str(f, path, k, &s) != 0) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || isnan(v))
        return ih_set_error("%s: \"%s\" = \"%.32s\" is not a number", path, keys[k], s);
    *out = v;
    return 0;
}

static int get_rng(const ih_st_file *f, const char *path, ih_rng *r) {
    const char *s;
    if (get_str(f, path, K_RNG, &s) != 0) return -1;
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        char *end;
        errno = 0;
        unsigned long long w = strtoull(p, &end, 16);
        if (errno || end == p || (*end && *end != ' '))
            return ih_set_error("%s: \"rng\" must be four hexadecimal words", path);
        r->s[i] = (uint64_t)w;
        p = end;
    }
    if (*p) return ih_set_error("%s: \"rng\" must be four hexadecimal words", path);
    return 0;
}

static int load_scalars(const ih_st_file *f, const char *path, ih_adamw *o, ih_train_state *ts) {
    const char *fmt;
    if (get_str(f, path, K_FORMAT, &fmt) != 0) return -1;
    if (strcmp(fmt, OPTSTATE_FORMAT) != 0)
        return ih_set_error("%s: not an optimizer-state file (format \"%.40s\")", path, fmt);
    ih_onecycle *s = &ts->sched;
    if (get_long(f, path, K_STEP, &o->step) || get_double(f, path, K_WD, &o->weight_decay) ||
        get_double(f, path, K_BETA2, &o->beta2) || get_double(f, path, K_EPS, &o->eps) ||
        get_long(f, path, K_TOTAL, &s->total_steps) || get_double(f, path, K_MAXLR, &s->max_lr) ||
        get_double(f, path, K_PCT, &s->pct_start) || get_double(f, path, K_DIV, &s->div_factor) ||
        get_double(f, path, K_FDIV, &s->final_div_factor) ||
        get_double(f, path, K_BMOM, &s->base_momentum) ||
        get_double(f, path, K_MMOM, &s->max_momentum) ||
        get_long(f, path, K_SSTEP, &ts->sched_step) || get_long(f, path, K_EPOCH, &ts->epoch) ||
        get_double(f, path, K_BEST, &ts->best_val) ||
        get_long(f, path, K_BEST_EPOCH, &ts->best_epoch) || get_rng(f, path, &ts->rng))
        return -1;
    if (o->step < 0 || ts->sched_step < 0 || ts->epoch < 0)
        return ih_set_error("%s: negative step or epoch count", path);
    if (!(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps > 0) || !(o->weight_decay >= 0))
        return ih_set_error("%s: invalid AdamW hyper-parameters", path);
    return 0;
}

static int load_state(const char *path, ih_adamw *o, ih_train_state *ts, size_t expect_n, ih_model *model,
                      char **run_json) {
    memset(o, 0, sizeof *o);
    if (run_json) *run_json = NULL;
    ih_st_file f;
    if (ih_st_read(path, &f) != 0) return -1;
    ih_adamw tmp = {0};
    ih_train_state st;
    memset(&st, 0, sizeof st);
    int rc = -1;
    const ih_st_entry *m = ih_st_find(&f, "adam.m"), *v = ih_st_find(&f, "adam.v");
    if (load_scalars(&f, path, &tmp, &st) != 0) goto done;
    if (!m || !v) {
        ih_set_error("%s: optimizer state lacks tensor \"%s\"", path, m ? "adam.v" : "adam.m");
        goto done;
    }
    if (m->ndim != 1 || v->ndim != 1 || m->count != v->count || m->count == 0) {
        ih_set_error("%s: \"adam.m\" and \"adam.v\" must be vectors of one non-zero length", path);
        goto done;
    }
    if (expect_n > 0 && m->count != expect_n) {
        ih_set_error("%s: optimizer state is for %zu parameters, the model has %zu", path, m->count,
                     expect_n);
        goto done;
    }
    if (model) {
        const ih_st_entry *pw = ih_st_find(&f, "model.params"), *pb = ih_st_find(&f, "model.buffers");
        size_t nb = ih_model_n_buffers(model);
        if (!pw || pw->count != ih_model_n_params(model) || (nb && (!pb || pb->count != nb))) {
            ih_set_error("%s: the checkpoint holds no weights of this model's size", path);
            goto done;
        }
        memcpy(ih_model_params(model), pw->data, pw->count * sizeof(float));
        if (nb) memcpy(ih_model_buffers(model), pb->data, nb * sizeof(float));
    }
    if (ih_adamw_init(o, m->count, tmp.weight_decay) != 0) goto done;
    memcpy(o->m, m->data, m->count * sizeof(float));
    memcpy(o->v, v->data, v->count * sizeof(float));
    o->step = tmp.step;
    o->beta2 = tmp.beta2;
    o->eps = tmp.eps;
    *ts = st;
    if (run_json) {
        const char *r = ih_st_meta_get(&f, keys[K_EXTRA]);
        *run_json = r ? strdup(r) : NULL;
    }
    rc = 0;
done:
    ih_st_free(&f);
    return rc;
}

int ih_adamw_load(const char *path, ih_adamw *o, ih_train_state *ts, size_t expect_n) {
    return load_state(path, o, ts, expect_n, NULL, NULL);
}

int ih_checkpoint_load(const char *path, ih_adamw *o, ih_train_state *ts, ih_model *m, char **run_json) {
    return load_state(path, o, ts, ih_model_n_params(m), m, run_json);
}
