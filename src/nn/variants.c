/* The migration-path variants of docs/method.md §7 around the shared trunk: two graphs per hop, each trunk
 * call with its own activation arena (and so its own BatchNorm batch statistics), the pooled
 * vectors fused, then the head.
 *
 *   MODEL-1-ADD/SUB/CC  h1 = trunk(G1), h2 = trunk(G2); h1 + h2, h1 − h2 or fc([h1 ‖ h2])
 *   MODEL-2             d2 = delta(G2), d1 = delta(G1), h1 = trunk(G1) (the reference's order,
 *                       which only matters for the running statistics); fc([h1 ‖ d1 − d2])
 *   MODEL-4             p1 = attention(trunk nodes of G1), p2 = attention1(nodes of G2);
 *                       fc([p1 ‖ p2])
 *   MODEL-3-PATH        one graph (5-image): h = mean of all trunk nodes, p = mean of the
 *                       nodes of the five path images (sites 0-4); fc([h ‖ p])
 *   MODEL-3-SADDLE      the same and s = x₂ − (x₀ + x₄)/2 (the midpoint image against the end
 *                       points); fc([h ‖ p ‖ s])
 * The delta branch is the trunk code run over the layer range of alignn_layers_1/gcn_layers_1
 * (shared embeddings, one ALIGNN layer, one EGGC, mean pooling). */
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"

#define PATH_IMAGES 5 /* sites 0-4 of a 5-image structure (docs/method.md §1.3) */

struct variant_state {
    int cap_B;
    ih_acts *acts2;           /* trunk on G2 (MODEL-1, MODEL-4); the trunk on G1 is m->acts */
    ih_acts *dacts1, *dacts2; /* MODEL-2's delta branch on G1 and G2 */
    attn_acts att[2];         /* MODEL-4 */
    float *block;
    float *h1, *h2, *d, *cat, *dcat, *hf, *dhf, *dh1, *dh2; /* B × H (cat, dcat: B × (3H + IH_PATH_DESC)) */
    /* d: MODEL-2's d2; MODEL-3-SADDLE's s in forward, ds in backward */
    int ready; /* a forward2 ran and its arenas are intact */
};

void variants_free(ih_model *m) {
    struct variant_state *v = m->var;
    if (!v) return;
    ih_acts_free(v->acts2);
    ih_acts_free(v->dacts1);
    ih_acts_free(v->dacts2);
    free(v->block);
    free(v);
    m->var = NULL;
}

void ih_model_set_dropout_seed(ih_model *m, uint64_t seed) { ih_rng_seed(&m->drop_rng, seed); }

const attn_acts *variants_attn(const ih_model *m, int k) {
    return m->cfg.arch == IH_ARCH_ATTN && m->var && (k == 0 || k == 1) ? &m->var->att[k] : NULL;
}

static int model_reserve_all(ih_model *m, int max_structs, int atoms1, int edges1, int triplets1,
                             int atoms2, int edges2, int triplets2, int for_training);

int ih_model_reserve(ih_model *m, int max_structs, int atoms1, int edges1, int triplets1,
                      int atoms2, int edges2, int triplets2) {
    return model_reserve_all(m, max_structs, atoms1, edges1, triplets1, atoms2, edges2, triplets2, 1);
}

int ih_model_reserve_eval(ih_model *m, int max_structs, int atoms1, int edges1, int triplets1,
                           int atoms2, int edges2, int triplets2) {
    return model_reserve_all(m, max_structs, atoms1, edges1, triplets1, atoms2, edges2, triplets2, 0);
}

