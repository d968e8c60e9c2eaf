/* ionhop train: a single-target model from scratch on any record file.
 * ionhop pretrain: one trunk with a head per named task (multi-property pre-training, docs/method.md §6);
 * each record trains its own task's head only (masked L1). */
#include "cli.h"
#include "core/dist.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage_pretrain(FILE *f) {
    fprintf(f,
            "usage: ionhop pretrain --task NAME=FILE.json [--task NAME=FILE.json ...] --out MODEL [options]\n"
            "  targets are used as given (the shared pre-training files are scaled to [-1, 1])\n"
            "  --val FRACTION (0.1)  --epochs N (30)  --batch B (16)  --lr MAX_LR (1e-3)  --wd (0.01)\n"
            "  --seed S (123)  --micro-triplets N  --micro-batch S  --cache DIR (graph cache; default beside the data\n"
            "  or ~/.cache/ionhop)  --resume [CHECKPOINT] (default MODEL.ckpt)\n"
            "  --hidden H (64) --alignn-layers A (4) --gcn-layers G (4) --neighbors K (12) --cutoff R (8)\n"
            "  --edges full|canonical (canonical) --head-hidden 1|2 (2) --tie-tol A (0; see ionhop finetune --help)\n"
            "  (the bundled models' size; the published network is --hidden 256 --edges full)\n"
            "  --only NAME        a single-task trunk on NAME's records, split into train/validation\n"
            "                     exactly as the run with all the --task files (same seed) splits them\n"
            "Prints one line per epoch with the validation MAE of every task.\n");
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: ionhop train --data FILE.json --out MODEL [options]\n"
            "  --val FRACTION     validation share, split by host (sys_name without _N) (0.1)\n"
            "  --epochs N (100)  --batch B (16)  --lr MAX_LR (1e-3)  --wd DECAY (0.01)\n"
            "  --seed S (123)  --loss l1|mse (l1)  --micro-triplets N (1048576)\n"
            "  --micro-batch S    at most S records per micro-batch (a fixed split: runs on different\n"
            "                     numbers of MPI ranks then give the same model to rounding)\n"
            "  --resume [CKPT]    continue from the checkpoint (MODEL.ckpt) after an interruption\n"
            "  --cache DIR        graph cache directory (default: beside the data, else ~/.cache/ionhop)\n"
            "  --hidden H (64) --alignn-layers A (4) --gcn-layers G (4) --neighbors K (12)\n"
            "  --cutoff R (8) --edges full|canonical (canonical) --tie-tol A (0; see ionhop finetune --help)\n"
            "  The defaults are the bundled models' size; the published network is --hidden 256 --edges full\n"
            "  (peak memory for 60 Em records: about 12 GB, against 1.4 GB at the defaults).\n"
            "Prints one line per epoch; MODEL holds the best-validation weights; the checkpoint\n"
            "(MODEL.ckpt.*) is removed when the run finishes.\n");
}

typedef struct save_ctx {
    const char *data;
    const char *arch;
    const ih_task_scaling *sc;
    int five_image, n_train, n_val;
    double t0;
    const ih_train_opts *o;
    const char *command;
} save_ctx;

static int save_model(void *vctx, ih_model *m, const char *path, long epoch, const double *val_mae) {
    save_ctx *c = vctx;
    if (ih_dist_rank() != 0) return 0; /* several ranks hold the same model: rank 0 writes it */
    int P = ih_model_config(m)->n_outputs;
    cJSON *tr = cJSON_CreateObject();
    cJSON_AddStringToObject(tr, "data", c->data);
    cJSON_AddStringToObject(tr, "command", c->command);
    cJSON_AddNumberToObject(tr, "n_train", c->n_train);
    cJSON_AddNumberToObject(tr, "n_val", c->n_val);
    cJSON_AddNumberToObject(tr, "epoch", (double)epoch);
    cJSON_AddNumberToObject(tr, "epochs", c->o->epochs);
    cJSON_AddNumberToObject(tr, "batch", c->o->batch);
    cJSON_AddNumberToObject(tr, "max_lr", c->o->max_lr);
    cJSON_AddNumberToObject(tr, "weight_decay", c->o->weight_decay);
    cJSON_AddNumberToObject(tr, "seed", (double)c->o->seed);
    cJSON_AddStringToObject(tr, "loss", c->o->loss == IH_LOSS_MSE ? "mse" : "l1");
    if (val_mae) {
        cJSON *vm = cJSON_AddObjectToObject(tr, "val_mae");
        for (int p = 0; p < P; p++) cJSON_AddNumberToObject(vm, c->sc[p].name, isfinite(val_mae[p]) ? val_mae[p] : -1);
    }
    cJSON_AddNumberToObject(tr, "seconds", round(ih_now() - c->t0));
    char *training = cJSON_PrintUnformatted(tr);
    cJSON_Delete(tr);
    /* the tasks as trained: plain min-max scaling, no unit */
    ih_task_scaling sc[IH_MAX_TASKS];
    for (int p = 0; p < P; p++) sc[p] = c->sc[p], sc[p].log_offset = 0;
    ih_model_desc desc = {.sc = sc, .n_tasks = P, .five_image = c->five_image, .arch = c->arch,
                          .training_json = training};
    char *text = training ? ih_model_desc_json(&desc) : NULL;
    int rc = text ? ih_model_save(path, m, text) : -1;
    if (!training) ih_set_error("%s: out of memory", path);
    free(text), free(training);
    return rc;
}

