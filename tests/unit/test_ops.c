/* Layers of src/ops.h: exp/sigmoid accuracy, radial basis (docs/method.md §10.3), and finite-difference
 * gradient checks of Linear, BatchNorm (training and evaluation, with and without SiLU), SiLU,
 * sigmoid, mean pooling, the EGGC layer (gated normalised aggregation, both BatchNorm modes, with
 * and without the edge output) and an ALIGNN layer (EGGC on the crystal graph, then on its line
 * graph), w.r.t. inputs and parameters; threaded results against single-threaded ones. */
#include <omp.h>

#include "check.h"
#include "gradcheck.h"
#include "graph_util.h"
#include "nn/ops.h"

/* Step and tolerance of the entry-wise checks (float32 forward, see gradcheck.h). */
#define GC_H 1e-2f
#define GC_TOL 1e-2
#define GC_DIR_TOL 1e-3

static uint64_t rng_state = 12345;
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)tg_unif(&rng_state); }
static void fill(float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = frand(lo, hi);
}
static double dot(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
static float *fdup(const float *x, size_t n) {
    float *p = malloc(sizeof(float) * n);
    memcpy(p, x, sizeof(float) * n);
    return p;
}

static ops_ws ws;

/* ---------------------------------------------------------------------------------------- */

static void test_exp(void) {
    double worst = 0.0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 174.0f * (float)i / 200000.0f;
        double e = exp((double)x);
        double r = fabs((double)ops_expf(x) - e) / e;
        if (r > worst) worst = r;
    }
    printf("ops_expf: worst relative error %.2e over [-87, 87]\n", worst);
    CHECK(worst < 4e-7);
    CHECK(ops_sigmoid(0.0f) == 0.5f && ops_sigmoid(-0.0f) == 0.5f);
    CHECK(ops_sigmoid(200.0f) == 1.0f);
    /* saturation gives exact zeros, never subnormals (slow on x86, also inside GEMMs) */
    CHECK(ops_sigmoid(-200.0f) == 0.0f && ops_expf(-90.0f) == 0.0f);
    CHECK(ops_expf(-86.9f) >= 1.17549435e-38f);
    double ws = 0.0;
    for (int i = -4000; i <= 4000; i++) {
        float x = (float)i / 100.0f;
        double ref = 1.0 / (1.0 + exp(-(double)x));
        ws = fmax(ws, fabs(ops_sigmoid(x) - ref) / ref);
    }
    printf("ops_sigmoid: worst relative error %.2e over [-40, 40]\n", ws);
    CHECK(ws < 6e-7);
    CHECK_NEAR(ops_silu(1.0f), 1.0 / (1.0 + exp(-1.0)), 1e-7);
    CHECK(ops_expf(200.0f) == ops_expf(87.0f) && isfinite(ops_expf(200.0f)));
    CHECK(ops_expf(-200.0f) == 0.0f && ops_expf(-87.0f) > 0.0f);
}

static void test_rbf(void) {
    rbf_spec r;
    rbf_init(&r, 0.0f, 8.0f, 80);
    CHECK(r.gamma == 9.875f);
    CHECK_NEAR(r.centers[1], 0.101266, 1e-6);
    CHECK_NEAR(r.centers[2], 0.202532, 1e-6);
    CHECK_NEAR(r.centers[3], 0.303797, 1e-6);
    CHECK(r.centers[79] == 8.0f && r.centers[0] == 0.0f);
    float v = 2.0f, out[80];
    rbf_forward(out, &v, 1, &r);
    int am = 0;
    double sum = 0.0;
    for (int k = 0; k < 80; k++) {
        if (out[k] > out[am]) am = k;
        sum += out[k];
    }
    CHECK_INT(am, 20);
    CHECK_NEAR(r.centers[20], 2.025316, 1e-6);
    CHECK_NEAR(out[am], 0.993691, 1e-6);
    CHECK_NEAR(sum, 5.569850, 1e-5);

    rbf_init(&r, -1.0f, 1.0f, 40);
    CHECK(r.gamma == 19.5f);
    CHECK_NEAR(r.centers[1], -0.948718, 1e-6);
    CHECK_NEAR(r.centers[2], -0.897436, 1e-6);
    v = 0.5f;
    rbf_forward(out, &v, 1, &r);
    am = 0;
    sum = 0.0;
    for (int k = 0; k < 40; k++) {
        if (out[k] > out[am]) am = k;
        sum += out[k];
    }
    CHECK_INT(am, 29);
    CHECK_NEAR(r.centers[29], 0.487179, 1e-6);
    CHECK_NEAR(out[am], 0.996800, 1e-6);
    CHECK_NEAR(sum, 7.823114, 1e-5);
}

/* ---------------------------------------------------------------------------------------- */

