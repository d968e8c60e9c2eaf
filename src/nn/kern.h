/* Element-wise kernels of the hot loops over rows of H channels, compiled for several x86
 * vector extensions (AVX-512, AVX2, the SSE4 baseline of the build) and chosen at run time.
 * All operate on contiguous row-major blocks; per-channel vectors have C (or H) entries. The
 * results are identical for every variant (no fused multiply-add, same operation order per
 * element; sums run over rows, never across vector lanes). */
#ifndef IH_KERN_H
#define IH_KERN_H

#include <stddef.h>

/* Widest hidden layer: the kernels and layers keep per-channel vectors of this size on the stack. */
#define EGGC_MAX_H 1024

/* EGGC forward over edges [c0, c1) (their m rows at mc): m += A_src + B_dst + b_e, then
 * σ(m) ⊙ D_src into num[dst] and σ(m) into den[dst]. P rows are [A | B | C | D], 4H wide. */
void k_gate_fwd(int H, int c0, int c1, float *mc, const int *src, const int *dst, const float *P,
                const float *be, float *num, float *den);

/* out = res + act(x·scale + shift) over rows × C (res may be NULL; act SiLU or identity);
 * out may alias res or x. */
void k_affine_act(int C, long rows, float *out, const float *res, const float *x,
                  const float *scale, const float *shift, int silu);

/* Adds Σ_rows g and Σ_rows g·(x − mean)·rstd per channel into fg, fgx (float; callers keep
 * blocks short), g = dout·act'(x·scale + shift). */
void k_bn_grad_sums(int C, long rows, const float *x, const float *dout, const float *scale,
                    const float *shift, const float *mean, const float *rstd, float *fg,
                    float *fgx, int silu);

/* The same, also writing g over dout (for callers that need dout only through g). */
void k_bn_grad_sums_store(int C, long rows, const float *x, float *dout, const float *scale,
                          const float *shift, const float *mean, const float *rstd, float *fg,
                          float *fgx);

/* a = SiLU(u), s = σ(u), u = x·scale + shift (s kept for the backward below). */
void k_silu_sig(int C, long rows, float *a, float *s, const float *x, const float *scale,
                const float *shift);
/* g = d ⊙ SiLU'(u) from the kept σ(u), written over d; adds Σg and Σg·(x − mean)·rstd. */
void k_silu_grad_sig(int C, long rows, float *d, const float *s, const float *x,
                     const float *scale, const float *shift, const float *mean, const float *rstd,
                     float *fg, float *fgx);

/* dx = c1·(g − c2 − (x − mean)·c3), g as above; dx may alias dout. */
void k_bn_grad_rows(int C, long rows, float *dx, const float *dout, const float *x,
                    const float *scale, const float *shift, const float *mean, const float *c1,
                    const float *c2, const float *c3, int silu);
/* The same without activation for rows that each stand for w[r] identical rows: dx and dout
 * are the sums over those rows, dx = c1·(dout − w·(c2 + (x − mean)·c3)). */
void k_bn_grad_rows_w(int C, long rows, float *dx, const float *dout, const float *x,
                      const float *mean, const float *c1, const float *c2, const float *c3,
                      const float *w);

/* Chunk statistics: per-channel mean and M2 of rows × C (two passes over the cached rows with
 * the rounding correction of the float mean), into mean[], m2[] (double). */
void k_chunk_stats(int C, int rows, const float *x, double *mean, double *m2);

/* EGGC backward over edges [c0, c1): dm (into dmc, chunk-relative rows) from the gate path
 * and, if dy is given, the bn_edges/SiLU path; then dB[dst] += dm (in dP, column H), dA[src] +=
 * dm and dD[src] += dnum[dst] ⊙ σ(m) (into acc rows of stride acc_stride at columns 0 and
 * d_col), fbe += dm. */
void k_edge_bwd(int H, int c0, int c1, float *dmc, const float *m, const float *dy,
                const int *src, const int *dst, const float *P, const float *dnum,
                const float *dden, const float *scale, const float *shift, const float *mean,
                const float *c2, const float *c3, float *dP, float *acc, size_t acc_stride,
                size_t d_col, float *fbe);

/* Node side of the EGGC backward for rows [v0, v1): from dxp (in dnum) and the forward's P,
 * xp, den: dP row = [0 | 0 | dxp | 0], dnum = dxp/den, dden = −dxp·(xp − C)/den. */
void k_node_bwd(int H, long v0, long v1, float *dP, float *dnum, float *dden, const float *P,
                const float *xp, const float *den);

/* out[i·K + k] = exp(−γ (v_i − centre_k)²) */
void k_rbf(int K, long rows, float *out, const float *v, const float *centers, float gamma);

#endif