/* Graph cache: beside the data where that is writable, else ~/.cache/ionhop. */
static const char *default_cache(const char *data, char *buf, size_t cap) {
    const char *slash = strrchr(data, '/');
    if (slash) snprintf(buf, cap, "%.*s", (int)(slash - data), data);
    else snprintf(buf, cap, ".");
    if (access(buf, W_OK) == 0) return buf;
    const char *home = getenv("HOME");
    if (!home) return NULL;
    snprintf(buf, cap, "%s/.cache", home);
    mkdir(buf, 0755);
    snprintf(buf, cap, "%s/.cache/ionhop", home);
    mkdir(buf, 0755);
    return access(buf, W_OK) == 0 ? buf : NULL;
}

/* what train / pretrain were asked for */
typedef struct {
    int pretrain;
    const char *data, *out, *resume_from, *cache, *only;
    const char *task_paths[IH_MAX_TASKS];
    ih_task_scaling sc[IH_MAX_TASKS];
    int n_tasks, only_task;
    double val;
    ih_config cfg;
    ih_train_opts o;
} run_args;

/* --task NAME=FILE.json (pretrain); targets used as given, nominal scaling [-1, 1] */
static int add_task(run_args *a, const char *v) {
    const char *eq = v ? strchr(v, '=') : NULL;
    if (!eq || eq == v || !eq[1] || eq - v >= (long)sizeof a->sc[0].name)
        return cli_usage_error("--task expects NAME=FILE.json");
    if (a->n_tasks == IH_MAX_TASKS) return cli_usage_error("at most %d tasks", IH_MAX_TASKS);
    ih_task_scaling *t = &a->sc[a->n_tasks];
    snprintf(t->name, sizeof t->name, "%.*s", (int)(eq - v), v);
    t->lo = -1.0, t->hi = 1.0;
    a->task_paths[a->n_tasks++] = eq + 1;
    return 0;
}

/* the tasks named and --only checked; train: one task "target" from --data */
static int check_tasks(run_args *a) {
    void (*use)(FILE *) = a->pretrain ? usage_pretrain : usage;
    if (a->pretrain ? (a->n_tasks == 0 || !a->out) : (!a->data || !a->out)) {
        use(stderr);
        return cli_usage_error(a->pretrain ? "pretrain needs --task NAME=FILE (one or more) and --out"
                                           : "train needs --data and --out");
    }
    if (!a->pretrain) {
        a->task_paths[0] = a->data;
        a->n_tasks = 1;
        snprintf(a->sc[0].name, sizeof a->sc[0].name, "target");
    }
    for (int p = 0; p < a->n_tasks; p++)
        for (int q = 0; q < p; q++)
            if (!strcmp(a->sc[p].name, a->sc[q].name)) return cli_usage_error("task '%s' given twice", a->sc[p].name);
    a->only_task = -1;
    for (int p = 0; a->only && p < a->n_tasks; p++)
        if (!strcmp(a->sc[p].name, a->only)) a->only_task = p;
    if (a->only && a->only_task < 0) return cli_usage_error("--only %s: no --task of that name", a->only);
    return 0;
}

