/* ionhop finetune: migration-barrier models from a pre-trained (MPT) trunk or from scratch,
 * with grouped cross-validation and seed ensembles. */
#include "cli.h"
#include "core/dist.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: ionhop finetune [--init MPT_MODEL] --data FILE.json [--arch ARCH] --out MODEL [options]\n"
            "  --init MPT_MODEL   copy the trunk of a pre-trained model (no --init: SCRATCH, random\n"
            "                     initialisation; then the configuration flags apply); the arch's own\n"
            "                     modules (fc, attention, the delta layers) start from random weights\n"
            "  --arch ARCH        how the hop enters the network (docs/method.md §7); the records are 5-image\n"
            "                     path structures, the end points are rebuilt from them (§1.4):\n"
            "     model3 (default)  the 5-image structure through one trunk (§7.4)\n"
            "     model1-add|model1-sub|model1-cc  initial and final structure through the same trunk,\n"
            "                       pooled vectors added, subtracted or fused by Linear(2H→H) (§7.2)\n"
            "     model2            trunk on the initial structure + a one-layer delta branch on both\n"
            "                       structures, fused by Linear(2H→H) (§7.3)\n"
            "     model4            5-image structure and its local sub-graph, attention pooling (§7.5)\n"
            "     model3-path       (ours) the 5-image structure through one trunk; the mean of all\n"
            "                       atoms and the mean of the five path images fused by Linear(2H→H)\n"
            "     model3-saddle     (ours) model3-path plus the midpoint image's node vector minus the\n"
            "                       mean of the two end images', fused by Linear(3H→H)\n"
            "     scratch-add|scratch-sub|scratch-cc  the model1 archs with the SCRATCH head Linear(H→1)\n"
            "                       (§7.6; the paper also used --loss mse --edges canonical --lr 1e-4 --wd 1e-5)\n"
            "  --folds K          grouped K-fold cross-validation (hosts never straddle folds):\n"
            "                     prints the metrics and writes --cv-out (MODEL.cv.csv); with --out,\n"
            "                     MODEL is the ensemble of the K fold models (each fold's own scaling);\n"
            "                     finished folds are kept in CV_OUT.partial, and --resume after an\n"
            "                     interruption skips them (--stop-after-fold K stops early, for tests)\n"
            "  --group-by host|record  (host) what the folds and the validation split keep together;\n"
            "                     record: a random split by record, as the published reference's\n"
            "                     (sister pathways of a host may then sit on both sides)\n"
            "  --train-fraction F (1)  with --folds: each fold trains on whole hosts drawn from its\n"
            "                     training folds until F of their records (seeded by fold; a smaller F\n"
            "                     keeps a subset of a larger one's hosts); the held-out folds are\n"
            "                     unchanged, so runs at several F give a learning curve\n"
            "  --trunk-lr F (1)   the pre-trained trunk's learning rate as a fraction of the head's\n"
            "                     (with --init; 0 freezes the trunk's weights)\n"
            "  --ensemble M (1)   M models from seeds S..S+M-1; prediction = mean, spread = std\n"
            "  --path-bonds all|apart|chain (all)  5-image archs: apart = the five path images do\n"
            "                     not bond to each other, so each image's neighbours are host\n"
            "                     atoms; chain = apart plus a bond between consecutive images\n"
            "                     (stored in the model; allowed with --init)\n"
            "  --tie-tol A (0)    neighbours within A Å of the k-th distance are ties and all kept, so a\n"
            "                     shell that is degenerate by symmetry is never split by rounding (0:\n"
            "                     the published method's exact comparison, under which a rotated copy of a cell\n"
            "                     can get another graph); stored in the model; allowed with --init\n"
            "  --path-desc        model3-path/model3-saddle: eight geometric descriptors of the straight\n"
            "                     path (hop length, bottleneck, nearest host atoms at the sites and the\n"
            "                     midpoint, neighbours within 3 Å, volume per atom) join the pooled\n"
            "                     vectors before \"fc\"; stored in the model; allowed with --init\n"
            "  --jitter A (0)     training only: every atom of each micro-batch displaced by N(0, A²) Å\n"
            "                     per coordinate, the neighbour lists kept (thermal-like noise on bond\n"
            "                     lengths and angles; a function of the seed, so runs repeat)\n"
            "  --log-target C (0) scale log(Em + C eV) to [-1, 1] instead of Em itself (0: the published method's\n"
            "                     linear min-max scaling); stored in the model\n"
            "  --val F (0.1)  --epochs N (100)  --batch B (16)  --lr MAX_LR (1e-3)  --wd (0.01)\n"
            "  --seed S (123)  --micro-triplets N  --micro-batch S  --loss l1|mse\n"
            "  --hidden H (64) --alignn-layers A (4) --gcn-layers G (4) --neighbors K (12) --cutoff R (8)\n"
            "  --edges full|canonical (canonical): without --init; the published network is --hidden 256 --edges full\n");
}

