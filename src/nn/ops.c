/* Dense layers of the network: GEMM wrappers, Linear, BatchNorm(+SiLU+residual), activations,
 * radial basis, mean pooling. See ops.h for the conventions. */
#include "nn/ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "core/util.h"
#include "ionhop_nn.h"
#include "nn/kern.h"

int ops_max_threads(void) { return omp_get_max_threads(); }



/* OpenBLAS's own threads would compete with the OpenMP team (both spin on 2 cores); splitting
 * rows over OpenMP threads with a single-threaded BLAS measured 1.5-3x faster on the model's
 * tall-skinny shapes. */
void ops_blas_single_thread(void) { openblas_set_num_threads(1); }

int ops_ws_init(ops_ws *ws, int nt, size_t dslot, size_t fslot) {
    memset(ws, 0, sizeof *ws);
    if (nt < 1) nt = 1;
    ws->nt = nt;
    ws->dslot = (dslot + 7) & ~(size_t)7;
    ws->fslot = (fslot + 15) & ~(size_t)15;
    ws->d = ops_alloc(sizeof(double) * ws->dslot * (size_t)nt + 64);
    ws->f = ops_alloc(sizeof(float) * ws->fslot * (size_t)nt + 64);
    if (!ws->d || !ws->f) {
        ops_ws_free(ws);
        return ih_set_error("model: out of memory (workspace)");
    }
    return 0;
}

void ops_ws_free(ops_ws *ws) {
    free(ws->d);
    free(ws->f);
    ws->d = NULL;
    ws->f = NULL;
}

size_t ops_ws_dslot(int max_cols) { return 1 + 2 * (size_t)max_cols + 16; }
size_t ops_ws_fslot(int max_cols, size_t max_w) {
    size_t a = 4 * (size_t)max_cols;
    return a > max_w ? a : max_w;
}

/* Threads worth using for `work` multiply-adds (or element operations). */
static int threads_for(double work) {
    int nt = omp_get_max_threads();
    if (work < 1 << 20) return 1;
    return nt;
}

/* ---------------------------------------------------------------------------------------- */

void silu_forward(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static) num_threads(threads_for((double)n))
    for (size_t i = 0; i < n; i++) y[i] = ops_silu(x[i]);
}

void silu_backward(float *dx, const float *dy, const float *x, size_t n) {
#pragma omp parallel for schedule(static) num_threads(threads_for((double)n))
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * ops_dsilu(x[i]);
}

void sigmoid_forward(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static) num_threads(threads_for((double)n))
    for (size_t i = 0; i < n; i++) y[i] = ops_sigmoid(x[i]);
}

void sigmoid_backward(float *dx, const float *dy, const float *x, size_t n) {
#pragma omp parallel for schedule(static) num_threads(threads_for((double)n))
    for (size_t i = 0; i < n; i++) {
        float s = ops_sigmoid(x[i]);
        dx[i] += dy[i] * s * (1.0f - s);
    }
}

/* ---------------------------------------------------------------------------------------- */

/* C[M × N] = A[M × K] · op(W) (+ beta·C), rows split over the OpenMP team, each thread one
 * single-threaded BLAS call; op(W) = Wᵀ (W is N × K) or W (K × N) */
static void gemm_rows(float *C, const float *A, const float *W, int M, int K, int N, int trans_w,
                      float beta) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (size_t i = 0; i < (size_t)M * N; i++) C[i] = beta == 0.0f ? 0.0f : beta * C[i];
        return;
    }
#pragma omp parallel num_threads(threads_for((double)M * K * N))
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        long r0 = (long)M * t / nt, r1 = (long)M * (t + 1) / nt;
        if (r1 > r0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_w ? CblasTrans : CblasNoTrans, (int)(r1 - r0), N, K,
                        1.0f, A + r0 * K, K, W, trans_w ? K : N, beta, C + r0 * N, N);
    }
}

void gemm_xwt(float *Y, const float *X, const float *W, int M, int In, int O, float beta) {
    gemm_rows(Y, X, W, M, In, O, 1, beta);
}

void gemm_xw(float *dX, const float *dY, const float *W, int M, int O, int In, float beta) {
    gemm_rows(dX, dY, W, M, O, In, 0, beta);
}

