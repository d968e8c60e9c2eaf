/* The sub-benchmarks of ionhop-bench (main.c dispatches; argv[0] is the benchmark's name). They
 * reuse the command-line tool's option helpers (cli.h). */
#ifndef IH_BENCH_H
#define IH_BENCH_H
#include "cli.h"

int bench_graph(int argc, char **argv); /* bench_graph.c */
int bench_train(int argc, char **argv); /* bench_train.c */
int bench_gemm(int argc, char **argv);  /* bench_gemm.c */
int bench_cells(int argc, char **argv); /* bench_cells.c */
int bench_read(int argc, char **argv);  /* bench_read.c */
int bench_allreduce(int argc, char **argv); /* bench_allreduce.c */
#endif
