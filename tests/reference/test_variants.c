/* The migration-path variants of docs/method.md §7 (MODEL-1-ADD/SUB/CC, MODEL-2, MODEL-4, SCRATCH heads):
 * parameter counts and decay groups (§10.1), names, arch round trips; the attention pooling
 * against a naive double-precision evaluation and by finite differences (with a fixed dropout
 * mask); forward identities (ADD/SUB/CC/MODEL-2 with G1 = G2, Siamese BatchNorm statistics);
 * finite-difference gradients of every variant in training and evaluation mode; the two-graph
 * datasets (§10.5 end points and local sub-graph of jid 7, cache); training, saving, loading,
 * resuming and micro-batching of every arch through ih_train; forward and backward of every arch
 * against PyTorch (tests/fixtures/variants_ref.ihfx, from tests/fixtures/gen/make_variant_fixtures.py). */
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "train_util.h"
#include "fixture.h"
#include "gradcheck.h"
#include "graph_util.h"
#include "hop_util.h"
#include "hash_init.h"
#include "nn/model_internal.h"
#include "model_util.h"

static const int pair_archs[] = {IH_ARCH_ADD, IH_ARCH_SUB, IH_ARCH_CC, IH_ARCH_DELTA, IH_ARCH_ATTN};
#define N_PAIR_ARCHS 5

/* ---------------------------------------------------------------------------------------- */
/* §10.1 */

static void count(int arch, int head_hidden, size_t *total, size_t *decay, size_t *nodecay) {
    ih_config c;
    ih_config_default(&c);
    c.arch = arch;
    c.head_hidden = head_hidden;
    ih_model *m = ih_model_create(&c, 1);
    CHECK(m != NULL);
    *total = *decay = *nodecay = 0;
    if (!m) return;
    size_t off = 0;
    for (int i = 0; i < ih_model_n_tensors(m); i++) {
        const ih_tensor_info *t = ih_model_tensor(m, i);
        CHECK(t->offset == off);
        off += t->numel;
        *(t->decay ? decay : nodecay) += t->numel;
    }
    *total = ih_model_n_params(m);
    CHECK(off == *total);
    ih_model_free(m);
}

static void test_counts(void) {
    static const struct {
        int arch, head_hidden;
        size_t total, decay, nodecay;
    } want[] = {
        {IH_ARCH_ADD, 2, 4076033, 4046336, 29697},   {IH_ARCH_SUB, 2, 4076033, 4046336, 29697},
        {IH_ARCH_CC, 2, 4207361, 4177408, 29953},    {IH_ARCH_DELTA, 2, 5197313, 5160448, 36865},
        {IH_ARCH_ATTN, 2, 4603137, 4570624, 32513},  {IH_ARCH_CC, 0, 4158081, 4128384, 29697},
        {IH_ARCH_ADD, 0, 4026753, 3997312, 29441},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        size_t t, d, n;
        count(want[k].arch, want[k].head_hidden, &t, &d, &n);
        CHECK_MSG(t == want[k].total && d == want[k].decay && n == want[k].nodecay,
                  "%s head_hidden %d: %zu = %zu + %zu", ih_arch_name(want[k].arch), want[k].head_hidden,
                  t, d, n);
    }
    /* names, shapes and decay groups of the new modules */
    ih_config c;
    ih_config_default(&c);
    static const struct {
        int arch;
        const char *name;
        int d0, d1, decay;
    } tensors[] = {
        {IH_ARCH_CC, "fc.weight", 256, 512, 1},
        {IH_ARCH_CC, "fc.bias", 256, 0, 0},
        {IH_ARCH_DELTA, "alignn_layers_1.0.node_update.src_gate.weight", 256, 256, 1},
        {IH_ARCH_DELTA, "alignn_layers_1.0.edge_update.bn_nodes.weight", 256, 0, 0},
        {IH_ARCH_DELTA, "gcn_layers_1.0.edge_gate.weight", 256, 256, 1},
        {IH_ARCH_DELTA, "fc.weight", 256, 512, 1},
        {IH_ARCH_ATTN, "attention.query.weight", 256, 256, 1},
        {IH_ARCH_ATTN, "attention.value.bias", 256, 0, 0},
        {IH_ARCH_ATTN, "attention1.key.weight", 256, 256, 1},
        {IH_ARCH_ATTN, "attention1.layer_norm.weight", 256, 0, 0},
        {IH_ARCH_ATTN, "attention.layer_norm.bias", 256, 0, 0},
        {IH_ARCH_ATTN, "fc.weight", 256, 512, 1},
    };
    for (size_t k = 0; k < sizeof tensors / sizeof tensors[0]; k++) {
        c.arch = tensors[k].arch;
        ih_model *m = ih_model_create(&c, 3);
        int i = ih_model_find_tensor(m, tensors[k].name);
        CHECK_MSG(i >= 0, "%s lacks %s", ih_arch_name(c.arch), tensors[k].name);
        if (i >= 0) {
            const ih_tensor_info *t = ih_model_tensor(m, i);
            CHECK_MSG(t->shape[0] == tensors[k].d0 && (t->ndim == 1 || t->shape[1] == tensors[k].d1) &&
                          t->decay == tensors[k].decay,
                      "%s", tensors[k].name);
        }
        ih_model_free(m);
    }
    /* delta-branch BatchNorm buffers exist; MODEL-1 has no fusion layer for ADD/SUB */
    c.arch = IH_ARCH_DELTA;
    ih_model *m = ih_model_create(&c, 3);
    CHECK(ih_model_find_buffer(m, "gcn_layers_1.0.bn_edges.running_var") >= 0);
    CHECK(ih_model_find_buffer(m, "alignn_layers_1.0.edge_update.bn_nodes.running_mean") >= 0);
    ih_model_free(m);
    c.arch = IH_ARCH_SUB;
    m = ih_model_create(&c, 3);
    CHECK(ih_model_find_tensor(m, "fc.weight") < 0);
    ih_model_free(m);
    /* SCRATCH-CC: the fusion is "fc", the head Linear(H→1) "fc_final" */
    c.arch = IH_ARCH_CC;
    c.head_hidden = 0;
    m = ih_model_create(&c, 3);
    CHECK(ih_model_find_tensor(m, "fc_final.weight") >= 0 && ih_model_find_tensor(m, "fc.weight") >= 0);
    ih_model_free(m);

    /* the variants' modules come after the head: trunk and head start from the same weights
     * as the MODEL-3 network of the same seed */
    ih_config_default(&c);
    c.hidden = 16;
    ih_model *m3 = ih_model_create(&c, 9);
    for (int k = 0; k < N_PAIR_ARCHS; k++) {
        c.arch = pair_archs[k];
        ih_model *v = ih_model_create(&c, 9);
        CHECK(ih_model_n_params(v) > ih_model_n_params(m3) || c.arch == IH_ARCH_ADD || c.arch == IH_ARCH_SUB);
        CHECK(memcmp(ih_model_params(v), ih_model_params(m3), sizeof(float) * ih_model_n_params(m3)) == 0);
        ih_model_free(v);
    }
    ih_model_free(m3);

    /* names */
    for (int a = 0; a < IH_N_ARCH; a++) CHECK_INT(ih_arch_parse(ih_arch_name(a)), a);
    CHECK(ih_arch_parse("model5") == -1 && ih_arch_parse(NULL) == -1 && ih_arch_name(IH_N_ARCH) == NULL);
    CHECK_INT(ih_arch_input(IH_ARCH_MODEL3), IH_INPUT_SINGLE);
    CHECK_INT(ih_arch_input(IH_ARCH_CC), IH_INPUT_ENDPOINTS);
    CHECK_INT(ih_arch_input(IH_ARCH_DELTA), IH_INPUT_ENDPOINTS);
    CHECK_INT(ih_arch_input(IH_ARCH_ATTN), IH_INPUT_LOCAL);
    ih_config_default(&c);
    c.arch = IH_N_ARCH;
    CHECK(ih_model_create(&c, 1) == NULL && strstr(ih_last_error(), "arch"));
}

/* ---------------------------------------------------------------------------------------- */
/* models and graphs for the checks */

/* hidden 8 (H), 1 ALIGNN + 1 GCN layer; BatchNorm/LayerNorm affine parameters and running
 * statistics moved away from the identity so that evaluation mode is not trivial */
static int tiny_path_desc; /* tiny_model's ih_config.path_desc */
static ih_model *tiny_model(int arch, int H, int head_hidden, uint64_t seed) {
    ih_config c;
    ih_config_default(&c);
    c.hidden = H;
    c.embed = 5;
    c.head_width = 4;
    c.alignn_layers = 1;
    c.gcn_layers = 1;
    c.head_hidden = head_hidden;
    c.arch = arch;
    c.path_desc = tiny_path_desc;
    ih_model *m = ih_model_create(&c, seed);
    /* the buffers' own stream: the same trunk buffers whatever the arch adds */
    uint64_t sp = seed * 31 + 7, sb = seed * 37 + 11;
    perturb_norms(m, &sp, &sb);
    return m;
}

