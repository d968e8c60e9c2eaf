/* Attention pooling of MODEL-4 (docs/method.md §7.5), forward and backward over the node rows of a batch.
 *
 * Per structure with n nodes X (n × H):
 *   Q, K, V = ReLU(X·Wᵀ + b)                 (three Linear(H→H))
 *   s_i     = Σ_j tanh(K_i · Q_j)            (scores of node i over all nodes j)
 *   α       = softmax_i(s);  α_i ← α_i·keep_i  (dropout 0.2 in training: keep ∈ {0, 1/0.8})
 *   r       = mean_i X_i + Σ_i α_i V_i
 *   p       = LayerNorm(r)                   (over the H features, eps 1e-5, affine)
 * The n × n score matrix is never stored: rows of K·Qᵀ are formed ATTN_CHUNK at a time, reduced
 * to s, and formed again in backward, so memory stays O(N·H) for structures of ~1000 atoms. */
#include <math.h>
#include <string.h>

#include "nn/model_internal.h"

/* Lays out the arrays from base (NULL: sizing only); returns the floats used. One function for
 * both, so the size always matches the layout. */
static size_t carve(attn_acts *a, float *base, int H, int max_atoms, int max_structs) {
    size_t N = (size_t)max_atoms, B = (size_t)max_structs, h = (size_t)H, used = 0;
    float **slot[] = {&a->q, &a->k, &a->v, &a->dq, &a->dk, &a->dv, &a->alpha, &a->keep, &a->ds,
                      &a->r, &a->dr, &a->ln, &a->sc};
    size_t len[] = {N * h, N * h, N * h, N * h, N * h, N * h, N, N, N, B * h, B * h, 2 * B,
                    (size_t)ATTN_CHUNK * N};
    memset(a, 0, sizeof *a);
    a->H = H;
    a->cap_N = max_atoms;
    a->cap_B = max_structs;
    for (size_t k = 0; k < sizeof len / sizeof len[0]; k++) {
        *slot[k] = base ? base + used : NULL;
        used += (len[k] + 15) & ~(size_t)15; /* 64-byte aligned rows */
    }
    return used;
}

size_t attn_acts_floats(int H, int max_atoms, int max_structs) {
    attn_acts a;
    return carve(&a, NULL, H, max_atoms, max_structs);
}

void attn_acts_carve(attn_acts *a, float *base, int H, int max_atoms, int max_structs) {
    carve(a, base, H, max_atoms, max_structs);
}