typedef struct lin_ctx {
    float *X, *W, *b, *Y, *wy;
    int M, In, O;
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    linear_forward(c->Y, c->X, c->W, c->b, c->M, c->In, c->O);
    return dot(c->wy, c->Y, (size_t)c->M * c->O);
}

static void test_linear(void) {
    lin_ctx c = {0};
    c.M = 7;
    c.In = 5;
    c.O = 3;
    size_t nx = (size_t)c.M * c.In, nw = (size_t)c.O * c.In, ny = (size_t)c.M * c.O;
    c.X = malloc(sizeof(float) * nx);
    c.W = malloc(sizeof(float) * nw);
    c.b = malloc(sizeof(float) * c.O);
    c.Y = malloc(sizeof(float) * ny);
    c.wy = malloc(sizeof(float) * ny);
    fill(c.X, nx, -1, 1);
    fill(c.W, nw, -1, 1);
    fill(c.b, c.O, -1, 1);
    fill(c.wy, ny, -1, 1);
    float *dX = calloc(nx, sizeof(float)), *dW = calloc(nw, sizeof(float)),
          *db = calloc((size_t)c.O, sizeof(float));
    lin_loss(&c);
    linear_backward(dX, dW, db, c.wy, c.X, c.W, c.M, c.In, c.O, &ws);
    CHECK(gc_entries("linear dX", c.X, dX, nx, 35, GC_H, lin_loss, &c, GC_TOL) < GC_TOL);
    CHECK(gc_entries("linear dW", c.W, dW, nw, 15, GC_H, lin_loss, &c, GC_TOL) < GC_TOL);
    CHECK(gc_entries("linear db", c.b, db, (size_t)c.O, 3, GC_H, lin_loss, &c, GC_TOL) < GC_TOL);
    /* backward accumulates */
    float *dW1 = fdup(dW, nw);
    linear_backward(dX, dW, db, c.wy, c.X, c.W, c.M, c.In, c.O, &ws);
    double e = 0.0;
    for (size_t i = 0; i < nw; i++) e = fmax(e, fabs(dW[i] - 2 * dW1[i]));
    CHECK(e < 1e-5);
    free(dW1);
    free(c.X), free(c.W), free(c.b), free(c.Y), free(c.wy), free(dX), free(dW), free(db);

    /* a size that runs on several threads, against a direct double computation */
    int M = 3001, In = 33, O = 17;
    float *X = malloc(sizeof(float) * M * In), *W = malloc(sizeof(float) * O * In),
          *b = malloc(sizeof(float) * O), *Y = malloc(sizeof(float) * M * O),
          *dY = malloc(sizeof(float) * M * O);
    fill(X, (size_t)M * In, -1, 1);
    fill(W, (size_t)O * In, -1, 1);
    fill(b, (size_t)O, -1, 1);
    fill(dY, (size_t)M * O, -1, 1);
    linear_forward(Y, X, W, b, M, In, O);
    float *gW = calloc((size_t)O * In, sizeof(float)), *gb = calloc((size_t)O, sizeof(float)),
          *gX = calloc((size_t)M * In, sizeof(float));
    linear_backward(gX, gW, gb, dY, X, W, M, In, O, &ws);
    /* errors relative to Σ|terms|: float32 sums of M terms stay within ~1e-6 of that */
    double ey = 0, ew = 0, eb = 0, ex = 0;
    for (int r = 0; r < M; r += 7)
        for (int o = 0; o < O; o++) {
            double s = b[o], sa = fabs(b[o]);
            for (int i = 0; i < In; i++) {
                s += (double)X[r * In + i] * W[o * In + i];
                sa += fabs((double)X[r * In + i] * W[o * In + i]);
            }
            ey = fmax(ey, fabs(s - Y[r * O + o]) / sa);
        }
    for (int o = 0; o < O; o++) {
        double sb = 0, sba = 0;
        for (int r = 0; r < M; r++) sb += dY[r * O + o], sba += fabs(dY[r * O + o]);
        eb = fmax(eb, fabs(sb - gb[o]) / sba);
        for (int i = 0; i < In; i++) {
            double s = 0, sa = 0;
            for (int r = 0; r < M; r++) {
                s += (double)dY[r * O + o] * X[r * In + i];
                sa += fabs((double)dY[r * O + o] * X[r * In + i]);
            }
            ew = fmax(ew, fabs(s - gW[o * In + i]) / sa);
        }
    }
    for (int r = 0; r < M; r += 11)
        for (int i = 0; i < In; i++) {
            double s = 0, sa = 0;
            for (int o = 0; o < O; o++) {
                s += (double)dY[r * O + o] * W[o * In + i];
                sa += fabs((double)dY[r * O + o] * W[o * In + i]);
            }
            ex = fmax(ex, fabs(s - gX[r * In + i]) / sa);
        }
    printf("linear %dx%d->%d on %d threads: max err Y %.1e dW %.1e db %.1e dX %.1e\n", M, In, O,
           omp_get_max_threads(), ey, ew, eb, ex);
    CHECK(ey < 1e-6 && ew < 1e-6 && eb < 1e-6 && ex < 1e-6);
    free(X), free(W), free(b), free(Y), free(dY), free(gW), free(gb), free(gX);
}

