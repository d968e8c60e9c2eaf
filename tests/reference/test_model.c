/* The ALIGNN model: parameter counts and decay groups (docs/method.md §10.1), tensor names, seeded
 * initialisation, the deterministic-weight forward pass of §10.6 (CsCl both modes, train jid 7),
 * the inference arena against the training arena, whole-network finite-difference gradient
 * checks (training and evaluation mode), and forward/backward against the PyTorch reference
 * (tests/fixtures/model_ref.ihfx, from tests/fixtures/gen/make_model_fixtures.py). */
#include <omp.h>

#include "check.h"
#include "fixture.h"
#include "gradcheck.h"
#include "graph_util.h"
#include "hash_init.h"
#include "nn/model_internal.h"
#include "model_util.h"

#define GRAPHS_FX "tests/fixtures/model_graphs.ihfx"
#define REF_FX "tests/fixtures/model_ref.ihfx"

/* ---------------------------------------------------------------------------------------- */
/* graphs from the fixture */

typedef struct fx_graph {
    int n_atoms, n_edges, *z, *src, *dst, ref_T;
    float *r, *len;
    double ref_sum_cos;
} fx_graph;

static int load_graph(const fx_file *f, const char *key, fx_graph *g) {
    char nm[160];
    size_t n = 0, e = 0, tmp = 0;
    memset(g, 0, sizeof *g);
    snprintf(nm, sizeof nm, "%s/z", key);
    g->z = fx_i32(f, nm, &n);
    snprintf(nm, sizeof nm, "%s/src", key);
    g->src = fx_i32(f, nm, &e);
    snprintf(nm, sizeof nm, "%s/dst", key);
    g->dst = fx_i32(f, nm, &tmp);
    snprintf(nm, sizeof nm, "%s/r", key);
    g->r = fx_f32(f, nm, NULL);
    snprintf(nm, sizeof nm, "%s/len", key);
    g->len = fx_f32(f, nm, NULL);
    snprintf(nm, sizeof nm, "%s/n_triplets", key);
    int *t = fx_i32(f, nm, NULL);
    snprintf(nm, sizeof nm, "%s/sum_cos", key);
    double *sc = fx_f64(f, nm, NULL);
    if (!g->z || !g->src || !g->dst || !g->r || !g->len || !t || !sc) {
        free(t), free(sc);
        return -1;
    }
    g->n_atoms = (int)n;
    g->n_edges = (int)e;
    g->ref_T = t[0];
    g->ref_sum_cos = sc[0];
    free(t), free(sc);
    return 0;
}

static void free_graph(fx_graph *g) { free(g->z), free(g->src), free(g->dst), free(g->r), free(g->len); }

static tg_struct ts_of(const fx_graph *g) {
    tg_struct s = {g->n_atoms, g->n_edges, g->z, g->src, g->dst, g->r, g->len};
    return s;
}