/* -1: go on; otherwise the exit status (0 after --help) */
static int parse_args(int argc, char **argv, run_args *a) {
    void (*use)(FILE *) = a->pretrain ? usage_pretrain : usage;
    const char *v;
    for (int i = 1; i < argc; i++) {
        int r = cli_config_flag(argc, argv, &i, &a->cfg);
        if (r == 2) return 2;
        if (r == 1) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            use(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--resume")) {
            a->o.resume = 1;
            if (i + 1 < argc && argv[i + 1][0] != '-') a->resume_from = argv[++i];
        } else if (a->pretrain && (r = cli_take(argc, argv, &i, "--task", &v))) {
            if (add_task(a, r > 0 ? v : NULL) != 0) return 2;
        } else if (a->pretrain && (r = cli_take(argc, argv, &i, "--only", &a->only))) {
            if (r < 0) return cli_usage_error("--only needs a task name");
        } else if ((r = cli_take(argc, argv, &i, "--cache", &a->cache))) {
            if (r < 0) return cli_usage_error("--cache needs a directory");
        } else if (!a->pretrain && (r = cli_take(argc, argv, &i, "--data", &a->data))) {
            if (r < 0) return cli_usage_error("--data needs a file");
        } else if ((r = cli_take(argc, argv, &i, "--out", &a->out))) {
            if (r < 0) return cli_usage_error("--out needs a file");
        } else if ((r = cli_training_option(argc, argv, &i, &a->o, &a->val))) {
            if (r < 0) return 2;
        } else {
            use(stderr);
            return cli_usage_error("unknown option '%s'", argv[i]);
        }
    }
    if (check_tasks(a) != 0) return 2;
    return ih_config_check(&a->cfg) != 0 ? cli_fail() : -1;
}

/* train: min-max scaling from the training part (docs/method.md §5.8); both: what the split holds */
static int report_split(run_args *a, const ih_dataset *d, const int *tr, int ntr, int nva, double t0) {
    if (a->pretrain) {
        printf("%d tasks, %d records (%d train, %d validation), graphs in %.1f s (%d of %d files cached)\n",
               a->n_tasks, d->n, ntr, nva, ih_now() - t0, d->from_cache, a->n_tasks);
        for (int p = 0; p < a->n_tasks; p++) {
            int cnt = 0;
            for (int i = 0; i < d->n; i++) cnt += d->mask[(size_t)i * a->n_tasks + p] != 0.0f;
            printf("  task %-6s %6d records  %s\n", a->sc[p].name, cnt, a->task_paths[p]);
        }
        return 0;
    }
    int labelled = ih_scaling_fit(d, tr, ntr, &a->sc[0]);
    if (labelled < 2 || !(a->sc[0].hi > a->sc[0].lo))
        return cli_usage_error("%s: need at least two distinct training targets", a->data);
    printf("%s: %d records (%d train, %d validation, split by host), graphs in %.1f s%s; "
           "targets %.4g..%.4g\n",
           a->data, d->n, ntr, nva, ih_now() - t0, d->from_cache ? " (cached)" : "", a->sc[0].lo, a->sc[0].hi);
    return 0;
}

/* --only: the multi-task split, restricted to the task's own records */
static void keep_only_task(run_args *a, ih_dataset *d, int *tr, int *ntr, int *va, int *nva) {
    int P = a->n_tasks, t = a->only_task, kt = 0, kv = 0;
    for (int k = 0; k < *ntr; k++)
        if (d->mask[(size_t)tr[k] * P + t] != 0.0f) tr[kt++] = tr[k];
    for (int k = 0; k < *nva; k++)
        if (d->mask[(size_t)va[k] * P + t] != 0.0f) va[kv++] = va[k];
    printf("--only %s: %d train and %d validation records of the %d-task split\n", a->only, kt, kv, P);
    *ntr = kt, *nva = kv;
    ih_dataset_keep_task(d, t);
    a->sc[0] = a->sc[t];
    a->task_paths[0] = a->task_paths[t];
    a->n_tasks = 1;
}