/* a batch of two random structures (atoms, edges) with bond lengths spread over the RBF range */
static void random_pair_batch(ih_graph *g, int n1, int e1, int n2, int e2, uint64_t seed) {
    tg_random r1, r2;
    tg_make_random(&r1, n1, e1, seed);
    tg_make_random(&r2, n2, e2, seed + 1);
    tg_struct ts[2] = {tg_of_random(&r1), tg_of_random(&r2)};
    tg_build(ts, 2, g);
    for (int e = 0; e < g->n_edges; e++)
        g->edge_len[e] = 0.5f + 7.0f * (float)((e * 37 + (int)seed) % 100) / 100.0f;
}

static int reserve_for(ih_model *m, const ih_graph *g1, const ih_graph *g2) {
    return ih_model_reserve(m, g1->n_structs, g1->n_atoms, g1->n_edges, g1->n_triplets,
                             g2 ? g2->n_atoms : 0, g2 ? g2->n_edges : 0, g2 ? g2->n_triplets : 0);
}

static double maxabs_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* ---------------------------------------------------------------------------------------- */
/* attention pooling as a layer */

/* docs/method.md §7.5 in double, straight from the formulas (O(n²) score matrix, no chunking) */
static void attn_naive(const ih_model *m, const attn_layer *l, const float *x, const int *ptr, int B,
                       const float *keep, double *out) {
    int H = m->H;
    const float *P = m->params;
    for (int b = 0; b < B; b++) {
        int i0 = ptr[b], n = ptr[b + 1] - i0;
        double *Q = malloc(sizeof(double) * n * H), *K = malloc(sizeof(double) * n * H),
               *V = malloc(sizeof(double) * n * H), *s = malloc(sizeof(double) * n);
        const linear_layer *ls[3] = {&l->q, &l->k, &l->v};
        double *dst[3] = {Q, K, V};
        for (int w = 0; w < 3; w++)
            for (int i = 0; i < n; i++)
                for (int o = 0; o < H; o++) {
                    double u = P[ls[w]->b + o];
                    for (int k = 0; k < H; k++) u += (double)P[ls[w]->w + (size_t)o * H + k] * x[(size_t)(i0 + i) * H + k];
                    dst[w][(size_t)i * H + o] = u > 0 ? u : 0;
                }
        double mx = -INFINITY, z = 0;
        for (int i = 0; i < n; i++) {
            s[i] = 0;
            for (int j = 0; j < n; j++) {
                double d = 0;
                for (int k = 0; k < H; k++) d += K[(size_t)i * H + k] * Q[(size_t)j * H + k];
                s[i] += tanh(d);
            }
            mx = fmax(mx, s[i]);
        }
        for (int i = 0; i < n; i++) z += exp(s[i] - mx);
        double r[EGGC_MAX_H], mean = 0, var = 0;
        for (int k = 0; k < H; k++) {
            r[k] = 0;
            for (int i = 0; i < n; i++)
                r[k] += (double)x[(size_t)(i0 + i) * H + k] / n +
                        exp(s[i] - mx) / z * (keep ? keep[i0 + i] : 1.0) * V[(size_t)i * H + k];
            mean += r[k] / H;
        }
        for (int k = 0; k < H; k++) var += (r[k] - mean) * (r[k] - mean) / H;
        for (int k = 0; k < H; k++)
            out[(size_t)b * H + k] = P[l->ln_g + k] * (r[k] - mean) / sqrt(var + 1e-5) + P[l->ln_b + k];
        free(Q), free(K), free(V), free(s);
    }
}

typedef struct attn_ctx {
    ih_model *m;
    attn_acts *a;
    const float *x_in; /* NULL: x below is the variable */
    float *x, *out, *w;
    const int *ptr;
    int B, dropout;
} attn_ctx;

static double attn_loss(void *p) {
    attn_ctx *c = p;
    ih_rng rng;
    ih_rng_seed(&rng, 4242); /* the same dropout mask at every evaluation */
    CHECK(attn_forward(c->m, &c->m->attn[0], c->a, c->x, c->ptr, c->B, c->out, c->dropout ? &rng : NULL) == 0);
    double s = 0;
    for (int i = 0; i < c->B * c->m->H; i++) s += (double)c->w[i] * c->out[i];
    return s;
}

/* Σ w ⊙ p of the naive double evaluation with a given dropout mask */
typedef struct naive_ctx {
    ih_model *m;
    const float *x;
    const int *ptr;
    int B;
    const float *keep, *w;
    double *out;
} naive_ctx;

static double naive_loss(void *p) {
    naive_ctx *c = p;
    attn_naive(c->m, &c->m->attn[0], c->x, c->ptr, c->B, c->keep, c->out);
    double s = 0;
    for (int i = 0; i < c->B * c->m->H; i++) s += (double)c->w[i] * c->out[i];
    return s;
}

static double worst_attn_layer = 0, worst_fuse = 0, worst_delta = 0, worst_attn_model = 0,
              worst_trunk = 0, worst_other = 0;

static void test_attention_layer(void) {
    ih_model *m = tiny_model(IH_ARCH_ATTN, 6, 2, 11);
    int H = m->H;
    /* structures of 1, 3 and 70 nodes: one node, a few, and more than one ATTN_CHUNK of rows */
    int ptr[4] = {0, 1, 4, 74}, B = 3, N = ptr[B];
    float *x = malloc(sizeof(float) * N * H), *out = malloc(sizeof(float) * B * H),
          *w = malloc(sizeof(float) * B * H), *dx = malloc(sizeof(float) * N * H);
    double *ref = malloc(sizeof(double) * B * H);
    uint64_t s = 5;
    for (int i = 0; i < N * H; i++) x[i] = (float)(3 * tg_unif(&s) - 1.5);
    for (int i = 0; i < B * H; i++) w[i] = (float)cos(0.9 * i + 0.4);
    float *block = ops_alloc(sizeof(float) * attn_acts_floats(H, N, B));
    attn_acts a;
    attn_acts_carve(&a, block, H, N, B);
    /* the layout stays inside the size it reports (N·H = 444 is not a multiple of the alignment) */
    CHECK(a.sc + (size_t)ATTN_CHUNK * N <= block + attn_acts_floats(H, N, B));
    CHECK(a.q >= block && a.ln + 2 * B <= a.sc);

    /* evaluation: the naive formula; one node: p = LN(x + ReLU(V(x))) */
    CHECK(attn_forward(m, &m->attn[0], &a, x, ptr, B, out, NULL) == 0);
    attn_naive(m, &m->attn[0], x, ptr, B, NULL, ref);
    double e = 0;
    for (int i = 0; i < B * H; i++) e = fmax(e, fabs(out[i] - ref[i]));
    printf("attention pooling vs naive double evaluation: max |diff| %.2e\n", e);
    CHECK(e < 2e-5);
    CHECK_NEAR(a.alpha[0], 1.0, 0.0);
    /* softmax weights sum to 1 per structure */
    for (int b = 0; b < B; b++) {
        double z = 0;
        for (int i = ptr[b]; i < ptr[b + 1]; i++) z += a.alpha[i];
        CHECK_NEAR(z, 1.0, 1e-5);
    }
    /* node order does not matter (reverse the 70-node structure) */
    float *xr = malloc(sizeof(float) * N * H), *outr = malloc(sizeof(float) * B * H);
    memcpy(xr, x, sizeof(float) * N * H);
    for (int i = ptr[2]; i < ptr[3]; i++)
        memcpy(xr + (size_t)i * H, x + (size_t)(ptr[2] + ptr[3] - 1 - i) * H, sizeof(float) * H);
    CHECK(attn_forward(m, &m->attn[0], &a, xr, ptr, B, outr, NULL) == 0);
    CHECK(maxabs_diff(out, outr, (size_t)B * H) < 1e-5);
    free(xr), free(outr);
    /* query weights zero: every score 0, α uniform, p = LN(mean X + mean V) */
    {
        ih_model *m0 = tiny_model(IH_ARCH_ATTN, 6, 2, 11);
        float *P = ih_model_params(m0);
        memset(P + m0->attn[0].q.w, 0, sizeof(float) * H * H);
        memset(P + m0->attn[0].q.b, 0, sizeof(float) * H);
        float *o0 = malloc(sizeof(float) * B * H);
        CHECK(attn_forward(m0, &m0->attn[0], &a, x, ptr, B, o0, NULL) == 0);
        for (int i = ptr[2]; i < ptr[3]; i++) CHECK_NEAR(a.alpha[i], 1.0 / 70, 1e-7);
        free(o0);
        ih_model_free(m0);
    }

    /* training: dropout 0.2 on α, survivors scaled by 1/0.8; the naive formula with that mask */
    ih_rng rng;
    ih_rng_seed(&rng, 4242);
    CHECK(attn_forward(m, &m->attn[0], &a, x, ptr, B, out, &rng) == 0);
    int dropped = 0, kept = 0;
    for (int i = 0; i < N; i++) {
        dropped += a.keep[i] == 0.0f;
        kept += a.keep[i] == 1.25f;
    }
    CHECK_INT(dropped + kept, N);
    CHECK(dropped > 3 && dropped < 30); /* ~15 of 74 */
    attn_naive(m, &m->attn[0], x, ptr, B, a.keep, ref);
    e = 0;
    for (int i = 0; i < B * H; i++) e = fmax(e, fabs(out[i] - ref[i]));
    CHECK(e < 2e-5);

    /* gradients: the float32 backward against central differences of the naive double
     * evaluation (same dropout mask), step 1e-5: no float32 noise, and the ReLU kinks (a
     * pre-activation within 1e-5 of zero) are too rare to be met */
    float *keep = malloc(sizeof(float) * N);
    for (int dropout = 0; dropout <= 1; dropout++) {
        attn_ctx c = {m, &a, NULL, x, out, w, ptr, B, dropout};
        attn_loss(&c);
        memcpy(keep, a.keep, sizeof(float) * N);
        ih_model_zero_grad(m);
        memset(dx, 0, sizeof(float) * N * H);
        attn_backward(m, &m->attn[0], &a, x, ptr, B, w, dx);
        naive_ctx nc = {m, x, ptr, B, keep, w, ref};
        char nm[128];
        snprintf(nm, sizeof nm, "attention(%s) dx", dropout ? "dropout" : "eval");
        /* every entry (a directional check would need steps that float32 cannot hold exactly) */
        double ex = gc_entries(nm, x, dx, (size_t)N * H, N * H, 1e-5f, naive_loss, &nc, 1e-3);
        CHECK(ex < 1e-3);
        worst_attn_layer = fmax(worst_attn_layer, ex);
        int nt = 0;
        for (int k = 0; k < ih_model_n_tensors(m); k++) {
            const ih_tensor_info *t = ih_model_tensor(m, k);
            if (strncmp(t->name, "attention.", 10)) continue;
            snprintf(nm, sizeof nm, "attention(%s) %s", dropout ? "dropout" : "eval", t->name);
            float *pv = ih_model_params(m) + t->offset;
            const float *gv = ih_model_grads(m) + t->offset;
            double ee = gc_entries(nm, pv, gv, t->numel, (int)t->numel, 1e-5f, naive_loss, &nc, 1e-3);
            CHECK(ee < 1e-3);
            worst_attn_layer = fmax(worst_attn_layer, ee);
            nt++;
        }
        CHECK_INT(nt, 8);
    }
    free(keep);
    printf("attention pooling gradients: worst relative error %.2e\n", worst_attn_layer);
    free(block), free(x), free(out), free(w), free(dx), free(ref);
    ih_model_free(m);
}