void gemm_dw(float *dW, const float *dY, const float *X, int M, int O, int In, ops_ws *ws) {
    if (M <= 0 || O <= 0 || In <= 0) return;
    int nt = threads_for((double)M * In * O);
    if (nt > ws->nt) nt = ws->nt;
    if ((size_t)O * In > ws->fslot) nt = 1;
    int used = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#pragma omp single
        used = T;
        long r0 = (long)M * t / T, r1 = (long)M * (t + 1) / T;
        /* thread 0 adds straight into dW; the others into their slot, summed below */
        float *C = t == 0 ? dW : ws->f + (size_t)t * ws->fslot;
        if (r1 > r0)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, In, (int)(r1 - r0), 1.0f,
                        dY + r0 * O, O, X + r0 * In, In, t == 0 ? 1.0f : 0.0f, C, In);
        else if (t != 0)
            memset(C, 0, sizeof(float) * (size_t)O * In);
    }
    if (used > 1) {
        size_t n = (size_t)O * In;
#pragma omp parallel for schedule(static) num_threads(threads_for((double)n * used))
        for (size_t i = 0; i < n; i++) {
            float s = 0.0f;
            for (int t = 1; t < used; t++) s += ws->f[(size_t)t * ws->fslot + i];
            dW[i] += s;
        }
    }
}

void colsum_acc(float *db, const float *dY, int M, int O, ops_ws *ws) {
    if (M <= 0 || O <= 0) return;
    if ((size_t)O > ws->dslot) {
        /* wider than the workspace: plain sequential accumulation (still deterministic) */
        for (int r = 0; r < M; r++)
            for (int k = 0; k < O; k++) db[k] += dY[(size_t)r * O + k];
        return;
    }
    int nt = threads_for((double)M * O);
    if (nt > ws->nt) nt = ws->nt;
    int used = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#pragma omp single
        used = T;
        double *acc = ws->d + (size_t)t * ws->dslot;
        for (int k = 0; k < O; k++) acc[k] = 0.0;
        long r0 = (long)M * t / T, r1 = (long)M * (t + 1) / T;
        for (long r = r0; r < r1; r++) {
            const float *row = dY + r * O;
            for (int k = 0; k < O; k++) acc[k] += row[k];
        }
    }
    for (int k = 0; k < O; k++) {
        double s = 0.0;
        for (int t = 0; t < used; t++) s += ws->d[(size_t)t * ws->dslot + k];
        db[k] += (float)s;
    }
}

/* ---------------------------------------------------------------------------------------- */

void linear_forward(float *Y, const float *X, const float *W, const float *b, int M, int In, int O) {
    if (M <= 0 || O <= 0) return;
#pragma omp parallel num_threads(threads_for((double)M * In * O))
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        long r0 = (long)M * t / nt, r1 = (long)M * (t + 1) / nt;
        /* bias rows then GEMM with beta 1, block by block so the block stays in cache */
        for (long c0 = r0; c0 < r1; c0 += 256) {
            long c1 = c0 + 256 < r1 ? c0 + 256 : r1;
            if (b)
                for (long r = c0; r < c1; r++) memcpy(Y + r * O, b, sizeof(float) * O);
            if (In > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(c1 - c0), O, In, 1.0f,
                            X + c0 * In, In, W, In, b ? 1.0f : 0.0f, Y + c0 * O, O);
            else if (!b)
                memset(Y + c0 * O, 0, sizeof(float) * (size_t)(c1 - c0) * O);
        }
    }
}

void linear_backward(float *dX, float *dW, float *db, const float *dY, const float *X,
                     const float *W, int M, int In, int O, ops_ws *ws) {
    gemm_dw(dW, dY, X, M, O, In, ws);
    if (db) colsum_acc(db, dY, M, O, ws);
    if (dX) gemm_xw(dX, dY, W, M, O, In, 1.0f);
}

/* ---------------------------------------------------------------------------------------- */
/* BatchNorm. Statistics: exact two-pass mean/M2 inside chunks of up to 32 rows (in cache),
 * merged across chunks and threads in double (Chan et al.), so large means do not cancel. */

