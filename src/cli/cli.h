/* Sub-commands of the ionhop CLI; each returns the process exit status. */
#ifndef IH_CLI_H
#define IH_CLI_H
#include "ionhop.h"

#include <stdio.h>

int cmd_graph(int argc, char **argv);    /* ionhop graph FILE */
int cmd_bench(int argc, char **argv);    /* ionhop bench graph|train|... */
int cmd_train(int argc, char **argv);    /* ionhop train --data ... --out MODEL */
int cmd_predict(int argc, char **argv);  /* ionhop predict ... */
int cmd_info(int argc, char **argv);     /* ionhop info MODEL */
int cmd_pretrain(int argc, char **argv); /* ionhop pretrain --task name=PATH ... */
int cmd_finetune(int argc, char **argv); /* ionhop finetune --init MPT --data ... */
int cmd_evaluate(int argc, char **argv); /* ionhop evaluate --model M --data FILE */
int cmd_merge(int argc, char **argv);    /* ionhop merge --out MODEL A B ... */

/* Sub-benchmarks of `ionhop bench NAME` (dispatch table in cmd_bench.c; argv[0] is NAME).
 * cmd_bench.c holds weak placeholders, so an entry is provided by defining it in its own file. */
int bench_graph(int argc, char **argv); /* bench_graph.c */
int bench_train(int argc, char **argv);
int bench_gemm(int argc, char **argv);

/* Option helpers (cli_common.c): strict number parsing with a usage message (returns -1 after
 * printing it), and the graph options --canonical, --k K, --cutoff R shared by the commands that
 * build graphs: 1 if argv[*i] was one (*i advanced past its value), 0 if not, -1 on bad value. */
int cli_parse_int(const char *opt, const char *text, int lo, int hi, int *out);
int cli_parse_double(const char *opt, const char *text, double lo, double hi, double *out);
int cli_graph_option(int argc, char **argv, int *i, ih_graph_opts *o);

/* Keep large blocks in the heap instead of mmap/munmap (cli_malloc.c): needed for multi-threaded
 * graph building to scale. Call before the first allocation that matters. */
void cli_tune_malloc(void);

/* Print "ionhop: <ih_last_error()>" to stderr and return 1. */
int cli_fail(void);
/* Print "ionhop: <message>" to stderr and return 2 (usage errors). */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Default paths resolved relative to the executable's repository (models/, examples/). */
const char *cli_repo_path(const char *rel);

/* Option helpers: cli_take returns 1 and sets *val if argv[*i] is `name` (consuming its value),
 * 0 if it is another option, -1 if the value is missing. Parsers print a usage error and return
 * non-zero on bad values. */
int cli_take(int argc, char **argv, int *i, const char *name, const char **val);
int cli_parse_long(const char *name, const char *s, long lo, long hi, long *out);
/* --hidden --alignn-layers --gcn-layers --neighbors --cutoff --edges full|canonical ...:
 * 1 if consumed, 0 if not a configuration flag, 2 on a bad value (message printed). */
int cli_config_flag(int argc, char **argv, int *i, ih_config *c);
void cli_graph_opts(const ih_config *c, ih_graph_opts *go, int line_graph);
/* The training options of train, pretrain and finetune: --val (into *val_fraction), --epochs,
 * --batch, --lr, --wd, --seed, --micro-triplets, --loss l1|mse. 1 if consumed, 0 if not one of
 * them, -1 on a missing or bad value (message printed). */
int cli_training_option(int argc, char **argv, int *i, ih_train_opts *o, double *val_fraction);

/* A model with its task description ("tasks": [{"name", "lo", "hi"}], "input"). */
typedef struct cli_model {
    ih_model *m;          /* members[0] */
    ih_model **members;   /* an ensemble: n_members models */
    int n_members;
    char arch[32];
    int n_tasks;
    ih_task_scaling sc[IH_MAX_TASKS];
    double *member_lo_hi; /* n_members × 2 (one-task models): each member's own target scaling
                             (cross-validation ensembles: each fold scaled its training part);
                             NULL: all members use sc */
    int five_image; /* trained on 5-image path structures */
    char *meta;
} cli_model;
int cli_model_load(const char *path, cli_model *cm);
void cli_model_free(cli_model *cm);
/* Ensemble mean and spread (std over members) of records idx, original units, n × n_tasks. */
int cli_model_predict(cli_model *cm, const ih_dataset *d, const int *idx, int n, double *mean,
                      double *spread);
/* Predictions for every record of a data file. Graphs are built and predicted CLI_PREDICT_CHUNK
 * records at a time, so memory does not grow with the file. Arrays malloc'ed: jid (n), target
 * (n; NaN where a record has none), mean and spread (n × P, P = the model's tasks). */
#define CLI_PREDICT_CHUNK 128
/* Line-graph triplets per forward pass when predicting (a larger structure goes alone): the
 * arena's size; 2^18 against 2^20 took predict --data on the 559 records from 0.91 to 0.58 GB. */
#define CLI_PREDICT_TRIPLETS (1L << 18)
typedef struct cli_file_preds {
    int n, P;
    char (*jid)[64];
    double *target, *mean, *spread;
} cli_file_preds;
int cli_predict_file(cli_model *cm, const char *path, cli_file_preds *out);
void cli_file_preds_free(cli_file_preds *p);
/* MAE, RMSE, R², and the good-conductor classification with its confusion matrix. */
int cli_print_metrics(FILE *f, const double *truth, const double *pred, int n, const char *label);
/* Parity plot (truth vs prediction, good-conductor region shaded, optional error bars). */
int cli_parity_svg(const char *path, const double *truth, const double *pred, const double *spread,
                   int n, const char *title);
#endif