/* ---------------------------------------------------------------------------------------- */
/* forward identities */

static void test_identities(void) {
    ih_graph g, g2;
    random_pair_batch(&g, 5, 16, 4, 13, 71);
    random_pair_batch(&g2, 6, 18, 3, 10, 81);
    int B = g.n_structs;
    for (int training = 0; training <= 1; training++) {
        /* reference: the MODEL-3 network of the same seed (same trunk and head weights) */
        ih_model *m3 = tiny_model(IH_ARCH_MODEL3, 8, 2, 21);
        int H = m3->H;
        float h[16 * 2], o3[2], out[2], o0[2];
        ih_acts *a3 = ih_acts_create(m3, B, g.n_atoms, g.n_edges, g.n_triplets, 1);
        CHECK(ih_model_reserve_head(m3, B) == 0);
        CHECK(ih_trunk_forward(m3, a3, &g, training, h) == 0);
        CHECK(ih_head_forward(m3, h, B, o3) == 0);
        float h2x[16 * 2], zeros[16 * 2];
        for (int i = 0; i < B * H; i++) h2x[i] = 2 * h[i], zeros[i] = 0;
        for (int k = 0; k < 4; k++) {
            int arch = pair_archs[k];
            ih_model *m = tiny_model(arch, 8, 2, 21);
            CHECK(reserve_for(m, &g, &g) == 0);
            if (arch == IH_ARCH_CC) {
                /* fc = [I | 0]: the fused vector is h1 */
                float *P = ih_model_params(m);
                memset(P + m->fuse.w, 0, sizeof(float) * 2 * H * H);
                memset(P + m->fuse.b, 0, sizeof(float) * H);
                for (int i = 0; i < H; i++) P[m->fuse.w + (size_t)i * 2 * H + i] = 1.0f;
            }
            CHECK(ih_model_forward(m, &g, &g, training, out) == 0);
            const float *hf = ih_model_pooled(m);
            if (arch == IH_ARCH_ADD) {
                CHECK(maxabs_diff(hf, h2x, (size_t)B * H) == 0.0); /* same graph twice: 2h */
            } else if (arch == IH_ARCH_SUB) {
                CHECK(maxabs_diff(hf, zeros, (size_t)B * H) == 0.0);
                CHECK(ih_head_forward(m3, zeros, B, o0) == 0);
                CHECK(maxabs_diff(out, o0, B) == 0.0);
            } else if (arch == IH_ARCH_CC) {
                CHECK(maxabs_diff(hf, h, (size_t)B * H) < 1e-6);
                CHECK(maxabs_diff(out, o3, B) < 1e-6);
            } else {
                /* MODEL-2 with G1 = G2: Δ = 0, h = fc([h1 ‖ 0]) */
                const float *P = ih_model_params(m);
                for (int b = 0; b < B; b++)
                    for (int o = 0; o < H; o++) {
                        double v = P[m->fuse.b + o];
                        for (int i = 0; i < H; i++) v += (double)P[m->fuse.w + (size_t)o * 2 * H + i] * h[b * H + i];
                        CHECK_NEAR(hf[b * H + o], v, 1e-5);
                    }
            }
            ih_model_free(m);
        }
        /* MODEL-3-PATH / -SADDLE on a batch of structures with ≥ 6 atoms: fc = [I | 0 (| 0)]
         * gives MODEL-3's pooled vector and output; fc = [0 | I (| 0)] the mean of the first five
         * atoms' node features; fc = [0 | 0 | I] x₂ − (x₀ + x₄)/2 of those atoms */
        {
            ih_graph gp;
            random_pair_batch(&gp, 7, 22, 6, 18, 91);
            ih_model *mp3 = tiny_model(IH_ARCH_MODEL3, 8, 2, 21);
            ih_acts *ap = ih_acts_create(mp3, B, gp.n_atoms, gp.n_edges, gp.n_triplets, 1);
            float hp[32], op3[2], opath[2], img[32], sad[32];
            CHECK(ih_model_reserve_head(mp3, B) == 0);
            CHECK(ih_trunk_forward(mp3, ap, &gp, training, hp) == 0);
            CHECK(ih_head_forward(mp3, hp, B, op3) == 0);
            const float *nodes = trunk_nodes(ap);
            for (int b = 0; b < B; b++)
                for (int k = 0; k < H; k++) {
                    double v = 0;
                    for (int i = gp.struct_atom_ptr[b]; i < gp.struct_atom_ptr[b] + 5; i++) v += nodes[(size_t)i * H + k];
                    img[b * H + k] = (float)(v / 5);
                    const float *x0 = nodes + (size_t)gp.struct_atom_ptr[b] * H;
                    sad[b * H + k] = x0[2 * H + k] - 0.5f * (x0[k] + x0[4 * H + k]);
                }
            const float *want[3] = {hp, img, sad};
            for (int part = 0; part < 5; part++) {
                int arch = part < 2 ? IH_ARCH_PATH : IH_ARCH_SADDLE, parts = part < 2 ? 2 : 3;
                int p = part < 2 ? part : part - 2;
                ih_model *m = tiny_model(arch, 8, 2, 21);
                CHECK(reserve_for(m, &gp, NULL) == 0);
                CHECK_INT(m->fuse.in, parts * H);
                float *P = ih_model_params(m);
                memset(P + m->fuse.w, 0, sizeof(float) * parts * H * H);
                memset(P + m->fuse.b, 0, sizeof(float) * H);
                for (int i = 0; i < H; i++) P[m->fuse.w + (size_t)i * parts * H + p * H + i] = 1.0f;
                CHECK(ih_model_forward(m, &gp, NULL, training, opath) == 0);
                CHECK(maxabs_diff(ih_model_pooled(m), want[p], (size_t)B * H) < 1e-6);
                if (!p) CHECK(maxabs_diff(opath, op3, B) < 1e-6);
                /* misuse: two graphs, or structures too small to hold five path images */
                CHECK(ih_model_forward(m, &gp, &gp, training, opath) == -1);
                CHECK(strstr(ih_last_error(), "one graph"));
                ih_model_free(m);
            }
            ih_model *m = tiny_model(IH_ARCH_PATH, 8, 2, 21);
            CHECK(reserve_for(m, &g, NULL) == 0);
            CHECK(ih_model_forward(m, &g, NULL, training, opath) == -1); /* a 5-atom structure */
            CHECK(strstr(ih_last_error(), "5-image"));
            ih_model_free(m);
            ih_acts_free(ap);
            ih_model_free(mp3);
            tg_free(&gp);
        }
        /* Siamese BatchNorm: in training each trunk call normalises with its own graph's
         * statistics and updates the running statistics once: the same as two separate trunk
         * calls (G1 first) */
        ih_model *ma = tiny_model(IH_ARCH_ADD, 8, 2, 21);
        ih_model *mb = tiny_model(IH_ARCH_MODEL3, 8, 2, 21);
        CHECK(reserve_for(ma, &g, &g2) == 0);
        ih_acts *b1 = ih_acts_create(mb, B, g.n_atoms, g.n_edges, g.n_triplets, 1);
        ih_acts *b2 = ih_acts_create(mb, B, g2.n_atoms, g2.n_edges, g2.n_triplets, 1);
        float hb1[32], hb2[32], sum[32];
        CHECK(ih_model_forward(ma, &g, &g2, training, out) == 0);
        CHECK(ih_trunk_forward(mb, b1, &g, training, hb1) == 0);
        CHECK(ih_trunk_forward(mb, b2, &g2, training, hb2) == 0);
        for (int i = 0; i < B * H; i++) sum[i] = hb1[i] + hb2[i];
        CHECK(maxabs_diff(ih_model_pooled(ma), sum, (size_t)B * H) == 0.0);
        CHECK(memcmp(ih_model_buffers(ma), ih_model_buffers(mb), sizeof(float) * ih_model_n_buffers(mb)) == 0);
        ih_model *fresh = tiny_model(IH_ARCH_ADD, 8, 2, 21);
        CHECK((memcmp(ih_model_buffers(ma), ih_model_buffers(fresh), sizeof(float) * ih_model_n_buffers(ma)) != 0) ==
              training);
        ih_model_free(fresh);
        ih_acts_free(b1), ih_acts_free(b2);
        ih_model_free(ma), ih_model_free(mb);
        ih_acts_free(a3);
        ih_model_free(m3);
    }
    /* misuse: one graph for a pair model, two for MODEL-3, mismatched batches, no reserve */
    ih_model *m = tiny_model(IH_ARCH_CC, 8, 2, 3);
    float out[4];
    CHECK(ih_model_forward(m, &g, &g2, 0, out) == -1 && strstr(ih_last_error(), "ih_model_reserve was not called"));
    CHECK(reserve_for(m, &g, &g2) == 0);
    CHECK(ih_model_forward(m, &g, NULL, 0, out) == -1 && strstr(ih_last_error(), "two graphs"));
    CHECK(ih_model_forward(m, &g, NULL, 0, out) == -1 && strstr(ih_last_error(), "model1-cc"));
    CHECK(ih_model_backward(m, &g, &g2, out) == -1 && strstr(ih_last_error(), "without a forward"));
    ih_graph one;
    tg_random r;
    tg_make_random(&r, 4, 10, 5);
    tg_struct ts = tg_of_random(&r);
    tg_build(&ts, 1, &one);
    CHECK(ih_model_forward(m, &g, &one, 0, out) == -1 && strstr(ih_last_error(), "second graphs"));
    ih_model_free(m);
    m = tiny_model(IH_ARCH_MODEL3, 8, 2, 3);
    CHECK(reserve_for(m, &g, NULL) == 0);
    CHECK(ih_model_forward(m, &g, &g2, 0, out) == -1);
    CHECK(ih_model_forward(m, &g, NULL, 0, out) == 0);
    ih_model_free(m);
    tg_free(&one);
    tg_free(&g);
    tg_free(&g2);
}

