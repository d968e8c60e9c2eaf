/* The bond and angle embeddings (docs/method.md §4.3): RBF(v) → Linear(K→emb) → BN → SiLU →
 * Linear(emb→H) → BN → SiLU, over E (bonds) or T (triplets: the largest rows of the model).
 *
 * Rows are streamed in cache-sized chunks per thread. Neither the RBF expansion nor the first
 * activation is kept: both are recomputed per chunk where needed (their inputs, v and the first
 * pre-BatchNorm values u1, are), so the training arena holds u1 (emb wide) and u2 (H wide) only.
 * In evaluation mode the whole chain runs chunk by chunk into the output.
 *
 * Given distinct values (uniq_rows, model_internal.h) the chain runs once per value: BatchNorm
 * statistics weigh each value by its multiplicity, the output rows are gathered, and backward
 * first sums the output gradients of each value's rows (a BatchNorm row gradient is then the
 * sum over the value's rows: k_bn_grad_rows_w). */
#include <cblas.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "nn/kern.h"
#include "nn/model_internal.h"

#define EMBED_ROWS 1024

size_t embed_ws_floats(int H, int emb, int K) {
    return (size_t)H * emb + (size_t)emb * K + H + emb + (size_t)EMBED_ROWS * (K + 2 * emb) + 64;
}

static int team(const ih_model *m, double work) {
    int nt = omp_get_max_threads();
    if (nt > m->ws.nt) nt = m->ws.nt;
    return work < 1 << 20 ? 1 : nt;
}

/* bias rows, then the chunk GEMM y = x·Wᵀ + b */
static void chunk_linear(float *y, const float *x, const float *W, const float *b, int rows, int in,
                         int out) {
    for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * out, b, sizeof(float) * out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, W, in, 1.0f, y,
                out);
}

static void bn_coeffs(float *scale, float *shift, const float *st, const float *g, const float *b,
                      int C) {
    for (int k = 0; k < C; k++) {
        scale[k] = g[k] * st[C + k];
        shift[k] = b[k] - st[k] * scale[k];
    }
}

/* out[r] = rows[idx[r]] for the M rows */
static void gather_rows(float *out, const float *rows, const int *idx, int M, int H, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int r = 0; r < M; r++) memcpy(out + (size_t)r * H, rows + (size_t)idx[r] * H, sizeof(float) * H);
}