/* ---------------------------------------------------------------------------------------- */

typedef struct bn_ctx {
    float *x, *g, *b, *rm, *rv, *out, *w;
    float stats[2 * 16];
    int M, C, training, silu;
} bn_ctx;

static double bn_loss(void *p) {
    bn_ctx *c = p;
    bn_stats(c->stats, c->x, c->M, c->C, c->training, c->rm, c->rv, &ws);
    bn_apply(c->out, NULL, c->x, c->stats, c->g, c->b, c->M, c->C, c->silu);
    return dot(c->w, c->out, (size_t)c->M * c->C);
}

static void test_bn(void) {
    for (int training = 0; training <= 1; training++)
        for (int silu = 0; silu <= 1; silu++) {
            bn_ctx c = {0};
            c.M = 9;
            c.C = 4;
            c.training = training;
            c.silu = silu;
            size_t n = (size_t)c.M * c.C;
            c.x = malloc(sizeof(float) * n);
            c.out = malloc(sizeof(float) * n);
            c.w = malloc(sizeof(float) * n);
            c.g = malloc(sizeof(float) * 4);
            c.b = malloc(sizeof(float) * 4);
            c.rm = malloc(sizeof(float) * 4);
            c.rv = malloc(sizeof(float) * 4);
            fill(c.x, n, -2, 3);
            fill(c.w, n, -1, 1);
            fill(c.g, 4, 0.5f, 1.5f);
            fill(c.b, 4, -0.5f, 0.5f);
            fill(c.rm, 4, -0.5f, 0.5f);
            fill(c.rv, 4, 0.5f, 2.0f);
            bn_loss(&c);
            float *dx = calloc(n, sizeof(float)), *dg = calloc(4, sizeof(float)),
                  *db = calloc(4, sizeof(float));
            bn_backward(dx, dg, db, c.w, c.x, c.stats, c.g, c.b, c.M, c.C, training, silu, &ws);
            char nm[64];
            snprintf(nm, sizeof nm, "bn(%s%s) dx", training ? "train" : "eval", silu ? "+silu" : "");
            CHECK(gc_entries(nm, c.x, dx, n, 36, GC_H, bn_loss, &c, GC_TOL) < GC_TOL);
            snprintf(nm, sizeof nm, "bn(%s%s) dgamma", training ? "train" : "eval", silu ? "+silu" : "");
            CHECK(gc_entries(nm, c.g, dg, 4, 4, GC_H, bn_loss, &c, GC_TOL) < GC_TOL);
            snprintf(nm, sizeof nm, "bn(%s%s) dbeta", training ? "train" : "eval", silu ? "+silu" : "");
            CHECK(gc_entries(nm, c.b, db, 4, 4, GC_H, bn_loss, &c, GC_TOL) < GC_TOL);
            free(c.x), free(c.out), free(c.w), free(c.g), free(c.b), free(c.rm), free(c.rv);
            free(dx), free(dg), free(db);
        }

    /* statistics and running update on a large offset column (threads + chunked merge) */
    int M = 5001, C = 3;
    float *x = malloc(sizeof(float) * M * C), st[6], rm[3] = {0, 0, 0}, rv[3] = {1, 1, 1};
    for (int r = 0; r < M; r++) {
        x[r * C] = 1000.0f + frand(-0.01f, 0.01f); /* mean ≫ std: naive Σx² would cancel */
        x[r * C + 1] = frand(-1, 1);
        x[r * C + 2] = (float)(r % 5);
    }
    CHECK(bn_stats(st, x, M, C, 1, rm, rv, &ws) == 0);
    for (int k = 0; k < C; k++) {
        double s = 0, s2 = 0;
        for (int r = 0; r < M; r++) s += x[r * C + k];
        double mean = s / M;
        for (int r = 0; r < M; r++) s2 += (x[r * C + k] - mean) * (x[r * C + k] - mean);
        double var = s2 / M;
        CHECK_NEAR(st[k], mean, 1e-6 * (1 + fabs(mean)));
        CHECK_NEAR(st[C + k], 1.0 / sqrt(var + 1e-5), 1e-5 / sqrt(var + 1e-5));
        CHECK_NEAR(rm[k], 0.1 * mean, 1e-6 * (1 + fabs(mean)));
        CHECK_NEAR(rv[k], 0.9 + 0.1 * s2 / (M - 1), 1e-6 * (1 + var));
    }
    /* training mode on one row is an error, evaluation mode is fine */
    CHECK(bn_stats(st, x, 1, C, 1, rm, rv, &ws) == -1);
    CHECK(strstr(ih_last_error(), "at least 2 rows") != NULL);
    CHECK(bn_stats(st, x, 1, C, 0, rm, rv, &ws) == 0);
    free(x);
}