/* ---------------------------------------------------------------------------------------- */
/* whole-variant gradients */

typedef struct var_ctx {
    ih_model *m;
    const ih_graph *g1, *g2;
    int training;
    float *out, *w;
} var_ctx;

static double var_loss(void *p) {
    var_ctx *c = p;
    ih_model_set_dropout_seed(c->m, 99); /* MODEL-4: a fixed dropout mask */
    CHECK(ih_model_forward(c->m, c->g1, c->g2, c->training, c->out) == 0);
    double s = 0;
    for (int i = 0; i < c->g1->n_structs * c->m->cfg.n_outputs; i++) s += (double)c->w[i] * c->out[i];
    return s;
}

/* the last ALIGNN layer's z and the last GCN's y are not used: no gradient */
static int unused_output(const char *name) {
    return strstr(name, "edge_update.bn_edges") || strstr(name, "gcn_layers.0.bn_edges") ||
           strstr(name, "gcn_layers_1.0.bn_edges");
}

/* derivative of the loss along a fixed ±1 pattern (Richardson-extrapolated central differences,
 * as gc_direction): on a zero-gradient tensor, the loss's rounding noise */
static double fd_direction(float *x, size_t n, float h, gc_loss_fn f, void *ctx) {
    float *orig = malloc(sizeof(float) * n);
    memcpy(orig, x, sizeof(float) * n);
    double d[2];
    for (int k = 0; k < 2; k++) {
        float hk = k ? h / 2 : h;
        for (size_t i = 0; i < n; i++) x[i] = orig[i] + hk * ((i * 7 + 3) % 2 ? 1 : -1);
        double lp = f(ctx);
        for (size_t i = 0; i < n; i++) x[i] = orig[i] - hk * ((i * 7 + 3) % 2 ? 1 : -1);
        double lm = f(ctx);
        d[k] = (lp - lm) / (2.0 * hk);
    }
    memcpy(x, orig, sizeof(float) * n);
    free(orig);
    return (4.0 * d[1] - d[0]) / 3.0;
}

static double *worst_slot(const char *name) {
    if (!strncmp(name, "fc.", 3)) return &worst_fuse;
    if (strstr(name, "_layers_1.")) return &worst_delta;
    if (!strncmp(name, "attention", 9)) return &worst_attn_model;
    if (strstr(name, "embedding") || !strncmp(name, "alignn", 6) || !strncmp(name, "gcn", 3)) return &worst_trunk;
    return &worst_other;
}

static double fused_loss(void *p) {
    var_ctx *c = p;
    ih_model_set_dropout_seed(c->m, 99); /* MODEL-4: a fixed dropout mask */
    CHECK(variants_forward_fused(c->m, c->g1, c->g2, c->training) == 0);
    const float *h = ih_model_pooled(c->m);
    double s = 0;
    for (int i = 0; i < c->g1->n_structs * c->m->H; i++) s += (double)c->w[i] * h[i];
    return s;
}

static int head_tensor(const char *name) {
    return !strncmp(name, "conv_to_fc", 10) || !strncmp(name, "fc_hp", 5) || !strncmp(name, "fc_out", 6) ||
           !strncmp(name, "fc_final", 8);
}

/* Every parameter below the head by finite differences at the fused vector (loss Σ w ⊙ h,
 * where the signal is well above the float32 noise; the head's own gradients are checked in
 * test_model), then the whole model at its output along one direction, and
 * ih_model_backward = head backward + backward from the fused vector. */
