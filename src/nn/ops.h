/* Layers of the ALIGNN network as forward/backward pairs over flat row-major float arrays.
 *
 * Conventions: a Linear weight is (out × in) as in PyTorch; backward functions ACCUMULATE into
 * parameter gradients and into dx unless stated otherwise; reductions use per-thread slots of an
 * ops_ws so that results depend only on the thread count, never on scheduling. */
#ifndef IH_OPS_H
#define IH_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IH_BN_EPS 1e-5f
#define IH_BN_MOMENTUM 0.1f
#define IH_GATE_EPS 1e-6f

/* Per-thread scratch for reductions: nt slots of `dslot` doubles and `fslot` floats. */
typedef struct ops_ws {
    int nt;
    size_t dslot, fslot;
    double *d;
    float *f;
} ops_ws;

/* 64-byte aligned allocation (size rounded up as aligned_alloc requires); free() releases it. */
static inline void *ops_alloc(size_t bytes) {
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}


/* Threads the ops use (omp_get_max_threads at the time of the call). */
int ops_max_threads(void);
/* Make OpenBLAS single-threaded: the ops split GEMMs over OpenMP threads themselves. */
void ops_blas_single_thread(void);
int ops_ws_init(ops_ws *ws, int nt, size_t dslot, size_t fslot);
void ops_ws_free(ops_ws *ws);
/* Slot sizes a workspace needs for matrices up to max_cols columns and weights up to max_w. */
size_t ops_ws_dslot(int max_cols);
size_t ops_ws_fslot(int max_cols, size_t max_w);

#include "nn/activation.h"
#include "nn/kern.h"

void silu_forward(float *y, const float *x, size_t n);
void silu_backward(float *dx, const float *dy, const float *x, size_t n);
void sigmoid_forward(float *y, const float *x, size_t n);
void sigmoid_backward(float *dx, const float *dy, const float *x, size_t n);

/* ---- GEMMs, split over threads by rows (single-threaded BLAS inside) ---- */
/* Y[M×O] = X[M×I]·Wᵀ + beta·Y */
void gemm_xwt(float *Y, const float *X, const float *W, int M, int In, int O, float beta);
/* dX[M×I] = dY[M×O]·W[O×I] + beta·dX */
void gemm_xw(float *dX, const float *dY, const float *W, int M, int O, int In, float beta);
/* dW[O×I] += dY[M×O]ᵀ·X[M×I] (split over M with per-thread partial sums in ws) */
void gemm_dw(float *dW, const float *dY, const float *X, int M, int O, int In, ops_ws *ws);
/* db[O] += column sums of dY[M×O] (double accumulation) */
void colsum_acc(float *db, const float *dY, int M, int O, ops_ws *ws);

/* ---- Linear ---- */
void linear_forward(float *Y, const float *X, const float *W, const float *b, int M, int In, int O);
/* dW, db accumulate; dX (may be NULL) accumulates. */
void linear_backward(float *dX, float *dW, float *db, const float *dY, const float *X,
                     const float *W, int M, int In, int O, ops_ws *ws);

/* ---- BatchNorm1d (+ optional SiLU, + optional residual) ----
 * stats = [mean | rstd] (2C) of the call: batch statistics in training mode (and the running
 * statistics are updated: momentum 0.1, unbiased variance), running statistics otherwise. */
int bn_stats(float *stats, const float *x, int M, int C, int training, float *run_mean,
             float *run_var, ops_ws *ws);
/* Chan merge of per-chunk (mean, M2) into double accumulators: acc = [count | mean[C] | m2[C]]. */
void bn_acc_rows(double *acc, const float *x, int rows, int C);
/* The same for rows of multiplicity w[r] (the count grows by Σw). */
void bn_acc_rows_w(double *acc, const float *x, const float *w, int rows, int C);
void bn_acc_merge(double *into, const double *from, int C);
/* stats from merged accumulators (and running-stat update when training). */
int bn_stats_finish(float *stats, const double *acc, int C, int training, float *run_mean,
                    float *run_var);
/* While a log is set (the calling thread; NULL clears it), every training-mode update of
 * bn_stats_finish is also appended to it as ih_bn_log entries (ionhop_nn.h), offsets counted from
 * base (the model's buffer block). */
struct ih_bn_log;
void ops_bn_log_set(struct ih_bn_log *log, const float *base);
/* Apply the logged updates v[0..n) to the buffer block, in order, as bn_stats_finish does. */
int bn_log_replay(float *buffers, size_t n_buffers, const double *v, size_t n);
/* out = res + act(gamma·(x-mean)·rstd + beta); act = SiLU if silu else identity; res may be
 * NULL; out may alias res or x. */
void bn_apply(float *out, const float *res, const float *x, const float *stats, const float *gamma,
              const float *beta, int M, int C, int silu);
/* Given dout = dL/d(out), writes dx = dL/dx (OVERWRITES dx) and accumulates dgamma, dbeta. */
void bn_backward(float *dx, float *dgamma, float *dbeta, const float *dout, const float *x,
                 const float *stats, const float *gamma, const float *beta, int M, int C,
                 int training, int silu, ops_ws *ws);

/* ---- radial basis (docs/method.md §4.2) ---- */
typedef struct rbf_spec {
    int K;
    float vmin, vmax, gamma;
    float centers[128];
} rbf_spec;
void rbf_init(rbf_spec *r, float vmin, float vmax, int K);
void rbf_forward(float *out, const float *v, int n, const rbf_spec *r);