/* ---------------------------------------------------------------------------------------- */

typedef struct act_ctx {
    float *x, *y, *w;
    size_t n;
    int sig;
} act_ctx;

static double act_loss(void *p) {
    act_ctx *c = p;
    if (c->sig)
        sigmoid_forward(c->y, c->x, c->n);
    else
        silu_forward(c->y, c->x, c->n);
    return dot(c->w, c->y, c->n);
}

static void test_activations(void) {
    for (int sig = 0; sig <= 1; sig++) {
        act_ctx c = {0};
        c.n = 40;
        c.sig = sig;
        c.x = malloc(sizeof(float) * c.n);
        c.y = malloc(sizeof(float) * c.n);
        c.w = malloc(sizeof(float) * c.n);
        fill(c.x, c.n, -6, 6);
        fill(c.w, c.n, -1, 1);
        float *dx = calloc(c.n, sizeof(float));
        if (sig)
            sigmoid_backward(dx, c.w, c.x, c.n);
        else
            silu_backward(dx, c.w, c.x, c.n);
        CHECK(gc_entries(sig ? "sigmoid dx" : "silu dx", c.x, dx, c.n, 40, GC_H, act_loss, &c, GC_TOL) <
              GC_TOL);
        free(c.x), free(c.y), free(c.w), free(dx);
    }
}

/* ---------------------------------------------------------------------------------------- */

typedef struct pool_ctx {
    float *x, *h, *w;
    int ptr[4], B, H;
} pool_ctx;

static double pool_loss(void *p) {
    pool_ctx *c = p;
    pool_forward(c->h, c->x, c->ptr, c->B, c->H);
    return dot(c->w, c->h, (size_t)c->B * c->H);
}

static void test_pool(void) {
    pool_ctx c = {0};
    c.B = 3;
    c.H = 5;
    c.ptr[0] = 0, c.ptr[1] = 4, c.ptr[2] = 5, c.ptr[3] = 11;
    c.x = malloc(sizeof(float) * 11 * 5);
    c.h = malloc(sizeof(float) * 3 * 5);
    c.w = malloc(sizeof(float) * 3 * 5);
    fill(c.x, 55, -1, 1);
    fill(c.w, 15, -1, 1);
    pool_loss(&c);
    double s = 0;
    for (int i = 5; i < 11; i++) s += c.x[i * 5 + 2];
    CHECK_NEAR(c.h[2 * 5 + 2], s / 6, 1e-6);
    float *dx = calloc(55, sizeof(float));
    pool_backward(dx, c.w, c.ptr, c.B, c.H);
    CHECK(gc_entries("mean pooling dx", c.x, dx, 55, 55, GC_H, pool_loss, &c, GC_TOL) < GC_TOL);
    free(c.x), free(c.h), free(c.w), free(dx);
}

/* ---------------------------------------------------------------------------------------- */
/* EGGC */

static mp_graph crystal_of(const ih_graph *g) {
    mp_graph v = {g->n_atoms, g->n_edges, g->edge_src, g->edge_dst, g->dst_ptr, g->src_ptr,
                  g->edges_by_src};
    return v;
}
static mp_graph line_of(const ih_graph *g) {
    mp_graph v = {g->n_edges, g->n_triplets, g->trip_src, g->trip_dst, g->trip_ptr, g->tsrc_ptr,
                  g->trips_by_src};
    return v;
}

static void eggc_alloc(eggc_acts *a, int H, int n, int e) {
    a->P = malloc(sizeof(float) * (size_t)n * 4 * H);
    a->m = malloc(sizeof(float) * (size_t)e * H);
    a->xp = malloc(sizeof(float) * (size_t)n * H);
    a->den = malloc(sizeof(float) * (size_t)n * H);
    a->uy = NULL;
}
static void eggc_release(eggc_acts *a) { free(a->P), free(a->m), free(a->xp), free(a->den); }

/* parameters: maps U(±0.6), BatchNorm gamma near 1, beta near 0; buffers for evaluation mode */
static void eggc_init(float *p, float *buf, int H) {
    fill(p, EGGC_BNE_G(H), -0.6f, 0.6f);
    fill(p + EGGC_BNE_G(H), (size_t)H, 0.7f, 1.3f);
    fill(p + EGGC_BNE_B(H), (size_t)H, -0.3f, 0.3f);
    fill(p + EGGC_BNN_G(H), (size_t)H, 0.7f, 1.3f);
    fill(p + EGGC_BNN_B(H), (size_t)H, -0.3f, 0.3f);
    for (int k = 0; k < H; k++) {
        buf[k] = frand(-0.5f, 0.5f);
        buf[H + k] = frand(0.5f, 2.0f);
        buf[2 * H + k] = frand(-0.5f, 0.5f);
        buf[3 * H + k] = frand(0.5f, 2.0f);
    }
}