/* batch of fixture graphs; checks the line graph against the reference's T and Σcos */
static int build_batch(const fx_file *f, const char *const *keys, int n, ih_graph *g) {
    fx_graph fg[8];
    tg_struct ts[8];
    if (n < 1 || n > 8) return -1;
    memset(ts, 0, sizeof ts);
    for (int i = 0; i < n; i++) {
        if (load_graph(f, keys[i], &fg[i])) {
            for (int j = 0; j < i; j++) free_graph(&fg[j]);
            return -1;
        }
        ts[i] = ts_of(&fg[i]);
    }
    tg_build(ts, n, g);
    for (int i = 0; i < n; i++) {
        int T = g->struct_trip_ptr[i + 1] - g->struct_trip_ptr[i];
        double sc = 0;
        for (int t = g->struct_trip_ptr[i]; t < g->struct_trip_ptr[i + 1]; t++) sc += g->trip_cos[t];
        CHECK_INT(T, fg[i].ref_T);
        CHECK_NEAR(sc, fg[i].ref_sum_cos, 1e-3);
        free_graph(&fg[i]);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* §10.1 */

static void count(const ih_config *c, size_t *total, size_t *decay, size_t *nodecay) {
    ih_model *m = ih_model_create(c, 1);
    CHECK(m != NULL);
    if (!m) return;
    *total = ih_model_n_params(m);
    *decay = *nodecay = 0;
    size_t off = 0;
    for (int i = 0; i < ih_model_n_tensors(m); i++) {
        const ih_tensor_info *t = ih_model_tensor(m, i);
        CHECK(t->offset == off); /* contiguous, in table order */
        off += t->numel;
        if (t->decay)
            *decay += t->numel;
        else
            *nodecay += t->numel;
    }
    CHECK(off == *total);
    ih_model_free(m);
}

static void test_counts(void) {
    ih_config c;
    size_t t, d, n;
    ih_config_default(&c);
    count(&c, &t, &d, &n); /* ALIGNN_ft */
    CHECK_INT(t, 4076033);
    CHECK_INT(d, 4046336);
    CHECK_INT(n, 29697);
    c.head_hidden = 0; /* original ALIGNN: trunk + Linear(256→1) */
    count(&c, &t, &d, &n);
    CHECK_INT(t, 4026753);
    CHECK_INT(d, 3997312);
    CHECK_INT(n, 29441);
    CHECK_INT(t - 257, 4026496); /* trunk */
    ih_config_default(&c);
    c.n_outputs = 7; /* MPT, n_hidden 2 */
    count(&c, &t, &d, &n);
    CHECK_INT(t, 4373255);
    CHECK_INT(d, 4342016);
    CHECK_INT(n, 31239);
    c.head_hidden = 1;
    count(&c, &t, &d, &n);
    CHECK_INT(t, 4257671);
    CHECK_INT(d, 4227328);
    CHECK_INT(n, 30343);
    ih_config_default(&c);
    c.hidden = 128; /* reference RESULTS.md */
    count(&c, &t, &d, &n);
    CHECK_INT(t, 1067393);
    c.hidden = 64;
    count(&c, &t, &d, &n);
    CHECK_INT(t, 300353);

    ih_config_default(&c);
    ih_model *m = ih_model_create(&c, 5);
    CHECK_INT(ih_model_n_tensors(m), 5 * 4 + 12 * 14 + 6);
    CHECK_INT(ih_model_n_buffer_tensors(m), 5 * 2 + 12 * 4);
    CHECK_INT(ih_model_n_buffers(m), 2 * (256 + 64 + 256 + 64 + 256) + 12 * 4 * 256);
    int i = ih_model_find_tensor(m, "alignn_layers.0.node_update.src_gate.weight");
    CHECK(i >= 0);
    if (i >= 0) {
        const ih_tensor_info *ti = ih_model_tensor(m, i);
        CHECK(ti->ndim == 2 && ti->shape[0] == 256 && ti->shape[1] == 256 && ti->decay == 1);
    }
    static const char *const present[] = {
        "atom_embedding.layer.0.weight", "edge_embedding.1.layer.0.bias",
        "edge_embedding.2.layer.1.weight", "angle_embedding.1.layer.0.weight",
        "alignn_layers.3.edge_update.dst_update.bias", "gcn_layers.3.bn_nodes.bias",
        "conv_to_fc.0.weight", "fc_hp.0.0.weight", "fc_out.0.bias"};
    for (size_t k = 0; k < sizeof present / sizeof present[0]; k++)
        CHECK_MSG(ih_model_find_tensor(m, present[k]) >= 0, "%s", present[k]);
    /* §5.3: BatchNorm weights decay inside the embedding MLPs, not inside the EGGCs */
    CHECK(ih_model_tensor(m, ih_model_find_tensor(m, "atom_embedding.layer.1.weight"))->decay == 1);
    CHECK(ih_model_tensor(m, ih_model_find_tensor(m, "gcn_layers.0.bn_edges.weight"))->decay == 0);
    CHECK(ih_model_tensor(m, ih_model_find_tensor(m, "fc_out.0.weight"))->decay == 1);
    CHECK(ih_model_find_tensor(m, "fc.weight") == -1);
    CHECK(ih_model_find_buffer(m, "gcn_layers.2.bn_edges.running_var") >= 0);
    CHECK(ih_model_find_buffer(m, "angle_embedding.2.layer.1.running_mean") >= 0);
    /* the EGGC layout of ops.h: the four x-maps back to back */
    size_t w0 = ih_model_tensor(m, ih_model_find_tensor(m, "gcn_layers.1.src_gate.weight"))->offset;
    CHECK(ih_model_tensor(m, ih_model_find_tensor(m, "gcn_layers.1.dst_update.weight"))->offset ==
          w0 + 3 * 256 * 256);
    CHECK(ih_model_tensor(m, ih_model_find_tensor(m, "gcn_layers.1.bn_nodes.bias"))->offset ==
          w0 + EGGC_BNN_B(256));

    /* seeded initialisation: deterministic, PyTorch bounds, BatchNorm identity */
    ih_model *m2 = ih_model_create(&c, 5), *m3 = ih_model_create(&c, 6);
    CHECK(memcmp(ih_model_params(m), ih_model_params(m2), sizeof(float) * ih_model_n_params(m)) == 0);
    CHECK(memcmp(ih_model_params(m), ih_model_params(m3), sizeof(float) * ih_model_n_params(m)) != 0);
    int ok = 1;
    for (int k = 0; k < ih_model_n_tensors(m); k++) {
        const ih_tensor_info *ti = ih_model_tensor(m, k);
        const float *p = ih_model_params(m) + ti->offset;
        int bn = strstr(ti->name, "bn_") || strstr(ti->name, "layer.1.");
        double bound = 0, sum = 0;
        if (!bn) bound = 1.0 / sqrt(ti->ndim == 2 ? ti->shape[1] : m->init_fan_in[k]);
        for (size_t j = 0; j < ti->numel; j++) {
            if (bn && strstr(ti->name, "weight")) ok &= p[j] == 1.0f;
            else if (bn) ok &= p[j] == 0.0f;
            else ok &= fabs(p[j]) <= bound;
            sum += p[j];
        }
        if (!bn && ti->numel > 1000) ok &= fabs(sum / ti->numel) < 0.1 * bound; /* centred */
    }
    CHECK(ok);
    const ih_tensor_info *rv = ih_model_buffer_tensor(m, ih_model_find_buffer(m, "gcn_layers.0.bn_nodes.running_var"));
    CHECK(ih_model_buffers(m)[rv->offset] == 1.0f);
    ih_model_free(m2);
    ih_model_free(m3);
    ih_model_free(m);

    /* bad configurations are errors, not crashes */
    c.hidden = 0;
    CHECK(ih_model_create(&c, 1) == NULL && strstr(ih_last_error(), "hidden") != NULL);
    ih_config_default(&c);
    c.head_hidden = 3;
    CHECK(ih_model_create(&c, 1) == NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* §10.6 */

static double sumf(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
}

static double silud(double x) { return x / (1.0 + exp(-x)); }

/* the head's last hidden layer (task 0), recomputed in double from the parameters into a2[W] */
static void head_last_hidden(ih_model *m, const float *h, double *a2) {
    const float *P = ih_model_params(m);
    int H = m->H, W = m->cfg.head_width;
    const linear_layer *l1 = &m->head1[0], *l2 = &m->head2[0];
    double a1[1024];
    for (int o = 0; o < W; o++) {
        double u = P[l1->b + o];
        for (int i = 0; i < H; i++) u += P[l1->w + (size_t)o * H + i] * silud(h[i]);
        a1[o] = silud(u);
    }
    for (int o = 0; o < W; o++) {
        double u = P[l2->b + o];
        for (int i = 0; i < W; i++) u += P[l2->w + (size_t)o * W + i] * a1[i];
        a2[o] = silud(u);
    }
}

/* sum of |term| over the output layer's dot product, the scale that float rounding of `out` is
 * relative to: §10.6's outputs are ~1e-4 while the terms are ~1e-2, so two summation orders
 * (BLAS kernels differ by CPU) can differ by more than 1e-6 of |out| itself */
static double head_out_term_scale(ih_model *m, const double *a2) {
    const float *P = ih_model_params(m);
    const linear_layer *l3 = &m->head3[0];
    double s = fabs(P[l3->b]);
    for (int o = 0; o < m->cfg.head_width; o++) s += fabs(P[l3->w + o] * a2[o]);
    return s;
}

typedef struct det_case {
    const char *key;
    int canonical;
    double x0, y0, z0, h, h03[4], last, out;
} det_case;

static const det_case det_cases[] = {
    {"cscl", 0, 5.6903, 0.6896, 22.8883, 3.41709, {0.12728, 0.16377, 0.12631, 0.01578}, 0.0063, 2.6050e-4},
    {"cscl_can", 1, 5.6903, 0.3000, 11.8252, 3.45660, {0.12746, 0.16386, 0.12634, 0.01580}, 0.0063, 2.6049e-4},
    {"jid7", 0, 30.6998, 15.6308, 288.4186, 1.31917, {0.04015, 0.10018, 0.09075, 0.00837}, 0.00729, 3.2767e-4},
};

/* the §10.6 figures of one graph (evaluation mode, training arena so that x0, y0, z0 remain
 * readable); with `inference`, also the in-place inference arena against it */
static void det_check(ih_model *m, const ih_graph *g, const det_case *dc, const char *how,
                      int inference) {
    CHECK(ih_model_reserve(m, 1, g->n_atoms, g->n_edges, g->n_triplets, 0, 0, 0) == 0);
    float out = 0;
    CHECK(ih_model_forward(m, g, NULL, 0, &out) == 0);
    ih_acts *a = m->acts;
    int H = 256;
    double x0 = sumf(a->X[0], (size_t)g->n_atoms * H), y0 = sumf(a->Yl[0], (size_t)g->n_edges * H),
           z0 = sumf(a->Z[0], (size_t)g->n_triplets * H), hs = sumf(m->h, H);
    double a2[1024], last = 0;
    head_last_hidden(m, m->h, a2);
    for (int o = 0; o < m->cfg.head_width; o++) last += a2[o];
    printf("§10.6 %-9s (%s) Σx0 %.4f Σy0 %.4f Σz0 %.4f Σh %.5f h[0..3] %.5f %.5f %.5f %.5f last %.5f "
           "out %.4e\n",
           dc->key, how, x0, y0, z0, hs, m->h[0], m->h[1], m->h[2], m->h[3], last, out);
    /* docs/method.md §10: ~1e-4 absolute on the sums, ~1e-3 relative on the output; figures printed to 4-5
     * decimals, so half a unit of the last printed digit on top */
    CHECK_NEAR(x0, dc->x0, 1e-4 + 5e-5);
    CHECK_NEAR(y0, dc->y0, 1e-4 + 5e-5);
    CHECK_NEAR(z0, dc->z0, 1e-4 + 5e-5);
    CHECK_NEAR(hs, dc->h, 1e-4 + 5e-6);
    for (int i = 0; i < 4; i++) CHECK_NEAR(m->h[i], dc->h03[i], 2e-5);
    CHECK_NEAR(last, dc->last, 1e-4);
    CHECK_NEAR(out, dc->out, 1e-3 * fabs(dc->out));
    if (!inference) return;
    ih_acts *ia = ih_acts_create(m, 1, g->n_atoms, g->n_edges, g->n_triplets, 0);
    float h2[256], out2 = 0;
    CHECK(ih_trunk_forward(m, ia, g, 0, h2) == 0);
    CHECK(ih_head_forward(m, h2, 1, &out2) == 0);
    double dh = 0;
    for (int i = 0; i < H; i++) dh = fmax(dh, fabs(h2[i] - m->h[i]));
    CHECK(dh <= 1e-6);
    double out_scale = head_out_term_scale(m, a2);
    printf("    inference arena: out %.9e vs %.9e, tolerance 1e-6 of the terms' scale %.3e\n", out2, out,
           out_scale);
    CHECK_NEAR(out2, out, 1e-6 * out_scale);
    CHECK(ih_acts_bytes(ia) < ih_acts_bytes(a) / 3);
    CHECK(ih_trunk_forward(m, ia, g, 1, h2) == -1); /* no training mode there */
    CHECK(ih_trunk_backward(m, ia, g, h2) == -1);
    ih_acts_free(ia);
}

/* CsCl in both modes on the reference's graphs (tests/fixtures/model_graphs.ihfx) and through
 * the library's graph builder; train jid 7 through the builder (tests/fixtures/em_jid7.json) */
static void test_deterministic(const fx_file *fg) {
    ih_config c;
    ih_config_default(&c);
    ih_model *m = ih_model_create(&c, 1);
    ih_model_set_deterministic(m);
    for (int k = 0; k < 2; k++) {
        ih_graph g;
        const char *keys[1] = {det_cases[k].key};
        if (build_batch(fg, keys, 1, &g)) {
            CHECK_MSG(0, "graph %s missing from %s", det_cases[k].key, GRAPHS_FX);
            continue;
        }
        det_check(m, &g, &det_cases[k], "reference graph", 1);
        tg_free(&g);
    }
    ih_structure s;
    ih_structure_init(&s, 2);
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++) s.lattice[r][k] = r == k ? 4.0 : 0.0;
    s.z[0] = ih_element_z("Cs");
    s.z[1] = ih_element_z("Cl");
    for (int k = 0; k < 3; k++) s.frac[3 + k] = 0.5;
    for (int can = 0; can <= 1; can++) {
        ih_graph_opts o;
        ih_graph_opts_default(&o);
        o.canonical = can;
        ih_graph g;
        CHECK(ih_graph_build(&s, &o, &g) == 0);
        CHECK_INT(g.n_edges, can ? 40 : 56);
        det_check(m, &g, &det_cases[can], "ih_graph_build", 0);
        ih_graph_free(&g);
    }
    ih_structure_free(&s);
    ih_structure_set set = {0};
    if (ih_read_json("tests/fixtures/em_jid7.json", &set) == 0 && set.n == 1) {
        ih_graph_opts o;
        ih_graph_opts_default(&o);
        ih_graph g;
        CHECK(!strcmp(set.items[0].jid, "7"));
        CHECK(ih_graph_build(&set.items[0], &o, &g) == 0);
        CHECK_INT(g.n_edges, 792); /* §10.5 */
        CHECK_INT(g.n_triplets, 19184);
        det_check(m, &g, &det_cases[2], "ih_graph_build", 0);
        ih_graph_free(&g);
    } else {
        CHECK_MSG(0, "%s", ih_last_error());
    }
    ih_structure_set_free(&set);
    ih_model_free(m);
}

/* ---------------------------------------------------------------------------------------- */
/* whole-network gradient checks: the trunk (loss Σ w ⊙ h on the pooled vectors), the head
 * (loss Σ w ⊙ out from h), and their composition in ih_model_backward. Checking the trunk at h
 * rather than through the head keeps the float32 loss noise well below the signal: the head
 * maps two different structures to nearly the same output at random initialisation. */

typedef struct trunk_ctx {
    ih_model *m;
    ih_acts *a;
    ih_graph *g;
    int training;
    float *h, *w;
} trunk_ctx;

static double trunk_loss(void *p) {
    trunk_ctx *c = p;
    CHECK(ih_trunk_forward(c->m, c->a, c->g, c->training, c->h) == 0);
    double s = 0;
    for (int i = 0; i < c->g->n_structs * c->m->H; i++) s += (double)c->w[i] * c->h[i];
    return s;
}

/* a small model with BatchNorm affine parameters and running statistics away from identity */
static ih_model *small_model(int n_outputs, int head_hidden, uint64_t seed) {
    ih_config c;
    ih_config_default(&c);
    c.hidden = 6;
    c.embed = 5;
    c.head_width = 4;
    c.alignn_layers = 2;
    c.gcn_layers = 2;
    c.n_outputs = n_outputs;
    c.head_hidden = head_hidden;
    ih_model *m = ih_model_create(&c, seed);
    uint64_t s = seed * 31 + 7;
    perturb_norms(m, &s, &s);
    return m;
}

/* central difference of the loss along one entry (j) or along a ±1 pattern (j = -1, with
 * Richardson extrapolation), as in gradcheck.h; used to measure the loss's rounding noise */
static double fd_value(float *x, size_t n, long j, float h, gc_loss_fn f, void *ctx) {
    if (j >= 0) {
        float o = x[j];
        x[j] = o + h;
        double lp = f(ctx);
        x[j] = o - h;
        double lm = f(ctx);
        x[j] = o;
        return (lp - lm) / ((double)(o + h) - (double)(o - h));
    }
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

static void test_trunk_gradients(ih_graph *g) {
    /* rounding noise of the finite differences, measured in training mode on the biases whose
     * true gradient is exactly zero (a Linear followed by training-mode BatchNorm) */
    double noise_e = 0.0, noise_d = 0.0;
    for (int training = 1; training >= 0; training--) {
        ih_model *m = small_model(1, 2, 42);
        int H = m->H, B = g->n_structs;
        ih_acts *a = ih_acts_create(m, B, g->n_atoms, g->n_edges, g->n_triplets, 1);
        float *h = malloc(sizeof(float) * B * H), *w = malloc(sizeof(float) * B * H);
        for (int i = 0; i < B * H; i++) w[i] = (float)cos(1.3 * i + 0.2);
        trunk_ctx ctx = {m, a, g, training, h, w};
        trunk_loss(&ctx);
        ih_model_zero_grad(m);
        CHECK(ih_trunk_backward(m, a, g, w) == 0);
        size_t np = ih_model_n_params(m);
        float *grad = malloc(sizeof(float) * np);
        memcpy(grad, ih_model_grads(m), sizeof(float) * np);
        double gmax = 0;
        for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(grad[i]));
        /* accumulation: a second backward doubles the gradients */
        CHECK(ih_trunk_backward(m, a, g, w) == 0);
        double acc = 0;
        for (size_t i = 0; i < np; i++) acc = fmax(acc, fabs(ih_model_grads(m)[i] - 2 * grad[i]));
        CHECK(acc <= 1e-6 * gmax);
        const char *mode = training ? "train" : "eval";
        if (training) {
            int nz = 0;
            for (int k = 0; k < ih_model_n_tensors(m); k++) {
                const ih_tensor_info *t = ih_model_tensor(m, k);
                if (!bias_before_train_bn(t->name)) continue;
                double gn = 0;
                for (size_t j = 0; j < t->numel; j++) gn = fmax(gn, fabs(grad[t->offset + j]));
                CHECK_MSG(gn <= 1e-6 * gmax, "%s: %g should vanish", t->name, gn);
                float *x = ih_model_params(m) + t->offset;
                for (size_t j = 0; j < t->numel; j++)
                    noise_e = fmax(noise_e, fabs(fd_value(x, t->numel, (long)j, 1e-2f, trunk_loss, &ctx)));
                noise_d = fmax(noise_d, fabs(fd_value(x, t->numel, -1, 3e-3f, trunk_loss, &ctx)));
                nz++;
            }
            CHECK_INT(nz, 5 + 2 * 2 + 2);
            printf("trunk finite-difference noise (on %d zero-gradient biases): entry (step 1e-2) %.1e, "
                   "directional (step 3e-3) %.1e\n", nz, noise_e, noise_d);
        }
        double worst_e = 0, worst_d = 0;
        int n_checked = 0, n_below = 0;
        char nm[160];
        gc_abs_noise = 3.0 * noise_e;
        for (int k = 0; k < ih_model_n_tensors(m); k++) {
            const ih_tensor_info *t = ih_model_tensor(m, k);
            if (strncmp(t->name, "alignn", 6) && strncmp(t->name, "gcn", 3) && !strstr(t->name, "embedding"))
                continue; /* head: not part of the trunk */
            double gn = 0;
            for (size_t j = 0; j < t->numel; j++) gn = fmax(gn, fabs(grad[t->offset + j]));
            /* the unused outputs (last ALIGNN layer's z, last GCN's y) give no gradient */
            int unused = strstr(t->name, "alignn_layers.1.edge_update.bn_edges") ||
                         strstr(t->name, "gcn_layers.1.bn_edges");
            if (unused) {
                CHECK_MSG(gn == 0.0, "%s should have no gradient", t->name);
                continue;
            }
            if (training && bias_before_train_bn(t->name)) continue; /* checked above */
            CHECK_MSG(gn > 0.0, "%s has no gradient", t->name);
            snprintf(nm, sizeof nm, "trunk(%s) %s", mode, t->name);
            double e = gc_entries(nm, ih_model_params(m) + t->offset, grad + t->offset, t->numel,
                                  3, 1e-2f, trunk_loss, &ctx, 1e-2);
            double d = gc_direction(nm, ih_model_params(m) + t->offset, grad + t->offset, t->numel,
                                    3e-3f, 100 + k, trunk_loss, &ctx, 3.0 * noise_d);
            CHECK(e < 1e-2);
            CHECK(d < 1e-2);
            worst_e = fmax(worst_e, e);
            worst_d = fmax(worst_d, d);
            n_checked++;
            n_below += gn < 20 * gc_abs_noise;
        }
        gc_abs_noise = 0.0;
        snprintf(nm, sizeof nm, "trunk(%s) all parameters", mode);
        double dall = gc_direction(nm, ih_model_params(m), grad, np, 1e-3f, 5, trunk_loss, &ctx, 0.0);
        CHECK(dall < 1e-3);
        printf("trunk gradients (%s): %d tensors (%d of them below 20x the noise), worst entry-wise "
               "relative error %.2e, worst per-tensor directional %.2e (beyond the noise), "
               "all-parameter directional %.2e\n",
               mode, n_checked, n_below, worst_e, worst_d, dall);
        free(grad), free(h), free(w);
        ih_acts_free(a);
        ih_model_free(m);
    }
}

typedef struct head_ctx {
    ih_model *m;
    float *h, *out, *w;
    int n;
} head_ctx;

static double head_loss(void *p) {
    head_ctx *c = p;
    CHECK(ih_head_forward(c->m, c->h, c->n, c->out) == 0);
    double s = 0;
    for (int i = 0; i < c->n * c->m->cfg.n_outputs; i++) s += (double)c->w[i] * c->out[i];
    return s;
}

static void test_head_gradients(void) {
    static const int variants[][2] = {{1, 2}, {3, 1}, {2, 0}}; /* outputs, head_hidden */
    for (int v = 0; v < 3; v++) {
        ih_model *m = small_model(variants[v][0], variants[v][1], 60 + v);
        int n = 3, H = m->H, P = m->cfg.n_outputs;
        CHECK(ih_model_reserve_head(m, n) == 0);
        float h[18], out[9], w[9], dh[18];
        uint64_t s = 77;
        for (int i = 0; i < n * H; i++) h[i] = (float)(3 * tg_unif(&s) - 1.5);
        for (int i = 0; i < n * P; i++) w[i] = (float)cos(0.9 * i + 0.4);
        head_ctx c = {m, h, out, w, n};
        head_loss(&c);
        ih_model_zero_grad(m);
        CHECK(ih_head_backward(m, h, n, w, dh) == 0);
        char nm[128];
        snprintf(nm, sizeof nm, "head(%d outputs, %d hidden) dh", P, variants[v][1]);
        CHECK(gc_entries(nm, h, dh, (size_t)n * H, n * H, 1e-2f, head_loss, &c, 1e-2) < 1e-2);
        int nt = 0;
        for (int k = 0; k < ih_model_n_tensors(m); k++) {
            const ih_tensor_info *t = ih_model_tensor(m, k);
            if (!strncmp(t->name, "alignn", 6) || !strncmp(t->name, "gcn", 3) || strstr(t->name, "embedding"))
                continue;
            snprintf(nm, sizeof nm, "head(%d outputs, %d hidden) %s", P, variants[v][1], t->name);
            CHECK(gc_entries(nm, ih_model_params(m) + t->offset, ih_model_grads(m) + t->offset,
                             t->numel, 12, 1e-2f, head_loss, &c, 1e-2) < 1e-2);
            nt++;
        }
        CHECK_INT(nt, variants[v][1] == 0 ? 2 : 2 * P * (1 + variants[v][1]));
        CHECK(ih_head_forward(m, h, n + 1, out) == -1); /* more rows than reserved */
        ih_model_free(m);
    }
}

/* ih_model_forward/backward = trunk then head, and back: same numbers as the parts */
static void test_model_composition(ih_graph *g) {
    for (int training = 0; training <= 1; training++) {
        ih_model *m = small_model(3, 1, 90);
        ih_model *m2 = small_model(3, 1, 90);
        int B = g->n_structs, H = m->H, P = 3;
        CHECK(ih_model_reserve(m, B, g->n_atoms, g->n_edges, g->n_triplets, 0, 0, 0) == 0);
        CHECK(ih_model_reserve_head(m2, B) == 0);
        ih_acts *a2 = ih_acts_create(m2, B, g->n_atoms, g->n_edges, g->n_triplets, 1);
        float out[16], out2[16], w[16], h2[64], dh2[64];
        for (int i = 0; i < B * P; i++) w[i] = (float)sin(0.7 * i + 0.1);
        CHECK(ih_model_forward(m, g, NULL, training, out) == 0);
        CHECK(ih_model_backward(m, g, NULL, w) == 0);
        CHECK(ih_trunk_forward(m2, a2, g, training, h2) == 0);
        CHECK(ih_head_forward(m2, h2, B, out2) == 0);
        CHECK(ih_head_backward(m2, h2, B, w, dh2) == 0);
        CHECK(ih_trunk_backward(m2, a2, g, dh2) == 0);
        CHECK(memcmp(out, out2, sizeof(float) * B * P) == 0);
        CHECK(memcmp(ih_model_pooled(m), h2, sizeof(float) * B * H) == 0);
        CHECK(memcmp(ih_model_grads(m), ih_model_grads(m2), sizeof(float) * ih_model_n_params(m)) == 0);
        CHECK(memcmp(ih_model_buffers(m), ih_model_buffers(m2), sizeof(float) * ih_model_n_buffers(m)) == 0);
        /* running statistics move in training mode only */
        ih_model *m3 = small_model(3, 1, 90);
        CHECK((memcmp(ih_model_buffers(m), ih_model_buffers(m3), sizeof(float) * ih_model_n_buffers(m)) != 0) == training);
        ih_model_free(m3);
        ih_acts_free(a2);
        ih_model_free(m);
        ih_model_free(m2);
    }
}

/* degenerate layer counts (no ALIGNN layer, no GCN layer, neither) run and give finite
 * gradients; embeddings that cannot reach the output get none */
static void test_layer_counts(ih_graph *g) {
    static const int lg[][2] = {{0, 1}, {1, 0}, {0, 0}};
    for (int v = 0; v < 3; v++) {
        ih_config c;
        ih_config_default(&c);
        c.hidden = 5;
        c.embed = 4;
        c.head_width = 3;
        c.alignn_layers = lg[v][0];
        c.gcn_layers = lg[v][1];
        ih_model *m = ih_model_create(&c, 7);
        CHECK(ih_model_reserve(m, g->n_structs, g->n_atoms, g->n_edges, g->n_triplets, 0, 0, 0) == 0);
        float out[4], w[4] = {1, -1, 1, -1};
        CHECK(ih_model_forward(m, g, NULL, 1, out) == 0);
        CHECK(ih_model_backward(m, g, NULL, w) == 0);
        int finite = 1;
        for (size_t i = 0; i < ih_model_n_params(m); i++) finite &= isfinite(ih_model_grads(m)[i]);
        CHECK(finite);
        const ih_tensor_info *t = ih_model_tensor(m, ih_model_find_tensor(m, "angle_embedding.2.layer.0.weight"));
        double an = 0, bn = 0;
        for (size_t j = 0; j < t->numel; j++) an += fabs(ih_model_grads(m)[t->offset + j]);
        t = ih_model_tensor(m, ih_model_find_tensor(m, "edge_embedding.2.layer.0.weight"));
        for (size_t j = 0; j < t->numel; j++) bn += fabs(ih_model_grads(m)[t->offset + j]);
        /* angles reach the output only through a later layer's use of the updated bonds */
        int angles_used = c.alignn_layers >= 2 || (c.alignn_layers == 1 && c.gcn_layers > 0);
        CHECK_MSG((an > 0) == angles_used, "L %d G %d angle grad %g", lg[v][0], lg[v][1], an);
        CHECK_MSG((bn > 0) == (c.alignn_layers + c.gcn_layers > 0), "L %d G %d bond grad %g", lg[v][0], lg[v][1], bn);
        ih_model_free(m);
    }
}

/* distinct values: every row maps to its value, counts and row groups agree, -0 == +0 */
static void test_uniq_build(void) {
    enum { M = 500 };
    float v[M];
    uint64_t s = 99;
    for (int r = 0; r < M; r++) v[r] = (float)(int)(tg_unif(&s) * 40) / 7.0f - 2.0f;
    v[3] = 0.0f, v[4] = -0.0f;
    int cap = 2048, idx[M], gp[M + 1], gr[M], hash[2048];
    float val[M], cnt[M];
    uniq_rows u = {.idx = idx, .grp_ptr = gp, .grp_rows = gr, .val = val, .count = cnt, .hash = hash, .hash_cap = cap};
    int n = uniq_build(&u, v, M);
    CHECK(n > 10 && n <= 41);
    int seen = 0;
    for (int r = 0; r < M; r++) {
        CHECK(idx[r] >= 0 && idx[r] < n && val[idx[r]] == v[r]);
        seen += idx[r] == idx[3];
    }
    CHECK_INT(idx[3], idx[4]);
    CHECK_INT((int)cnt[idx[3]], seen);
    for (int q = 0; q < n; q++) {
        CHECK_INT(gp[q + 1] - gp[q], (int)cnt[q]);
        for (int k = gp[q]; k < gp[q + 1]; k++) {
            CHECK_INT(idx[gr[k]], q);
            if (k > gp[q]) CHECK(gr[k] > gr[k - 1]);
        }
        for (int p = 0; p < q; p++) CHECK(val[p] != val[q]);
    }
    CHECK_INT(gp[n], M);
}

/* the embeddings (and the first line-graph EGGC's edge_gate) on distinct values against the
 * same model row by row: outputs, running statistics and every gradient agree to float
 * rounding, in both modes */
static void test_embed_dedup(ih_graph *g) {
    for (int training = 0; training <= 1; training++) {
        ih_model *m[2] = {small_model(2, 2, 77), small_model(2, 2, 77)};
        m[1]->embed_dedup = 0;
        int B = g->n_structs, P = 2;
        float out[2][16], w[16];
        for (int i = 0; i < B * P; i++) w[i] = (float)cos(0.9 * i + 0.3);
        for (int k = 0; k < 2; k++) {
            CHECK(ih_model_reserve(m[k], B, g->n_atoms, g->n_edges, g->n_triplets, 0, 0, 0) == 0);
            CHECK(ih_model_forward(m[k], g, NULL, training, out[k]) == 0);
            CHECK(ih_model_backward(m[k], g, NULL, w) == 0);
        }
        int nb = m[0]->acts->uq_bond.n, na = m[0]->acts->uq_ang.n;
        if (training) printf("distinct values: %d of %d bond lengths, %d of %d cosines\n", nb, g->n_edges, na, g->n_triplets);
        CHECK(nb > 0 && 2 * nb <= g->n_edges && na > 0 && 2 * na <= g->n_triplets);
        CHECK(m[1]->acts->uq_bond.n == 0 && m[1]->acts->uq_ang.n == 0);
        /* the first line-graph EGGC ran its edge_gate GEMMs on the distinct cosines' rows */
        CHECK(m[0]->acts->eg[1].uy && m[0]->acts->eg[1].uy->n == na && !m[1]->acts->eg[1].uy);
        for (int i = 0; i < B * P; i++) CHECK_NEAR(out[0][i], out[1][i], 2e-5 * (1 + fabs(out[1][i])));
        size_t np = ih_model_n_params(m[0]), nbuf = ih_model_n_buffers(m[0]);
        double gmax = 0, gdiff = 0, bdiff = 0;
        for (size_t j = 0; j < np; j++) {
            double a = ih_model_grads(m[0])[j], b = ih_model_grads(m[1])[j];
            gmax = fabs(b) > gmax ? fabs(b) : gmax;
            gdiff = fabs(a - b) > gdiff ? fabs(a - b) : gdiff;
        }
        for (size_t j = 0; j < nbuf; j++) {
            double a = ih_model_buffers(m[0])[j], b = ih_model_buffers(m[1])[j];
            bdiff = fabs(a - b) / (1 + fabs(b)) > bdiff ? fabs(a - b) / (1 + fabs(b)) : bdiff;
        }
        CHECK_MSG(gdiff <= 1e-4 * gmax, "gradient difference %.3g of max %.3g", gdiff, gmax);
        CHECK_MSG(bdiff <= 1e-5, "running statistics differ by %.3g", bdiff);
        ih_model_free(m[0]), ih_model_free(m[1]);
    }
}

static void test_network_gradients(void) {
    tg_random r1, r2;
    tg_make_random(&r1, 5, 16, 71);
    tg_make_random(&r2, 4, 13, 72);
    tg_struct ts[2] = {tg_of_random(&r1), tg_of_random(&r2)};
    ih_graph g;
    tg_build(ts, 2, &g);
    /* bond lengths: 12 values spread over the RBF range, so the bond embedding sees varied inputs */
    for (int e = 0; e < g.n_edges; e++) g.edge_len[e] = 0.5f + 7.0f * (float)((e * 7) % 12) / 12.0f;
    /* cosines on a grid of 17 values (with -0 and +0), as a symmetric crystal repeats angles:
     * the bond and angle embeddings then run on distinct values (uniq_rows), and the gradient
     * check covers that path; test_embed_dedup compares it with the row-by-row path */
    for (int t = 0; t < g.n_triplets; t++) g.trip_cos[t] = roundf(g.trip_cos[t] * 8.0f) / 8.0f;
    printf("network check graph: 2 structures, %d atoms, %d edges, %d triplets\n", g.n_atoms,
           g.n_edges, g.n_triplets);
    test_uniq_build();
    test_embed_dedup(&g);
    test_trunk_gradients(&g);
    test_layer_counts(&g);
    test_head_gradients();
    test_model_composition(&g);
    tg_free(&g);
}

/* ---------------------------------------------------------------------------------------- */
/* PyTorch reference */

typedef struct ref_case {
    const char *key;
    const char *graphs[3];
    int n_graphs;
} ref_case;

static void compare_mode(const fx_file *fr, const char *key, const char *mode, ih_model *m,
                         const ih_graph *g, char **names, int n_names, char **bufnames, int n_buf) {
    char nm[160];
    int P = m->cfg.n_outputs, B = g->n_structs, H = m->H;
    size_t cnt = 0;
    snprintf(nm, sizeof nm, "%s/dout", key);
    float *dout = fx_f32(fr, nm, &cnt);
    snprintf(nm, sizeof nm, "%s/%s/out", key, mode);
    float *rout = fx_f32(fr, nm, NULL);
    snprintf(nm, sizeof nm, "%s/%s/trace", key, mode);
    double *rtr = fx_f64(fr, nm, NULL);
    snprintf(nm, sizeof nm, "%s/%s/grad_norm", key, mode);
    double *rgn = fx_f64(fr, nm, NULL);
    snprintf(nm, sizeof nm, "%s/%s/grad_samples", key, mode);
    double *rgs = fx_f64(fr, nm, NULL);
    snprintf(nm, sizeof nm, "%s/%s/buf_norm", key, mode);
    double *rbn = fx_f64(fr, nm, NULL);
    CHECK(dout && rout && rtr && rgn && rgs && rbn && (int)cnt == B * P);
    if (!(dout && rout && rtr && rgn && rgs && rbn)) goto done;
    int training = !strcmp(mode, "train");
    float out[64];
    CHECK(ih_model_forward(m, g, NULL, training, out) == 0);
    ih_model_zero_grad(m);
    CHECK(ih_model_backward(m, g, NULL, dout) == 0);
    /* outputs: relative to the output scale (float32 through 8 layers of BatchNorm) */
    double oscale = 0, oerr = 0;
    for (int i = 0; i < B * P; i++) oscale = fmax(oscale, fabs(rout[i]));
    for (int i = 0; i < B * P; i++) oerr = fmax(oerr, fabs(out[i] - rout[i]));
    ih_acts *a = m->acts;
    double tr[4] = {sumf(a->X[0], (size_t)g->n_atoms * H), sumf(a->Yl[0], (size_t)g->n_edges * H),
                    sumf(a->Z[0], (size_t)g->n_triplets * H), sumf(m->h, (size_t)B * H)};
    double terr = 0;
    int tworst = 0;
    for (int i = 0; i < 4; i++) {
        double e = fabs(tr[i] - rtr[i]) / fmax(1.0, fabs(rtr[i]));
        if (e > terr) terr = e, tworst = i;
    }
    char label[64];
    snprintf(label, sizeof label, "%s %s", key, mode);
    ref_grad_err ge = ref_compare_grads(m, names, n_names, rgn, rgs, 0, label);
    double gerr = ge.norm_err, serr = ge.entry_err, berr = ref_buffer_error(m, bufnames, n_buf, rbn);
    const char *gworst = ge.norm_worst, *sworst = ge.entry_worst;
    printf("reference %-6s %-5s: out[0] %.6g (ref %.6g), max out err %.2e (scale %.3g), trace %.1e (%s), "
           "grad norm %.1e (%s), grad entries %.1e (%s), running stats %.1e\n",
           key, mode, out[0], rout[0], oerr / oscale, oscale, terr, (const char *[]){"x0", "y0", "z0", "h"}[tworst], gerr, gworst, serr, sworst, berr);
    CHECK(oerr <= 1e-4 * oscale);
    CHECK(terr < 1e-4); /* sums over up to 2M float32 entries */
    CHECK(gerr < 1e-3);
    CHECK(serr < 1e-3);
    CHECK(berr < 1e-5);
done:
    free(dout), free(rout), free(rtr), free(rgn), free(rgs), free(rbn);
}

static void test_reference(const fx_file *fg) {
    fx_file fr;
    if (fx_open(&fr, REF_FX)) {
        CHECK_MSG(0, "%s", ih_last_error());
        return;
    }
    static const ref_case cases[] = {
        {"h32", {"jid7", "jid357"}, 2},
        {"h16m3", {"cscl", "jid357"}, 2},
        {"h256", {"jid7_can"}, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const ref_case *rc = &cases[k];
        char nm[128];
        snprintf(nm, sizeof nm, "%s/config", rc->key);
        int *cfg = fx_i32(&fr, nm, NULL);
        snprintf(nm, sizeof nm, "%s/names", rc->key);
        char *names_s = fx_str(&fr, nm);
        snprintf(nm, sizeof nm, "%s/bufnames", rc->key);
        char *bufs_s = fx_str(&fr, nm);
        CHECK(cfg && names_s && bufs_s);
        if (!cfg || !names_s || !bufs_s) {
            free(cfg), free(names_s), free(bufs_s);
            continue;
        }
        char *names[512], *bufnames[512];
        int nn = split_lines(names_s, names, 512), nb = split_lines(bufs_s, bufnames, 512);
        ih_config c;
        ih_config_default(&c);
        c.hidden = cfg[0];
        c.head_hidden = cfg[1];
        c.n_outputs = cfg[2];
        ih_model *m = ih_model_create(&c, 1);
        CHECK_INT(nn, ih_model_n_tensors(m));
        CHECK_INT(nb, ih_model_n_buffer_tensors(m));
        hash_init(m);
        ih_graph g;
        CHECK(build_batch(fg, rc->graphs, rc->n_graphs, &g) == 0);
        CHECK_INT(g.n_structs, cfg[3]);
        CHECK(ih_model_reserve(m, g.n_structs, g.n_atoms, g.n_edges, g.n_triplets, 0, 0, 0) == 0);
        compare_mode(&fr, rc->key, "train", m, &g, names, nn, bufnames, nb);
        compare_mode(&fr, rc->key, "eval", m, &g, names, nn, bufnames, nb);
        tg_free(&g);
        ih_model_free(m);
        free(cfg), free(names_s), free(bufs_s);
    }
    fx_close(&fr);
}

/* ---------------------------------------------------------------------------------------- */

static void test_errors(const fx_file *fg) {
    ih_config c;
    ih_config_default(&c);
    c.hidden = 8;
    ih_model *m = ih_model_create(&c, 3);
    ih_graph g;
    const char *keys[1] = {"cscl"};
    CHECK(build_batch(fg, keys, 1, &g) == 0);
    float out[2];
    CHECK(ih_model_forward(m, &g, NULL, 0, out) == -1); /* not reserved */
    CHECK(ih_model_reserve(m, 1, g.n_atoms, g.n_edges, g.n_triplets - 1, 0, 0, 0) == 0);
    CHECK(ih_model_forward(m, &g, NULL, 1, out) == -1); /* too many triplets */
    CHECK(strstr(ih_last_error(), "exceeds") != NULL);
    CHECK(ih_model_backward(m, &g, NULL, out) == -1); /* no forward */
    CHECK(ih_model_reserve(m, 1, g.n_atoms, g.n_edges, g.n_triplets, 0, 0, 0) == 0);
    int z0 = g.atom_z[0];
    g.atom_z[0] = 0;
    CHECK(ih_model_forward(m, &g, NULL, 1, out) == -1);
    CHECK(strstr(ih_last_error(), "atomic number") != NULL);
    g.atom_z[0] = z0;
    int s0 = g.edge_src[3];
    g.edge_src[3] = g.n_atoms;
    CHECK(ih_model_forward(m, &g, NULL, 1, out) == -1);
    g.edge_src[3] = s0;
    int t1 = g.trip_ptr[1];
    g.trip_ptr[1] = g.trip_ptr[0] - 1;
    CHECK(ih_model_forward(m, &g, NULL, 1, out) == -1);
    g.trip_ptr[1] = t1;
    CHECK(ih_model_forward(m, &g, NULL, 1, out) == 0);
    CHECK(ih_model_backward(m, &g, NULL, out) == 0);
    tg_free(&g);
    /* CsCl has 2 atoms: training-mode BatchNorm works; 1 structure with 1 atom cannot train */
    ih_model_free(m);
}

int main(void) {
    test_counts();
    fx_file fg;
    if (fx_open(&fg, GRAPHS_FX)) {
        CHECK_MSG(0, "%s", ih_last_error());
        return test_summary("test_model");
    }
    double t0 = ih_now();
    test_deterministic(&fg);
    double t1 = ih_now();
    test_network_gradients();
    double t2 = ih_now();
    test_reference(&fg);
    double t3 = ih_now();
    test_errors(&fg);
    printf("times: §10.6 %.1fs, network gradients %.1fs, reference %.1fs\n", t1 - t0, t2 - t1, t3 - t2);
    fx_close(&fg);
    printf("worst gradient-check relative error (network): %.2e\n", gc_worst_overall);
    return test_summary("test_model");
}
