/* Fine-tuning a migration-barrier model: members trained from a pre-trained trunk (or from
 * scratch) on host-grouped splits, seed ensembles, and K-fold cross-validation by host that can be
 * resumed after an interruption and keeps its fold models as one ensemble. The command-line tool's
 * `finetune` only parses its options and calls ih_finetune_ensemble / ih_finetune_cross_validate.
 * On several MPI ranks every member is trained data-parallel (ih_train) and every rank holds every
 * model; rank 0 alone writes the files, and a resume reads them on every rank. */
#include "ionhop_train.h"
#include "core/dist.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a progress line to f->log, if there is one */
__attribute__((format(printf, 2, 3))) static void say(const ih_finetune *f, const char *fmt, ...) {
    if (!f->log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f->log, fmt, ap);
    va_end(ap);
}

/* the Em task's scaling before its range is fitted */
static ih_task_scaling em_scaling(const ih_finetune *f) {
    ih_task_scaling sc = {"em", 0, 1, f->log_target};
    return sc;
}

typedef struct keep_best {
    ih_model *best;
} keep_best;

/* the training loop's "save" keeps the best-validation weights in memory */
static int keep_cb(void *ctx, ih_model *m, const char *path, long epoch, const double *val) {
    (void)path, (void)epoch, (void)val;
    keep_best *k = ctx;
    ih_model_copy_matching(k->best, m, NULL, 0);
    return 0;
}

/* Train one member on records pool (split into train/validation by host), best weights kept. */
static ih_model *fit_member(ih_finetune *f, ih_dataset *d, const int *pool, int n_pool, uint64_t seed,
                            ih_task_scaling *sc, double *val_mae, double *seconds) {
    /* split by host among the pool's records: a view holding only their groups */
    int *tr = NULL, *va = NULL, ntr = 0, nva = 0;
    ih_dataset view;
    memset(&view, 0, sizeof view);
    view.n = n_pool;
    view.group = malloc((size_t)n_pool * sizeof *view.group);
    if (!view.group) return ih_set_error("out of memory"), NULL;
    for (int i = 0; i < n_pool; i++) memcpy(view.group[i], d->group[pool[i]], sizeof view.group[i]);
    int rc = ih_split_groups(&view, f->val, seed, &tr, &ntr, &va, &nva);
    free(view.group);
    if (rc != 0) return NULL;
    for (int i = 0; i < ntr; i++) tr[i] = pool[tr[i]];
    for (int i = 0; i < nva; i++) va[i] = pool[va[i]];
    /* min-max scaling of the training part (docs/method.md §5.8) */
    ih_scaling_fit(d, tr, ntr, sc);
    ih_model *m = ih_model_create(&f->cfg, seed);
    ih_model *best = ih_model_create(&f->cfg, seed);
    if (!m || !best) {
        ih_model_free(m), ih_model_free(best);
        free(tr), free(va);
        return NULL;
    }
    if (f->init) {
        ih_model_copy_matching(m, f->init, ih_trunk_prefixes, 5);
        ih_model_copy_matching(best, m, NULL, 0);
    }
    keep_best kb = {best};
    ih_train_opts o = f->o;
    o.seed = seed;
    o.out = "(memory)";
    o.checkpoint = NULL;
    o.save_model = keep_cb;
    o.save_ctx = &kb;
    ih_train_result res;
    rc = ih_train(m, d, tr, ntr, va, nva, sc, &o, &res);
    ih_model_free(m);
    free(tr), free(va);
    if (rc != 0) {
        ih_model_free(best);
        return NULL;
    }
    *val_mae = res.best_val_mae[0];
    *seconds = res.seconds;
    return best;
}

