/* Hot element-wise loops, one function per loop nest, each compiled for AVX-512, AVX2 and the
 * build's baseline (SSE4) and picked at load time (GCC function multi-versioning). The loops
 * are the memory- and exp-bound part of the network; see kern.h. */
#include "kern.h"

#include "ops.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KERNEL
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

KERNEL void k_gate_fwd(int H, int c0, int c1, float *mc, const int *src, const int *dst,
                       const float *P, const float *be, float *num, float *den) {
    const size_t H4 = 4 * (size_t)H;
    for (int ed = c0; ed < c1; ed++) {
        int v = dst[ed];
        const float *As = P + (size_t)src[ed] * H4;
        gate_row(H, mc + (size_t)(ed - c0) * H, As, P + (size_t)v * H4 + H, be, As + 3 * H,
                 num + (size_t)v * H, den + (size_t)v * H);
    }
}

/* ---------------------------------------------------------------------------------------- */

KERNEL void k_affine_act(int C, long rows, float *out, const float *res, const float *x,
                         const float *scale, const float *shift, int silu) {
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
}

KERNEL void k_bn_grad_sums(int C, long rows, const float *x, const float *dout,
                           const float *scale, const float *shift, const float *mean,
                           const float *rstd, float *fg, float *fgx, int silu) {
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
}

KERNEL void k_bn_grad_rows(int C, long rows, float *dx, const float *dout, const float *x,
                           const float *scale, const float *shift, const float *mean,
                           const float *c1, const float *c2, const float *c3, int silu) {
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
}

KERNEL void k_chunk_stats(int C, int rows, const float *x, double *mean, double *m2) {
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

KERNEL void k_edge_bwd(int H, int c0, int c1, float *dmc, const float *m, const float *dy,
                       const int *src, const int *dst, const float *P, const float *dnum,
                       const float *dden, const float *scale, const float *shift,
                       const float *mean, const float *c2, const float *c3, float *dP, float *acc,
                       size_t acc_stride, size_t d_col, float *fbe) {
    const size_t H4 = 4 * (size_t)H;
    for (int ed = c0; ed < c1; ed++) {
        int v = dst[ed], s = src[ed];
        float *dA = acc + (size_t)s * acc_stride;
        edge_bwd_row(H, dmc + (size_t)(ed - c0) * H, m + (size_t)ed * H,
                     dy ? dy + (size_t)ed * H : NULL, dnum + (size_t)v * H, dden + (size_t)v * H,
                     P + (size_t)s * H4 + 3 * H, scale, shift, mean, c2, c3,
                     dP + (size_t)v * H4 + H, dA, dA + d_col, fbe);
    }
}

KERNEL void k_rbf(int K, long rows, float *out, const float *v, const float *centers, float gamma) {
    float ng = -gamma;
    for (long i = 0; i < rows; i++) {
        float *restrict o = out + i * K;
        float vi = v[i];
        for (int k = 0; k < K; k++) {
            float d = vi - centers[k];
            o[k] = ops_expf(ng * (d * d));
        }
    }
}