/* Chan's merge of a block (count nb, mean, m2) into acc = [count | mean[C] | m2[C]] */
static void chan_merge(double *acc, double nb, const double *mean, const double *m2, int C) {
    double na = acc[0], n = na + nb;
    if (nb == 0.0) return;
    double fb = nb / n, fab = na * nb / n;
    double *am = acc + 1, *a2 = acc + 1 + C;
    for (int k = 0; k < C; k++) {
        double delta = mean[k] - am[k];
        am[k] += delta * fb;
        a2[k] += m2[k] + delta * delta * fab;
    }
    acc[0] = n;
}

void bn_acc_rows(double *acc, const float *x, int rows, int C) {
    double mean[EGGC_MAX_H], m2[EGGC_MAX_H];
    for (int r0 = 0; r0 < rows; r0 += 32) {
        int nr = rows - r0 < 32 ? rows - r0 : 32;
        k_chunk_stats(C, nr, x + (size_t)r0 * C, mean, m2);
        chan_merge(acc, nr, mean, m2, C);
    }
}

void bn_acc_rows_w(double *acc, const float *x, const float *w, int rows, int C) {
    double mean[EGGC_MAX_H], m2[EGGC_MAX_H];
    for (int r0 = 0; r0 < rows; r0 += 32) {
        int nr = rows - r0 < 32 ? rows - r0 : 32;
        double nb = 0.0;
        for (int k = 0; k < C; k++) mean[k] = m2[k] = 0.0;
        for (int r = r0; r < r0 + nr; r++) {
            nb += w[r];
            for (int k = 0; k < C; k++) mean[k] += (double)w[r] * x[(size_t)r * C + k];
        }
        for (int k = 0; k < C; k++) mean[k] /= nb;
        for (int r = r0; r < r0 + nr; r++)
            for (int k = 0; k < C; k++) {
                double d = x[(size_t)r * C + k] - mean[k];
                m2[k] += (double)w[r] * d * d;
            }
        chan_merge(acc, nb, mean, m2, C);
    }
}

void bn_acc_merge(double *into, const double *from, int C) {
    chan_merge(into, from[0], from + 1, from + 1 + C, C);
}

static void bn_acc_zero(double *acc, int C) { memset(acc, 0, sizeof(double) * (1 + 2 * (size_t)C)); }

/* The running-statistics log in force on this thread (ops_bn_log_set), and the buffer block its
 * offsets count from. */
static _Thread_local ih_bn_log *bn_log_active;
static _Thread_local const float *bn_log_base;

void ops_bn_log_set(ih_bn_log *log, const float *base) {
    bn_log_active = log;
    bn_log_base = log ? base : NULL;
}

/* One running-statistics update, the same arithmetic for a forward pass and a replay. */
static inline float bn_run_update(float run, double stat) {
    return (float)((1.0 - IH_BN_MOMENTUM) * run + IH_BN_MOMENTUM * stat);
}

static int bn_log_append(const float *run_mean, const float *run_var, int C, const double *acc, double n) {
    ih_bn_log *log = bn_log_active;
    size_t need = log->n + 3 + 2 * (size_t)C;
    if (need > log->cap) {
        size_t cap = log->cap ? 2 * log->cap : 4096;
        while (cap < need) cap *= 2;
        double *grown = realloc(log->v, cap * sizeof *grown);
        if (!grown) return ih_set_error("model: out of memory for the BatchNorm statistics log");
        log->v = grown, log->cap = cap;
    }
    double *w = log->v + log->n;
    w[0] = (double)(run_mean - bn_log_base), w[1] = (double)(run_var - bn_log_base), w[2] = C;
    for (int k = 0; k < C; k++) w[3 + k] = acc[1 + k], w[3 + C + k] = acc[1 + C + k] / (n - 1.0);
    log->n = need;
    return 0;
}

int bn_log_replay(float *buffers, size_t n_buffers, const double *v, size_t n) {
    for (size_t q = 0; q < n;) {
        if (n - q < 3) return ih_set_error("BatchNorm statistics log: entry cut short");
        double om = v[q], ov = v[q + 1], c = v[q + 2];
        if (!(c >= 1 && c <= (double)n_buffers && om >= 0 && ov >= 0 && om + c <= (double)n_buffers &&
              ov + c <= (double)n_buffers) ||
            (double)(n - q - 3) < 2 * c)
            return ih_set_error("BatchNorm statistics log: entry outside the buffers");
        size_t C = (size_t)c;
        float *rm = buffers + (size_t)om, *rv = buffers + (size_t)ov;
        const double *mean = v + q + 3, *unbiased = mean + C;
        for (size_t k = 0; k < C; k++) {
            rm[k] = bn_run_update(rm[k], mean[k]);
            rv[k] = bn_run_update(rv[k], unbiased[k]);
        }
        q += 3 + 2 * C;
    }
    return 0;
}

