/* Hot element-wise loops, one function per loop nest, each compiled for AVX-512, AVX2 and the
 * build's baseline (SSE4) and picked at load time (GCC function multi-versioning). The loops
 * are the memory- and exp-bound part of the network; see kern.h. */
#include "nn/kern.h"

#include "nn/activation.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KERNEL
#endif

/* Flush-to-zero / denormals-are-zero inside each kernel, the caller's mode restored on exit.
 * Vectorised selects evaluate both sides (e.g. SiLU's saturated branch u·σ(−87)), which can
 * produce subnormals even for ordinary inputs, and each costs a ~150-cycle microcode assist
 * (measured 7x on BatchNorm+SiLU). Two MXCSR writes per call are noise against a chunk. */
#if defined(__SSE__)
#include <xmmintrin.h>
#define FTZ_ENTER const unsigned ftz_saved_ = _mm_getcsr(); _mm_setcsr(ftz_saved_ | 0x8040u)
#define FTZ_LEAVE _mm_setcsr(ftz_saved_)
#else
#define FTZ_ENTER
#define FTZ_LEAVE
#endif

/* ---------------------------------------------------------------------------------------- */

static inline void gate_row(int H, float *restrict me, const float *restrict As,
                            const float *restrict Bv, const float *restrict be,
                            const float *restrict Ds, float *restrict num, float *restrict den) {
    for (int k = 0; k < H; k++) {
        float mk = me[k] + As[k] + Bv[k] + be[k];
        me[k] = mk;
        float sg = ops_sigmoid(mk);
        num[k] += sg * Ds[k];
        den[k] += sg;
    }
}

KERNEL void k_gate_fwd(int H, int c0, int c1, float *restrict mc, const int *restrict src,
                       const int *restrict dst, const float *restrict P,
                       const float *restrict be, float *restrict num, float *restrict den) {
    FTZ_ENTER;
    const size_t H4 = 4 * (size_t)H;
    for (int ed = c0; ed < c1; ed++) {
        int v = dst[ed];
        const float *As = P + (size_t)src[ed] * H4;
        gate_row(H, mc + (size_t)(ed - c0) * H, As, P + (size_t)v * H4 + H, be, As + 3 * H,
                 num + (size_t)v * H, den + (size_t)v * H);
    }
    FTZ_LEAVE;
}

/* ---------------------------------------------------------------------------------------- */

KERNEL void k_affine_act(int C, long rows, float *out, const float *res, const float *x,
                         const float *restrict scale, const float *restrict shift, int silu) {
    FTZ_ENTER;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        float *o = out + r * C;
        if (res) {
            const float *rr = res + r * C;
            if (silu)
                for (int k = 0; k < C; k++) o[k] = rr[k] + ops_silu(xr[k] * scale[k] + shift[k]);
            else
                for (int k = 0; k < C; k++) o[k] = rr[k] + (xr[k] * scale[k] + shift[k]);
        } else {
            if (silu)
                for (int k = 0; k < C; k++) o[k] = ops_silu(xr[k] * scale[k] + shift[k]);
            else
                for (int k = 0; k < C; k++) o[k] = xr[k] * scale[k] + shift[k];
        }
    }
    FTZ_LEAVE;
}

KERNEL void k_bn_grad_sums(int C, long rows, const float *restrict x,
                           const float *restrict dout, const float *restrict scale,
                           const float *restrict shift, const float *restrict mean,
                           const float *restrict rstd, float *restrict fg, float *restrict fgx,
                           int silu) {
    FTZ_ENTER;
    for (long r = 0; r < rows; r++) {
        const float *restrict xr = x + r * C, *restrict dr = dout + r * C;
        if (silu)
            for (int k = 0; k < C; k++) {
                float g = dr[k] * ops_dsilu(xr[k] * scale[k] + shift[k]);
                fg[k] += g;
                fgx[k] += g * ((xr[k] - mean[k]) * rstd[k]);
            }
        else
            for (int k = 0; k < C; k++) {
                fg[k] += dr[k];
                fgx[k] += dr[k] * ((xr[k] - mean[k]) * rstd[k]);
            }
    }
    FTZ_LEAVE;
}