/* what the command line asks for beyond the ft settings */
typedef struct {
    const char *out, *cv_out;
    long folds, stop_after_fold;
    int config_given, resume;
} ft_args;

/* finetune's own numeric options and the common training ones: 1 consumed, 0 not one, -1 bad value */
static int take_training_option(int argc, char **argv, int *i, ih_finetune *f) {
    const char *v;
    long n;
    int r;
    if ((r = cli_take(argc, argv, i, "--ensemble", &v))) {
        if (r < 0 || cli_parse_long("--ensemble", v, 1, 100, &n)) return -1;
        f->ensemble = (int)n;
        return 1;
    }
    if ((r = cli_take(argc, argv, i, "--log-target", &v)))
        return r < 0 || cli_parse_double("--log-target", v, 0.0, 100.0, &f->log_target) ? -1 : 1;
    if ((r = cli_take(argc, argv, i, "--jitter", &v)))
        return r < 0 || cli_parse_double("--jitter", v, 0.0, 0.5, &f->o.jitter) ? -1 : 1;
    if ((r = cli_take(argc, argv, i, "--train-fraction", &v)))
        return r < 0 || cli_parse_double("--train-fraction", v, 1e-3, 1.0, &f->train_fraction) ? -1 : 1;
    if ((r = cli_take(argc, argv, i, "--trunk-lr", &v)))
        return r < 0 || cli_parse_double("--trunk-lr", v, 0.0, 10.0, &f->o.trunk_lr_scale) ? -1 : 1;
    return cli_training_option(argc, argv, i, &f->o, &f->val);
}