/* member_lo_hi (n × 2) or NULL: each member's own target scaling (cross-validation ensembles) */
static int write_model(ih_finetune *f, const char *out, ih_model **ms, int n, const ih_task_scaling *sc,
                       const double *member_lo_hi, const double *val_mae, double seconds, int n_records) {
    if (ih_dist_rank() != 0) return 0;
    cJSON *tr = cJSON_CreateObject();
    cJSON_AddStringToObject(tr, "data", f->data);
    cJSON_AddStringToObject(tr, "command", f->command);
    cJSON_AddNumberToObject(tr, "n_records", n_records);
    cJSON_AddNumberToObject(tr, "epochs", f->o.epochs);
    cJSON_AddNumberToObject(tr, "batch", f->o.batch);
    cJSON_AddNumberToObject(tr, "max_lr", f->o.max_lr);
    cJSON_AddNumberToObject(tr, "weight_decay", f->o.weight_decay);
    cJSON_AddNumberToObject(tr, "seed", (double)f->o.seed);
    cJSON_AddNumberToObject(tr, "seconds", round(seconds));
    cJSON *vm = cJSON_AddArrayToObject(tr, "member_val_mae");
    for (int k = 0; k < n; k++) cJSON_AddItemToArray(vm, cJSON_CreateNumber(val_mae[k]));
    char *training = cJSON_PrintUnformatted(tr);
    cJSON_Delete(tr);
    ih_model_desc desc = {.sc = sc, .n_tasks = 1, .unit = "eV", .member_lo_hi = member_lo_hi, .n_members = n,
                          .five_image = 1, .arch = f->arch, .init = f->init_path ? f->init_path : "scratch",
                          .training_json = training};
    char *text = training ? ih_model_desc_json(&desc) : NULL;
    int rc = text ? ih_ensemble_save(out, ms, n, text) : -1;
    if (!training) ih_set_error("%s: out of memory", out);
    free(text), free(training);
    return rc;
}

/* Cross-validation progress. After each fold the predictions so far are written (atomically) to
 * CV_OUT.partial, so that --resume after an interruption skips finished folds: each fold's
 * training is seeded by the fold, so a resumed run ends with the same numbers. The key names
 * everything the predictions depend on; a partial file of another run is refused. */
typedef struct cv_state {
    int folds_done;
    double seconds;
    double *pred, *pred_sq, *single;
} cv_state;

static uint64_t cv_key(const ih_finetune *f, long folds, const ih_dataset *d) {
    int n_records = d->n;
    char text[4096];
    snprintf(text, sizeof text,
             "data=%s n=%d arch=%s init=%s epochs=%d batch=%d lr=%.9g wd=%.9g seed=%llu folds=%ld "
             "ensemble=%d val=%.9g loss=%d micro=%ld hidden=%d layers=%d/%d k=%d cutoff=%.9g canonical=%d",
             f->data, n_records, f->arch, f->init_path ? f->init_path : "scratch", f->o.epochs, f->o.batch,
             f->o.max_lr, f->o.weight_decay, (unsigned long long)f->o.seed, folds, f->ensemble, f->val,
             (int)f->o.loss, f->o.micro_triplets, f->cfg.hidden, f->cfg.alignn_layers, f->cfg.gcn_layers,
             f->cfg.neighbors, f->cfg.cutoff, f->cfg.canonical);
    /* appended only when set, so that progress files of host-grouped runs keep their key */
    if (f->by_record) snprintf(text + strlen(text), sizeof text - strlen(text), " groups=record");
    if (f->path_apart)
        snprintf(text + strlen(text), sizeof text - strlen(text), " path_bonds=%s", ih_path_bonds_name(f->path_apart));
    if (f->o.trunk_lr_scale != 1.0)
        snprintf(text + strlen(text), sizeof text - strlen(text), " trunk_lr=%.9g", f->o.trunk_lr_scale);
    if (f->tie_tol != 0) snprintf(text + strlen(text), sizeof text - strlen(text), " tie_tol=%.9g", f->tie_tol);
    if (f->log_target != 0)
        snprintf(text + strlen(text), sizeof text - strlen(text), " log_target=%.9g", f->log_target);
    if (f->o.jitter != 0) snprintf(text + strlen(text), sizeof text - strlen(text), " jitter=%.9g", f->o.jitter);
    if (f->o.micro_structs > 0)
        snprintf(text + strlen(text), sizeof text - strlen(text), " micro_batch=%d", f->o.micro_structs);
    if (f->path_desc) snprintf(text + strlen(text), sizeof text - strlen(text), " path_desc=1");
    if (f->train_fraction != 1)
        snprintf(text + strlen(text), sizeof text - strlen(text), " train_fraction=%.9g", f->train_fraction);
    uint64_t h = ih_fnv1a(IH_FNV1A_START, text, strlen(text));
    /* the records themselves: an edited data file under the same name is another run */
    for (int i = 0; i < d->n; i++) {
        h = ih_fnv1a(h, d->jid[i], strlen(d->jid[i]));
        h = ih_fnv1a(h, &d->targets[i], sizeof d->targets[i]);
        h = ih_fnv1a(h, &d->graphs[i].n_atoms, sizeof d->graphs[i].n_atoms);
        h = ih_fnv1a(h, &d->graphs[i].n_edges, sizeof d->graphs[i].n_edges);
    }
    return h;
}