static int model_reserve_all(ih_model *m, int max_structs, int atoms1, int edges1, int triplets1,
                             int atoms2, int edges2, int triplets2, int for_training) {
    int arch = m->cfg.arch, H = m->H;
    int key[9] = {max_structs, atoms1, edges1, triplets1, atoms2, edges2, triplets2, for_training, arch};
    if (m->has_reserved && !memcmp(key, m->reserved, sizeof key)) {
        /* the same arenas, but as if new: no forward pass has filled them */
        if (m->acts) m->acts->ready = 0;
        if (m->var) m->var->ready = 0;
        return 0;
    }
    m->has_reserved = 0;
    if (model_reserve_main(m, max_structs, atoms1, edges1, triplets1, for_training) != 0) return -1;
    if (arch == IH_ARCH_MODEL3) {
        memcpy(m->reserved, key, sizeof key), m->has_reserved = 1;
        return 0;
    }
    variants_free(m);
    struct variant_state *v = calloc(1, sizeof *v);
    if (!v) return ih_set_error("model: out of memory");
    m->var = v;
    m->free_var = variants_free;
    v->cap_B = max_structs;
    if (arch_is_path(arch)) {
        /* one graph: the main arena only */
    } else if (arch == IH_ARCH_DELTA) {
        v->dacts1 = trunk_acts_create(m, 1, 1, m->n_eggc, max_structs, atoms1, edges1, triplets1, for_training);
        v->dacts2 = trunk_acts_create(m, 1, 1, m->n_eggc, max_structs, atoms2, edges2, triplets2, for_training);
        if (!v->dacts1 || !v->dacts2) goto fail;
    } else {
        v->acts2 = ih_acts_create(m, max_structs, atoms2, edges2, triplets2, for_training);
        if (!v->acts2) goto fail;
    }
    size_t row = ((size_t)max_structs * H + 15) & ~(size_t)15;
    size_t cat_row = ((size_t)max_structs * (3 * H + IH_PATH_DESC) + 15) & ~(size_t)15, n = 7 * row + 2 * cat_row;
    size_t a1 = 0, a2 = 0;
    if (arch == IH_ARCH_ATTN) {
        a1 = attn_acts_floats(H, atoms1, max_structs);
        a2 = attn_acts_floats(H, atoms2, max_structs);
    }
    v->block = ops_alloc(sizeof(float) * (n + a1 + a2 + 64));
    if (!v->block) {
        ih_set_error("model: out of memory for the two-graph buffers (%d structures)", max_structs);
        goto fail;
    }
    float *p = v->block;
    float **one[] = {&v->h1, &v->h2, &v->d, &v->hf, &v->dhf, &v->dh1, &v->dh2};
    for (size_t k = 0; k < sizeof one / sizeof one[0]; k++) *one[k] = p, p += row;
    v->cat = p, p += cat_row;
    v->dcat = p, p += cat_row;
    if (arch == IH_ARCH_ATTN) {
        attn_acts_carve(&v->att[0], p, H, atoms1, max_structs);
        attn_acts_carve(&v->att[1], p + a1, H, atoms2, max_structs);
    }
    memcpy(m->reserved, key, sizeof key), m->has_reserved = 1;
    return 0;
fail:
    variants_free(m);
    return -1;
}

static int check_pair(ih_model *m, const ih_graph *g1, const ih_graph *g2) {
    const char *name = ih_arch_name(m->cfg.arch);
    if (!m->var || !m->acts) return ih_set_error("model: ih_model_reserve was not called");
    if (arch_is_path(m->cfg.arch)) {
        if (!g1 || g2) return ih_set_error("model: a %s model takes one graph per structure", name);
        if (g1->n_structs < 1 || g1->n_structs > m->var->cap_B)
            return ih_set_error("model: %d structures for the %d reserved", g1->n_structs, m->var->cap_B);
        for (int b = 0; b < g1->n_structs; b++)
            if (g1->struct_atom_ptr[b + 1] - g1->struct_atom_ptr[b] < PATH_IMAGES + 1)
                return ih_set_error("model: a %s model needs 5-image path structures (structure %d has "
                                    "%d atoms)", name, b, g1->struct_atom_ptr[b + 1] - g1->struct_atom_ptr[b]);
        if (m->cfg.path_desc && !g1->path_desc)
            return ih_set_error("model: this %s model reads path descriptors, but the graphs were built "
                                "without them", name);
        return 0;
    }
    if (!g1 || !g2) return ih_set_error("model: a %s model takes two graphs per structure", name);
    if (g1->n_structs != g2->n_structs)
        return ih_set_error("model: %d first graphs but %d second graphs", g1->n_structs,
                            g2->n_structs);
    if (g1->n_structs < 1 || g1->n_structs > m->var->cap_B)
        return ih_set_error("model: %d structures for the %d reserved", g1->n_structs,
                            m->var->cap_B);
    return 0;
}

