/* Sub-commands of the ionhop CLI; each returns the process exit status. */
#ifndef IH_CLI_H
#define IH_CLI_H
#include "ionhop_train.h"
#include "core/util.h"

#include <stdio.h>

int cmd_graph(int argc, char **argv);    /* ionhop graph FILE */
int cmd_train(int argc, char **argv);    /* ionhop train --data ... --out MODEL */
int cmd_predict(int argc, char **argv);  /* ionhop predict ... */
int cmd_info(int argc, char **argv);     /* ionhop info MODEL */
int cmd_pretrain(int argc, char **argv); /* ionhop pretrain --task name=PATH ... */
int cmd_finetune(int argc, char **argv); /* ionhop finetune --init MPT --data ... */
int cmd_evaluate(int argc, char **argv); /* ionhop evaluate --model M --data FILE */
int cmd_merge(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_screen(int argc, char **argv);   /* ionhop screen FILE|DIR ... --ion EL */    /* ionhop merge --out MODEL A B ... */

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
 * --batch, --lr, --wd, --seed, --micro-triplets, --micro-batch, --loss l1|mse. 1 if consumed, 0 if not one of
 * them, -1 on a missing or bad value (message printed). */
int cli_training_option(int argc, char **argv, int *i, ih_train_opts *o, double *val_fraction);

/* Parity plot (truth vs prediction, good-conductor region shaded, optional error bars). */
int cli_parity_svg(const char *path, const double *truth, const double *pred, const double *low, const double *high,
                   int n, const char *title, const char *bar_label, int n_trained);
#endif