static size_t o_w4(int H) { return EGGC_W4(H); }
static size_t o_b4(int H) { return EGGC_B4(H); }
static size_t o_we(int H) { return EGGC_WE(H); }
static size_t o_be(int H) { return EGGC_BE(H); }
static size_t o_bneg(int H) { return EGGC_BNE_G(H); }
static size_t o_bneb(int H) { return EGGC_BNE_B(H); }
static size_t o_bnng(int H) { return EGGC_BNN_G(H); }
static size_t o_bnnb(int H) { return EGGC_BNN_B(H); }
static size_t o_end(int H) { return EGGC_NPARAMS(H); }
static const struct {
    const char *name;
    size_t (*off)(int);
} eggc_parts[] = {{"W[src_gate|dst_gate|src_update|dst_update]", o_w4},
                  {"b[4 maps]", o_b4},
                  {"edge_gate.weight", o_we},
                  {"edge_gate.bias", o_be},
                  {"bn_edges.weight", o_bneg},
                  {"bn_edges.bias", o_bneb},
                  {"bn_nodes.weight", o_bnng},
                  {"bn_nodes.bias", o_bnnb},
                  {NULL, o_end}};

typedef struct eggc_ctx {
    mp_graph g;
    int H, training, want_y;
    float *p, *buf, *x, *y, *xo, *yo, *wx, *wy;
    eggc_acts a;
} eggc_ctx;

static double eggc_loss(void *pc) {
    eggc_ctx *c = pc;
    int rc = eggc_forward(c->p, c->buf, c->H, &c->g, c->x, c->y, c->xo, c->want_y ? c->yo : NULL,
                          &c->a, c->training, &ws);
    CHECK(rc == 0);
    double L = dot(c->wx, c->xo, (size_t)c->g.n_nodes * c->H);
    if (c->want_y) L += dot(c->wy, c->yo, (size_t)c->g.n_edges * c->H);
    return L;
}

/* an EGGC on graph g with random inputs and loss weights, its activations allocated */
static void eggc_ctx_make(eggc_ctx *c, const ih_graph *g, int H, int training, int want_y) {
    memset(c, 0, sizeof *c);
    c->g = crystal_of(g);
    c->H = H;
    c->training = training;
    c->want_y = want_y;
    int n = g->n_atoms, e = g->n_edges;
    c->p = malloc(sizeof(float) * EGGC_NPARAMS(H));
    c->buf = malloc(sizeof(float) * EGGC_NBUFFERS(H));
    eggc_init(c->p, c->buf, H);
    c->x = malloc(sizeof(float) * n * H);
    c->y = malloc(sizeof(float) * e * H);
    c->xo = malloc(sizeof(float) * n * H);
    c->yo = malloc(sizeof(float) * e * H);
    c->wx = malloc(sizeof(float) * n * H);
    c->wy = malloc(sizeof(float) * e * H);
    fill(c->x, (size_t)n * H, -1.5f, 1.5f);
    fill(c->y, (size_t)e * H, -1.5f, 1.5f);
    fill(c->wx, (size_t)n * H, -1, 1);
    fill(c->wy, (size_t)e * H, -1, 1);
    eggc_alloc(&c->a, H, n, e);
}

static void eggc_ctx_free(eggc_ctx *c) {
    eggc_release(&c->a);
    free(c->p), free(c->buf), free(c->x), free(c->y), free(c->xo), free(c->yo), free(c->wx), free(c->wy);
}

/* Analytic gradients of eggc_loss: dx, dy (inputs) and gp (parameters). */
static void eggc_grads(eggc_ctx *c, float *dx, float *dy, float *gp) {
    int n = c->g.n_nodes, e = c->g.n_edges, H = c->H;
    eggc_loss(c);
    memcpy(dx, c->wx, sizeof(float) * (size_t)n * H);
    memcpy(dy, c->wy, sizeof(float) * (size_t)e * H);
    memset(gp, 0, sizeof(float) * EGGC_NPARAMS(H));
    float *scratch = malloc(sizeof(float) * eggc_scratch_floats(H, n, e, ws.nt));
    CHECK(eggc_backward(c->p, gp, H, &c->g, c->x, c->y, &c->a, c->training, dx, dy, !c->want_y,
                        scratch, &ws) == 0);
    free(scratch);
}