/* p[b] = mean of the node rows of the path images (the first PATH_IMAGES atoms of structure b) */
static void path_pool_forward(float *p, const float *x, const int *ptr, int B, int H) {
    for (int b = 0; b < B; b++) {
        float *pb = p + (size_t)b * H;
        memset(pb, 0, sizeof(float) * H);
        for (int i = ptr[b]; i < ptr[b] + PATH_IMAGES; i++)
            for (int k = 0; k < H; k++) pb[k] += x[(size_t)i * H + k];
        for (int k = 0; k < H; k++) pb[k] /= PATH_IMAGES;
    }
}

static void path_pool_backward(float *dx, const float *dp, const int *ptr, int B, int H) {
    for (int b = 0; b < B; b++)
        for (int i = ptr[b]; i < ptr[b] + PATH_IMAGES; i++)
            for (int k = 0; k < H; k++) dx[(size_t)i * H + k] += dp[(size_t)b * H + k] / PATH_IMAGES;
}

/* s[b] = x(image 2) − (x(image 0) + x(image 4))/2 of structure b: the environment of the path's
 * midpoint (where a straight-line hop squeezes through) against its two end sites */
static void saddle_forward(float *s, const float *x, const int *ptr, int B, int H) {
    for (int b = 0; b < B; b++) {
        const float *x0 = x + (size_t)ptr[b] * H, *x2 = x0 + 2 * (size_t)H, *x4 = x0 + 4 * (size_t)H;
        for (int k = 0; k < H; k++) s[(size_t)b * H + k] = x2[k] - 0.5f * (x0[k] + x4[k]);
    }
}

static void saddle_backward(float *dx, const float *ds, const int *ptr, int B, int H) {
    for (int b = 0; b < B; b++) {
        float *d0 = dx + (size_t)ptr[b] * H, *d2 = d0 + 2 * (size_t)H, *d4 = d0 + 4 * (size_t)H;
        const float *g = ds + (size_t)b * H;
        for (int k = 0; k < H; k++) {
            d2[k] += g[k];
            d0[k] -= 0.5f * g[k];
            d4[k] -= 0.5f * g[k];
        }
    }
}

/* zero the node gradients of the last trunk layer, which the pooling's backward then fills
 * (before trunk_backward_nodes) */
static int clear_node_grads(ih_acts *a, const ih_graph *g, int H) {
    if (g->n_atoms > a->cap_N) return ih_set_error("model: graph exceeds the reserved %d atoms", a->cap_N);
    memset(a->dX, 0, sizeof(float) * (size_t)g->n_atoms * H);
    return 0;
}

/* Width of the vector "fc" fuses: the pooled parts and the path descriptors. */
static int fuse_width(const ih_model *m) {
    return arch_fuse_parts(m->cfg.arch) * m->H + (m->cfg.path_desc ? IH_PATH_DESC : 0);
}

/* [a ‖ b] (c NULL) or [a ‖ b ‖ c] row by row, then the D path descriptors of the row (desc NULL:
 * D = 0) */
static void concat_rows(float *cat, const float *a, const float *b, const float *c, const float *desc,
                        int D, int B, int H) {
    size_t w = (size_t)(c ? 3 : 2) * H + (desc ? D : 0);
    for (int i = 0; i < B; i++) {
        memcpy(cat + (size_t)i * w, a + (size_t)i * H, sizeof(float) * H);
        memcpy(cat + (size_t)i * w + H, b + (size_t)i * H, sizeof(float) * H);
        if (c) memcpy(cat + (size_t)i * w + 2 * H, c + (size_t)i * H, sizeof(float) * H);
        if (desc) memcpy(cat + (size_t)i * w + (c ? 3 : 2) * H, desc + (size_t)i * D, sizeof(float) * D);
    }
}

