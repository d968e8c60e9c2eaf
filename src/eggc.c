/* Edge-gated graph convolution (spec §4.4), forward and backward.
 *
 *   m_e  = src_gate(x_s) + dst_gate(x_t) + edge_gate(y_e)
 *   h_i  = Σ_{e→i} σ(m_e) ⊙ dst_update(x_s) / (Σ_{e→i} σ(m_e) + 1e−6)
 *   x'   = x + SiLU(bn_nodes(src_update(x) + h)),   y' = y + SiLU(bn_edges(m))
 *
 * The four maps that read x run as one GEMM on the n node rows before anything is gathered to
 * the edges. Aggregation into a node walks its incoming edges (CSR by destination); the
 * backward scatters to sources walk the by-source grouping, so no atomics are needed. Each
 * thread owns a contiguous range of destination nodes balanced by edge count. */
#include <math.h>
#include <omp.h>

#include "ionhop.h"
#include "ops.h"

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
    if (work < 1 << 16) nt = 1;
    return nt;
}

size_t eggc_scratch_floats(int H, int n, int e) {
    return (size_t)e * H + (size_t)n * 6 * H;
}

int eggc_forward(const float *p, float *buf, int H, const mp_graph *g, const float *x,
                 const float *y, float *x_out, float *y_out, eggc_acts *a, int training,
                 ops_ws *ws) {
    int n = g->n_nodes, e = g->n_edges;
    const size_t H4 = 4 * (size_t)H;
    const float *W4 = p + EGGC_W4(H), *b4 = p + EGGC_B4(H);
    const float *We = p + EGGC_WE(H), *be = p + EGGC_BE(H);
    float *rm_e = buf, *rv_e = buf + H, *rm_n = buf + 2 * H, *rv_n = buf + 3 * H;

    linear_forward(a->P, x, W4, b4, n, H, 4 * H);
    gemm_xwt(a->m, y, We, e, H, H, 0.0f);

    const int *src = g->src, *dptr = g->dst_ptr;
    const float *P = a->P;
    float *m = a->m, *xp = a->xp, *den = a->den;
    int nt = team_size(ws, (double)e * H * 8), used = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#pragma omp single
        used = T;
        double *acc = ws->d + (size_t)t * ws->dslot;
        memset(acc, 0, sizeof(double) * (1 + 2 * (size_t)H));
        int v0 = part(dptr, n, t, T), v1 = part(dptr, n, t + 1, T);
        for (int v = v0; v < v1; v++) {
            float *num = xp + (size_t)v * H, *dv = den + (size_t)v * H;
            const float *Bv = P + (size_t)v * H4 + H, *Cv = P + (size_t)v * H4 + 2 * H;
            for (int k = 0; k < H; k++) num[k] = dv[k] = 0.0f;
            for (int ed = dptr[v]; ed < dptr[v + 1]; ed++) {
                const float *As = P + (size_t)src[ed] * H4, *Ds = As + 3 * H;
                float *me = m + (size_t)ed * H;
                for (int k = 0; k < H; k++) {
                    float mk = me[k] + As[k] + Bv[k] + be[k];
                    me[k] = mk;
                    float sg = ops_sigmoid(mk);
                    num[k] += sg * Ds[k];
                    dv[k] += sg;
                }
            }
            if (training && dptr[v + 1] > dptr[v])
                bn_acc_rows(acc, m + (size_t)dptr[v] * H, dptr[v + 1] - dptr[v], H);
            for (int k = 0; k < H; k++) {
                float d = dv[k] + IH_GATE_EPS;
                dv[k] = d;
                num[k] = Cv[k] + num[k] / d;
            }
        }
    }
    if (training)
        for (int t = 1; t < used; t++) bn_acc_merge(ws->d, ws->d + (size_t)t * ws->dslot, H);
    if (bn_stats_finish(a->stats_e, ws->d, H, training, rm_e, rv_e)) return -1;
    if (bn_stats(a->stats_n, xp, n, H, training, rm_n, rv_n, ws)) return -1;
    bn_apply(x_out, x, xp, a->stats_n, p + EGGC_BNN_G(H), p + EGGC_BNN_B(H), n, H, 1);
    if (y_out) bn_apply(y_out, y, m, a->stats_e, p + EGGC_BNE_G(H), p + EGGC_BNE_B(H), e, H, 1);
    return 0;
}