/* the model trained, its best-validation weights saved to --out (checkpoints beside it) */
static int train_model(run_args *a, int argc, char **argv, ih_dataset *d, const int *tr, int ntr, const int *va,
                       int nva, double t0) {
    int five = 1;
    for (int i = 0; i < d->n && five; i++) five = d->graphs[i].n_atoms >= 6 && d->five_image[i];
    a->cfg.n_outputs = a->n_tasks;
    ih_model *m = ih_model_create(&a->cfg, a->o.seed);
    if (!m) return -1;
    const ih_config *cfg = &a->cfg;
    printf("model: hidden %d, %d ALIGNN + %d GCN layers, %s edges, %zu parameters\n", cfg->hidden,
           cfg->alignn_layers, cfg->gcn_layers, cfg->canonical ? "canonical" : "full", ih_model_n_params(m));
    char command[2048] = "ionhop";
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(command);
        snprintf(command + len, sizeof command - len, " %s", argv[i]);
    }
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s", a->resume_from ? a->resume_from : a->out);
    if (!a->resume_from) snprintf(ckpt + strlen(ckpt), sizeof ckpt - strlen(ckpt), ".ckpt");
    char data_desc[4096] = "";
    for (int p = 0; p < a->n_tasks; p++)
        snprintf(data_desc + strlen(data_desc), sizeof data_desc - strlen(data_desc), "%s%s", p ? " " : "",
                 a->task_paths[p]);
    ih_train_opts o = a->o;
    save_ctx ctx = {data_desc, a->pretrain ? "mpt" : "single", a->sc, five && !a->pretrain, ntr, nva, t0, &o, command};
    o.out = a->out;
    o.checkpoint = ckpt;
    o.save_model = save_model;
    o.save_ctx = &ctx;
    ih_train_result res;
    int rc = ih_train(m, d, tr, ntr, va, nva, a->sc, &o, &res);
    if (rc == 0 && nva == 0) {
        printf("done: %d epochs in %.0f s; no validation part: the last epoch's weights -> %s\n", res.epochs,
               res.seconds, a->out);
    } else if (rc == 0 && isnan(res.best_val_mae[0])) {
        /* resumed, and no epoch of this run beat the interrupted run's best: its figures are in
         * that run's log, not here */
        printf("done: %d epochs in %.0f s; best validation at epoch %d, before the resume (its MAE is in the "
               "interrupted run's log) -> %s\n", res.epochs, res.seconds, res.best_epoch, a->out);
    } else if (rc == 0) {
        printf("done: %d epochs in %.0f s; best validation at epoch %d, MAE", res.epochs, res.seconds, res.best_epoch);
        for (int p = 0; p < a->n_tasks; p++) printf(" %s %.4f", a->sc[p].name, res.best_val_mae[p]);
        printf(" -> %s\n", a->out);
    }
    ih_model_free(m);
    return rc;
}

static int run_locked(run_args *ap, int argc, char **argv);

static int run(int argc, char **argv, int pretrain) {
    cli_tune_malloc();
    run_args a;
    memset(&a, 0, sizeof a);
    a.pretrain = pretrain;
    a.val = 0.1;
    ih_config_default(&a.cfg);
    /* From scratch, the tool defaults to the bundled models' size (hidden 64, canonical edges:
     * what the shipped models and their cross-validations use, and what fits a laptop), not the
     * paper's hidden 256 with full edges, which needs ~12 GB for 60 records (1.4 GB and 2.2 s per
     * epoch at the defaults on the 2-core machine of bench/README.md); --hidden 256 --edges full
     * asks for that. */
    a.cfg.hidden = 64;
    a.cfg.canonical = 1;
    ih_train_opts_default(&a.o);
    if (pretrain) a.o.epochs = 30;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    /* one run per output file, refused before any work (several ranks are one run: rank 0's lock) */
    char *lock = NULL;
    if (ih_dist_rank() == 0 && ih_lock_output(a.out, &lock) != 0) return cli_fail();
    rc = run_locked(&a, argc, argv);
    ih_unlock_output(lock);
    return rc;
}

static int run_locked(run_args *ap, int argc, char **argv) {
    run_args a = *ap;
    int rc;
    char cache_buf[4096];
    if (!a.cache) a.cache = default_cache(a.task_paths[0], cache_buf, sizeof cache_buf);
    ih_graph_opts go;
    cli_graph_opts(&a.cfg, &go, 0);
    double t0 = ih_now();
    ih_dataset d;
    /* several ranks: rank 0 first, so that the others read the graphs it cached */
    if (ih_dist_rank() != 0) ih_dist_barrier();
    if (ih_dataset_load(&d, a.task_paths, a.n_tasks, &go, 0, a.cache) != 0) return cli_fail();
    if (ih_dist_rank() == 0) ih_dist_barrier();
    int *tr = NULL, *va = NULL, ntr = 0, nva = 0;
    rc = ih_split_groups(&d, a.val, a.o.seed, &tr, &ntr, &va, &nva) != 0 ? cli_fail() : 0;
    if (rc == 0) rc = report_split(&a, &d, tr, ntr, nva, t0);
    if (rc == 0) {
        if (a.only_task >= 0) keep_only_task(&a, &d, tr, &ntr, va, &nva);
        rc = train_model(&a, argc, argv, &d, tr, ntr, va, nva, t0) != 0 ? cli_fail() : 0;
    }
    free(tr), free(va);
    ih_dataset_free(&d);
    return rc;
}

int cmd_train(int argc, char **argv) { return run(argc, argv, 0); }
int cmd_pretrain(int argc, char **argv) { return run(argc, argv, 1); }