int bn_stats_finish(float *stats, const double *acc, int C, int training, float *run_mean,
                    float *run_var) {
    if (!training) {
        for (int k = 0; k < C; k++) {
            stats[k] = run_mean[k];
            stats[C + k] = (float)(1.0 / sqrt((double)run_var[k] + (double)IH_BN_EPS));
        }
        return 0;
    }
    double n = acc[0];
    if (n < 2.0)
        return ih_set_error("model: BatchNorm in training mode needs at least 2 rows, got %.0f", n);
    if (bn_log_active && bn_log_append(run_mean, run_var, C, acc, n) != 0) return -1;
    for (int k = 0; k < C; k++) {
        double mean = acc[1 + k], var = acc[1 + C + k] / n;
        if (var < 0) var = 0;
        stats[k] = (float)mean;
        stats[C + k] = (float)(1.0 / sqrt(var + (double)IH_BN_EPS));
        double unbiased = acc[1 + C + k] / (n - 1.0);
        run_mean[k] = bn_run_update(run_mean[k], mean);
        run_var[k] = bn_run_update(run_var[k], unbiased);
    }
    return 0;
}

int bn_stats(float *stats, const float *x, int M, int C, int training, float *run_mean,
             float *run_var, ops_ws *ws) {
    if (!training) return bn_stats_finish(stats, NULL, C, 0, run_mean, run_var);
    int nt = threads_for((double)M * C);
    if (nt > ws->nt) nt = ws->nt;
    int used = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#pragma omp single
        used = T;
        double *acc = ws->d + (size_t)t * ws->dslot;
        bn_acc_zero(acc, C);
        long r0 = (long)M * t / T, r1 = (long)M * (t + 1) / T;
        if (r1 > r0) bn_acc_rows(acc, x + r0 * C, (int)(r1 - r0), C);
    }
    for (int t = 1; t < used; t++) bn_acc_merge(ws->d, ws->d + (size_t)t * ws->dslot, C);
    return bn_stats_finish(stats, ws->d, C, 1, run_mean, run_var);
}

/* u = x·scale + shift with scale = gamma·rstd, shift = beta − mean·scale (PyTorch's CPU form) */
static void bn_affine(float *scale, float *shift, const float *stats, const float *gamma,
                      const float *beta, int C) {
    for (int k = 0; k < C; k++) {
        scale[k] = gamma[k] * stats[C + k];
        shift[k] = beta[k] - stats[k] * scale[k];
    }
}

void bn_apply(float *out, const float *res, const float *x, const float *stats, const float *gamma,
              const float *beta, int M, int C, int silu) {
    float scale[EGGC_MAX_H], shift[EGGC_MAX_H];
    bn_affine(scale, shift, stats, gamma, beta, C);
#pragma omp parallel num_threads(threads_for((double)M * C))
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        long r0 = (long)M * t / nt, r1 = (long)M * (t + 1) / nt;
        if (r1 > r0)
            k_affine_act(C, r1 - r0, out + r0 * C, res ? res + r0 * C : NULL, x + r0 * C, scale,
                         shift, silu);
    }
}

void bn_reduce_grad(const ops_ws *ws, int used, int C, long M, const float *rstd, int training,
                    float *dgamma, float *dbeta, float *c2, float *c3) {
    for (int k = 0; k < C; k++) {
        double a = 0.0, b = 0.0;
        for (int t = 0; t < used; t++) {
            a += ws->d[(size_t)t * ws->dslot + k];
            b += ws->d[(size_t)t * ws->dslot + C + k];
        }
        dbeta[k] += (float)a;
        dgamma[k] += (float)b;
        c2[k] = training ? (float)(a / M) : 0.0f;
        c3[k] = training ? (float)(b / M) * rstd[k] : 0.0f;
    }
}