/* the chain over M rows of values v; w (NULL: all 1) weighs the BatchNorm statistics */
static int embed_rows_forward(ih_model *m, const rbf_spec *rbf, const mlp_layer *l1,
                              const mlp_layer *l2, const float *v, int M, const float *w,
                              float *u1, float *u2, float *st1, float *st2, float *out,
                              int training) {
    const float *P = m->params;
    float *Bf = m->buffers;
    int K = rbf->K, emb = l1->out, H = l2->out;
    ops_ws *ws = &m->ws;
    int nt = team(m, (double)M * H * emb);
    if (!training) {
        if (bn_stats_finish(st1, NULL, emb, 0, Bf + l1->rm, Bf + l1->rv) ||
            bn_stats_finish(st2, NULL, H, 0, Bf + l2->rm, Bf + l2->rv))
            return -1;
        float sc1[EGGC_MAX_H], sh1[EGGC_MAX_H], sc2[EGGC_MAX_H], sh2[EGGC_MAX_H];
        bn_coeffs(sc1, sh1, st1, P + l1->g, P + l1->beta, emb);
        bn_coeffs(sc2, sh2, st2, P + l2->g, P + l2->beta, H);
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            float *rb = ws->f + (size_t)t * ws->fslot, *a1 = rb + (size_t)EMBED_ROWS * K;
            long r0 = (long)M * t / T, r1 = (long)M * (t + 1) / T;
            for (long c0 = r0; c0 < r1; c0 += EMBED_ROWS) {
                int rows = (int)(c0 + EMBED_ROWS < r1 ? EMBED_ROWS : r1 - c0);
                /* u1, u2 are kept when given (a training arena can run backward in
                 * evaluation mode); otherwise everything stays in the chunk */
                float *o = out + (size_t)c0 * H;
                float *u1c = u1 ? u1 + (size_t)c0 * emb : a1, *u2c = u2 ? u2 + (size_t)c0 * H : o;
                k_rbf(K, rows, rb, v + c0, rbf->centers, rbf->gamma);
                chunk_linear(u1c, rb, P + l1->w, P + l1->b, rows, K, emb);
                k_affine_act(emb, rows, a1, NULL, u1c, sc1, sh1, 1);
                chunk_linear(u2c, a1, P + l2->w, P + l2->b, rows, emb, H);
                k_affine_act(H, rows, o, NULL, u2c, sc2, sh2, 1);
            }
        }
        return 0;
    }
    /* training: u1 and its statistics, then u2 and its statistics, then the output */
    int used = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#pragma omp single
        used = T;
        float *rb = ws->f + (size_t)t * ws->fslot;
        double *acc = ws->d + (size_t)t * ws->dslot;
        memset(acc, 0, sizeof(double) * (1 + 2 * (size_t)emb));
        long r0 = (long)M * t / T, r1 = (long)M * (t + 1) / T;
        for (long c0 = r0; c0 < r1; c0 += EMBED_ROWS) {
            int rows = (int)(c0 + EMBED_ROWS < r1 ? EMBED_ROWS : r1 - c0);
            k_rbf(K, rows, rb, v + c0, rbf->centers, rbf->gamma);
            chunk_linear(u1 + (size_t)c0 * emb, rb, P + l1->w, P + l1->b, rows, K, emb);
            if (w) bn_acc_rows_w(acc, u1 + (size_t)c0 * emb, w + c0, rows, emb);
            else bn_acc_rows(acc, u1 + (size_t)c0 * emb, rows, emb);
        }
    }
    for (int t = 1; t < used; t++) bn_acc_merge(ws->d, ws->d + (size_t)t * ws->dslot, emb);
    if (bn_stats_finish(st1, ws->d, emb, 1, Bf + l1->rm, Bf + l1->rv)) return -1;
    float sc1[EGGC_MAX_H], sh1[EGGC_MAX_H];
    bn_coeffs(sc1, sh1, st1, P + l1->g, P + l1->beta, emb);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        float *a1 = ws->f + (size_t)t * ws->fslot;
        double *acc = ws->d + (size_t)t * ws->dslot;
        memset(acc, 0, sizeof(double) * (1 + 2 * (size_t)H));
        long r0 = (long)M * t / T, r1 = (long)M * (t + 1) / T;
        for (long c0 = r0; c0 < r1; c0 += EMBED_ROWS) {
            int rows = (int)(c0 + EMBED_ROWS < r1 ? EMBED_ROWS : r1 - c0);
            k_affine_act(emb, rows, a1, NULL, u1 + (size_t)c0 * emb, sc1, sh1, 1);
            chunk_linear(u2 + (size_t)c0 * H, a1, P + l2->w, P + l2->b, rows, emb, H);
            if (w) bn_acc_rows_w(acc, u2 + (size_t)c0 * H, w + c0, rows, H);
            else bn_acc_rows(acc, u2 + (size_t)c0 * H, rows, H);
        }
    }
    for (int t = 1; t < used; t++) bn_acc_merge(ws->d, ws->d + (size_t)t * ws->dslot, H);
    if (bn_stats_finish(st2, ws->d, H, 1, Bf + l2->rm, Bf + l2->rv)) return -1;
    bn_apply(out, NULL, u2, st2, P + l2->g, P + l2->beta, M, H, 1);
    return 0;
}

int embed_forward(ih_model *m, const rbf_spec *rbf, const mlp_layer *l1, const mlp_layer *l2,
                  const float *v, int M, const uniq_rows *uq, float *tmp, float *u1, float *u2,
                  float *st1, float *st2, float *out_rows, int training) {
    int dedup = uq && uq->n > 0;
    int rc = embed_rows_forward(m, rbf, l1, l2, dedup ? uq->val : v, dedup ? uq->n : M,
                                dedup ? uq->count : NULL, u1, u2, st1, st2, dedup ? tmp : out_rows,
                                training);
    if (rc == 0 && dedup)
        gather_rows(out_rows, tmp, uq->idx, M, l2->out, team(m, (double)M * l2->out));
    return rc;
}

/* Σg and Σg·x̂ of a BatchNorm+SiLU backward over rows [r0, r1), in blocks of 32 rows; g is
 * written over dout (dout is needed only through g afterwards) */
static void grad_sums(int C, long r0, long r1, const float *x, float *dout, const float *scale,
                      const float *shift, const float *st, double *sg) {
    float fg[EGGC_MAX_H], fgx[EGGC_MAX_H];
    for (long b0 = r0; b0 < r1; b0 += 32) {
        long b1 = b0 + 32 < r1 ? b0 + 32 : r1;
        for (int k = 0; k < C; k++) fg[k] = fgx[k] = 0.0f;
        k_bn_grad_sums_store(C, b1 - b0, x + b0 * C, dout + b0 * C, scale, shift, st, st + C, fg,
                             fgx);
        for (int k = 0; k < C; k++) {
            sg[k] += fg[k];
            sg[C + k] += fgx[k];
        }
    }
}

