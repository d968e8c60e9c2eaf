/* ionhop train: a single-target model from scratch on any record file.
 * ionhop pretrain: one trunk with a head per named task (multi-property pre-training, spec §6);
 * each record trains its own task's head only (masked L1). */
#include "cli.h"

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
            "  --seed S (123)  --micro-triplets N  --cache DIR (graph cache; default beside the data\n"
            "  or ~/.cache/ionhop)  --resume [CHECKPOINT] (default MODEL.ckpt)\n"
            "  --hidden H --alignn-layers A --gcn-layers G --neighbors K --cutoff R\n"
            "  --edges full|canonical --head-hidden 1|2 (2)\n"
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
            "  --resume [CKPT]    continue from the checkpoint (MODEL.ckpt) after an interruption\n"
            "  --cache DIR        graph cache directory (default: beside the data, else ~/.cache/ionhop)\n"
            "  --hidden H (256) --alignn-layers A (4) --gcn-layers G (4) --neighbors K (12)\n"
            "  --cutoff R (8) --edges full|canonical (full)\n"
            "Prints one line per epoch; MODEL holds the best-validation weights.\n");
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
    cJSON *j = cJSON_CreateObject();
    cJSON *tasks = cJSON_AddArrayToObject(j, "tasks");
    for (int p = 0; p < ih_model_config(m)->n_outputs; p++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", c->sc[p].name);
        cJSON_AddNumberToObject(t, "lo", c->sc[p].lo);
        cJSON_AddNumberToObject(t, "hi", c->sc[p].hi);
        cJSON_AddItemToArray(tasks, t);
    }
    cJSON_AddStringToObject(j, "input", c->five_image ? "5-image" : "structure");
    cJSON_AddStringToObject(j, "arch", c->arch);
    cJSON *tr = cJSON_AddObjectToObject(j, "training");
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
        for (int p = 0; p < ih_model_config(m)->n_outputs; p++)
            cJSON_AddNumberToObject(vm, c->sc[p].name, isfinite(val_mae[p]) ? val_mae[p] : -1);
    }
    cJSON_AddNumberToObject(tr, "seconds", round(ih_now() - c->t0));
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    int rc = text ? ih_model_save(path, m, text) : ih_set_error("%s: out of memory", path);
    free(text);
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