void bn_backward(float *dx, float *dgamma, float *dbeta, const float *dout, const float *x,
                 const float *stats, const float *gamma, const float *beta, int M, int C,
                 int training, int silu, ops_ws *ws) {
    float scale[EGGC_MAX_H], shift[EGGC_MAX_H], c1[EGGC_MAX_H], c2[EGGC_MAX_H], c3[EGGC_MAX_H];
    bn_affine(scale, shift, stats, gamma, beta, C);
    const float *mean = stats, *rstd = stats + C;
    int nt = threads_for((double)M * C);
    if (nt > ws->nt) nt = ws->nt;
    int used = 1;
    /* pass 1: Σg and Σg·x̂ per channel, g = dout·act'(u) */
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#pragma omp single
        used = T;
        double *sg = ws->d + (size_t)t * ws->dslot, *sgx = sg + C;
        for (int k = 0; k < 2 * C; k++) sg[k] = 0.0;
        float fg[EGGC_MAX_H], fgx[EGGC_MAX_H];
        long r0 = (long)M * t / T, r1 = (long)M * (t + 1) / T;
        for (long b0 = r0; b0 < r1; b0 += 32) {
            long b1 = b0 + 32 < r1 ? b0 + 32 : r1;
            for (int k = 0; k < C; k++) fg[k] = fgx[k] = 0.0f;
            k_bn_grad_sums(C, b1 - b0, x + b0 * C, dout + b0 * C, scale, shift, mean, rstd, fg, fgx,
                           silu);
            for (int k = 0; k < C; k++) {
                sg[k] += fg[k];
                sgx[k] += fgx[k];
            }
        }
    }
    bn_reduce_grad(ws, used, C, M, rstd, training, dgamma, dbeta, c2, c3);
    /* training: dx = scale·(g − Σg/M − x̂·Σgx̂/M); eval: dx = scale·g */
    for (int k = 0; k < C; k++) c1[k] = scale[k];
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        long r0 = (long)M * t / T, r1 = (long)M * (t + 1) / T;
        if (r1 > r0)
            k_bn_grad_rows(C, r1 - r0, dx + r0 * C, dout + r0 * C, x + r0 * C, scale, shift, mean, c1,
                           c2, c3, silu);
    }
}

/* ---------------------------------------------------------------------------------------- */

void rbf_init(rbf_spec *r, float vmin, float vmax, int K) {
    /* torch.linspace in float32: start + i·step for the first half, end − (K−1−i)·step after */
    r->K = K;
    r->vmin = vmin;
    r->vmax = vmax;
    float step = (vmax - vmin) / (float)(K - 1);
    for (int i = 0; i < K; i++)
        r->centers[i] = i < K / 2 ? vmin + step * (float)i : vmax - step * (float)(K - 1 - i);
    /* γ = 1/Δ (docs/method.md §4.2; 9.875 and 19.5 exactly for the two expansions) */
    r->gamma = (float)((double)(K - 1) / ((double)vmax - (double)vmin));
}

void rbf_forward(float *out, const float *v, int n, const rbf_spec *r) {
#pragma omp parallel num_threads(threads_for((double)n * r->K * 8))
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        long r0 = (long)n * t / nt, r1 = (long)n * (t + 1) / nt;
        if (r1 > r0) k_rbf(r->K, r1 - r0, out + r0 * r->K, v + r0, r->centers, r->gamma);
    }
}

/* ---------------------------------------------------------------------------------------- */

void pool_forward(float *h, const float *x, const int *ptr, int B, int H) {
    double acc[EGGC_MAX_H];
    for (int b = 0; b < B; b++) {
        float *hb = h + (size_t)b * H;
        int n = ptr[b + 1] - ptr[b];
        for (int k = 0; k < H; k++) acc[k] = 0.0;
        for (int i = ptr[b]; i < ptr[b + 1]; i++)
            for (int k = 0; k < H; k++) acc[k] += x[(size_t)i * H + k];
        for (int k = 0; k < H; k++) hb[k] = n > 0 ? (float)(acc[k] / n) : 0.0f;
    }
}

void pool_backward(float *dx, const float *dh, const int *ptr, int B, int H) {
    for (int b = 0; b < B; b++) {
        int n = ptr[b + 1] - ptr[b];
        if (n <= 0) continue;
        float inv = 1.0f / (float)n;
        for (int i = ptr[b]; i < ptr[b + 1]; i++)
            for (int k = 0; k < H; k++) dx[(size_t)i * H + k] += dh[(size_t)b * H + k] * inv;
    }
}