static void check_variant(int arch, int head_hidden, const ih_graph *g1, const ih_graph *g2) {
    double noise_e = 0.0, noise_d = 0.0;
    const float step = 3e-3f;
    for (int training = 1; training >= 0; training--) {
        ih_model *m = tiny_model(arch, 8, head_hidden, 40 + arch);
        int B = g1->n_structs, H = m->H, P = m->cfg.n_outputs;
        CHECK(reserve_for(m, g1, g2) == 0);
        if (arch == IH_ARCH_ATTN) {
            /* central differences need every Q/K/V pre-activation away from the ReLU kink
             * (the masks are checked on the layer, in double): small weights, bias 0.5 */
            float *Pm = ih_model_params(m);
            for (int k = 0; k < 2; k++) {
                const linear_layer *ls[3] = {&m->attn[k].q, &m->attn[k].k, &m->attn[k].v};
                for (int q = 0; q < 3; q++) {
                    for (int j = 0; j < H * H; j++) Pm[ls[q]->w + j] *= 0.2f;
                    for (int j = 0; j < H; j++) Pm[ls[q]->b + j] = 0.5f + 0.05f * j;
                }
            }
        }
        float *w = malloc(sizeof(float) * B * H), out[8], wo[8];
        for (int i = 0; i < B * H; i++) w[i] = (float)cos(1.3 * i + 0.2);
        var_ctx ctx = {m, g1, g2, training, out, w};
        fused_loss(&ctx);
        if (arch == IH_ARCH_ATTN) {
            double lo = INFINITY;
            for (int k = 0; k < 2; k++) {
                const attn_acts *at = variants_attn(m, k);
                int n = (k ? g2 : g1)->n_atoms;
                for (size_t j = 0; j < (size_t)n * H; j++) lo = fmin(lo, fmin(at->q[j], fmin(at->k[j], at->v[j])));
            }
            CHECK_MSG(lo > 0.1, "smallest Q/K/V value %g: too close to the ReLU kink", lo);
        }
        ih_model_zero_grad(m);
        CHECK(variants_backward_fused(m, g1, g2, w) == 0);
        size_t np = ih_model_n_params(m);
        float *grad = malloc(sizeof(float) * np);
        memcpy(grad, ih_model_grads(m), sizeof(float) * np);
        double gmax = 0;
        for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(grad[i]));
        /* a second backward accumulates: twice the gradients */
        CHECK(variants_backward_fused(m, g1, g2, w) == 0);
        double acc = 0;
        for (size_t i = 0; i < np; i++) acc = fmax(acc, fabs(ih_model_grads(m)[i] - 2 * grad[i]));
        CHECK(acc <= 1e-6 * gmax);
        const char *mode = training ? "train" : "eval";
        char nm[200];
        if (training) {
            /* the loss's float32 rounding noise, measured on the zero-gradient biases */
            for (int k = 0; k < ih_model_n_tensors(m); k++) {
                const ih_tensor_info *t = ih_model_tensor(m, k);
                if (!bias_before_train_bn(t->name)) continue;
                double gn = 0;
                for (size_t j = 0; j < t->numel; j++) gn = fmax(gn, fabs(grad[t->offset + j]));
                CHECK_MSG(gn <= 1e-6 * gmax, "%s %s: %g should vanish", ih_arch_name(arch), t->name, gn);
                float *x = ih_model_params(m) + t->offset;
                for (size_t j = 0; j < t->numel; j++) {
                    float o = x[j];
                    x[j] = o + step;
                    double lp = fused_loss(&ctx);
                    x[j] = o - step;
                    double lm = fused_loss(&ctx);
                    x[j] = o;
                    noise_e = fmax(noise_e, fabs(lp - lm) / (2 * step));
                }
                noise_d = fmax(noise_d, fabs(fd_direction(x, t->numel, 3e-3f, fused_loss, &ctx)));
            }
        }
        /* the allowance measured in training mode also serves evaluation mode, whose gradients
         * below the fused vector are smaller (as in test_model) */
        gc_abs_noise = 3.0 * noise_e;
        double worst = 0;
        int n_checked = 0;
        for (int k = 0; k < ih_model_n_tensors(m); k++) {
            const ih_tensor_info *t = ih_model_tensor(m, k);
            double gn = 0;
            for (size_t j = 0; j < t->numel; j++) gn = fmax(gn, fabs(grad[t->offset + j]));
            if (head_tensor(t->name)) {
                CHECK_MSG(gn == 0.0, "%s: the head is not below the fused vector", t->name);
                continue;
            }
            if (unused_output(t->name)) {
                CHECK_MSG(gn == 0.0, "%s %s should have no gradient", ih_arch_name(arch), t->name);
                continue;
            }
            if (training && bias_before_train_bn(t->name)) continue;
            CHECK_MSG(gn > 0.0, "%s (%s) %s has no gradient", ih_arch_name(arch), mode, t->name);
            snprintf(nm, sizeof nm, "%s(%s) %s", ih_arch_name(arch), mode, t->name);
            float *pv = ih_model_params(m) + t->offset;
            double e = gc_entries(nm, pv, grad + t->offset, t->numel, 3, step, fused_loss, &ctx, 1e-2);
            double d = gc_direction(nm, pv, grad + t->offset, t->numel, 3e-3f, 100 + k, fused_loss, &ctx,
                                    3.0 * noise_d);
            CHECK(e < 1e-2);
            CHECK(d < 1e-2);
            double *slot = worst_slot(t->name);
            *slot = fmax(*slot, fmax(e, d));
            worst = fmax(worst, fmax(e, d));
            n_checked++;
        }
        gc_abs_noise = 0.0;
        /* each of the arch's own modules as a whole (contiguous in the block), where the
         * directional derivative stands far above the noise */
        static const char *const modules[] = {"fc.", "alignn_layers_1.", "gcn_layers_1.", "attention.", "attention1."};
        for (int q = 0; q < 5; q++) {
            size_t lo = np, hi = 0, cnt = 0;
            for (int k = 0; k < ih_model_n_tensors(m); k++) {
                const ih_tensor_info *t = ih_model_tensor(m, k);
                if (strncmp(t->name, modules[q], strlen(modules[q]))) continue;
                lo = t->offset < lo ? t->offset : lo;
                hi = t->offset + t->numel > hi ? t->offset + t->numel : hi;
                cnt += t->numel;
            }
            if (!cnt) continue;
            CHECK(hi - lo == cnt);
            snprintf(nm, sizeof nm, "%s(%s) module %s", ih_arch_name(arch), mode, modules[q]);
            double dm = gc_direction(nm, ih_model_params(m) + lo, grad + lo, cnt, 3e-3f, 11 + q, fused_loss, &ctx, 0.0);
            printf("  %s: directional relative error %.2e (no allowance)\n", nm, dm);
            CHECK(dm < 5e-3);
            double *slot = worst_slot(modules[q]);
            *slot = fmax(*slot, dm);
        }
        snprintf(nm, sizeof nm, "%s(%s) all parameters at h", ih_arch_name(arch), mode);
        double dall = gc_direction(nm, ih_model_params(m), grad, np, 1e-3f, 5, fused_loss, &ctx, 0.0);
        CHECK(dall < 1e-3);

        /* the whole model at its output, head included, along one direction */
        for (int i = 0; i < B * P; i++) wo[i] = (float)cos(0.7 * i + 0.3);
        ctx.w = wo;
        var_loss(&ctx);
        ih_model_zero_grad(m);
        CHECK(ih_model_backward(m, g1, g2, wo) == 0);
        memcpy(grad, ih_model_grads(m), sizeof(float) * np);
        snprintf(nm, sizeof nm, "%s(%s) all parameters at the output", ih_arch_name(arch), mode);
        double dout = gc_direction(nm, ih_model_params(m), grad, np, 1e-3f, 6, var_loss, &ctx, 0.0);
        CHECK(dout < 1e-3);
        /* composition: ih_model_backward = head backward, then backward from the fused vector */
        var_loss(&ctx);
        ih_model_zero_grad(m);
        float dh[16];
        CHECK(ih_head_backward(m, ih_model_pooled(m), B, wo, dh) == 0);
        CHECK(variants_backward_fused(m, g1, g2, dh) == 0);
        CHECK(memcmp(grad, ih_model_grads(m), sizeof(float) * np) == 0);

        printf("%-10s%s (%s): %2d tensors, worst per-tensor relative error %.2e; all-parameter "
               "directional %.2e at h, %.2e at the output (noise: entry %.1e, directional %.1e)\n",
               ih_arch_name(arch), head_hidden ? "" : "/scratch", mode, n_checked, worst, dall, dout, noise_e,
               noise_d);
        free(grad), free(w);
        ih_model_free(m);
    }
}

static void test_variant_gradients(void) {
    ih_graph g1, g2;
    random_pair_batch(&g1, 5, 16, 4, 13, 71);
    random_pair_batch(&g2, 6, 18, 3, 10, 81);
    for (int k = 0; k < N_PAIR_ARCHS; k++) check_variant(pair_archs[k], 2, &g1, &g2);
    check_variant(IH_ARCH_CC, 0, &g1, &g2); /* SCRATCH-CC: fc then fc_final */
    ih_graph gp; /* MODEL-3-PATH: one graph, structures of ≥ 6 atoms */
    random_pair_batch(&gp, 7, 22, 6, 18, 91);
    check_variant(IH_ARCH_PATH, 2, &gp, NULL);
    check_variant(IH_ARCH_SADDLE, 2, &gp, NULL);
    /* with path descriptors: "fc" reads them too (its weight gains IH_PATH_DESC columns) */
    gp.path_desc = malloc(sizeof(float) * gp.n_structs * IH_PATH_DESC);
    for (int i = 0; i < gp.n_structs * IH_PATH_DESC; i++) gp.path_desc[i] = (float)sin(0.9 * i + 0.4);
    tiny_path_desc = 1;
    check_variant(IH_ARCH_PATH, 2, &gp, NULL);
    check_variant(IH_ARCH_SADDLE, 2, &gp, NULL);
    {
        ih_model *m = tiny_model(IH_ARCH_PATH, 8, 2, 3);
        int fc = ih_model_find_tensor(m, "fc.weight");
        CHECK(fc >= 0 && ih_model_tensor(m, fc)->shape[1] == 2 * 8 + IH_PATH_DESC);
        /* the descriptors change the output; graphs without them are refused */
        float o1[2], o2[2];
        CHECK(reserve_for(m, &gp, NULL) == 0);
        CHECK(ih_model_forward(m, &gp, NULL, 0, o1) == 0);
        gp.path_desc[1] += 1.0f;
        CHECK(ih_model_forward(m, &gp, NULL, 0, o2) == 0);
        CHECK(o1[0] != o2[0] && o1[1] == o2[1]);
        float *saved = gp.path_desc;
        gp.path_desc = NULL;
        CHECK(ih_model_forward(m, &gp, NULL, 0, o2) == -1 && strstr(ih_last_error(), "path descriptors"));
        gp.path_desc = saved;
        ih_model_free(m);
        ih_config c;
        ih_config_default(&c);
        c.path_desc = 1; /* model3: no fusion to feed them to */
        CHECK(ih_config_check(&c) == -1 && strstr(ih_last_error(), "model3-path"));
    }
    tiny_path_desc = 0;
    tg_free(&gp);
    printf("worst gradient-check errors (beyond the float32 noise allowance for single tensors): fusion fc "
           "%.2e, delta branch %.2e, attention pooling in the model %.2e (as a layer, in double: %.2e), "
           "trunk %.2e\n",
           worst_fuse, worst_delta, worst_attn_model, worst_attn_layer, worst_trunk);
    tg_free(&g1);
    tg_free(&g2);
}