KERNEL void k_bn_grad_sums_store(int C, long rows, const float *restrict x,
                                 float *restrict dout, const float *restrict scale,
                                 const float *restrict shift, const float *restrict mean,
                                 const float *restrict rstd, float *restrict fg,
                                 float *restrict fgx) {
    FTZ_ENTER;
    for (long r = 0; r < rows; r++) {
        const float *restrict xr = x + r * C;
        float *restrict dr = dout + r * C;
        for (int k = 0; k < C; k++) {
            float g = dr[k] * ops_dsilu(xr[k] * scale[k] + shift[k]);
            dr[k] = g;
            fg[k] += g;
            fgx[k] += g * ((xr[k] - mean[k]) * rstd[k]);
        }
    }
    FTZ_LEAVE;
}

KERNEL void k_silu_sig(int C, long rows, float *restrict a, float *restrict s,
                       const float *restrict x, const float *restrict scale,
                       const float *restrict shift) {
    FTZ_ENTER;
    for (long i = 0; i < rows * C; i += C)
        for (int k = 0; k < C; k++) {
            float u = x[i + k] * scale[k] + shift[k], sg = ops_sigmoid(u);
            s[i + k] = sg;
            a[i + k] = u * sg;
        }
    FTZ_LEAVE;
}

KERNEL void k_silu_grad_sig(int C, long rows, float *restrict d, const float *restrict s,
                            const float *restrict x, const float *restrict scale,
                            const float *restrict shift, const float *restrict mean,
                            const float *restrict rstd, float *restrict fg,
                            float *restrict fgx) {
    FTZ_ENTER;
    for (long i = 0; i < rows * C; i += C)
        for (int k = 0; k < C; k++) {
            float u = x[i + k] * scale[k] + shift[k], sg = s[i + k];
            float g = d[i + k] * (sg * (1.0f + u * (1.0f - sg)));
            d[i + k] = g;
            fg[k] += g;
            fgx[k] += g * ((x[i + k] - mean[k]) * rstd[k]);
        }
    FTZ_LEAVE;
}

KERNEL void k_bn_grad_rows(int C, long rows, float *dx, const float *dout,
                           const float *restrict x, const float *restrict scale,
                           const float *restrict shift, const float *restrict mean,
                           const float *restrict c1, const float *restrict c2,
                           const float *restrict c3, int silu) {
    FTZ_ENTER;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * C, *dr = dout + r * C;
        float *o = dx + r * C;
        if (silu)
            for (int k = 0; k < C; k++) {
                float g = dr[k] * ops_dsilu(xr[k] * scale[k] + shift[k]);
                o[k] = c1[k] * (g - c2[k] - (xr[k] - mean[k]) * c3[k]);
            }
        else
            for (int k = 0; k < C; k++) o[k] = c1[k] * (dr[k] - c2[k] - (xr[k] - mean[k]) * c3[k]);
    }
    FTZ_LEAVE;
}

KERNEL void k_bn_grad_rows_w(int C, long rows, float *dx, const float *dout,
                             const float *restrict x, const float *restrict mean,
                             const float *restrict c1, const float *restrict c2,
                             const float *restrict c3, const float *restrict w) {
    FTZ_ENTER;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * C, *dr = dout + r * C;
        float *o = dx + r * C, wr = w[r];
        for (int k = 0; k < C; k++) o[k] = c1[k] * (dr[k] - wr * (c2[k] + (xr[k] - mean[k]) * c3[k]));
    }
    FTZ_LEAVE;
}

KERNEL void k_chunk_stats(int C, int rows, const float *restrict x, double *restrict mean,
                          double *restrict m2) {
    FTZ_ENTER;
    float fm[EGGC_MAX_H], f2[EGGC_MAX_H], s1[EGGC_MAX_H];
    for (int k = 0; k < C; k++) fm[k] = 0.0f;
    for (int r = 0; r < rows; r++) {
        const float *restrict xr = x + (size_t)r * C;
        for (int k = 0; k < C; k++) fm[k] += xr[k];
    }
    float inv = 1.0f / (float)rows;
    for (int k = 0; k < C; k++) {
        fm[k] *= inv;
        f2[k] = 0.0f;
        s1[k] = 0.0f;
    }
    for (int r = 0; r < rows; r++) {
        const float *restrict xr = x + (size_t)r * C;
        for (int k = 0; k < C; k++) {
            float d = xr[k] - fm[k];
            s1[k] += d;
            f2[k] += d * d;
        }
    }
    /* corrected two-pass: Σd is the rounding error of the float mean; remove its bias */
    for (int k = 0; k < C; k++) {
        mean[k] = (double)fm[k] + (double)s1[k] / rows;
        m2[k] = (double)f2[k] - (double)s1[k] * (double)s1[k] / rows;
    }
    FTZ_LEAVE;
}