static int cv_save(const char *path, uint64_t key, const cv_state *st, const int *fold_of, int n) {
    if (ih_dist_rank() != 0) return 0;
    size_t cap = 128 + (size_t)n * 96, len = 0;
    char *buf = malloc(cap);
    if (!buf) return ih_set_error("out of memory");
    len += (size_t)snprintf(buf + len, cap - len, "ionhop cv partial\nkey %016llx\nfolds_done %d seconds %.17g\n",
                            (unsigned long long)key, st->folds_done, st->seconds);
    for (int i = 0; i < n; i++)
        if (fold_of[i] < st->folds_done)
            len += (size_t)snprintf(buf + len, cap - len, "%d %.17g %.17g %.17g\n", i, st->pred[i],
                                    st->pred_sq[i], st->single[i]);
    int rc = ih_write_file_atomic(path, buf, len);
    free(buf);
    return rc;
}

/* 1: resumed from path, 0: no partial file, -1: error (unreadable, damaged or another run's) */
static int cv_load(const char *path, uint64_t key, cv_state *st, const int *fold_of, int n) {
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    unsigned long long k = 0;
    int done = -1, rc = -1;
    double secs = 0;
    if (fscanf(fp, "ionhop cv partial key %llx folds_done %d seconds %lf", &k, &done, &secs) != 3 || done < 0) {
        ih_set_error("%s: not a cross-validation progress file", path);
    } else if (k != key) {
        ih_set_error("%s: written by a different cross-validation run (data, arch or settings differ)", path);
    } else {
        int expect = 0, got = 0, i;
        double a, b, c;
        for (int q = 0; q < n; q++) expect += fold_of[q] < done;
        while (fscanf(fp, "%d %lf %lf %lf", &i, &a, &b, &c) == 4 && i >= 0 && i < n && fold_of[i] < done) {
            st->pred[i] = a, st->pred_sq[i] = b, st->single[i] = c;
            got++;
        }
        if (got != expect || !feof(fp)) {
            ih_set_error("%s: damaged cross-validation progress file", path);
        } else {
            st->folds_done = done, st->seconds = secs;
            rc = 1;
        }
    }
    fclose(fp);
    return rc;
}

/* The fold models of a cross-validation, kept to form an ensemble (--folds K --out MODEL): each
 * fold's members are also saved to MODEL.foldN after the fold, so that --resume can rebuild the
 * ensemble; the final file replaces them. */
static void fold_path(char *buf, size_t cap, const char *out, int fold) {
    snprintf(buf, cap, "%s.fold%d", out, fold + 1);
}

/* members of a finished fold, from its MODEL.foldN file (resuming) */
static int load_fold(const char *path, int M, ih_model **ms, double *lo_hi, double *val_mae) {
    ih_model_set cm;
    if (ih_model_set_load(path, &cm) != 0) return -1;
    if (cm.n_members != M || !cm.member_lo_hi) {
        ih_model_set_free(&cm);
        return ih_set_error("%s: not the %d-member fold model this run needs", path, M);
    }
    cJSON *j = cJSON_Parse(cm.meta);
    const cJSON *vm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "training"), "member_val_mae");
    for (int k = 0; k < M; k++) {
        ms[k] = cm.members[k];
        lo_hi[2 * k] = cm.member_lo_hi[2 * k], lo_hi[2 * k + 1] = cm.member_lo_hi[2 * k + 1];
        const cJSON *v = cJSON_GetArrayItem(vm, k);
        val_mae[k] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    cJSON_Delete(j);
    cm.n_members = 0; /* the models now belong to the caller */
    ih_model_set_free(&cm);
    return 0;
}

/* A cross-validation run: folds, accumulated held-out predictions (cv_state), and the fold
 * models kept for the ensemble file when there is an --out. */
typedef struct cv_run {
    ih_finetune *f;
    ih_dataset *d;
    int n, folds, M;
    const char *out, *cv_out;
    char partial[4200];
    uint64_t key;
    cv_state st;
    int *fold_of, *pool, *held;
    float *out_f;
    size_t KM;               /* folds × members */
    ih_model **keep;         /* KM models (with --out), fold-major */
    double *lo_hi, *val_mae; /* KM × 2, KM: each member's scaling and validation MAE */
    ih_task_scaling all_sc;  /* nominal: each member unscales with its own */
} cv_run;