static int run(int argc, char **argv, int pretrain) {
    cli_tune_malloc();
    const char *data = NULL, *out = NULL, *v, *resume_from = NULL, *cache = NULL, *only = NULL;
    const char *task_paths[IH_MAX_TASKS];
    ih_task_scaling sc[IH_MAX_TASKS];
    int n_tasks = 0;
    double val = 0.1;
    ih_config cfg;
    ih_config_default(&cfg);
    ih_train_opts o;
    ih_train_opts_default(&o);
    if (pretrain) o.epochs = 30;
    long n;
    for (int i = 1; i < argc; i++) {
        int r = cli_config_flag(argc, argv, &i, &cfg);
        if (r == 2) return 2;
        if (r == 1) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            (pretrain ? usage_pretrain : usage)(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--resume")) {
            o.resume = 1;
            if (i + 1 < argc && argv[i + 1][0] != '-') resume_from = argv[++i];
        } else if (pretrain && (r = cli_take(argc, argv, &i, "--task", &v))) {
            const char *eq = r > 0 ? strchr(v, '=') : NULL;
            if (!eq || eq == v || !eq[1] || eq - v >= (long)sizeof sc[0].name)
                return cli_usage_error("--task expects NAME=FILE.json");
            if (n_tasks == IH_MAX_TASKS) return cli_usage_error("at most %d tasks", IH_MAX_TASKS);
            snprintf(sc[n_tasks].name, sizeof sc[n_tasks].name, "%.*s", (int)(eq - v), v);
            sc[n_tasks].lo = -1.0, sc[n_tasks].hi = 1.0;
            task_paths[n_tasks++] = eq + 1;
        } else if (pretrain && (r = cli_take(argc, argv, &i, "--only", &only))) {
            if (r < 0) return cli_usage_error("--only needs a task name");
        } else if ((r = cli_take(argc, argv, &i, "--cache", &cache))) {
            if (r < 0) return cli_usage_error("--cache needs a directory");
        } else if (!pretrain && (r = cli_take(argc, argv, &i, "--data", &data))) {
            if (r < 0) return cli_usage_error("--data needs a file");
        } else if ((r = cli_take(argc, argv, &i, "--out", &out))) {
            if (r < 0) return cli_usage_error("--out needs a file");
        } else if ((r = cli_take(argc, argv, &i, "--val", &v))) {
            if (r < 0 || cli_parse_double("--val", v, 0.0, 0.9, &val)) return 2;
        } else if ((r = cli_take(argc, argv, &i, "--epochs", &v))) {
            if (r < 0 || cli_parse_long("--epochs", v, 1, 100000, &n)) return 2;
            o.epochs = (int)n;
        } else if ((r = cli_take(argc, argv, &i, "--batch", &v))) {
            if (r < 0 || cli_parse_long("--batch", v, 1, 100000, &n)) return 2;
            o.batch = (int)n;
        } else if ((r = cli_take(argc, argv, &i, "--lr", &v))) {
            if (r < 0 || cli_parse_double("--lr", v, 1e-8, 1.0, &o.max_lr)) return 2;
        } else if ((r = cli_take(argc, argv, &i, "--wd", &v))) {
            if (r < 0 || cli_parse_double("--wd", v, 0.0, 10.0, &o.weight_decay)) return 2;
        } else if ((r = cli_take(argc, argv, &i, "--seed", &v))) {
            if (r < 0 || cli_parse_long("--seed", v, 0, 2147483647L, &n)) return 2;
            o.seed = (uint64_t)n;
        } else if ((r = cli_take(argc, argv, &i, "--micro-triplets", &v))) {
            if (r < 0 || cli_parse_long("--micro-triplets", v, 1000, 1L << 30, &n)) return 2;
            o.micro_triplets = n;
        } else if ((r = cli_take(argc, argv, &i, "--loss", &v))) {
            if (r < 0 || (strcmp(v, "l1") && strcmp(v, "mse")))
                return cli_usage_error("--loss expects l1 or mse");
            o.loss = strcmp(v, "mse") ? IH_LOSS_L1 : IH_LOSS_MSE;
        } else {
            (pretrain ? usage_pretrain : usage)(stderr);
            return cli_usage_error("unknown option '%s'", argv[i]);
        }
    }
    if (pretrain ? (n_tasks == 0 || !out) : (!data || !out)) {
        (pretrain ? usage_pretrain : usage)(stderr);
        return cli_usage_error(pretrain ? "pretrain needs --task NAME=FILE (one or more) and --out"
                                        : "train needs --data and --out");
    }
    if (!pretrain) {
        task_paths[0] = data;
        n_tasks = 1;
        snprintf(sc[0].name, sizeof sc[0].name, "target");
    }
    for (int a = 0; a < n_tasks; a++)
        for (int b = 0; b < a; b++)
            if (!strcmp(sc[a].name, sc[b].name)) return cli_usage_error("task '%s' given twice", sc[a].name);
    int only_task = -1;
    for (int p = 0; only && p < n_tasks; p++)
        if (!strcmp(sc[p].name, only)) only_task = p;
    if (only && only_task < 0) return cli_usage_error("--only %s: no --task of that name", only);
    char cache_buf[4096];
    if (!cache) cache = default_cache(task_paths[0], cache_buf, sizeof cache_buf);
    if (ih_config_check(&cfg) != 0) return cli_fail();

    ih_graph_opts go;
    cli_graph_opts(&cfg, &go, 0);
    double t0 = ih_now();
    ih_dataset d;
    if (ih_dataset_load(&d, task_paths, n_tasks, &go, 0, cache) != 0) return cli_fail();
    int five = 1;
    for (int i = 0; i < d.n && five; i++) five = d.graphs[i].n_atoms >= 6 && d.five_image[i];
    int *tr = NULL, *va = NULL, ntr = 0, nva = 0;
    if (ih_split_groups(&d, val, o.seed, &tr, &ntr, &va, &nva) != 0) {
        ih_dataset_free(&d);
        return cli_fail();
    }
    if (!pretrain) {
        /* min-max scaling from the training part (spec §5.8) */
        int labelled = ih_scaling_fit(&d, tr, ntr, &sc[0]);
        if (labelled < 2 || !(sc[0].hi > sc[0].lo)) {
            free(tr), free(va);
            ih_dataset_free(&d);
            return cli_usage_error("%s: need at least two distinct training targets", data);
        }
        printf("%s: %d records (%d train, %d validation, split by host), graphs in %.1f s%s; "
               "targets %.4g..%.4g\n",
               data, d.n, ntr, nva, ih_now() - t0, d.from_cache ? " (cached)" : "", sc[0].lo, sc[0].hi);
    } else {
        printf("%d tasks, %d records (%d train, %d validation), graphs in %.1f s (%d of %d files cached)\n",
               n_tasks, d.n, ntr, nva, ih_now() - t0, d.from_cache, n_tasks);
        for (int p = 0; p < n_tasks; p++) {
            int cnt = 0;
            for (int i = 0; i < d.n; i++) cnt += d.mask[(size_t)i * n_tasks + p] != 0.0f;
            printf("  task %-6s %6d records  %s\n", sc[p].name, cnt, task_paths[p]);
        }
    }
    if (only_task >= 0) {
        /* the multi-task split above, restricted to the task's own records */
        int P = n_tasks, kt = 0, kv = 0;
        for (int k = 0; k < ntr; k++)
            if (d.mask[(size_t)tr[k] * P + only_task] != 0.0f) tr[kt++] = tr[k];
        for (int k = 0; k < nva; k++)
            if (d.mask[(size_t)va[k] * P + only_task] != 0.0f) va[kv++] = va[k];
        printf("--only %s: %d train and %d validation records of the %d-task split\n", only, kt, kv, P);
        ntr = kt, nva = kv;
        ih_dataset_keep_task(&d, only_task);
        sc[0] = sc[only_task];
        task_paths[0] = task_paths[only_task];
        n_tasks = 1;
    }
    cfg.n_outputs = n_tasks;
    ih_model *m = ih_model_create(&cfg, o.seed);
    if (!m) {
        free(tr), free(va);
        ih_dataset_free(&d);
        return cli_fail();
    }
    printf("model: hidden %d, %d ALIGNN + %d GCN layers, %s edges, %zu parameters\n", cfg.hidden,
           cfg.alignn_layers, cfg.gcn_layers, cfg.canonical ? "canonical" : "full", ih_model_n_params(m));
    char command[2048] = "ionhop";
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(command);
        snprintf(command + len, sizeof command - len, " %s", argv[i]);
    }
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s", resume_from ? resume_from : out);
    if (!resume_from) snprintf(ckpt + strlen(ckpt), sizeof ckpt - strlen(ckpt), ".ckpt");
    char data_desc[4096] = "";
    for (int p = 0; p < n_tasks; p++)
        snprintf(data_desc + strlen(data_desc), sizeof data_desc - strlen(data_desc), "%s%s", p ? " " : "",
                 task_paths[p]);
    save_ctx ctx = {data_desc, pretrain ? "mpt" : "single", sc, five && !pretrain, ntr, nva, t0, &o, command};
    o.out = out;
    o.checkpoint = ckpt;
    o.save_model = save_model;
    o.save_ctx = &ctx;
    ih_train_result res;
    int rc = ih_train(m, &d, tr, ntr, va, nva, sc, &o, &res);
    if (rc == 0) {
        printf("done: %d epochs in %.0f s; best validation at epoch %d, MAE", res.epochs, res.seconds,
               res.best_epoch);
        for (int p = 0; p < n_tasks; p++) printf(" %s %.4f", sc[p].name, res.best_val_mae[p]);
        printf(" -> %s\n", out);
    }
    ih_model_free(m);
    free(tr), free(va);
    ih_dataset_free(&d);
    return rc == 0 ? 0 : cli_fail();
}

int cmd_train(int argc, char **argv) { return run(argc, argv, 0); }
int cmd_pretrain(int argc, char **argv) { return run(argc, argv, 1); }
