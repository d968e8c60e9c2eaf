/* Sub-commands of the ionhop CLI; each returns the process exit status. */
#ifndef IH_CLI_H
#define IH_CLI_H
#include "ionhop.h"

int cmd_graph(int argc, char **argv);    /* ionhop graph FILE */
int cmd_bench(int argc, char **argv);    /* ionhop bench graph|train|... */
int cmd_train(int argc, char **argv);    /* ionhop train --data ... --out MODEL */
int cmd_predict(int argc, char **argv);  /* ionhop predict ... */
int cmd_info(int argc, char **argv);     /* ionhop info MODEL */
int cmd_pretrain(int argc, char **argv); /* ionhop pretrain --task name=PATH ... */
int cmd_finetune(int argc, char **argv); /* ionhop finetune --init MPT --data ... */
int cmd_evaluate(int argc, char **argv); /* ionhop evaluate --model M --data FILE */

/* Print "ionhop: <ih_last_error()>" to stderr and return 1. */
int cli_fail(void);
/* Print "ionhop: <message>" to stderr and return 2 (usage errors). */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Default paths resolved relative to the executable's repository (models/, examples/). */
const char *cli_repo_path(const char *rel);
#endif