static void cv_run_free(cv_run *c) {
    for (size_t q = 0; c->keep && q < c->KM; q++) ih_model_free(c->keep[q]);
    free(c->keep), free(c->lo_hi), free(c->val_mae), free(c->fold_of), free(c->pool), free(c->held);
    free(c->st.pred), free(c->st.pred_sq), free(c->st.single), free(c->out_f);
}

static int cv_run_alloc(cv_run *c) {
    size_t n = (size_t)c->n;
    c->KM = (size_t)c->folds * c->M;
    c->fold_of = malloc(n * sizeof *c->fold_of);
    c->pool = malloc(n * sizeof *c->pool);
    c->held = malloc(n * sizeof *c->held);
    c->st.pred = calloc(n, sizeof *c->st.pred);
    c->st.pred_sq = calloc(n, sizeof *c->st.pred_sq);
    c->st.single = calloc(n, sizeof *c->st.single);
    c->out_f = malloc(n * sizeof *c->out_f);
    c->keep = c->out ? calloc(c->KM, sizeof *c->keep) : NULL;
    c->lo_hi = calloc(2 * c->KM, sizeof *c->lo_hi);
    c->val_mae = calloc(c->KM, sizeof *c->val_mae);
    if (!c->fold_of || !c->pool || !c->held || !c->st.pred || !c->st.pred_sq || !c->st.single || !c->out_f ||
        (c->out && !c->keep) || !c->lo_hi || !c->val_mae)
        return ih_set_error("out of memory");
    return 0;
}

/* --resume: the finished folds' predictions from the progress file, their models from MODEL.foldN */
static int cv_resume(cv_run *c) {
    const ih_finetune *f = c->f;
    int got = cv_load(c->partial, c->key, &c->st, c->fold_of, c->n);
    if (got < 0) return -1;
    if (got) say(f, "resuming: %d of %d folds done (%.0f s) in %s\n", c->st.folds_done, c->folds, c->st.seconds, c->partial);
    else say(f, "no %s: starting from the first fold\n", c->partial);
    char fpath[4200];
    for (int fo = 0; c->out && fo < c->st.folds_done; fo++) {
        fold_path(fpath, sizeof fpath, c->out, fo);
        size_t q = (size_t)fo * c->M;
        if (load_fold(fpath, c->M, c->keep + q, c->lo_hi + 2 * q, c->val_mae + q) != 0) return -1;
    }
    return 0;
}

/* Fold fo: M members trained on the other folds (seeds S + 1000·fo + k), their mean predicted for
 * the held-out records; then the fold's model file and the progress file. */
/* MAE of the held-out predictions of fold fo (the ensemble mean; NAN for an empty fold) */
static double fold_mae(const cv_run *c, int fo) {
    double sum = 0;
    int cnt = 0;
    for (int i = 0; i < c->n; i++)
        if (c->fold_of[i] == fo) sum += fabs(c->st.pred[i] - c->d->targets[i]), cnt++;
    return cnt ? sum / cnt : NAN;
}