/* -1: go on; otherwise the exit status (0 after --help) */
static int parse_args(int argc, char **argv, ih_finetune *f, ft_args *a) {
    const char *v;
    for (int i = 1; i < argc; i++) {
        /* a graph option rather than a network size: allowed with --init, like --path-bonds */
        int r = cli_take(argc, argv, &i, "--tie-tol", &v);
        if (r) {
            if (r < 0 || cli_parse_double("--tie-tol", v, 0.0, 1.0, &f->tie_tol)) return 2;
            continue;
        }
        r = cli_config_flag(argc, argv, &i, &f->cfg);
        if (r == 2) return 2;
        if (r == 1) {
            a->config_given = 1;
            continue;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((r = cli_take(argc, argv, &i, "--init", &f->init_path)) ||
                   (r = cli_take(argc, argv, &i, "--data", &f->data)) ||
                   (r = cli_take(argc, argv, &i, "--arch", &f->arch)) ||
                   (r = cli_take(argc, argv, &i, "--out", &a->out)) ||
                   (r = cli_take(argc, argv, &i, "--cv-out", &a->cv_out))) {
            if (r < 0) return cli_usage_error("%s needs a value", argv[i]);
        } else if ((r = cli_take(argc, argv, &i, "--path-bonds", &v))) {
            if (r < 0 || (f->path_apart = ih_path_bonds_parse(v)) < 0)
                return cli_usage_error("--path-bonds expects all, apart or chain");
        } else if ((r = cli_take(argc, argv, &i, "--group-by", &v))) {
            if (r < 0 || (strcmp(v, "host") && strcmp(v, "record")))
                return cli_usage_error("--group-by expects host or record");
            f->by_record = !strcmp(v, "record");
        } else if (!strcmp(argv[i], "--path-desc")) {
            f->path_desc = 1;
        } else if (!strcmp(argv[i], "--resume")) {
            a->resume = 1;
        } else if ((r = cli_take(argc, argv, &i, "--stop-after-fold", &v))) {
            if (r < 0 || cli_parse_long("--stop-after-fold", v, 1, 100, &a->stop_after_fold)) return 2;
        } else if ((r = cli_take(argc, argv, &i, "--folds", &v))) {
            if (r < 0 || cli_parse_long("--folds", v, 2, 100, &a->folds)) return 2;
        } else if ((r = take_training_option(argc, argv, &i, f))) {
            if (r < 0) return 2;
        } else {
            usage(stderr);
            return cli_usage_error("unknown option '%s'", argv[i]);
        }
    }
    if (!f->data || (!a->out && !a->folds)) {
        usage(stderr);
        return cli_usage_error("finetune needs --data, and --out unless --folds is given");
    }
    if ((a->resume || a->stop_after_fold) && !a->folds)
        return cli_usage_error("--resume and --stop-after-fold go with --folds");
    if (f->train_fraction != 1 && !a->folds)
        return cli_usage_error("--train-fraction goes with --folds (a learning curve on held-out folds)");
    if (f->o.trunk_lr_scale != 1.0 && !f->init_path)
        return cli_usage_error("--trunk-lr goes with --init (a pre-trained trunk)");
    return -1;
}

/* The network to train: --arch (scratch-X: the model1-X network with the plain Linear(H→1) head
 * of docs/method.md §7.6), the configuration from --init or from the flags. */
static int set_config(ih_finetune *f, int config_given) {
    static const char *const scratch[3][2] = {
        {"scratch-add", "model1-add"}, {"scratch-sub", "model1-sub"}, {"scratch-cc", "model1-cc"}};
    int scratch_head = 0, arch = ih_arch_parse(f->arch);
    for (int k = 0; k < 3 && arch < 0; k++)
        if (!strcmp(f->arch, scratch[k][0])) arch = ih_arch_parse(scratch[k][1]), scratch_head = 1;
    if (arch < 0)
        return cli_usage_error("--arch %s: expected model1-add, model1-sub, model1-cc, model2, model3, model4, "
                               "model3-path, model3-saddle, scratch-add, scratch-sub or scratch-cc", f->arch);
    if (f->init_path && scratch_head)
        return cli_usage_error("--arch %s: SCRATCH models start from random weights (drop --init)", f->arch);
    if (f->init_path) {
        if (config_given) return cli_usage_error("with --init the configuration comes from the pre-trained model");
        f->init = ih_model_load(f->init_path, NULL);
        if (!f->init) return cli_fail();
        f->cfg = *ih_model_config(f->init);
    }
    f->cfg.n_outputs = 1;
    f->cfg.head_hidden = scratch_head ? 0 : 2;
    f->cfg.arch = arch;
    f->cfg.path_apart = f->path_apart;
    f->cfg.tie_tol = f->tie_tol;
    f->cfg.path_desc = f->path_desc;
    return ih_config_check(&f->cfg) != 0 ? cli_fail() : 0;
}

int cmd_finetune(int argc, char **argv) {
    ih_finetune f;
    memset(&f, 0, sizeof f);
    ih_config_default(&f.cfg);
    /* from scratch, the bundled models' size, as for train and pretrain (cmd_train.c) */
    f.cfg.hidden = 64;
    f.cfg.canonical = 1;
    ih_train_opts_default(&f.o);
    f.val = 0.1;
    f.ensemble = 1;
    f.train_fraction = 1;
    f.arch = "model3";
    ft_args a = {0};
    int rc = parse_args(argc, argv, &f, &a);
    if (rc >= 0) return rc;
    cli_tune_malloc();
    snprintf(f.command, sizeof f.command, "ionhop");
    for (int i = 0; i < argc; i++)
        snprintf(f.command + strlen(f.command), sizeof f.command - strlen(f.command), " %s", argv[i]);
    /* one run per output (the model, or with --folds only the predictions' CSV), refused first */
    char cv_default[4096], *lock = NULL;
    snprintf(cv_default, sizeof cv_default, "%s.cv.csv", a.out ? a.out : "finetune");
    if (ih_dist_rank() == 0 && ih_lock_output(a.out ? a.out : a.cv_out ? a.cv_out : cv_default, &lock) != 0)
        return cli_fail();
    ih_dataset d;
    f.log = stdout;
    rc = set_config(&f, a.config_given);
    if (rc == 0 && ih_finetune_load_records(&f, &d) != 0) rc = cli_fail();
    if (rc != 0) {
        ih_model_free(f.init);
        ih_unlock_output(lock);
        return rc;
    }
    f.o.quiet = 0;
    if (!a.folds) rc = ih_finetune_ensemble(&f, &d, a.out);
    else rc = ih_finetune_cross_validate(&f, &d, (int)a.folds, a.out, a.cv_out, a.resume, (int)a.stop_after_fold);
    ih_dataset_free(&d);
    /* A calibration belongs to a recipe's cross-validated errors. The fold ensemble of a finished
     * cross-validation has them at hand: it is calibrated from its own held-out predictions (the
     * bundled scale, docs/method.md §13) with its records as the training domain. Members trained
     * on every record have none: calibrate them from a cross-validation of the same recipe. Under
     * MPI the model is rank 0's to write. */
    if (ih_dist_rank() != 0) {
    } else if (rc == 0 && a.folds && a.out && f.cv_finished) {
        const char *cv = a.cv_out ? a.cv_out : cv_default;
        /* the model is written whatever happens here: a failed calibration only leaves it without one */
        if (ih_calibrate_model(a.out, cv, f.ensemble, IH_CAL_PRED, IH_CAL_CONST, f.data, a.out) == 0)
            printf("calibrated from its own cross-validated predictions (ionhop calibrate %s --cv %s --members %d "
                   "--data %s) -> %s\n",
                   a.out, cv, f.ensemble, f.data, a.out);
        else
            printf("no interval calibration in %s: %s\n", a.out, ih_last_error());
    } else if (rc == 0 && !a.folds && a.out) {
        printf("no interval calibration in %s: calibrate it from a cross-validation of the same recipe "
               "(finetune --folds 5 --cv-out CV.csv, then ionhop calibrate %s --cv CV.csv --data %s)\n",
               a.out, a.out, f.data);
    }
    ih_model_free(f.init);
    ih_unlock_output(lock);
    return rc == 0 ? 0 : cli_fail();
}