/* ---------------------------------------------------------------------------------------- */
/* datasets, training, model files */


static void test_datasets(void) {
    ih_graph_opts go;
    ih_graph_opts_default(&go);
    go.line_graph = 0;
    const char *jid7[1] = {"tests/fixtures/em_jid7.json"};
    ih_dataset d;
    /* §10.5: jid 7's end points (site 0 / site 4 + host) and its local sub-graph */
    CHECK(ih_dataset_load_input(&d, jid7, 1, &go, IH_INPUT_ENDPOINTS, 0, NULL) == 0);
    if (d.n == 1) {
        CHECK(d.graphs2 && d.input == IH_INPUT_ENDPOINTS);
        CHECK_INT(d.graphs[0].n_atoms, 29);
        CHECK_INT(d.graphs[0].n_edges, 696);
        CHECK_INT(d.n_triplets[0], 16844);
        CHECK_INT(d.graphs2[0].n_edges, 696);
        CHECK_INT(d.n_triplets2[0], 16864);
        CHECK_NEAR(d.targets[0], 0.516, 1e-6);
    }
    ih_dataset_free(&d);
    CHECK(ih_dataset_load_input(&d, jid7, 1, &go, IH_INPUT_LOCAL, 0, NULL) == 0);
    if (d.n == 1) {
        CHECK_INT(d.graphs[0].n_atoms, 33);
        CHECK_INT(d.graphs[0].n_edges, 792);
        CHECK_INT(d.n_triplets[0], 19184);
        CHECK_INT(d.graphs2[0].n_atoms, 17);
        CHECK_INT(d.graphs2[0].n_edges, 114);
        CHECK_INT(d.n_triplets2[0], 1200);
    }
    ih_dataset_free(&d);
    /* the cache keeps both graphs and is keyed by the input kind */
    CHECK(mkdir(tmp_path("cache"), 0700) == 0);
    ih_dataset c1, c2, c3;
    CHECK(ih_dataset_load_input(&c1, jid7, 1, &go, IH_INPUT_LOCAL, 0, tmp_path("cache")) == 0);
    CHECK(ih_dataset_load_input(&c2, jid7, 1, &go, IH_INPUT_LOCAL, 0, tmp_path("cache")) == 0);
    CHECK(ih_dataset_load_input(&c3, jid7, 1, &go, IH_INPUT_ENDPOINTS, 0, tmp_path("cache")) == 0);
    CHECK(c1.from_cache == 0 && c2.from_cache == 1 && c3.from_cache == 0);
    if (c2.n == 1 && c2.graphs2) {
        CHECK_INT(c2.graphs2[0].n_edges, 114);
        CHECK_INT(c2.n_triplets2[0], 1200);
        CHECK(memcmp(c1.graphs2[0].edge_len, c2.graphs2[0].edge_len, sizeof(float) * 114) == 0);
        CHECK_INT(c3.graphs[0].n_atoms, 29);
    }
    ih_dataset_free(&c1), ih_dataset_free(&c2), ih_dataset_free(&c3);
    /* a record that is not a 5-image path: an error naming the file and the record */
    ih_structure s;
    ih_structure_init(&s, 2);
    for (int r = 0; r < 3; r++) s.lattice[r][r] = 4.0;
    s.z[0] = 55, s.z[1] = 17;
    for (int k = 0; k < 3; k++) s.frac[3 + k] = 0.5;
    snprintf(s.jid, sizeof s.jid, "cscl");
    CHECK(ih_write_json(tmp_path("cscl.json"), &s, 1) == 0);
    const char *bad[1] = {tmp_path("cscl.json")};
    CHECK(ih_dataset_load_input(&d, bad, 1, &go, IH_INPUT_ENDPOINTS, 0, NULL) == -1);
    CHECK_MSG(strstr(ih_last_error(), "cscl.json") && strstr(ih_last_error(), "5-image"), "%s", ih_last_error());
    CHECK(ih_dataset_load_input(&d, bad, 1, &go, IH_INPUT_SINGLE, 0, NULL) == 0);
    CHECK(d.graphs2 == NULL);
    ih_dataset_free(&d);
    ih_structure_free(&s);
}

static ih_model *train_arch(const ih_dataset *d, int arch, int epochs, int stop_after, const char *ckpt,
                            uint64_t seed) {
    ih_model *m = tiny_model(arch, 8, 2, seed);
    int tr[3] = {0, 1, 2}, va[1] = {3};
    ih_task_scaling sc = {"em", 0.0, 9.0, 0};
    /* micro-batches of 1 << 16 triplets: small arenas for four small records */
    ih_train_opts o = quiet_train_opts(epochs, 2, seed, ckpt, 1 << 16, tmp_path("best.ionhop"));
    ih_train_result r;
    if (stop_after > 0) {
        ih_model *m1 = tiny_model(arch, 8, 2, seed);
        ih_train_opts o1 = o;
        o1.stop_after = stop_after;
        CHECK(ih_train(m1, d, tr, 3, va, 1, &sc, &o1, &r) == 0);
        ih_model_free(m1);
        o.resume = 1;
    }
    CHECK_MSG(ih_train(m, d, tr, 3, va, 1, &sc, &o, &r) == 0, "%s: %s", ih_arch_name(arch), ih_last_error());
    CHECK_INT(r.epochs, epochs);
    return m;
}