int variants_forward_fused(ih_model *m, const ih_graph *g1, const ih_graph *g2, int training) {
    int arch = m->cfg.arch, H = m->H;
    if (arch == IH_ARCH_MODEL3) return ih_set_error("model: a model3 network has no fusion");
    if (check_pair(m, g1, g2)) return -1;
    struct variant_state *v = m->var;
    int B = g1->n_structs;
    size_t n = (size_t)B * H;
    const float *P = m->params;
    v->ready = 0;
    switch (arch) {
    case IH_ARCH_ADD:
    case IH_ARCH_SUB:
    case IH_ARCH_CC:
        if (ih_trunk_forward(m, m->acts, g1, training, v->h1) ||
            ih_trunk_forward(m, v->acts2, g2, training, v->h2))
            return -1;
        break;
    case IH_ARCH_DELTA:
        if (ih_trunk_forward(m, v->dacts2, g2, training, v->d) ||
            ih_trunk_forward(m, v->dacts1, g1, training, v->h2) ||
            ih_trunk_forward(m, m->acts, g1, training, v->h1))
            return -1;
        for (size_t i = 0; i < n; i++) v->h2[i] -= v->d[i]; /* Δ = d1 − d2 */
        break;
    case IH_ARCH_ATTN:
        if (ih_trunk_forward(m, m->acts, g1, training, NULL) ||
            ih_trunk_forward(m, v->acts2, g2, training, NULL))
            return -1;
        if (attn_forward(m, &m->attn[0], &v->att[0], trunk_nodes(m->acts), g1->struct_atom_ptr, B,
                         v->h1, training ? &m->drop_rng : NULL) ||
            attn_forward(m, &m->attn[1], &v->att[1], trunk_nodes(v->acts2), g2->struct_atom_ptr, B,
                         v->h2, training ? &m->drop_rng : NULL))
            return -1;
        break;
    case IH_ARCH_PATH:
    case IH_ARCH_SADDLE:
        if (ih_trunk_forward(m, m->acts, g1, training, v->h1)) return -1;
        path_pool_forward(v->h2, trunk_nodes(m->acts), g1->struct_atom_ptr, B, H);
        if (arch == IH_ARCH_SADDLE) saddle_forward(v->d, trunk_nodes(m->acts), g1->struct_atom_ptr, B, H);
        break;
    default: return ih_set_error("model: unknown arch %d", arch);
    }
    if (arch == IH_ARCH_ADD)
        for (size_t i = 0; i < n; i++) v->hf[i] = v->h1[i] + v->h2[i];
    else if (arch == IH_ARCH_SUB)
        for (size_t i = 0; i < n; i++) v->hf[i] = v->h1[i] - v->h2[i];
    else {
        int parts = arch_fuse_parts(arch);
        concat_rows(v->cat, v->h1, v->h2, parts == 3 ? v->d : NULL, m->cfg.path_desc ? g1->path_desc : NULL,
                    IH_PATH_DESC, B, H);
        linear_forward(v->hf, v->cat, P + m->fuse.w, P + m->fuse.b, B, fuse_width(m), H);
    }
    memcpy(m->h, v->hf, sizeof(float) * n);
    v->ready = 1;
    return 0;
}

void ih_model_set_bn_log(ih_model *m, ih_bn_log *log) { m->bn_log = log; }

int ih_model_bn_replay(ih_model *m, const double *v, size_t n) {
    return bn_log_replay(m->buffers, m->n_buffers, v, n);
}

void ih_bn_log_free(ih_bn_log *log) {
    free(log->v);
    log->v = NULL, log->n = log->cap = 0;
}

static int model_forward(ih_model *m, const ih_graph *g1, const ih_graph *g2, int training, float *out);

int ih_model_forward(ih_model *m, const ih_graph *g1, const ih_graph *g2, int training, float *out) {
    if (!training || !m->bn_log) return model_forward(m, g1, g2, training, out);
    ops_bn_log_set(m->bn_log, m->buffers);
    int rc = model_forward(m, g1, g2, training, out);
    ops_bn_log_set(NULL, NULL);
    return rc;
}

static int model_forward(ih_model *m, const ih_graph *g1, const ih_graph *g2, int training, float *out) {
    if (!g2 && ih_arch_input(m->cfg.arch) != IH_INPUT_SINGLE)
        return ih_set_error("model: a %s model takes two graphs per structure", ih_arch_name(m->cfg.arch));
    if (m->cfg.arch == IH_ARCH_MODEL3) {
        if (g2) return ih_set_error("model: a model3 network takes one graph per structure");
        return model_forward_single(m, g1, training, out);
    }
    if (variants_forward_fused(m, g1, g2, training)) return -1;
    return ih_head_forward(m, m->var->hf, g1->n_structs, out);
}