/* the same from d (dL/d SiLU output) and the kept σ: g = d ⊙ SiLU'(u) written over d */
static void grad_sums_sig(int C, int rows, float *d, const float *sig, const float *x,
                          const float *scale, const float *shift, const float *st, double *sg) {
    float fg[EGGC_MAX_H], fgx[EGGC_MAX_H];
    for (int b0 = 0; b0 < rows; b0 += 32) {
        int nb = rows - b0 < 32 ? rows - b0 : 32;
        size_t o = (size_t)b0 * C;
        for (int k = 0; k < C; k++) fg[k] = fgx[k] = 0.0f;
        k_silu_grad_sig(C, nb, d + o, sig + o, x + o, scale, shift, st, st + C, fg, fgx);
        for (int k = 0; k < C; k++) {
            sg[k] += fg[k];
            sg[C + k] += fgx[k];
        }
    }
}


void embed_backward(ih_model *m, const rbf_spec *rbf, const mlp_layer *l1, const mlp_layer *l2,
                    const float *v, int M_rows, const uniq_rows *uq, float *tmp, const float *u1,
                    const float *u2, const float *st1, const float *st2, float *dout,
                    const float *dsum_add, float *da1, int training) {
    const float *P = m->params;
    float *G = m->grads;
    int K = rbf->K, emb = l1->out, H = l2->out;
    ops_ws *ws = &m->ws;
    /* M rows of values v with multiplicities w (NULL: 1); BatchNorm means are over the
     * M_rows rows the embedding stands for */
    int M = M_rows;
    const float *w = NULL;
    if (uq && uq->n > 0) {
        M = uq->n, v = uq->val, w = uq->count;
        float *dsum = tmp;
        da1 = tmp + (size_t)M * H;
        const int *gp = uq->grp_ptr, *gr = uq->grp_rows;
#pragma omp parallel for schedule(static) num_threads(team(m, (double)M_rows * H))
        for (int u = 0; u < M; u++) {
            float *d = dsum + (size_t)u * H;
            memcpy(d, dout + (size_t)gr[gp[u]] * H, sizeof(float) * H);
            for (int q = gp[u] + 1; q < gp[u + 1]; q++) {
                const float *s = dout + (size_t)gr[q] * H;
                for (int k = 0; k < H; k++) d[k] += s[k];
            }
            if (dsum_add)
                for (int k = 0; k < H; k++) d[k] += dsum_add[(size_t)u * H + k];
        }
        dout = dsum;
    }
    int nt = team(m, (double)M * H * emb), used = 1;
    float sc1[EGGC_MAX_H], sh1[EGGC_MAX_H], sc2[EGGC_MAX_H], sh2[EGGC_MAX_H];
    float c2[EGGC_MAX_H], c3[EGGC_MAX_H];
    bn_coeffs(sc1, sh1, st1, P + l1->g, P + l1->beta, emb);
    bn_coeffs(sc2, sh2, st2, P + l2->g, P + l2->beta, H);

    /* BN2 sums over all rows */
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#pragma omp single
        used = T;
        double *sg = ws->d + (size_t)t * ws->dslot;
        memset(sg, 0, sizeof(double) * 2 * (size_t)H);
        grad_sums(H, (long)M * t / T, (long)M * (t + 1) / T, u2, dout, sc2, sh2, st2, sg);
    }
    bn_reduce_grad(ws, used, H, M_rows, st2 + H, training, G + l2->g, G + l2->beta, c2, c3);

    /* du2 per chunk from g2 (in place in dout), dW2 += du2ᵀ·a1 (a1 and σ recomputed once),
     * da1 = du2·W2, then g1 = da1 ⊙ SiLU'(u1) over da1 with the BN1 sums */
    size_t w2 = (size_t)H * emb, w1 = (size_t)emb * K;
    float c2b[EGGC_MAX_H], c3b[EGGC_MAX_H];
    memcpy(c2b, c2, sizeof(float) * H);
    memcpy(c3b, c3, sizeof(float) * H);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        float *dw2 = ws->f + (size_t)t * ws->fslot, *db2 = dw2 + w2 + w1;
        float *a1 = db2 + H, *sig = a1 + (size_t)EMBED_ROWS * emb;
        double *sg = ws->d + (size_t)t * ws->dslot;
        memset(dw2, 0, sizeof(float) * (w2 + w1 + H));
        memset(sg, 0, sizeof(double) * 2 * (size_t)emb);
        long r0 = (long)M * t / T, r1 = (long)M * (t + 1) / T;
        for (long c0 = r0; c0 < r1; c0 += EMBED_ROWS) {
            int rows = (int)(c0 + EMBED_ROWS < r1 ? EMBED_ROWS : r1 - c0);
            float *du2 = dout + (size_t)c0 * H;
            if (w) k_bn_grad_rows_w(H, rows, du2, du2, u2 + (size_t)c0 * H, st2, sc2, c2b, c3b, w + c0);
            else k_bn_grad_rows(H, rows, du2, du2, u2 + (size_t)c0 * H, sc2, sh2, st2, sc2, c2b, c3b, 0);
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < H; k++) db2[k] += du2[(size_t)r * H + k];
            k_silu_sig(emb, rows, a1, sig, u1 + (size_t)c0 * emb, sc1, sh1);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, emb, rows, 1.0f, du2, H, a1, emb,
                        1.0f, dw2, emb);
            float *d1 = da1 + (size_t)c0 * emb;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, emb, H, 1.0f, du2, H,
                        P + l2->w, emb, 0.0f, d1, emb);
            grad_sums_sig(emb, rows, d1, sig, u1 + (size_t)c0 * emb, sc1, sh1, st1, sg);
        }
    }
    for (int t = 0; t < used; t++) {
        const float *s = ws->f + (size_t)t * ws->fslot;
        for (size_t i = 0; i < w2; i++) G[l2->w + i] += s[i];
        for (int k = 0; k < H; k++) G[l2->b + k] += s[w2 + w1 + k];
    }
    bn_reduce_grad(ws, used, emb, M_rows, st1 + emb, training, G + l1->g, G + l1->beta, c2, c3);

    /* du1 per chunk (in place in da1), dW1 += du1ᵀ·rbf (recomputed), Σdu1 */
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        float *dw1 = ws->f + (size_t)t * ws->fslot + w2, *db1 = dw1 + w1 + H;
        float *rb = db1 + emb;
        memset(dw1, 0, sizeof(float) * w1);
        memset(db1, 0, sizeof(float) * emb);
        long r0 = (long)M * t / T, r1 = (long)M * (t + 1) / T;
        for (long c0 = r0; c0 < r1; c0 += EMBED_ROWS) {
            int rows = (int)(c0 + EMBED_ROWS < r1 ? EMBED_ROWS : r1 - c0);
            float *du1 = da1 + (size_t)c0 * emb;
            if (w) k_bn_grad_rows_w(emb, rows, du1, du1, u1 + (size_t)c0 * emb, st1, sc1, c2, c3, w + c0);
            else k_bn_grad_rows(emb, rows, du1, du1, u1 + (size_t)c0 * emb, sc1, sh1, st1, sc1, c2, c3, 0);
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < emb; k++) db1[k] += du1[(size_t)r * emb + k];
            k_rbf(K, rows, rb, v + c0, rbf->centers, rbf->gamma);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, emb, K, rows, 1.0f, du1, emb, rb, K,
                        1.0f, dw1, K);
        }
    }
    for (int t = 0; t < used; t++) {
        const float *s = ws->f + (size_t)t * ws->fslot + w2;
        for (size_t i = 0; i < w1; i++) G[l1->w + i] += s[i];
        for (int k = 0; k < emb; k++) G[l1->b + k] += s[w1 + H + k];
    }
}