/* ---------------------------------------------------------------------------------------- */

static inline void edge_bwd_row(int H, float *restrict dme, const float *restrict me,
                                const float *restrict dye, const float *restrict dnum,
                                const float *restrict dden, const float *restrict Ds,
                                const float *restrict scale, const float *restrict shift,
                                const float *restrict mean, const float *restrict c2,
                                const float *restrict c3, float *restrict dB, float *restrict dA,
                                float *restrict dD, float *restrict fbe) {
    if (dye)
        for (int k = 0; k < H; k++) {
            float sg = ops_sigmoid(me[k]);
            float d = (dnum[k] * Ds[k] + dden[k]) * sg * (1.0f - sg);
            float gk = dye[k] * ops_dsilu(me[k] * scale[k] + shift[k]);
            d += scale[k] * (gk - c2[k] - (me[k] - mean[k]) * c3[k]);
            dme[k] = d;
            dB[k] += d;
            dA[k] += d;
            dD[k] += dnum[k] * sg;
            fbe[k] += d;
        }
    else
        for (int k = 0; k < H; k++) {
            float sg = ops_sigmoid(me[k]);
            float d = (dnum[k] * Ds[k] + dden[k]) * sg * (1.0f - sg);
            dme[k] = d;
            dB[k] += d;
            dA[k] += d;
            dD[k] += dnum[k] * sg;
            fbe[k] += d;
        }
}

KERNEL void k_edge_bwd(int H, int c0, int c1, float *restrict dmc, const float *restrict m,
                       const float *restrict dy, const int *restrict src,
                       const int *restrict dst, const float *restrict P,
                       const float *restrict dnum, const float *restrict dden,
                       const float *restrict scale, const float *restrict shift,
                       const float *restrict mean, const float *restrict c2,
                       const float *restrict c3, float *dP, float *acc, size_t acc_stride,
                       size_t d_col, float *restrict fbe) {
    FTZ_ENTER;
    const size_t H4 = 4 * (size_t)H;
    for (int ed = c0; ed < c1; ed++) {
        int v = dst[ed], s = src[ed];
        float *dA = acc + (size_t)s * acc_stride;
        edge_bwd_row(H, dmc + (size_t)(ed - c0) * H, m + (size_t)ed * H,
                     dy ? dy + (size_t)ed * H : NULL, dnum + (size_t)v * H, dden + (size_t)v * H,
                     P + (size_t)s * H4 + 3 * H, scale, shift, mean, c2, c3,
                     dP + (size_t)v * H4 + H, dA, dA + d_col, fbe);
    }
    FTZ_LEAVE;
}

KERNEL void k_rbf(int K, long rows, float *restrict out, const float *restrict v,
                  const float *restrict centers, float gamma) {
    FTZ_ENTER;
    float ng = -gamma;
    for (long i = 0; i < rows; i++) {
        float *restrict o = out + i * K;
        float vi = v[i];
        for (int k = 0; k < K; k++) {
            float d = vi - centers[k];
            o[k] = ops_expf(ng * (d * d));
        }
    }
    FTZ_LEAVE;
}

KERNEL void k_node_bwd(int H, long v0, long v1, float *restrict dP, float *restrict dnum,
                       float *restrict dden, const float *restrict P, const float *restrict xp,
                       const float *restrict den) {
    FTZ_ENTER;
    const size_t H4 = 4 * (size_t)H;
    for (long v = v0; v < v1; v++) {
        float *restrict dPv = dP + v * H4, *restrict nv = dnum + v * H, *restrict ddv = dden + v * H;
        const float *restrict Cv = P + v * H4 + 2 * H, *restrict xpv = xp + v * H,
                              *restrict dv = den + v * H;
        for (int k = 0; k < H; k++) {
            float dxp = nv[k], h = xpv[k] - Cv[k];
            dPv[k] = 0.0f;             /* dA: scattered from the edges */
            dPv[H + k] = 0.0f;         /* dB: gathered from the incoming edges */
            dPv[2 * H + k] = dxp;      /* dC */
            dPv[3 * H + k] = 0.0f;     /* dD: scattered from the edges */
            nv[k] = dxp / dv[k];       /* d num */
            ddv[k] = -dxp * h / dv[k]; /* d den */
        }
    }
    FTZ_LEAVE;
}
