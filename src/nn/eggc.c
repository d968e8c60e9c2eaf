/* Edge-gated graph convolution (docs/method.md §4.4), forward and backward.
 *
 *   m_e  = src_gate(x_s) + dst_gate(x_t) + edge_gate(y_e)
 *   h_i  = Σ_{e→i} σ(m_e) ⊙ dst_update(x_s) / (Σ_{e→i} σ(m_e) + 1e−6)
 *   x'   = x + SiLU(bn_nodes(src_update(x) + h)),   y' = y + SiLU(bn_edges(m))
 *
 * Layout of the work: the four maps that read x run as one GEMM on the n node rows before
 * anything is gathered to the edges. The e edge rows (triplets for the line graph: the big
 * tensors) are streamed once per pass in chunks of a few hundred rows; each chunk's edge_gate
 * GEMM (forward: y·Wᵀ; backward: dm·W and dmᵀ·y) runs single-threaded on the chunk while it is
 * in cache, fused with the gating, the aggregation and the BatchNorm statistics, so dm never
 * goes to memory. Each thread owns a contiguous range of destination nodes balanced by edge
 * count (edges are sorted by destination), so aggregation into nodes needs no atomics; the
 * backward scatter to source nodes goes to per-thread accumulators, summed afterwards.
 * With a->uy (the first line-graph EGGC in training: each triplet's y is the angle embedding of
 * its cosine, ~8x fewer distinct rows) edge_gate runs once per distinct row and is gathered;
 * backward sums dm per distinct row (per-thread accumulators) and runs both of its GEMMs there. */
#include <cblas.h>
#include <math.h>
#include <omp.h>

#include "core/util.h"
#include "nn/kern.h"
#include "nn/ops.h"