/* ---------------------------------------------------------------------------------------- */

static inline unsigned hash_bits(uint32_t x) {
    x *= 0x9E3779B1u;
    return x ^ (x >> 16);
}

int uniq_build(uniq_rows *u, const float *v, int M) {
    const unsigned mask = (unsigned)u->hash_cap - 1;
    int n = 0;
    memset(u->hash, 0xff, sizeof(int) * (size_t)u->hash_cap);
    uint32_t *bits = (uint32_t *)u->grp_rows; /* the values' bit patterns, until the CSR pass */
    for (int r = 0; r < M; r++) {
        float x = v[r] == 0.0f ? 0.0f : v[r]; /* -0 and +0 are one value */
        uint32_t b;
        memcpy(&b, &x, sizeof b);
        unsigned h = hash_bits(b) & mask;
        while (u->hash[h] >= 0 && bits[u->hash[h]] != b) h = (h + 1) & mask;
        if (u->hash[h] < 0) {
            u->hash[h] = n;
            bits[n] = b;
            u->val[n] = x;
            u->count[n] = 0.0f;
            n++;
        }
        u->idx[r] = u->hash[h];
        u->count[u->idx[r]] += 1.0f;
    }
    /* rows of each value, ascending (a counting sort; the hash slots serve as cursors) */
    u->grp_ptr[0] = 0;
    for (int q = 0; q < n; q++) u->grp_ptr[q + 1] = u->grp_ptr[q] + (int)u->count[q];
    int *cursor = u->hash;
    memcpy(cursor, u->grp_ptr, sizeof(int) * (size_t)n);
    for (int r = 0; r < M; r++) u->grp_rows[cursor[u->idx[r]]++] = r;
    u->n = n;
    return n;
}