int ih_model_backward(ih_model *m, const ih_graph *g1, const ih_graph *g2, const float *dout) {
    if (!g2 && ih_arch_input(m->cfg.arch) != IH_INPUT_SINGLE)
        return ih_set_error("model: a %s model takes two graphs per structure", ih_arch_name(m->cfg.arch));
    if (m->cfg.arch == IH_ARCH_MODEL3) {
        if (g2) return ih_set_error("model: a model3 network takes one graph per structure");
        return model_backward_single(m, g1, dout);
    }
    if (check_pair(m, g1, g2)) return -1;
    if (!m->var->ready) return ih_set_error("model: backward without a forward pass");
    if (ih_head_backward(m, m->var->hf, g1->n_structs, dout, m->var->dhf)) return -1;
    return variants_backward_fused(m, g1, g2, m->var->dhf);
}

int variants_backward_fused(ih_model *m, const ih_graph *g1, const ih_graph *g2, const float *dhf) {
    int arch = m->cfg.arch, H = m->H;
    if (check_pair(m, g1, g2)) return -1;
    struct variant_state *v = m->var;
    if (!v->ready) return ih_set_error("model: backward without a forward pass");
    int B = g1->n_structs;
    size_t n = (size_t)B * H;
    const float *P = m->params;
    float *Gr = m->grads;
    if (dhf != v->dhf) memcpy(v->dhf, dhf, sizeof(float) * n);
    if (arch == IH_ARCH_ADD || arch == IH_ARCH_SUB) {
        float sign = arch == IH_ARCH_ADD ? 1.0f : -1.0f;
        for (size_t i = 0; i < n; i++) v->dh1[i] = v->dhf[i], v->dh2[i] = sign * v->dhf[i];
    } else {
        int parts = arch_fuse_parts(arch);
        size_t w = (size_t)fuse_width(m);
        memset(v->dcat, 0, sizeof(float) * w * B);
        linear_backward(v->dcat, Gr + m->fuse.w, Gr + m->fuse.b, v->dhf, v->cat, P + m->fuse.w, B,
                        (int)w, H, &m->ws);
        for (int i = 0; i < B; i++) {
            memcpy(v->dh1 + (size_t)i * H, v->dcat + (size_t)i * w, sizeof(float) * H);
            memcpy(v->dh2 + (size_t)i * H, v->dcat + (size_t)i * w + H, sizeof(float) * H);
            if (parts == 3) memcpy(v->d + (size_t)i * H, v->dcat + (size_t)i * w + 2 * H, sizeof(float) * H);
        }
    }
    switch (arch) {
    case IH_ARCH_PATH:
    case IH_ARCH_SADDLE: {
        ih_acts *a = m->acts;
        if (clear_node_grads(a, g1, H)) return -1;
        pool_backward(a->dX, v->dh1, g1->struct_atom_ptr, B, H);
        path_pool_backward(a->dX, v->dh2, g1->struct_atom_ptr, B, H);
        if (arch == IH_ARCH_SADDLE) saddle_backward(a->dX, v->d, g1->struct_atom_ptr, B, H);
        return trunk_backward_nodes(m, a, g1);
    }
    case IH_ARCH_DELTA:
        if (ih_trunk_backward(m, m->acts, g1, v->dh1) || ih_trunk_backward(m, v->dacts1, g1, v->dh2))
            return -1;
        for (size_t i = 0; i < n; i++) v->dh2[i] = -v->dh2[i];
        return ih_trunk_backward(m, v->dacts2, g2, v->dh2);
    case IH_ARCH_ATTN: {
        ih_acts *as[2] = {m->acts, v->acts2};
        const ih_graph *gs[2] = {g1, g2};
        const float *dp[2] = {v->dh1, v->dh2};
        for (int k = 1; k >= 0; k--) {
            if (clear_node_grads(as[k], gs[k], H)) return -1;
            attn_backward(m, &m->attn[k], &v->att[k], trunk_nodes(as[k]), gs[k]->struct_atom_ptr, B,
                          dp[k], as[k]->dX);
            if (trunk_backward_nodes(m, as[k], gs[k])) return -1;
        }
        return 0;
    }
    default:
        if (ih_trunk_backward(m, v->acts2, g2, v->dh2)) return -1;
        return ih_trunk_backward(m, m->acts, g1, v->dh1);
    }
}