/* ---- mean pooling over the atoms of each structure ---- */
void pool_forward(float *h, const float *x, const int *ptr, int B, int H);
/* dx (n_atoms × H) += dh / count */
void pool_backward(float *dx, const float *dh, const int *ptr, int B, int H);

/* ---- edge-gated graph convolution (docs/method.md §4.4) ---- */
/* A directed multigraph for message passing, edges sorted by destination. */
typedef struct mp_graph {
    int n_nodes, n_edges;
    const int *src, *dst;             /* per edge */
    const int *dst_ptr;               /* n_nodes + 1 */
    const int *src_ptr, *by_src;      /* edges grouped by source */
} mp_graph;

/* Parameter layout of one EGGC (floats from its base): the four maps that read x are stored
 * back to back so that they form one (4H × H) weight: [src_gate | dst_gate | src_update |
 * dst_update] weights, then their 4H biases, then edge_gate weight and bias, then bn_edges
 * gamma, beta and bn_nodes gamma, beta. Buffers: bn_edges mean, var, bn_nodes mean, var. */
#define EGGC_W4(H) ((size_t)0 * (size_t)(H))
#define EGGC_B4(H) ((size_t)4 * (H) * (H))
#define EGGC_WE(H) (EGGC_B4(H) + (size_t)4 * (H))
#define EGGC_BE(H) (EGGC_WE(H) + (size_t)(H) * (H))
#define EGGC_BNE_G(H) (EGGC_BE(H) + (size_t)(H))
#define EGGC_BNE_B(H) (EGGC_BNE_G(H) + (size_t)(H))
#define EGGC_BNN_G(H) (EGGC_BNE_B(H) + (size_t)(H))
#define EGGC_BNN_B(H) (EGGC_BNN_G(H) + (size_t)(H))
#define EGGC_NPARAMS(H) (EGGC_BNN_B(H) + (size_t)(H))
#define EGGC_NBUFFERS(H) ((size_t)4 * (H))

/* Edge features that are a gather of fewer distinct rows (the first line-graph EGGC: every
 * triplet's feature is the angle embedding of its cosine, and crystals repeat cosines). The
 * edge_gate map then runs on the n distinct rows and is gathered (forward), and backward sums
 * dm per distinct row before both of its GEMMs, so neither GEMM touches e rows. */
typedef struct eggc_uniq {
    int n;           /* distinct rows */
    const int *idx;  /* e: edge → its distinct row (y[r] = yu[idx[r]]) */
    const float *yu; /* n × H: the distinct rows of y */
    float *work; /* max(slices, 2) × n × H: yu·W_eᵀ (forward); each thread's Σdm per row, then
                  * in the second n × H dL/dyu through edge_gate (backward), which the caller
                  * adds to the per-row sums of dy */
    int slices;  /* threads the backward may use */
} eggc_uniq;

/* What one EGGC call keeps for its backward pass. */
typedef struct eggc_acts {
    float *P;     /* n × 4H: the four node maps of x, biases included */
    float *m;     /* e × H: edge-gate pre-activation (all three gate biases included) */
    float *xp;    /* n × H: src_update(x) + h, the input of bn_nodes */
    float *den;   /* n × H: Σσ + 1e-6 */
    float stats_e[2 * 1024], stats_n[2 * 1024]; /* [mean | rstd]; H <= EGGC_MAX_H */
    const eggc_uniq *uy; /* NULL, or y's distinct rows (needs m: the training arena). Backward
                          * then leaves dy without the edge_gate term (dy = dL/dy_out, or 0)
                          * and stores that term per distinct row in uy->work + n·H. */
} eggc_acts;

/* x (n × H), y (e × H) -> x_out, y_out (y_out NULL: not wanted; bn_edges still runs so that
 * its running statistics update as in the reference). x_out may alias x and y_out y (in
 * place). In evaluation mode a->m may be NULL (nothing kept: inference). ws needs
 * eggc_ws_floats(H) floats per thread. */
int eggc_forward(const float *p, float *buf, int H, const mp_graph *g, const float *x,
                 const float *y, float *x_out, float *y_out, eggc_acts *a, int training,
                 ops_ws *ws);
/* dx: in dL/dx_out, out dL/dx (in place). dy: in dL/dy_out (ignored if dy_out_zero), out
 * dL/dy. scratch: eggc_scratch_floats(H, n, e, ws->nt) floats. Accumulates into gp. */
int eggc_backward(const float *p, float *gp, int H, const mp_graph *g, const float *x,
                  const float *y, const eggc_acts *a, int training, float *dx, float *dy,
                  int dy_out_zero, float *scratch, ops_ws *ws);
size_t eggc_scratch_floats(int H, int n, int e, int nt);
/* Edge rows per fused chunk, and the per-thread workspace floats the EGGC needs. */
int eggc_chunk_rows(int H);
size_t eggc_ws_floats(int H);

/* BatchNorm backward: per-thread (Σg, Σg·x̂) partials in ws->d (used slots) into dγ, dβ and the
 * row coefficients c2 = Σg/M, c3 = rstd·Σg·x̂/M (zeros in evaluation mode). */
void bn_reduce_grad(const ops_ws *ws, int used, int C, long M, const float *rstd, int training,
                    float *dgamma, float *dbeta, float *c2, float *c3);
#endif