static void relu_inplace(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* dy ← dy where y > 0, else 0 (y is the ReLU's output) */
static void relu_mask(float *dy, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

int attn_forward(ih_model *m, const attn_layer *l, attn_acts *a, const float *x, const int *ptr,
                 int B, float *out, ih_rng *rng) {
    int H = m->H, N = ptr[B];
    if (a->H != H || N > a->cap_N || B > a->cap_B)
        return ih_set_error("model: attention pooling over %d structures / %d atoms exceeds the "
                            "reserved %d / %d",
                            B, N, a->cap_B, a->cap_N);
    const float *P = m->params;
    linear_forward(a->q, x, P + l->q.w, P + l->q.b, N, H, H);
    linear_forward(a->k, x, P + l->k.w, P + l->k.b, N, H, H);
    linear_forward(a->v, x, P + l->v.w, P + l->v.b, N, H, H);
    relu_inplace(a->q, (size_t)N * H);
    relu_inplace(a->k, (size_t)N * H);
    relu_inplace(a->v, (size_t)N * H);
    const float *gam = P + l->ln_g, *bet = P + l->ln_b;
    double acc[EGGC_MAX_H];
    for (int b = 0; b < B; b++) {
        int i0 = ptr[b], i1 = ptr[b + 1], n = i1 - i0;
        if (n < 1) return ih_set_error("model: attention pooling over a structure without atoms");
        const float *Qb = a->q + (size_t)i0 * H;
        for (int c0 = i0; c0 < i1; c0 += ATTN_CHUNK) {
            int rows = i1 - c0 < ATTN_CHUNK ? i1 - c0 : ATTN_CHUNK;
            gemm_xwt(a->sc, a->k + (size_t)c0 * H, Qb, rows, H, n, 0.0f); /* K_i · Q_j */
            for (int r = 0; r < rows; r++) {
                const float *row = a->sc + (size_t)r * n;
                double s = 0.0;
                for (int j = 0; j < n; j++) s += tanhf(row[j]);
                a->alpha[c0 + r] = (float)s;
            }
        }
        /* softmax over the structure's nodes */
        double mx = -INFINITY, z = 0.0;
        for (int i = i0; i < i1; i++) mx = fmax(mx, a->alpha[i]);
        for (int i = i0; i < i1; i++) z += exp((double)a->alpha[i] - mx);
        for (int i = i0; i < i1; i++) a->alpha[i] = (float)(exp((double)a->alpha[i] - mx) / z);
        for (int i = i0; i < i1; i++)
            a->keep[i] = !rng ? 1.0f
                              : ih_rng_uniform(rng) < ATTN_DROPOUT ? 0.0f : 1.0f / (1.0f - ATTN_DROPOUT);
        /* r = mean X + Σ α·keep·V, then LayerNorm */
        float *rb = a->r + (size_t)b * H;
        for (int k = 0; k < H; k++) acc[k] = 0.0;
        for (int i = i0; i < i1; i++) {
            const float *xi = x + (size_t)i * H, *vi = a->v + (size_t)i * H;
            double w = (double)a->alpha[i] * a->keep[i];
            for (int k = 0; k < H; k++) acc[k] += xi[k] / (double)n + w * vi[k];
        }
        double mean = 0.0, var = 0.0;
        for (int k = 0; k < H; k++) rb[k] = (float)acc[k], mean += rb[k];
        mean /= H;
        for (int k = 0; k < H; k++) var += (rb[k] - mean) * (rb[k] - mean);
        var /= H;
        float mu = (float)mean, rstd = (float)(1.0 / sqrt(var + IH_LN_EPS));
        a->ln[2 * b] = mu;
        a->ln[2 * b + 1] = rstd;
        float *ob = out + (size_t)b * H;
        for (int k = 0; k < H; k++) ob[k] = gam[k] * ((rb[k] - mu) * rstd) + bet[k];
    }
    return 0;
}

void attn_backward(ih_model *m, const attn_layer *l, attn_acts *a, const float *x, const int *ptr,
                   int B, const float *dout, float *dx) {
    int H = m->H, N = ptr[B];
    const float *P = m->params;
    float *G = m->grads;
    const float *gam = P + l->ln_g;
    float *dgam = G + l->ln_g, *dbet = G + l->ln_b;
    memset(a->dq, 0, sizeof(float) * (size_t)N * H);
    for (int b = 0; b < B; b++) {
        int i0 = ptr[b], i1 = ptr[b + 1], n = i1 - i0;
        const float *rb = a->r + (size_t)b * H, *db = dout + (size_t)b * H;
        float mu = a->ln[2 * b], rstd = a->ln[2 * b + 1];
        float *dr = a->dr + (size_t)b * H;
        /* LayerNorm: dr = rstd·(g − mean(g) − r̂·mean(g·r̂)), g = dout·γ */
        double mg = 0.0, mgr = 0.0;
        for (int k = 0; k < H; k++) {
            float rh = (rb[k] - mu) * rstd, g = db[k] * gam[k];
            dgam[k] += db[k] * rh;
            dbet[k] += db[k];
            mg += g;
            mgr += (double)g * rh;
        }
        mg /= H;
        mgr /= H;
        for (int k = 0; k < H; k++) {
            float rh = (rb[k] - mu) * rstd;
            dr[k] = rstd * (float)(db[k] * gam[k] - mg - rh * mgr);
        }
        /* mean and value paths; dα_i = keep_i·(V_i·dr), kept in ds for now */
        double dot_sum = 0.0;
        for (int i = i0; i < i1; i++) {
            float *dxi = dx + (size_t)i * H, *dvi = a->dv + (size_t)i * H;
            const float *vi = a->v + (size_t)i * H;
            float w = a->alpha[i] * a->keep[i], inv_n = 1.0f / (float)n;
            double dot = 0.0;
            for (int k = 0; k < H; k++) {
                dxi[k] += dr[k] * inv_n;
                dvi[k] = w * dr[k];
                dot += (double)vi[k] * dr[k];
            }
            a->ds[i] = (float)(a->keep[i] * dot);
            dot_sum += (double)a->alpha[i] * a->ds[i];
        }
        /* softmax: ds_i = α_i·(dα_i − Σ_k α_k dα_k) */
        for (int i = i0; i < i1; i++) a->ds[i] = a->alpha[i] * (float)(a->ds[i] - dot_sum);
        /* scores: dS_ij = ds_i·(1 − tanh²(K_i·Q_j)); dK = dS·Q, dQ = dSᵀ·K */
        const float *Qb = a->q + (size_t)i0 * H;
        for (int c0 = i0; c0 < i1; c0 += ATTN_CHUNK) {
            int rows = i1 - c0 < ATTN_CHUNK ? i1 - c0 : ATTN_CHUNK;
            gemm_xwt(a->sc, a->k + (size_t)c0 * H, Qb, rows, H, n, 0.0f);
            for (int r = 0; r < rows; r++) {
                float *row = a->sc + (size_t)r * n, d = a->ds[c0 + r];
                for (int j = 0; j < n; j++) {
                    float t = tanhf(row[j]);
                    row[j] = d * (1.0f - t * t);
                }
            }
            gemm_xw(a->dk + (size_t)c0 * H, a->sc, Qb, rows, n, H, 0.0f);
            gemm_dw(a->dq + (size_t)i0 * H, a->sc, a->k + (size_t)c0 * H, rows, n, H, &m->ws);
        }
    }
    relu_mask(a->dq, a->q, (size_t)N * H);
    relu_mask(a->dk, a->k, (size_t)N * H);
    relu_mask(a->dv, a->v, (size_t)N * H);
    linear_backward(dx, G + l->q.w, G + l->q.b, a->dq, x, P + l->q.w, N, H, H, &m->ws);
    linear_backward(dx, G + l->k.w, G + l->k.b, a->dk, x, P + l->k.w, N, H, H, &m->ws);
    linear_backward(dx, G + l->v.w, G + l->v.b, a->dv, x, P + l->v.w, N, H, H, &m->ws);
}
