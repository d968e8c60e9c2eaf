/* Several processes on one job (MPI; docs/mpi.md): the only module that calls MPI. Built with
 * -DIH_MPI (make MPI=1) these wrap MPI_COMM_WORLD; without it they are the one-process case, rank 0
 * of 1, where reductions, broadcasts and gathers leave the data as it is and need no MPI headers.
 * Every call but init, rank, size and abort is collective or point-to-point as its MPI namesake;
 * MPI's errors abort the job (MPI_ERRORS_ARE_FATAL), so a failing rank never leaves the others
 * waiting. Not installed. */
#ifndef IH_CORE_DIST_H
#define IH_CORE_DIST_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Start MPI (threads: the calling one only) where the build has it. Without MPI, a launch by
 * mpirun/srun of more than one process is refused: each would run the whole job. 0 or -1. */
int ih_dist_init(int *argc, char ***argv);
/* End MPI after a run that succeeded on every rank. */
void ih_dist_finalize(void);
/* After a failure on this rank (its message printed): end every rank's process with `code`. */
void ih_dist_abort(int code) __attribute__((noreturn));
int ih_dist_rank(void);
int ih_dist_size(void);
/* 1 if this build has MPI. */
int ih_dist_built(void);
/* The number of processes the launcher (mpirun, srun with PMI) started this one among, from its
 * environment, in either build; 1 when not launched as part of a job. */
int ih_dist_launched_size(void);

/* Sum of every rank's x (n floats) into every rank's x, each element summed in rank order
 * ((x0 + x1) + x2 …): the same bits on every rank and in every run, whatever the MPI library's
 * algorithms. A reduce-scatter of rank-order sums and an all-gather: each rank sends and
 * receives 2(N−1)/N of the block. */
int ih_dist_allreduce_sum(float *x, size_t n);
/* The same with MPI_Allreduce (summation order up to the library): benchmark comparison. */
int ih_dist_allreduce_sum_any(float *x, size_t n);
/* Rank-order sum of doubles (counters and loss sums). */
int ih_dist_allreduce_sum_f64(double *x, size_t n);
/* root's bytes to every rank. */
int ih_dist_bcast(void *x, size_t bytes, int root);
int ih_dist_barrier(void);
/* Every rank's array (n doubles each) on every rank, rank after rank: *all (malloc'ed, free it)
 * and counts[r] (size entries) the length of rank r's part. */
int ih_dist_allgatherv_f64(const double *mine, size_t n, double **all, size_t *counts);

/* Point to point (the screen's dealer and workers). */
int ih_dist_send(int to, int tag, const void *data, size_t bytes);
/* The next message from `from` (IH_DIST_ANY: any rank) with tag `tag` (IH_DIST_ANY: any tag):
 * its bytes malloc'ed into *data (one byte more, 0), their count, sender and tag. */
#define IH_DIST_ANY (-1)
int ih_dist_recv(int from, int tag, void **data, size_t *bytes, int *source, int *tag_out);
/* 1 if a message for ih_dist_recv(from, tag) is waiting, 0 if not. */
int ih_dist_probe(int from, int tag);

#ifdef __cplusplus
}
#endif
#endif