static void test_eggc(void) {
    tg_random rg;
    tg_make_random(&rg, 7, 26, 99);
    tg_struct ts = tg_of_random(&rg);
    ih_graph g;
    tg_build(&ts, 1, &g);
    int H = 4;
    for (int training = 0; training <= 1; training++)
        for (int want_y = 0; want_y <= 1; want_y++) {
            eggc_ctx c;
            eggc_ctx_make(&c, &g, H, training, want_y);
            int n = g.n_atoms, e = g.n_edges;
            size_t np = EGGC_NPARAMS(H);
            float *dx = malloc(sizeof(float) * n * H), *dy = malloc(sizeof(float) * e * H),
                  *gp = malloc(sizeof(float) * np);
            eggc_grads(&c, dx, dy, gp);
            /* node 6 has no incoming edge: its aggregate is exactly zero */
            CHECK(c.g.dst_ptr[7] == c.g.dst_ptr[6]);
            for (int k = 0; k < H; k++)
                CHECK_NEAR(c.a.xp[6 * H + k], c.a.P[6 * 4 * H + 2 * H + k], 1e-6);
            char nm[128];
            const char *mode = training ? "train" : "eval";
            snprintf(nm, sizeof nm, "eggc(%s%s) dx", mode, want_y ? "" : ",no y_out");
            CHECK(gc_entries(nm, c.x, dx, (size_t)n * H, 28, GC_H, eggc_loss, &c, GC_TOL) < GC_TOL);
            snprintf(nm, sizeof nm, "eggc(%s%s) dy", mode, want_y ? "" : ",no y_out");
            /* without y_out the y gradient (gate path only) is ~100x smaller than the others:
             * a larger step keeps it above the float32 rounding noise of the loss */
            CHECK(gc_entries(nm, c.y, dy, (size_t)e * H, 40, want_y ? GC_H : 5e-2f, eggc_loss, &c,
                             GC_TOL) < GC_TOL);
            snprintf(nm, sizeof nm, "eggc(%s%s) x and y", mode, want_y ? "" : ",no y_out");
            CHECK(gc_direction(nm, c.x, dx, (size_t)n * H, 1e-2f, 3, eggc_loss, &c, 0.0) < GC_DIR_TOL);
            CHECK(gc_direction(nm, c.y, dy, (size_t)e * H, 1e-2f, 4, eggc_loss, &c, 0.0) < GC_DIR_TOL);
            for (int k = 0; eggc_parts[k].name; k++) {
                size_t o0 = eggc_parts[k].off(H), o1 = eggc_parts[k + 1].off(H);
                snprintf(nm, sizeof nm, "eggc(%s%s) %s", mode, want_y ? "" : ",no y_out",
                         eggc_parts[k].name);
                CHECK(gc_entries(nm, c.p + o0, gp + o0, o1 - o0, 16, GC_H, eggc_loss, &c, GC_TOL) < GC_TOL);
            }
            snprintf(nm, sizeof nm, "eggc(%s%s) all params", mode, want_y ? "" : ",no y_out");
            CHECK(gc_direction(nm, c.p, gp, np, 1e-2f, 7, eggc_loss, &c, 0.0) < GC_DIR_TOL);
            if (!want_y) {
                /* unused edge output: bn_edges gets no gradient */
                for (int k = 0; k < 2 * H; k++) CHECK(gp[EGGC_BNE_G(H) + k] == 0.0f);
            }
            eggc_ctx_free(&c);
            free(dx), free(dy), free(gp);
        }
    tg_free(&g);
}

/* A larger EGGC on 1 and on all threads: same results up to rounding (the reductions are
 * split differently), and a directional check on the threaded code. */