static int cv_fold(cv_run *c, int fo) {
    ih_finetune *f = c->f;
    ih_dataset *d = c->d;
    int M = c->M, np = 0, nh = 0, rc = 0;
    double tf = ih_now();
    for (int i = 0; i < c->n; i++) {
        if (c->fold_of[i] == fo) c->held[nh++] = i;
        else c->pool[np++] = i;
    }
    if (f->train_fraction < 1) {
        /* its own seed stream: member seeds are S + 1000·fold + k with k < 100 */
        int n_all = np;
        if (ih_subsample_groups(d, c->pool, n_all, f->train_fraction, f->o.seed + 1000 * fo + 999, c->pool, &np) != 0)
            return -1;
        say(f, "fold %d/%d: %d train+val (--train-fraction %g of %d), %d held out\n", fo + 1, c->folds, np,
               f->train_fraction, n_all, nh);
    } else {
        say(f, "fold %d/%d: %d train+val, %d held out\n", fo + 1, c->folds, np, nh);
    }
    for (int k = 0; k < M && rc == 0; k++) {
        double s1;
        size_t q0 = (size_t)fo * M + k;
        ih_task_scaling sc = em_scaling(f);
        ih_model *m = fit_member(f, d, c->pool, np, f->o.seed + 1000 * fo + k, &sc, &c->val_mae[q0], &s1);
        if (!m || ih_dataset_reserve_eval(m, d, IH_PREDICT_BATCH, f->o.micro_triplets) != 0 ||
            ih_predict_dataset(m, d, c->held, nh, IH_PREDICT_BATCH, f->o.micro_triplets, c->out_f) != 0) {
            rc = -1;
        } else {
            for (int q = 0; q < nh; q++) {
                double y = ih_unscale(&sc, c->out_f[q]);
                c->st.pred[c->held[q]] += y / M;
                c->st.pred_sq[c->held[q]] += y * y / M;
                if (k == 0) c->st.single[c->held[q]] = y;
            }
            c->lo_hi[2 * q0] = sc.lo, c->lo_hi[2 * q0 + 1] = sc.hi;
            if (c->keep) { /* a copy without the arenas */
                c->keep[q0] = ih_model_create(&f->cfg, 1);
                if (!c->keep[q0] || ih_model_copy_matching(c->keep[q0], m, NULL, 0) < 0) rc = -1;
            }
        }
        ih_model_free(m);
    }
    if (rc == 0 && c->keep) {
        char fpath[4200];
        size_t q = (size_t)fo * M;
        fold_path(fpath, sizeof fpath, c->out, fo);
        rc = write_model(f, fpath, c->keep + q, M, &c->all_sc, c->lo_hi + 2 * q, c->val_mae + q, ih_now() - tf, np);
    }
    if (rc == 0) { /* per fold, so that a run stopped early still says how its folds went */
        double seconds = ih_now() - tf;
        say(f, "fold %d/%d: held-out MAE %.3f eV (%d records), %.0f s\n", fo + 1, c->folds, fold_mae(c, fo), nh,
               seconds);
        c->st.folds_done = fo + 1;
        c->st.seconds += seconds;
        rc = cv_save(c->partial, c->key, &c->st, c->fold_of, c->n);
    }
    return rc;
}

/* every record's held-out prediction, ensemble spread and first member's, as CSV */
static int cv_write_csv(const cv_run *c) {
    const ih_finetune *f = c->f;
    if (ih_dist_rank() != 0) return 0;
    const ih_dataset *d = c->d;
    size_t cap = 128 + (size_t)c->n * 160, len = 0;
    char *csv = malloc(cap);
    if (!csv) return ih_set_error("out of memory");
    len += (size_t)snprintf(csv + len, cap - len, "jid,fold,target,prediction,spread,single\n");
    for (int i = 0; i < c->n; i++) {
        double var = c->st.pred_sq[i] - c->st.pred[i] * c->st.pred[i];
        len += (size_t)snprintf(csv + len, cap - len, "%s,%d,%.6g,%.6f,%.6f,%.6f\n", d->jid[i], c->fold_of[i] + 1,
                                d->targets[i], c->st.pred[i], var > 0 ? sqrt(var) : 0, c->st.single[i]);
    }
    int rc = ih_write_file_atomic(c->cv_out, csv, len);
    free(csv);
    if (rc == 0) say(f, "cross-validated predictions -> %s\n", c->cv_out);
    return rc;
}

/* All folds done: the metrics, the CSV, the fold models as one ensemble; progress files removed. */
static int cv_finish(cv_run *c) {
    const ih_finetune *f = c->f;
    int n = c->n, rc = 0;
    double *truth = malloc((size_t)n * sizeof *truth);
    if (!truth) return ih_set_error("out of memory");
    for (int i = 0; i < n; i++) truth[i] = c->d->targets[i];
    say(f, "\n%d-fold %s cross-validation, %d records, %.0f s of training and prediction\n", c->folds,
           c->f->by_record ? "record-split" : "grouped", n, c->st.seconds);
    if (c->M > 1 && f->log) ih_metrics_print(f->log, truth, c->st.single, n, "single model (seed S)");
    if (f->log) ih_metrics_print(f->log, truth, c->st.pred, n, c->M > 1 ? "ensemble mean" : "cross-validated");
    say(f, "  MAE per fold (eV):");
    for (int fo = 0; fo < c->folds; fo++) say(f, " %.3f", fold_mae(c, fo));
    say(f, "\n");
    free(truth);
    rc = cv_write_csv(c);
    if (rc == 0 && c->keep) {
        rc = write_model(c->f, c->out, c->keep, (int)c->KM, &c->all_sc, c->lo_hi, c->val_mae, c->st.seconds, n);
        if (rc == 0) say(f, "the %zu fold models (each trained without its fold) as one ensemble -> %s\n", c->KM, c->out);
    }
    if (rc == 0 && ih_dist_rank() == 0) {
        char fpath[4200];
        remove(c->partial);
        for (int fo = 0; c->keep && fo < c->folds; fo++) fold_path(fpath, sizeof fpath, c->out, fo), remove(fpath);
    }
    return rc;
}