static void test_training(void) {
    CHECK(hop_records_write(tmp_path("small.json"), 4) == 0);
    ih_graph_opts go;
    ih_graph_opts_default(&go);
    go.line_graph = 0;
    const char *paths[1] = {tmp_path("small.json")};
    ih_dataset ds[3];
    for (int in = 0; in < 3; in++) CHECK(ih_dataset_load_input(&ds[in], paths, 1, &go, in, 0, NULL) == 0);
    int idx[4] = {0, 1, 2, 3};
    for (int a = 0; a < IH_N_ARCH; a++) {
        const ih_dataset *d = &ds[ih_arch_input(a)];
        ih_model *m = train_arch(d, a, 1, 0, NULL, 3);
        /* predictions: finite; the same after a save/load round trip (arch kept); the same with
         * tiny micro-batches (evaluation mode: each structure on its own) */
        float p1[4], p2[4], p3[4];
        CHECK(ih_dataset_reserve(m, d, 4, 1 << 16) == 0);
        CHECK(ih_predict_dataset(m, d, idx, 4, 4, 1 << 16, p1) == 0);
        for (int i = 0; i < 4; i++) CHECK(isfinite(p1[i]));
        CHECK(ih_predict_dataset(m, d, idx, 4, 4, 1000, p3) == 0);
        for (int i = 0; i < 4; i++) CHECK_NEAR(p3[i], p1[i], 1e-5);
        CHECK(save_cb(NULL, m, tmp_path("arch.ionhop"), 0, NULL) == 0);
        char *meta = NULL;
        ih_model *back = ih_model_load(tmp_path("arch.ionhop"), &meta);
        CHECK(back && ih_model_config(back)->arch == a && params_equal(m, back));
        char want[64];
        snprintf(want, sizeof want, "\"arch\":\"%s\"", ih_arch_name(a));
        CHECK_MSG(meta && strstr(meta, want), "%s", meta ? meta : "");
        if (back) {
            CHECK(ih_dataset_reserve(back, d, 4, 1 << 16) == 0);
            CHECK(ih_predict_dataset(back, d, idx, 4, 4, 1 << 16, p2) == 0);
            CHECK(memcmp(p1, p2, sizeof p1) == 0);
            /* evaluation-only arenas (what `ionhop predict` reserves) give the same predictions */
            CHECK(ih_dataset_reserve_eval(back, d, 4, 1 << 16) == 0);
            CHECK(ih_predict_dataset(back, d, idx, 4, 4, 1 << 16, p2) == 0);
            for (int i = 0; i < 4; i++) CHECK_NEAR(p2[i], p1[i], 1e-6);
        }
        free(meta);
        ih_model_free(back);
        /* another arch's dataset is refused with a clear message */
        const ih_dataset *other = &ds[(ih_arch_input(a) + 1) % 3];
        CHECK(ih_predict_dataset(m, other, idx, 4, 4, 1 << 16, p2) == -1);
        CHECK_MSG(strstr(ih_last_error(), ih_arch_name(a)), "%s", ih_last_error());
        ih_model_free(m);
    }
    /* MODEL-4 (dropout) and MODEL-2: same seed, same model; resuming repeats the uninterrupted
     * run; another seed differs */
    for (int q = 0; q < 2; q++) {
        int arch = q ? IH_ARCH_DELTA : IH_ARCH_ATTN;
        const ih_dataset *d = &ds[ih_arch_input(arch)];
        ih_model *r1 = train_arch(d, arch, 2, 0, tmp_path("ck1"), 5);
        ih_model *r2 = train_arch(d, arch, 2, 1, tmp_path("ck2"), 5);
        ih_model *r3 = train_arch(d, arch, 2, 0, NULL, 6);
        CHECK_MSG(params_equal(r1, r2), "%s: resumed run differs", ih_arch_name(arch));
        CHECK(!params_equal(r1, r3));
        ih_model_free(r1), ih_model_free(r2), ih_model_free(r3);
    }
    /* trunk transfer from a pre-trained (MODEL-3, 7-output) model: embeddings, alignn_layers,
     * gcn_layers and their buffers; the arch's own modules keep their fresh weights */
    static const char *const trunk[] = {"atom_embedding.", "edge_embedding.", "angle_embedding.",
                                        "alignn_layers.", "gcn_layers."};
    ih_config c;
    ih_config_default(&c);
    c.hidden = 8, c.embed = 5, c.alignn_layers = 1, c.gcn_layers = 1, c.n_outputs = 7;
    ih_model *mpt = ih_model_create(&c, 77);
    for (int a = 1; a < IH_N_ARCH; a++) {
        ih_model *m = tiny_model(a, 8, 2, 3), *fresh = tiny_model(a, 8, 2, 3);
        int copied = ih_model_copy_matching(m, mpt, trunk, 5);
        CHECK_INT(copied, 5 * 4 + 3 * 14 + 5 * 2 + 3 * 4);
        for (int t = 0; t < ih_model_n_tensors(m); t++) {
            const ih_tensor_info *ti = ih_model_tensor(m, t);
            int in_trunk = 0;
            for (int p = 0; p < 5; p++) in_trunk |= !strncmp(ti->name, trunk[p], strlen(trunk[p]));
            const float *pm = ih_model_params(m) + ti->offset, *pf = ih_model_params(fresh) + ti->offset;
            const float *pt = in_trunk ? ih_model_params(mpt) + ih_model_tensor(mpt, ih_model_find_tensor(mpt, ti->name))->offset : pf;
            CHECK_MSG(memcmp(pm, pt, sizeof(float) * ti->numel) == 0, "%s %s", ih_arch_name(a), ti->name);
        }
        ih_model_free(m), ih_model_free(fresh);
    }
    ih_model_free(mpt);
    for (int in = 0; in < 3; in++) ih_dataset_free(&ds[in]);
}

/* ---------------------------------------------------------------------------------------- */
/* PyTorch reference */

#define VAR_FX "tests/fixtures/variants_ref.ihfx"

/* the batch of fixture graphs `keys` (edge lists from the reference's graph builder) */
static int fixture_batch(const fx_file *f, const char *const *keys, int n, ih_graph *g) {
    int *z[4] = {0}, *src[4] = {0}, *dst[4] = {0}, ok = n <= 4;
    float *r[4] = {0}, *len[4] = {0};
    tg_struct ts[4];
    for (int i = 0; ok && i < n; i++) {
        char nm[160];
        size_t na = 0, ne = 0;
        snprintf(nm, sizeof nm, "%s/z", keys[i]);
        z[i] = fx_i32(f, nm, &na);
        snprintf(nm, sizeof nm, "%s/src", keys[i]);
        src[i] = fx_i32(f, nm, &ne);
        snprintf(nm, sizeof nm, "%s/dst", keys[i]);
        dst[i] = fx_i32(f, nm, NULL);
        snprintf(nm, sizeof nm, "%s/r", keys[i]);
        r[i] = fx_f32(f, nm, NULL);
        snprintf(nm, sizeof nm, "%s/len", keys[i]);
        len[i] = fx_f32(f, nm, NULL);
        ok = z[i] && src[i] && dst[i] && r[i] && len[i];
        tg_struct t = {(int)na, (int)ne, z[i], src[i], dst[i], r[i], len[i]};
        ts[i] = t;
    }
    if (ok) tg_build(ts, n, g);
    for (int i = 0; i < n && i < 4; i++) free(z[i]), free(src[i]), free(dst[i]), free(r[i]), free(len[i]);
    return ok ? 0 : -1;
}

static void compare_reference(const fx_file *f, const char *arch_name, const char *mode, ih_model *m,
                              const ih_graph *g1, const ih_graph *g2, char **names, int nn, char **bufnames, int nb,
                              uint64_t dropout_seed) {
    char nm[160];
    int B = g1->n_structs, H = m->H;
    float *dout = NULL, *rout = NULL, *rfused = NULL;
    double *rgn = NULL, *rgs = NULL, *rbn = NULL;
    snprintf(nm, sizeof nm, "%s/dout", arch_name), dout = fx_f32(f, nm, NULL);
    snprintf(nm, sizeof nm, "%s/%s/out", arch_name, mode), rout = fx_f32(f, nm, NULL);
    snprintf(nm, sizeof nm, "%s/%s/fused", arch_name, mode), rfused = fx_f32(f, nm, NULL);
    snprintf(nm, sizeof nm, "%s/%s/grad_norm", arch_name, mode), rgn = fx_f64(f, nm, NULL);
    snprintf(nm, sizeof nm, "%s/%s/grad_samples", arch_name, mode), rgs = fx_f64(f, nm, NULL);
    snprintf(nm, sizeof nm, "%s/%s/buf_norm", arch_name, mode), rbn = fx_f64(f, nm, NULL);
    CHECK(dout && rout && rfused && rgn && rgs && rbn);
    if (dout && rout && rfused && rgn && rgs && rbn) {
        int training = !strcmp(mode, "train");
        float out[4];
        ih_model_set_dropout_seed(m, dropout_seed);
        CHECK(ih_model_forward(m, g1, g2, training, out) == 0);
        ih_model_zero_grad(m);
        CHECK(ih_model_backward(m, g1, g2, dout) == 0);
        double oscale = 0, oerr = 0, ferr = 0, fscale = 0;
        for (int i = 0; i < B; i++) oscale = fmax(oscale, fabs(rout[i])), oerr = fmax(oerr, fabs(out[i] - rout[i]));
        for (int i = 0; i < B * H; i++)
            fscale = fmax(fscale, fabs(rfused[i])), ferr = fmax(ferr, fabs(ih_model_pooled(m)[i] - rfused[i]));
        char label[64];
        snprintf(label, sizeof label, "%s %s", arch_name, mode);
        ref_grad_err ge = ref_compare_grads(m, names, nn, rgn, rgs, training, label);
        double gerr = ge.norm_err, serr = ge.entry_err, berr = ref_buffer_error(m, bufnames, nb, rbn);
        const char *gworst = ge.norm_worst, *sworst = ge.entry_worst;
        printf("PyTorch %-10s %-5s: out err %.1e (scale %.2g), fused %.1e, grad norms %.1e (%s), grad entries "
               "%.1e (%s), running stats %.1e\n",
               arch_name, mode, oerr / oscale, oscale, ferr / fscale, gerr, gworst, serr, sworst, berr);
        CHECK(oerr <= 1e-4 * oscale);
        CHECK(ferr <= 1e-4 * fscale);
        CHECK(gerr < 1e-3);
        CHECK(serr < 1e-3);
        CHECK(berr < 1e-5);
    }
    free(dout), free(rout), free(rfused), free(rgn), free(rgs), free(rbn);
}