/* First node of thread t's range: nodes [part(t), part(t+1)) hold about 1/T of the edges. */
static int part(const int *ptr, int n, int t, int T) {
    if (t <= 0) return 0;
    if (t >= T) return n;
    long long target = (long long)ptr[n] * t / T;
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ptr[mid] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int team_size(const ops_ws *ws, double work) {
    int nt = omp_get_max_threads();
    if (nt > ws->nt) nt = ws->nt;
    if (work < 1 << 20) nt = 1;
    return nt;
}

/* Rows per chunk: about 256 KB of one H-wide matrix (cache-resident GEMM blocks). */
int eggc_chunk_rows(int H) {
    int r = 65536 / (H > 0 ? H : 1);
    return r < 32 ? 32 : r > 1024 ? 1024 : r;
}

size_t eggc_ws_floats(int H) { return (size_t)H * H + (size_t)eggc_chunk_rows(H) * H + 64; }

size_t eggc_scratch_floats(int H, int n, int e, int nt) {
    (void)e;
    return (size_t)n * 6 * H + (size_t)(nt > 1 ? nt - 1 : 0) * n * 2 * H + 64;
}

/* ---------------------------------------------------------------------------------------- */

int eggc_forward(const float *p, float *buf, int H, const mp_graph *g, const float *x,
                 const float *y, float *x_out, float *y_out, eggc_acts *a, int training,
                 ops_ws *ws) {
    int n = g->n_nodes, e = g->n_edges;
    const size_t H4 = 4 * (size_t)H;
    const float *W4 = p + EGGC_W4(H), *b4 = p + EGGC_B4(H);
    const float *We = p + EGGC_WE(H), *be = p + EGGC_BE(H);
    float *rm_e = buf, *rv_e = buf + H, *rm_n = buf + 2 * H, *rv_n = buf + 3 * H;
    const int R = eggc_chunk_rows(H);
    if (ws->fslot < eggc_ws_floats(H)) return ih_set_error("model: EGGC workspace too small");

    linear_forward(a->P, x, W4, b4, n, H, 4 * H);
    const eggc_uniq *uy = a->uy;
    if (uy) {
        if (!a->m) return ih_set_error("model: EGGC on distinct edge rows without stored activations");
        gemm_xwt(uy->work, uy->yu, We, uy->n, H, H, 0.0f);
    }

    /* evaluation mode knows the edge statistics up front: y' is written chunk by chunk and
     * m need not be kept (a->m may be NULL: inference arena) */
    float scale_e[EGGC_MAX_H], shift_e[EGGC_MAX_H];
    int fused_out = !training && y_out;
    if (!training) {
        if (bn_stats_finish(a->stats_e, NULL, H, 0, rm_e, rv_e)) return -1;
        for (int k = 0; k < H; k++) {
            scale_e[k] = p[EGGC_BNE_G(H) + k] * a->stats_e[H + k];
            shift_e[k] = p[EGGC_BNE_B(H) + k] - a->stats_e[k] * scale_e[k];
        }
    }
    const int *src = g->src, *dst = g->dst, *dptr = g->dst_ptr;
    const float *P = a->P;
    float *m = a->m, *xp = a->xp, *den = a->den;
    int nt = team_size(ws, (double)e * H * H), used = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#pragma omp single
        used = T;
        double *acc = ws->d + (size_t)t * ws->dslot;
        memset(acc, 0, sizeof(double) * (1 + 2 * (size_t)H));
        float *chunk = ws->f + (size_t)t * ws->fslot;
        int v0 = part(dptr, n, t, T), v1 = part(dptr, n, t + 1, T);
        memset(xp + (size_t)v0 * H, 0, sizeof(float) * (size_t)(v1 - v0) * H);
        memset(den + (size_t)v0 * H, 0, sizeof(float) * (size_t)(v1 - v0) * H);
        for (int c0 = dptr[v0]; c0 < dptr[v1]; c0 += R) {
            int c1 = c0 + R < dptr[v1] ? c0 + R : dptr[v1], rows = c1 - c0;
            float *mc = m ? m + (size_t)c0 * H : chunk;
            if (uy)
                for (int r = 0; r < rows; r++)
                    memcpy(mc + (size_t)r * H, uy->work + (size_t)uy->idx[c0 + r] * H,
                           sizeof(float) * H);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, H, H, 1.0f,
                            y + (size_t)c0 * H, H, We, H, 0.0f, mc, H);
            k_gate_fwd(H, c0, c1, mc, src, dst, P, be, xp, den);
            if (training) bn_acc_rows(acc, mc, rows, H);
            if (fused_out)
                k_affine_act(H, rows, y_out + (size_t)c0 * H, y + (size_t)c0 * H, mc, scale_e,
                             shift_e, 1);
        }
        for (int v = v0; v < v1; v++) {
            float *num = xp + (size_t)v * H, *dv = den + (size_t)v * H;
            const float *Cv = P + (size_t)v * H4 + 2 * H;
            for (int k = 0; k < H; k++) {
                float d = dv[k] + IH_GATE_EPS;
                dv[k] = d;
                num[k] = Cv[k] + num[k] / d;
            }
        }
    }
    if (training) {
        for (int t = 1; t < used; t++) bn_acc_merge(ws->d, ws->d + (size_t)t * ws->dslot, H);
        if (bn_stats_finish(a->stats_e, ws->d, H, 1, rm_e, rv_e)) return -1;
    }
    if (bn_stats(a->stats_n, xp, n, H, training, rm_n, rv_n, ws)) return -1;
    bn_apply(x_out, x, xp, a->stats_n, p + EGGC_BNN_G(H), p + EGGC_BNN_B(H), n, H, 1);
    if (y_out && !fused_out)
        bn_apply(y_out, y, m, a->stats_e, p + EGGC_BNE_G(H), p + EGGC_BNE_B(H), e, H, 1);
    return 0;
}