int ih_finetune_cross_validate(ih_finetune *f, ih_dataset *d, int folds, const char *out, const char *cv_out,
                                int resume, int stop_after_fold) {
    char path[4096];
    if (!cv_out) snprintf(path, sizeof path, "%s.cv.csv", out ? out : "finetune"), cv_out = path;
    cv_run c = {.f = f, .d = d, .n = d->n, .folds = folds, .M = f->ensemble, .out = out, .cv_out = cv_out,
                .all_sc = em_scaling(f)};
    snprintf(c.partial, sizeof c.partial, "%s.partial", cv_out);
    int rc = cv_run_alloc(&c);
    if (rc == 0) {
        c.key = cv_key(f, folds, d);
        ih_scaling_fit(d, NULL, c.n, &c.all_sc);
        rc = ih_group_folds(d, folds, f->o.seed, c.fold_of);
    }
    if (rc == 0 && resume) rc = cv_resume(&c);
    for (int fo = c.st.folds_done; fo < folds && rc == 0; fo++) {
        if (stop_after_fold && fo >= stop_after_fold) {
            say(f, "stopped after fold %d (--stop-after-fold); continue with --resume\n", stop_after_fold);
            break;
        }
        rc = cv_fold(&c, fo);
    }
    if (rc == 0 && c.st.folds_done == folds) rc = cv_finish(&c);
    if (rc == 0 && c.st.folds_done == folds) f->cv_finished = 1;
    cv_run_free(&c);
    return rc;
}

/* the records with the graphs the arch reads; every one must be a labelled 5-image path */
int ih_finetune_load_records(ih_finetune *f, ih_dataset *d) {
    ih_graph_opts go;
    ih_model_set_graph_opts(&f->cfg, &go);
    double t0 = ih_now();
    if (ih_dataset_load_input(d, &f->data, 1, &go, ih_arch_input(f->cfg.arch), 0, NULL) != 0) return -1;
    for (int i = 0; i < d->n; i++)
        if (!d->five_image[i] || d->mask[i] == 0.0f) {
            ih_set_error("%s: record %d (jid %s) is not a labelled 5-image path structure", f->data, i + 1,
                         d->jid[i]);
            ih_dataset_free(d);
            return -1;
        } else if (f->log_target > 0 && !(d->targets[i] + f->log_target > 0)) {
            ih_set_error("%s: record %d (jid %s) has target %g, below -%g: --log-target needs Em + C > 0", f->data,
                         i + 1, d->jid[i], d->targets[i], f->log_target);
            ih_dataset_free(d);
            return -1;
        }
    if (f->by_record) ih_dataset_group_by_record(d);
    say(f, "%s: %d records, graphs in %.1f s; %s, %s, hidden %d, %s edges%s\n", f->data, d->n, ih_now() - t0,
           f->arch, f->init_path ? f->init_path : "SCRATCH", f->cfg.hidden, f->cfg.canonical ? "canonical" : "full",
           f->by_record ? "; split by record, not by host" : "");
    return 0;
}

/* --ensemble M on every record (no held-out fold): M members from seeds S..S+M-1 -> out */
int ih_finetune_ensemble(ih_finetune *f, ih_dataset *d, const char *out) {
    double t0 = ih_now();
    int M = f->ensemble, rc = 0;
    ih_model **members = calloc((size_t)M, sizeof *members);
    double *val_mae = calloc((size_t)M, sizeof *val_mae);
    int *all = malloc((size_t)d->n * sizeof *all);
    if (!members || !val_mae || !all) rc = ih_set_error("out of memory");
    ih_task_scaling sc = em_scaling(f);
    double secs = 0, s1;
    for (int i = 0; rc == 0 && i < d->n; i++) all[i] = i;
    for (int k = 0; k < M && rc == 0; k++) {
        say(f, "member %d/%d (seed %llu)\n", k + 1, M, (unsigned long long)(f->o.seed + k));
        members[k] = fit_member(f, d, all, d->n, f->o.seed + k, &sc, &val_mae[k], &s1);
        secs += s1;
        if (!members[k]) rc = -1;
    }
    if (rc == 0) rc = write_model(f, out, members, M, &sc, NULL, val_mae, secs, d->n);
    if (rc == 0) say(f, "done in %.0f s -> %s\n", ih_now() - t0, out);
    for (int k = 0; members && k < M; k++) ih_model_free(members[k]);
    free(members), free(val_mae), free(all);
    return rc;
}