static void test_reference(void) {
    fx_file f;
    if (fx_open(&f, VAR_FX)) {
        CHECK_MSG(0, "%s", ih_last_error());
        return;
    }
    int *cfg = fx_i32(&f, "config", NULL);
    CHECK(cfg != NULL);
    static const char *const pair1[2] = {"jid7_ini", "cscl"}, *const pair2[2] = {"jid7_fin", "cscl_can"};
    static const char *const attn1[2] = {"jid7", "cscl"}, *const attn2[2] = {"cscl_can", "cscl"};
    for (int k = 0; cfg && k < N_PAIR_ARCHS; k++) {
        int arch = pair_archs[k];
        const char *an = ih_arch_name(arch);
        char nm[128];
        snprintf(nm, sizeof nm, "%s/names", an);
        char *names_s = fx_str(&f, nm);
        snprintf(nm, sizeof nm, "%s/bufnames", an);
        char *bufs_s = fx_str(&f, nm);
        char *names[512], *bufnames[512];
        int nn = split_lines(names_s, names, 512), nb = split_lines(bufs_s, bufnames, 512);
        ih_config c;
        ih_config_default(&c);
        c.hidden = cfg[0], c.alignn_layers = cfg[1], c.gcn_layers = cfg[2], c.embed = cfg[3], c.head_width = cfg[4];
        c.arch = arch;
        ih_model *m = ih_model_create(&c, 1);
        CHECK_INT(nn, ih_model_n_tensors(m)); /* same modules, names checked below */
        CHECK_INT(nb, ih_model_n_buffer_tensors(m));
        hash_init(m);
        ih_graph g1, g2;
        int attn = arch == IH_ARCH_ATTN;
        CHECK(fixture_batch(&f, attn ? attn1 : pair1, 2, &g1) == 0);
        CHECK(fixture_batch(&f, attn ? attn2 : pair2, 2, &g2) == 0);
        CHECK(reserve_for(m, &g1, &g2) == 0);
        compare_reference(&f, an, "train", m, &g1, &g2, names, nn, bufnames, nb, (uint64_t)cfg[5]);
        compare_reference(&f, an, "eval", m, &g1, &g2, names, nn, bufnames, nb, (uint64_t)cfg[5]);
        tg_free(&g1), tg_free(&g2);
        ih_model_free(m);
        free(names_s), free(bufs_s);
    }
    free(cfg);
    fx_close(&f);
}

/* a file written before the variants (no "arch" in its configuration) loads as MODEL-3 */
static void test_old_file(void) {
    ih_model *m = tiny_model(IH_ARCH_MODEL3, 8, 2, 1);
    CHECK(ih_model_save(tmp_path("new.ionhop"), m, NULL) == 0);
    ih_st_file f;
    CHECK(ih_st_read(tmp_path("new.ionhop"), &f) == 0);
    const char *meta = ih_st_meta_get(&f, "ionhop");
    char *old = strdup(meta ? meta : "");
    char *p = strstr(old, ",\"arch\":\"model3\"");
    CHECK(p != NULL);
    if (p) memmove(p, p + strlen(",\"arch\":\"model3\""), strlen(p + strlen(",\"arch\":\"model3\"")) + 1);
    ih_st_tensor *ts = st_tensors_of(&f);
    ih_st_kv kv[2] = {{"format", "ionhop-model"}, {"ionhop", old}};
    CHECK(ih_st_write(tmp_path("old.ionhop"), ts, f.n, kv, 2) == 0);
    ih_model *back = ih_model_load(tmp_path("old.ionhop"), NULL);
    CHECK(back && ih_model_config(back)->arch == IH_ARCH_MODEL3 && params_equal(m, back));
    ih_model_free(back);
    /* an unknown arch is a one-line error naming the file */
    char *bad = malloc(strlen(meta) + 16);
    strcpy(bad, meta);
    char *q = strstr(bad, "\"model3\"");
    if (q) memcpy(q, "\"model9\"", 8);
    kv[1].value = bad;
    CHECK(ih_st_write(tmp_path("bad.ionhop"), ts, f.n, kv, 2) == 0);
    CHECK(ih_model_load(tmp_path("bad.ionhop"), NULL) == NULL);
    CHECK_MSG(strstr(ih_last_error(), "bad.ionhop") && strstr(ih_last_error(), "model9"), "%s", ih_last_error());
    free(bad), free(old), free(ts);
    ih_st_free(&f);
    ih_model_free(m);
}

/* A mixed ensemble (members of other archs and sizes that read the same graphs) keeps each
 * member's configuration and weights; members that would need other graphs are refused, on
 * saving and on loading a file that claims them. */
static void test_mixed_ensemble(void) {
    ih_model *e[3] = {tiny_model(IH_ARCH_PATH, 8, 2, 1), tiny_model(IH_ARCH_SADDLE, 6, 1, 2),
                      tiny_model(IH_ARCH_MODEL3, 8, 2, 3)};
    CHECK(ih_ensemble_save(tmp_path("mixed.ionhop"), e, 3, "{\"tasks\":[]}") == 0);
    int n = 0;
    char *meta = NULL;
    ih_model **back = ih_ensemble_load(tmp_path("mixed.ionhop"), &n, &meta);
    CHECK(back && n == 3 && meta && strstr(meta, "\"member_configs\":["));
    for (int k = 0; back && k < n; k++) {
        CHECK(ih_model_config(back[k])->arch == ih_model_config(e[k])->arch);
        CHECK(ih_model_config(back[k])->hidden == ih_model_config(e[k])->hidden);
        CHECK(params_equal(back[k], e[k]));
        CHECK(!memcmp(ih_model_buffers(back[k]), ih_model_buffers(e[k]), ih_model_n_buffers(e[k]) * sizeof(float)));
        ih_model_free(back[k]);
    }
    free(back);
    /* --init and single-model readers get member 1, as configured */
    ih_model *first = ih_model_load(tmp_path("mixed.ionhop"), NULL);
    CHECK(first && ih_model_config(first)->arch == IH_ARCH_PATH && params_equal(first, e[0]));
    ih_model_free(first);
    /* an ensemble of one configuration lists none */
    CHECK(ih_ensemble_save(tmp_path("plain.ionhop"), e, 1, meta) == 0);
    char *plain = NULL;
    ih_model *one = ih_model_load(tmp_path("plain.ionhop"), &plain);
    CHECK(one && plain && !strstr(plain, "member_configs"));
    ih_model_free(one), free(plain);

    /* another graph (tie tolerance, cutoff) or another input kind: refused, naming the member */
    ih_config c = *ih_model_config(e[1]);
    c.tie_tol = 1e-3;
    ih_model *other_ties = ih_model_create(&c, 4);
    c = *ih_model_config(e[1]), c.cutoff = 6;
    ih_model *other_cutoff = ih_model_create(&c, 5), *pair = tiny_model(IH_ARCH_CC, 8, 2, 6);
    ih_model *others[3] = {other_ties, other_cutoff, pair};
    for (int q = 0; q < 3; q++) {
        ih_model *bad[2] = {e[0], others[q]};
        CHECK(ih_ensemble_save(tmp_path("bad.ionhop"), bad, 2, NULL) != 0);
        CHECK_MSG(strstr(ih_last_error(), "bad.ionhop: ensemble member 2 reads other graphs"), "%s", ih_last_error());
        ih_model_free(others[q]);
    }
    /* a file whose member list disagrees with its members: the same errors on loading */
    ih_st_file f;
    CHECK(ih_st_read(tmp_path("mixed.ionhop"), &f) == 0);
    ih_st_tensor *ts = st_tensors_of(&f);
    static const struct {
        const char *from, *to, *needle;
    } edits[] = {
        {"\"member_configs\":[", "\"member_configs\":5,\"x\":[", "does not list the 3 members"},
        {"\"arch\":\"model3-saddle\"}", "\"arch\":\"model3-saddle\",\"tie_tol\":0.5}", "member 2 reads other graphs"},
        {"\"arch\":\"model3-saddle\"}", "\"arch\":\"model3-path\"}", "the wrong shape"},
    };
    for (size_t q = 0; q < sizeof edits / sizeof edits[0]; q++) {
        const char *m0 = ih_st_meta_get(&f, "ionhop");
        const char *at = m0 ? strstr(m0, edits[q].from) : NULL;
        CHECK_MSG(at != NULL, "edit %zu", q);
        if (!at) continue;
        size_t len = strlen(m0) + strlen(edits[q].to) + 1;
        char *edited = malloc(len);
        snprintf(edited, len, "%.*s%s%s", (int)(at - m0), m0, edits[q].to, at + strlen(edits[q].from));
        ih_st_kv kv[2] = {{"format", "ionhop-model"}, {"ionhop", edited}};
        CHECK(ih_st_write(tmp_path("edited.ionhop"), ts, f.n, kv, 2) == 0);
        int ne = 0;
        ih_model **none = ih_ensemble_load(tmp_path("edited.ionhop"), &ne, NULL);
        CHECK(none == NULL && ne == 0);
        CHECK_MSG(strstr(ih_last_error(), "edited.ionhop") && strstr(ih_last_error(), edits[q].needle), "%zu: %s", q,
                  ih_last_error());
        free(edited);
    }
    free(ts);
    ih_st_free(&f);
    free(meta);
    for (int k = 0; k < 3; k++) ih_model_free(e[k]);
}

int main(void) {
    CHECK(tmpdir_make("variants") == 0);
    void (*parts[])(void) = {test_counts, test_attention_layer, test_identities, test_variant_gradients,
                             test_reference, test_datasets, test_training, test_old_file, test_mixed_ensemble};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        double t0 = ih_now();
        parts[k]();
        if (getenv("TEST_TIMES")) printf("part %zu: %.2f s\n", k, ih_now() - t0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0);
    return test_summary("test_variants");
}