int eggc_backward(const float *p, float *gp, int H, const mp_graph *g, const float *x,
                  const float *y, const eggc_acts *a, int training, float *dx, float *dy,
                  int dy_out_zero, float *scratch, ops_ws *ws) {
    int n = g->n_nodes, e = g->n_edges;
    const size_t H4 = 4 * (size_t)H;
    const float *W4 = p + EGGC_W4(H), *We = p + EGGC_WE(H);
    const float *P = a->P, *m = a->m, *xp = a->xp, *den = a->den;
    const eggc_uniq *uy = a->uy;
    const int R = eggc_chunk_rows(H);
    if (ws->fslot < eggc_ws_floats(H)) return ih_set_error("model: EGGC workspace too small");
    if (!m) return ih_set_error("model: EGGC backward without stored activations");
    float *dP = scratch, *dnum = dP + (size_t)n * H4, *dden = dnum + (size_t)n * H,
          *priv = dden + (size_t)n * H; /* (threads − 1) × n × 2H: [dA | dD] per thread */

    /* node side: bn_nodes/SiLU backward, then split d(x') into d(src_update) and d(h) */
    bn_backward(dnum, gp + EGGC_BNN_G(H), gp + EGGC_BNN_B(H), dx, xp, a->stats_n,
                p + EGGC_BNN_G(H), p + EGGC_BNN_B(H), n, H, training, 1, ws);
#pragma omp parallel num_threads(team_size(ws, (double)n * H * 4))
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        k_node_bwd(H, (long)n * t / T, (long)n * (t + 1) / T, dP, dnum, dden, P, xp, den);
    }

    /* edge side: bn_edges/SiLU backward needs Σg and Σg·m̂ over all edges first */
    const float *mean_e = a->stats_e, *rstd_e = a->stats_e + H;
    const float *ge = p + EGGC_BNE_G(H), *bee = p + EGGC_BNE_B(H);
    float scale[EGGC_MAX_H], shift[EGGC_MAX_H], c2[EGGC_MAX_H], c3[EGGC_MAX_H];
    for (int k = 0; k < H; k++) {
        scale[k] = ge[k] * rstd_e[k];
        shift[k] = bee[k] - mean_e[k] * scale[k];
        c2[k] = c3[k] = 0.0f;
    }
    int nt = team_size(ws, (double)e * H * H), used = 1;
    if (uy && nt > uy->slices) nt = uy->slices;
    if (!dy_out_zero) {
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
#pragma omp single
            used = T;
            double *sg = ws->d + (size_t)t * ws->dslot, *sgx = sg + H;
            for (int k = 0; k < 2 * H; k++) sg[k] = 0.0;
            float fg[EGGC_MAX_H], fgx[EGGC_MAX_H];
            long r0 = (long)e * t / T, r1 = (long)e * (t + 1) / T;
            for (long b0 = r0; b0 < r1; b0 += 32) {
                long b1 = b0 + 32 < r1 ? b0 + 32 : r1;
                for (int k = 0; k < H; k++) fg[k] = fgx[k] = 0.0f;
                k_bn_grad_sums(H, b1 - b0, m + b0 * H, dy + b0 * H, scale, shift, mean_e, rstd_e, fg,
                               fgx, 1);
                for (int k = 0; k < H; k++) {
                    sg[k] += fg[k];
                    sgx[k] += fgx[k];
                }
            }
        }
        float *dg = gp + EGGC_BNE_G(H), *db = gp + EGGC_BNE_B(H);
        for (int k = 0; k < H; k++) {
            double s1 = 0.0, s2 = 0.0;
            for (int t = 0; t < used; t++) {
                s1 += ws->d[(size_t)t * ws->dslot + k];
                s2 += ws->d[(size_t)t * ws->dslot + H + k];
            }
            db[k] += (float)s1;
            dg[k] += (float)s2;
            if (training) {
                c2[k] = (float)(s1 / e);
                c3[k] = (float)(s2 / e) * rstd_e[k];
            }
        }
    }

    /* the fused edge pass, chunk by chunk: dm (in cache only), its scatter to the nodes, then
     * dy = dy' + dm·W_e and dW_e += dmᵀ·y on the chunk */
    const int *src = g->src, *dst = g->dst, *dptr = g->dst_ptr;
    float *gWe = gp + EGGC_WE(H), *gbe = gp + EGGC_BE(H);
    used = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#pragma omp single
        used = T;
        float *wpart = ws->f + (size_t)t * ws->fslot; /* H × H: this thread's dW_e */
        float *dmc = wpart + (size_t)H * H;           /* R × H */
        double *dbe = ws->d + (size_t)t * ws->dslot;
        float fbe[EGGC_MAX_H];
        for (int k = 0; k < H; k++) dbe[k] = 0.0;
        /* thread 0 scatters straight into dP, the others into their own [dA | dD] rows */
        float *mine = t == 0 ? NULL : priv + (size_t)(t - 1) * n * 2 * H;
        if (mine) memset(mine, 0, sizeof(float) * (size_t)n * 2 * H);
        /* this thread's Σdm per distinct row of y */
        float *dmu = uy ? uy->work + (size_t)t * uy->n * H : NULL;
        if (dmu) memset(dmu, 0, sizeof(float) * (size_t)uy->n * H);
        int v0 = part(dptr, n, t, T), v1 = part(dptr, n, t + 1, T);
        int first = 1;
        for (int c0 = dptr[v0]; c0 < dptr[v1]; c0 += R) {
            int c1 = c0 + R < dptr[v1] ? c0 + R : dptr[v1], rows = c1 - c0;
            for (int k = 0; k < H; k++) fbe[k] = 0.0f;
            k_edge_bwd(H, c0, c1, dmc, m, dy_out_zero ? NULL : dy, src, dst, P, dnum, dden, scale,
                       shift, mean_e, c2, c3, dP, mine ? mine : dP, mine ? 2 * (size_t)H : H4,
                       mine ? (size_t)H : 3 * (size_t)H, fbe);
            for (int k = 0; k < H; k++) dbe[k] += fbe[k];
            if (uy) {
                for (int r = 0; r < rows; r++) {
                    float *restrict o = dmu + (size_t)uy->idx[c0 + r] * H;
                    const float *restrict q = dmc + (size_t)r * H;
                    for (int k = 0; k < H; k++) o[k] += q[k];
                }
                if (dy_out_zero) memset(dy + (size_t)c0 * H, 0, sizeof(float) * (size_t)rows * H);
                continue;
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, rows, 1.0f, dmc, H,
                        y + (size_t)c0 * H, H, first ? 0.0f : 1.0f, wpart, H);
            first = 0;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, H, H, 1.0f, dmc, H, We, H,
                        dy_out_zero ? 0.0f : 1.0f, dy + (size_t)c0 * H, H);
        }
        if (first) memset(wpart, 0, sizeof(float) * (size_t)H * H);
    }
    /* reductions: per-thread dW_e, Σdm, and the scattered [dA | dD] */
    for (int t = 0; t < used; t++) {
        const float *w = ws->f + (size_t)t * ws->fslot;
        for (size_t i = 0; i < (size_t)H * H; i++) gWe[i] += w[i];
    }
    for (int k = 0; k < H; k++) {
        double s = 0.0;
        for (int t = 0; t < used; t++) s += ws->d[(size_t)t * ws->dslot + k];
        gbe[k] += (float)s;
    }
    if (used > 1) {
#pragma omp parallel for schedule(static) num_threads(team_size(ws, (double)n * H * 2 * used))
        for (long v = 0; v < n; v++) {
            float *restrict dA = dP + v * H4, *restrict dD = dP + v * H4 + 3 * H;
            for (int t = 1; t < used; t++) {
                const float *restrict q = priv + ((size_t)(t - 1) * n + (size_t)v) * 2 * H;
                for (int k = 0; k < H; k++) {
                    dA[k] += q[k];
                    dD[k] += q[H + k];
                }
            }
        }
    }

    if (uy) {
        /* dW_e += (Σdm)ᵀ·yu and dyu = (Σdm)·W_e over the distinct rows */
        size_t nH = (size_t)uy->n * H;
        float *dmu = uy->work;
#pragma omp parallel for schedule(static) num_threads(team_size(ws, (double)nH * used))
        for (size_t i = 0; i < nH; i++)
            for (int t = 1; t < used; t++) dmu[i] += dmu[(size_t)t * nH + i];
        gemm_dw(gWe, uy->work, uy->yu, uy->n, H, H, ws);
        gemm_xw(uy->work + nH, uy->work, We, uy->n, H, H, 0.0f);
    }

    /* the four node maps */
    gemm_dw(gp + EGGC_W4(H), dP, x, n, 4 * H, H, ws);
    colsum_acc(gp + EGGC_B4(H), dP, n, 4 * H, ws);
    gemm_xw(dx, dP, W4, n, 4 * H, H, 1.0f);
    return 0;
}