static void test_eggc_threads(void) {
    int nthreads = omp_get_max_threads();
    tg_random rg;
    tg_make_random(&rg, 60, 500, 5);
    tg_struct ts[4];
    tg_random rgs[4];
    for (int i = 0; i < 4; i++) {
        tg_make_random(&rgs[i], 60, 500, 5 + (uint64_t)i);
        ts[i] = tg_of_random(&rgs[i]);
    }
    ih_graph g;
    tg_build(ts, 4, &g);
    int H = 24, n = g.n_atoms, e = g.n_edges;
    eggc_ctx c;
    eggc_ctx_make(&c, &g, H, 1, 1);
    size_t np = EGGC_NPARAMS(H);
    float *dx[2], *dy[2], *gp[2], *xo[2];
    for (int r = 0; r < 2; r++) {
        omp_set_num_threads(r == 0 ? 1 : nthreads);
        dx[r] = malloc(sizeof(float) * n * H);
        dy[r] = malloc(sizeof(float) * e * H);
        gp[r] = malloc(sizeof(float) * np);
        eggc_grads(&c, dx[r], dy[r], gp[r]);
        xo[r] = fdup(c.xo, (size_t)n * H);
    }
    double ex = 0, edx = 0, edy = 0, egp = 0, sx = 0, sdx = 0, sdy = 0, sgp = 0;
    for (size_t i = 0; i < (size_t)n * H; i++) {
        ex = fmax(ex, fabs(xo[0][i] - xo[1][i]));
        sx = fmax(sx, fabs(xo[0][i]));
        edx = fmax(edx, fabs(dx[0][i] - dx[1][i]));
        sdx = fmax(sdx, fabs(dx[0][i]));
    }
    for (size_t i = 0; i < (size_t)e * H; i++) {
        edy = fmax(edy, fabs(dy[0][i] - dy[1][i]));
        sdy = fmax(sdy, fabs(dy[0][i]));
    }
    for (size_t i = 0; i < np; i++) {
        egp = fmax(egp, fabs(gp[0][i] - gp[1][i]));
        sgp = fmax(sgp, fabs(gp[0][i]));
    }
    printf("eggc %d nodes %d edges H %d, 1 vs %d threads: max rel diff out %.1e dx %.1e dy %.1e "
           "dparams %.1e\n",
           n, e, H, nthreads, ex / sx, edx / sdx, edy / sdy, egp / sgp);
    CHECK(ex / sx < 1e-5 && edx / sdx < 1e-4 && edy / sdy < 1e-4 && egp / sgp < 1e-4);
    /* same thread count, same bits (static partitions, per-thread partial sums) */
    {
        float *dx2 = malloc(sizeof(float) * n * H), *dy2 = malloc(sizeof(float) * e * H),
              *gp2 = malloc(sizeof(float) * np);
        eggc_grads(&c, dx2, dy2, gp2);
        CHECK(memcmp(dx2, dx[1], sizeof(float) * n * H) == 0);
        CHECK(memcmp(dy2, dy[1], sizeof(float) * e * H) == 0);
        CHECK(memcmp(gp2, gp[1], sizeof(float) * np) == 0);
        CHECK(memcmp(c.xo, xo[1], sizeof(float) * n * H) == 0);
        free(dx2), free(dy2), free(gp2);
    }
    CHECK(gc_direction("eggc threaded all params", c.p, gp[1], np, 1e-2f, 11, eggc_loss, &c, 0.0) <
          GC_DIR_TOL);
    CHECK(gc_direction("eggc threaded x", c.x, dx[1], (size_t)n * H, 1e-2f, 12, eggc_loss, &c, 0.0) <
          GC_DIR_TOL);
    CHECK(gc_direction("eggc threaded y", c.y, dy[1], (size_t)e * H, 1e-2f, 13, eggc_loss, &c, 0.0) <
          GC_DIR_TOL);
    omp_set_num_threads(nthreads);
    for (int r = 0; r < 2; r++) free(dx[r]), free(dy[r]), free(gp[r]), free(xo[r]);
    eggc_ctx_free(&c);
    tg_free(&g);
}

/* ---------------------------------------------------------------------------------------- */
/* ALIGNN layer: (x, y_t) = EGGC(crystal; x, y); (y', z') = EGGC(line graph; y_t, z) */

typedef struct al_ctx {
    mp_graph cg, lg;
    int H, training;
    float *p1, *p2, *b1, *b2, *x, *y, *z, *x1, *yt, *y1, *z1, *wx, *wy, *wz;
    eggc_acts a1, a2;
} al_ctx;

static double al_loss(void *pc) {
    al_ctx *c = pc;
    CHECK(eggc_forward(c->p1, c->b1, c->H, &c->cg, c->x, c->y, c->x1, c->yt, &c->a1, c->training,
                       &ws) == 0);
    CHECK(eggc_forward(c->p2, c->b2, c->H, &c->lg, c->yt, c->z, c->y1, c->z1, &c->a2, c->training,
                       &ws) == 0);
    int H = c->H;
    return dot(c->wx, c->x1, (size_t)c->cg.n_nodes * H) + dot(c->wy, c->y1, (size_t)c->cg.n_edges * H) +
           dot(c->wz, c->z1, (size_t)c->lg.n_edges * H);
}