int eggc_backward(const float *p, float *gp, int H, const mp_graph *g, const float *x,
                  const float *y, const eggc_acts *a, int training, float *dx, float *dy,
                  int dy_out_zero, float *scratch, ops_ws *ws) {
    int n = g->n_nodes, e = g->n_edges;
    const size_t H4 = 4 * (size_t)H;
    const float *W4 = p + EGGC_W4(H), *We = p + EGGC_WE(H);
    const float *P = a->P, *m = a->m, *xp = a->xp, *den = a->den;
    float *dm = scratch, *dP = dm + (size_t)e * H, *dnum = dP + (size_t)n * H4,
          *dden = dnum + (size_t)n * H;

    /* node side: bn_nodes/SiLU backward, then split d(x') into d(src_update) and d(h) */
    bn_backward(dnum, gp + EGGC_BNN_G(H), gp + EGGC_BNN_B(H), dx, xp, a->stats_n,
                p + EGGC_BNN_G(H), p + EGGC_BNN_B(H), n, H, training, 1, ws);
#pragma omp parallel for schedule(static) num_threads(team_size(ws, (double)n * H * 4))
    for (long v = 0; v < n; v++) {
        float *dPv = dP + v * H4, *nv = dnum + v * H, *ddv = dden + v * H;
        const float *Cv = P + v * H4 + 2 * H, *xpv = xp + v * H, *dv = den + v * H;
        for (int k = 0; k < H; k++) {
            float dxp = nv[k], h = xpv[k] - Cv[k];
            dPv[k] = 0.0f;          /* dA: filled by the source pass */
            dPv[H + k] = 0.0f;      /* dB: filled by the destination pass */
            dPv[2 * H + k] = dxp;   /* dC */
            dPv[3 * H + k] = 0.0f;  /* dD: filled by the source pass */
            nv[k] = dxp / dv[k];    /* d num */
            ddv[k] = -dxp * h / dv[k]; /* d den */
        }
    }

    /* edge side: bn_edges/SiLU backward coefficients (per channel) */
    const float *mean_e = a->stats_e, *rstd_e = a->stats_e + H;
    const float *ge = p + EGGC_BNE_G(H), *bee = p + EGGC_BNE_B(H);
    float scale[EGGC_MAX_H], shift[EGGC_MAX_H], c2[EGGC_MAX_H], c3[EGGC_MAX_H];
    for (int k = 0; k < H; k++) {
        scale[k] = ge[k] * rstd_e[k];
        shift[k] = bee[k] - mean_e[k] * scale[k];
        c2[k] = c3[k] = 0.0f;
    }
    int nt = team_size(ws, (double)e * H * 8), used = 1;
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
                for (long r = b0; r < b1; r++) {
                    const float *mr = m + r * H, *dr = dy + r * H;
                    for (int k = 0; k < H; k++) {
                        float gk = dr[k] * ops_dsilu(mr[k] * scale[k] + shift[k]);
                        fg[k] += gk;
                        fgx[k] += gk * ((mr[k] - mean_e[k]) * rstd_e[k]);
                    }
                }
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

    /* destination pass: dm_e (BN path + gate path), dB */
    const int *src = g->src, *dst = g->dst, *dptr = g->dst_ptr;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int v0 = part(dptr, n, t, T), v1 = part(dptr, n, t + 1, T);
        for (int v = v0; v < v1; v++) {
            const float *nv = dnum + (size_t)v * H, *ddv = dden + (size_t)v * H;
            float *dBv = dP + (size_t)v * H4 + H;
            for (int ed = dptr[v]; ed < dptr[v + 1]; ed++) {
                const float *Ds = P + (size_t)src[ed] * H4 + 3 * H;
                const float *me = m + (size_t)ed * H;
                const float *dye = dy_out_zero ? NULL : dy + (size_t)ed * H;
                float *dme = dm + (size_t)ed * H;
                for (int k = 0; k < H; k++) {
                    float sg = ops_sigmoid(me[k]);
                    float d = (nv[k] * Ds[k] + ddv[k]) * sg * (1.0f - sg);
                    if (dye) {
                        float gk = dye[k] * ops_dsilu(me[k] * scale[k] + shift[k]);
                        d += scale[k] * (gk - c2[k] - (me[k] - mean_e[k]) * c3[k]);
                    }
                    dme[k] = d;
                    dBv[k] += d;
                }
            }
        }
    }

    /* source pass: dA_s = Σ dm_e, dD_s = Σ dnum_t ⊙ σ(m_e) over edges leaving s */
    const int *sptr = g->src_ptr, *bys = g->by_src;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int s0 = part(sptr, n, t, T), s1 = part(sptr, n, t + 1, T);
        for (int s = s0; s < s1; s++) {
            float *dAs = dP + (size_t)s * H4, *dDs = dAs + 3 * H;
            for (int j = sptr[s]; j < sptr[s + 1]; j++) {
                int ed = bys[j];
                const float *me = m + (size_t)ed * H, *dme = dm + (size_t)ed * H;
                const float *nv = dnum + (size_t)dst[ed] * H;
                for (int k = 0; k < H; k++) {
                    dAs[k] += dme[k];
                    dDs[k] += nv[k] * ops_sigmoid(me[k]);
                }
            }
        }
    }

    /* edge_gate and the four node maps */
    gemm_dw(gp + EGGC_WE(H), dm, y, e, H, H, ws);
    colsum_acc(gp + EGGC_BE(H), dm, e, H, ws);
    gemm_xw(dy, dm, We, e, H, H, dy_out_zero ? 0.0f : 1.0f);
    gemm_dw(gp + EGGC_W4(H), dP, x, n, 4 * H, H, ws);
    colsum_acc(gp + EGGC_B4(H), dP, n, 4 * H, ws);
    gemm_xw(dx, dP, W4, n, 4 * H, H, 1.0f);
    return 0;
}