static void test_alignn_layer(void) {
    tg_random rg;
    tg_make_random(&rg, 6, 18, 2024);
    tg_struct ts = tg_of_random(&rg);
    ih_graph g;
    tg_build(&ts, 1, &g);
    int H = 3, N = g.n_atoms, E = g.n_edges, T = g.n_triplets;
    printf("ALIGNN layer check graph: %d atoms, %d edges, %d triplets\n", N, E, T);
    for (int training = 0; training <= 1; training++) {
        al_ctx c = {0};
        c.cg = crystal_of(&g);
        c.lg = line_of(&g);
        c.H = H;
        c.training = training;
        size_t np = EGGC_NPARAMS(H);
        c.p1 = malloc(sizeof(float) * np);
        c.p2 = malloc(sizeof(float) * np);
        c.b1 = malloc(sizeof(float) * EGGC_NBUFFERS(H));
        c.b2 = malloc(sizeof(float) * EGGC_NBUFFERS(H));
        eggc_init(c.p1, c.b1, H);
        eggc_init(c.p2, c.b2, H);
        size_t nx = (size_t)N * H, ny = (size_t)E * H, nz = (size_t)T * H;
        c.x = malloc(sizeof(float) * nx), c.x1 = malloc(sizeof(float) * nx), c.wx = malloc(sizeof(float) * nx);
        c.y = malloc(sizeof(float) * ny), c.yt = malloc(sizeof(float) * ny), c.y1 = malloc(sizeof(float) * ny);
        c.wy = malloc(sizeof(float) * ny);
        c.z = malloc(sizeof(float) * nz), c.z1 = malloc(sizeof(float) * nz), c.wz = malloc(sizeof(float) * nz);
        fill(c.x, nx, -1.5f, 1.5f), fill(c.y, ny, -1.5f, 1.5f), fill(c.z, nz, -1.5f, 1.5f);
        fill(c.wx, nx, -1, 1), fill(c.wy, ny, -1, 1), fill(c.wz, nz, -1, 1);
        eggc_alloc(&c.a1, H, N, E);
        eggc_alloc(&c.a2, H, E, T);
        al_loss(&c);
        float *dX = fdup(c.wx, nx), *dY = fdup(c.wy, ny), *dZ = fdup(c.wz, nz);
        float *g1 = calloc(np, sizeof(float)), *g2 = calloc(np, sizeof(float));
        size_t ns = eggc_scratch_floats(H, E, T, ws.nt);
        if (eggc_scratch_floats(H, N, E, ws.nt) > ns) ns = eggc_scratch_floats(H, N, E, ws.nt);
        float *scratch = malloc(sizeof(float) * ns);
        CHECK(eggc_backward(c.p2, g2, H, &c.lg, c.yt, c.z, &c.a2, training, dY, dZ, 0, scratch, &ws) == 0);
        CHECK(eggc_backward(c.p1, g1, H, &c.cg, c.x, c.y, &c.a1, training, dX, dY, 0, scratch, &ws) == 0);
        const char *mode = training ? "train" : "eval";
        char nm[96];
        snprintf(nm, sizeof nm, "alignn layer(%s) dx", mode);
        CHECK(gc_entries(nm, c.x, dX, nx, 18, GC_H, al_loss, &c, GC_TOL) < GC_TOL);
        snprintf(nm, sizeof nm, "alignn layer(%s) dy", mode);
        CHECK(gc_entries(nm, c.y, dY, ny, 30, GC_H, al_loss, &c, GC_TOL) < GC_TOL);
        snprintf(nm, sizeof nm, "alignn layer(%s) dz", mode);
        CHECK(gc_entries(nm, c.z, dZ, nz, 40, GC_H, al_loss, &c, GC_TOL) < GC_TOL);
        snprintf(nm, sizeof nm, "alignn layer(%s) node_update params", mode);
        CHECK(gc_entries(nm, c.p1, g1, np, 40, GC_H, al_loss, &c, GC_TOL) < GC_TOL);
        CHECK(gc_direction(nm, c.p1, g1, np, 1e-2f, 21, al_loss, &c, 0.0) < GC_DIR_TOL);
        snprintf(nm, sizeof nm, "alignn layer(%s) edge_update params", mode);
        CHECK(gc_entries(nm, c.p2, g2, np, 40, GC_H, al_loss, &c, GC_TOL) < GC_TOL);
        CHECK(gc_direction(nm, c.p2, g2, np, 1e-2f, 22, al_loss, &c, 0.0) < GC_DIR_TOL);
        eggc_release(&c.a1), eggc_release(&c.a2);
        free(c.p1), free(c.p2), free(c.b1), free(c.b2), free(c.x), free(c.x1), free(c.wx);
        free(c.y), free(c.yt), free(c.y1), free(c.wy), free(c.z), free(c.z1), free(c.wz);
        free(dX), free(dY), free(dZ), free(g1), free(g2), free(scratch);
    }
    tg_free(&g);
}

int main(void) {
    int nt = omp_get_max_threads();
    CHECK(ops_ws_init(&ws, nt, ops_ws_dslot(1024), ops_ws_fslot(1024, 4096 * 64) + eggc_ws_floats(64)) == 0);
    ops_blas_single_thread();
    test_exp();
    test_rbf();
    test_linear();
    test_bn();
    test_activations();
    test_pool();
    test_eggc();
    test_eggc_threads();
    test_alignn_layer();
    printf("worst gradient-check relative error (all layers): %.2e\n", gc_worst_overall);
    ops_ws_free(&ws);
    return test_summary("test_ops");
}
