/* The ALIGNN model object: configuration, the named parameter/buffer tables (PyTorch state-dict
 * names, docs/method.md §4.9), initialisation, and the single-graph convenience API. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"

void ih_config_default(ih_config *c) {
    memset(c, 0, sizeof *c);
    c->hidden = 256;
    c->alignn_layers = 4;
    c->gcn_layers = 4;
    c->embed = 64;
    c->head_width = 128;
    c->head_hidden = 2;
    c->n_outputs = 1;
    c->neighbors = 12;
    c->cutoff = 8.0;
    c->canonical = 0;
    c->tie_tol = 0;
    c->path_desc = 0;
}

int ih_config_check(const ih_config *c) {
    if (!c) return ih_set_error("model: no configuration");
    if (c->hidden < 1 || c->hidden > EGGC_MAX_H)
        return ih_set_error("model: hidden width %d outside 1..%d", c->hidden, EGGC_MAX_H);
    if (c->embed < 1 || c->embed > EGGC_MAX_H)
        return ih_set_error("model: embedding width %d outside 1..%d", c->embed, EGGC_MAX_H);
    if (c->alignn_layers < 0 || c->alignn_layers > 64 || c->gcn_layers < 0 || c->gcn_layers > 64)
        return ih_set_error("model: layer counts %d/%d outside 0..64", c->alignn_layers,
                            c->gcn_layers);
    if (c->head_hidden < 0 || c->head_hidden > 2)
        return ih_set_error("model: head_hidden %d is not 0, 1 or 2", c->head_hidden);
    if (c->head_hidden > 0 && (c->head_width < 1 || c->head_width > EGGC_MAX_H))
        return ih_set_error("model: head width %d outside 1..%d", c->head_width, EGGC_MAX_H);
    if (c->n_outputs < 1 || c->n_outputs > 64)
        return ih_set_error("model: n_outputs %d outside 1..64", c->n_outputs);
    if (c->neighbors < 1 || !(c->cutoff > 0.0))
        return ih_set_error("model: neighbours %d / cutoff %g invalid", c->neighbors, c->cutoff);
    if ((int)c->arch < 0 || (int)c->arch >= IH_N_ARCH)
        return ih_set_error("model: unknown arch %d", c->arch);
    if ((int)c->path_apart < 0 || (int)c->path_apart > 2)
        return ih_set_error("model: path_apart %d is not 0, 1 or 2", c->path_apart);
    if (!(c->tie_tol >= 0 && c->tie_tol <= 1.0))
        return ih_set_error("model: tie tolerance %g Å outside 0..1", c->tie_tol);
    if (c->path_apart && ih_arch_input(c->arch) == IH_INPUT_ENDPOINTS)
        return ih_set_error("model: path bonds 'apart' or 'chain' need a 5-image arch (model3, model3-path, "
                            "model3-saddle, model4), not %s", ih_arch_name(c->arch));
    if (c->path_desc != 0 && c->path_desc != 1)
        return ih_set_error("model: path_desc %d is not 0 or 1", c->path_desc);
    if (c->path_desc && !arch_is_path(c->arch))
        return ih_set_error("model: path descriptors need model3-path or model3-saddle, not %s",
                            ih_arch_name(c->arch));
    return 0;
}

static const char *const arch_names[IH_N_ARCH] = {"model3", "model1-add", "model1-sub", "model1-cc",
                                                  "model2", "model4", "model3-path", "model3-saddle"};

static const char *const path_bonds_names[3] = {"all", "apart", "chain"};

const char *ih_path_bonds_name(ih_path_bonds path_apart) {
    return path_apart >= 0 && path_apart < 3 ? path_bonds_names[path_apart] : NULL;
}

int ih_path_bonds_parse(const char *name) {
    for (int k = 0; name && k < 3; k++)
        if (!strcmp(name, path_bonds_names[k])) return k;
    return -1;
}

const char *ih_arch_name(ih_arch arch) { return arch >= 0 && arch < IH_N_ARCH ? arch_names[arch] : NULL; }

int ih_arch_parse(const char *name) {
    for (int a = 0; name && a < IH_N_ARCH; a++)
        if (!strcmp(name, arch_names[a])) return a;
    return -1;
}

ih_input_kind ih_arch_input(ih_arch arch) {
    switch (arch) {
    case IH_ARCH_ADD:
    case IH_ARCH_SUB:
    case IH_ARCH_CC:
    case IH_ARCH_DELTA: return IH_INPUT_ENDPOINTS;
    case IH_ARCH_ATTN: return IH_INPUT_LOCAL;
    default: return IH_INPUT_SINGLE;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* tensor tables */

static int name_decays(const char *name) {
    return !(strstr(name, "bias") || strstr(name, "bn") || strstr(name, "norm"));
}

static int grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

typedef struct builder {
    ih_model *m;
    int failed;
} builder;

static int grow_tensors(ih_model *m) {
    if (m->n_tensors < m->cap_tensors) return 0;
    int nc = m->cap_tensors ? 2 * m->cap_tensors : 64;
    void *q = realloc(m->tensors, (size_t)nc * sizeof *m->tensors);
    if (!q) return -1;
    m->tensors = q;
    q = realloc(m->init_kind, (size_t)nc * sizeof(int));
    if (!q) return -1;
    m->init_kind = q;
    q = realloc(m->init_fan_in, (size_t)nc * sizeof(int));
    if (!q) return -1;
    m->init_fan_in = q;
    m->cap_tensors = nc;
    return 0;
}

static size_t add_param(builder *b, const char *name, int ndim, int d0, int d1, int kind, int fan_in) {
    ih_model *m = b->m;
    if (b->failed) return 0;
    if (grow_tensors(m)) {
        b->failed = 1;
        return 0;
    }
    ih_tensor_info *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    if (strlen(name) >= sizeof t->name) {
        b->failed = 1;
        return 0;
    }
    memcpy(t->name, name, strlen(name) + 1);
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim == 2 ? d1 : 0;
    t->numel = (size_t)d0 * (ndim == 2 ? (size_t)d1 : 1);
    t->offset = m->n_params;
    t->decay = name_decays(name);
    m->init_kind[m->n_tensors] = kind;
    m->init_fan_in[m->n_tensors] = fan_in;
    m->n_tensors++;
    m->n_params += t->numel;
    return t->offset;
}

static size_t add_buffer(builder *b, const char *name, int n) {
    ih_model *m = b->m;
    if (b->failed) return 0;
    if (grow((void **)&m->buf_tensors, &m->cap_buf_tensors, m->n_buf_tensors + 1,
             sizeof *m->buf_tensors)) {
        b->failed = 1;
        return 0;
    }
    ih_tensor_info *t = &m->buf_tensors[m->n_buf_tensors];
    memset(t, 0, sizeof *t);
    if (strlen(name) >= sizeof t->name) {
        b->failed = 1;
        return 0;
    }
    memcpy(t->name, name, strlen(name) + 1);
    m->n_buf_tensors++;
    t->ndim = 1;
    t->shape[0] = n;
    t->numel = (size_t)n;
    t->offset = m->n_buffers;
    t->decay = 0;
    m->n_buffers += (size_t)n;
    return t->offset;
}

static linear_layer add_linear(builder *b, const char *prefix, int in, int out) {
    char nm[320]; /* prefixes come from 256-byte buffers */
    linear_layer l = {in, out, 0, 0};
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    l.w = add_param(b, nm, 2, out, in, INIT_LIN_W, in);
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    l.b = add_param(b, nm, 1, out, 0, INIT_LIN_B, in);
    return l;
}

/* MLP = Linear + BatchNorm + SiLU, PyTorch names prefix.layer.0 / prefix.layer.1 */
static mlp_layer add_mlp(builder *b, const char *prefix, int in, int out) {
    char nm[256];
    mlp_layer l;
    memset(&l, 0, sizeof l);
    l.in = in;
    l.out = out;
    snprintf(nm, sizeof nm, "%s.layer.0", prefix);
    linear_layer lin = add_linear(b, nm, in, out);
    l.w = lin.w;
    l.b = lin.b;
    snprintf(nm, sizeof nm, "%s.layer.1.weight", prefix);
    l.g = add_param(b, nm, 1, out, 0, INIT_ONE, 0);
    snprintf(nm, sizeof nm, "%s.layer.1.bias", prefix);
    l.beta = add_param(b, nm, 1, out, 0, INIT_ZERO, 0);
    snprintf(nm, sizeof nm, "%s.layer.1.running_mean", prefix);
    l.rm = add_buffer(b, nm, out);
    snprintf(nm, sizeof nm, "%s.layer.1.running_var", prefix);
    l.rv = add_buffer(b, nm, out);
    return l;
}

/* One EGGC in the order of the EGGC_* layout macros (the four x-maps back to back). */
static void add_eggc(builder *b, const char *prefix, int H, size_t *poff, size_t *boff) {
    static const char *const maps[4] = {"src_gate", "dst_gate", "src_update", "dst_update"};
    char nm[256];
    size_t base = b->m->n_params;
    for (int i = 0; i < 4; i++) {
        snprintf(nm, sizeof nm, "%s.%s.weight", prefix, maps[i]);
        add_param(b, nm, 2, H, H, INIT_LIN_W, H);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(nm, sizeof nm, "%s.%s.bias", prefix, maps[i]);
        add_param(b, nm, 1, H, 0, INIT_LIN_B, H);
    }
    snprintf(nm, sizeof nm, "%s.edge_gate", prefix);
    add_linear(b, nm, H, H);
    snprintf(nm, sizeof nm, "%s.bn_edges.weight", prefix);
    add_param(b, nm, 1, H, 0, INIT_ONE, 0);
    snprintf(nm, sizeof nm, "%s.bn_edges.bias", prefix);
    add_param(b, nm, 1, H, 0, INIT_ZERO, 0);
    snprintf(nm, sizeof nm, "%s.bn_nodes.weight", prefix);
    add_param(b, nm, 1, H, 0, INIT_ONE, 0);
    snprintf(nm, sizeof nm, "%s.bn_nodes.bias", prefix);
    add_param(b, nm, 1, H, 0, INIT_ZERO, 0);
    *poff = base;
    snprintf(nm, sizeof nm, "%s.bn_edges.running_mean", prefix);
    *boff = add_buffer(b, nm, H);
    snprintf(nm, sizeof nm, "%s.bn_edges.running_var", prefix);
    add_buffer(b, nm, H);
    snprintf(nm, sizeof nm, "%s.bn_nodes.running_mean", prefix);
    add_buffer(b, nm, H);
    snprintf(nm, sizeof nm, "%s.bn_nodes.running_var", prefix);
    add_buffer(b, nm, H);
}

static void init_buffers(ih_model *m) {
    /* running mean 0, running variance 1 */
    for (int i = 0; i < m->n_buf_tensors; i++) {
        const ih_tensor_info *t = &m->buf_tensors[i];
        float v = strstr(t->name, "running_var") ? 1.0f : 0.0f;
        for (size_t k = 0; k < t->numel; k++) m->buffers[t->offset + k] = v;
    }
}

static void init_params(ih_model *m, uint64_t seed) {
    ih_rng rng;
    ih_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_tensors; i++) {
        const ih_tensor_info *t = &m->tensors[i];
        float *p = m->params + t->offset;
        int kind = m->init_kind[i];
        double bound = m->init_fan_in[i] > 0 ? 1.0 / sqrt((double)m->init_fan_in[i]) : 0.0;
        for (size_t k = 0; k < t->numel; k++) {
            if (kind == INIT_LIN_W || kind == INIT_LIN_B)
                p[k] = (float)((2.0 * ih_rng_uniform(&rng) - 1.0) * bound);
            else
                p[k] = kind == INIT_ONE ? 1.0f : 0.0f;
        }
    }
    init_buffers(m);
}

void ih_model_set_deterministic(ih_model *m) {
    for (int i = 0; i < m->n_tensors; i++) {
        const ih_tensor_info *t = &m->tensors[i];
        float *p = m->params + t->offset;
        int kind = m->init_kind[i];
        if (kind == INIT_LIN_W) {
            int out = t->shape[0], in = t->shape[1];
            double s = 1.0 / sqrt((double)in);
            for (int o = 0; o < out; o++)
                for (int j = 0; j < in; j++)
                    p[(size_t)o * in + j] = (float)(cos(0.3 * o + 0.7 * j) * s);
        } else if (kind == INIT_LIN_B) {
            for (size_t o = 0; o < t->numel; o++) p[o] = (float)(0.01 * sin((double)o));
        } else {
            for (size_t k = 0; k < t->numel; k++) p[k] = kind == INIT_ONE ? 1.0f : 0.0f;
        }
    }
    init_buffers(m);
}

/* embeddings, ALIGNN layers (node and edge update each), GCN layers: the trunk (docs/method.md §4) */
static void add_trunk(builder *b) {
    ih_model *m = b->m;
    const ih_config *c = &m->cfg;
    int H = c->hidden, emb = c->embed, L = c->alignn_layers, G = c->gcn_layers;
    m->atom = add_mlp(b, "atom_embedding", IH_N_ATOM_FEATURES, H);
    m->bond1 = add_mlp(b, "edge_embedding.1", 80, emb);
    m->bond2 = add_mlp(b, "edge_embedding.2", emb, H);
    m->ang1 = add_mlp(b, "angle_embedding.1", 40, emb);
    m->ang2 = add_mlp(b, "angle_embedding.2", emb, H);
    char nm[256];
    for (int l = 0; l < L && !b->failed; l++) {
        snprintf(nm, sizeof nm, "alignn_layers.%d.node_update", l);
        add_eggc(b, nm, H, &m->eggc_p[2 * l], &m->eggc_b[2 * l]);
        snprintf(nm, sizeof nm, "alignn_layers.%d.edge_update", l);
        add_eggc(b, nm, H, &m->eggc_p[2 * l + 1], &m->eggc_b[2 * l + 1]);
    }
    for (int k = 0; k < G && !b->failed; k++) {
        snprintf(nm, sizeof nm, "gcn_layers.%d", k);
        add_eggc(b, nm, H, &m->eggc_p[2 * L + k], &m->eggc_b[2 * L + k]);
    }
}

/* one Linear(H→P) (SCRATCH, docs/method.md §4.7 (a)), or per task Linear(H→W), [Linear(W→W)], Linear(W→1) */
static void add_head(builder *b) {
    ih_model *m = b->m;
    const ih_config *c = &m->cfg;
    int H = c->hidden, W = c->head_width, P = c->n_outputs;
    char nm[256];
    if (c->head_hidden == 0) {
        /* "fc" is the fusion layer's name where there is one (docs/method.md §4.9) */
        m->fc = add_linear(b, arch_has_fuse(c->arch) ? "fc_final" : "fc", H, P);
        return;
    }
    for (int p = 0; p < P && !b->failed; p++) {
        snprintf(nm, sizeof nm, "conv_to_fc.%d", p);
        m->head1[p] = add_linear(b, nm, H, W);
    }
    if (c->head_hidden == 2)
        for (int p = 0; p < P && !b->failed; p++) {
            snprintf(nm, sizeof nm, "fc_hp.%d.0", p);
            m->head2[p] = add_linear(b, nm, W, W);
        }
    for (int p = 0; p < P && !b->failed; p++) {
        snprintf(nm, sizeof nm, "fc_out.%d", p);
        m->head3[p] = add_linear(b, nm, W, 1);
    }
}

/* the variants' own modules (docs/method.md §7): MODEL-2's delta layers, MODEL-4's two attention poolings,
 * the fusion Linear of the archs that combine pooled vectors */
static void add_variant_modules(builder *b) {
    ih_model *m = b->m;
    const ih_config *c = &m->cfg;
    int H = c->hidden;
    char nm[256];
    if (c->arch == IH_ARCH_DELTA && !b->failed) {
        int q = m->n_eggc;
        add_eggc(b, "alignn_layers_1.0.node_update", H, &m->eggc_p[q], &m->eggc_b[q]);
        add_eggc(b, "alignn_layers_1.0.edge_update", H, &m->eggc_p[q + 1], &m->eggc_b[q + 1]);
        add_eggc(b, "gcn_layers_1.0", H, &m->eggc_p[q + 2], &m->eggc_b[q + 2]);
    }
    for (int k = 0; k < 2 && c->arch == IH_ARCH_ATTN && !b->failed; k++) {
        const char *pre = k ? "attention1" : "attention";
        attn_layer *al = &m->attn[k];
        snprintf(nm, sizeof nm, "%s.query", pre);
        al->q = add_linear(b, nm, H, H);
        snprintf(nm, sizeof nm, "%s.key", pre);
        al->k = add_linear(b, nm, H, H);
        snprintf(nm, sizeof nm, "%s.value", pre);
        al->v = add_linear(b, nm, H, H);
        snprintf(nm, sizeof nm, "%s.layer_norm.weight", pre);
        al->ln_g = add_param(b, nm, 1, H, 0, INIT_ONE, 0);
        snprintf(nm, sizeof nm, "%s.layer_norm.bias", pre);
        al->ln_b = add_param(b, nm, 1, H, 0, INIT_ZERO, 0);
    }
    if (arch_has_fuse(c->arch))
        m->fuse = add_linear(b, "fc", arch_fuse_parts(c->arch) * H + (c->path_desc ? IH_PATH_DESC : 0), H);
}

/* Per-thread workspace for the ops' deterministic reductions and GEMM scratch, sized for the
 * widest reduction (the 4H columns of the x-maps) and the largest weight (4H × H). */
static int init_workspace(ih_model *m) {
    const ih_config *c = &m->cfg;
    int H = c->hidden, emb = c->embed, W = c->head_width, P = c->n_outputs;
    size_t maxw = (size_t)4 * H * H;
    size_t cand[] = {(size_t)H * IH_N_ATOM_FEATURES, (size_t)emb * 80, (size_t)emb * 40,
                     (size_t)H * emb, (size_t)W * H, (size_t)W * W, (size_t)P * H};
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++)
        if (cand[i] > maxw) maxw = cand[i];
    int maxc = 4 * H > IH_N_ATOM_FEATURES ? 4 * H : IH_N_ATOM_FEATURES;
    if (maxc < W) maxc = W;
    if (maxc < 80) maxc = 80;
    size_t fslot = ops_ws_fslot(maxc, maxw);
    if (fslot < eggc_ws_floats(H)) fslot = eggc_ws_floats(H);
    if (fslot < embed_ws_floats(H, emb, 80)) fslot = embed_ws_floats(H, emb, 80);
    return ops_ws_init(&m->ws, ops_max_threads(), ops_ws_dslot(maxc), fslot);
}

ih_model *ih_model_create(const ih_config *c, uint64_t seed) {
    if (ih_config_check(c)) return NULL;
    ih_model *m = calloc(1, sizeof *m);
    if (!m) {
        ih_set_error("model: out of memory");
        return NULL;
    }
    m->cfg = *c;
    int P = c->n_outputs;
    m->H = c->hidden;
    m->n_eggc = 2 * c->alignn_layers + c->gcn_layers;
    m->n_eggc_all = m->n_eggc + (c->arch == IH_ARCH_DELTA ? 3 : 0);
    m->eggc_p = calloc((size_t)m->n_eggc_all + 1, sizeof(size_t));
    m->eggc_b = calloc((size_t)m->n_eggc_all + 1, sizeof(size_t));
    m->head1 = calloc((size_t)P, sizeof(linear_layer));
    m->head2 = calloc((size_t)P, sizeof(linear_layer));
    m->head3 = calloc((size_t)P, sizeof(linear_layer));
    builder b = {m, 0};
    if (!m->eggc_p || !m->eggc_b || !m->head1 || !m->head2 || !m->head3) b.failed = 1;
    /* the variants' modules after the head, so that the trunk and head get the same initial
     * weights from a seed whatever the arch */
    add_trunk(&b);
    add_head(&b);
    add_variant_modules(&b);
    rbf_init(&m->rbf_bond, 0.0f, 8.0f, 80);
    rbf_init(&m->rbf_angle, -1.0f, 1.0f, 40);
    if (!b.failed) {
        m->params = ops_alloc(sizeof(float) * (m->n_params + 16));
        m->grads = ops_alloc(sizeof(float) * (m->n_params + 16));
        m->buffers = ops_alloc(sizeof(float) * (m->n_buffers + 16));
        if (!m->params || !m->grads || !m->buffers || init_workspace(m) != 0) b.failed = 1;
    }
    if (b.failed) {
        ih_model_free(m);
        ih_set_error("model: out of memory");
        return NULL;
    }
    ops_blas_single_thread();
    m->embed_dedup = 1;
    ih_rng_seed(&m->drop_rng, seed ^ 0xd20b0d07ULL);
    init_params(m, seed);
    ih_model_zero_grad(m);
    return m;
}

void ih_model_free(ih_model *m) {
    if (!m) return;
    if (m->free_var) m->free_var(m);
    ih_acts_free(m->acts);
    free(m->head_scratch);
    free(m->h);
    free(m->dh);
    ops_ws_free(&m->ws);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->tensors);
    free(m->buf_tensors);
    free(m->init_kind);
    free(m->init_fan_in);
    free(m->eggc_p);
    free(m->eggc_b);
    free(m->head1);
    free(m->head2);
    free(m->head3);
    free(m);
}

const ih_config *ih_model_config(const ih_model *m) { return &m->cfg; }
size_t ih_model_n_params(const ih_model *m) { return m->n_params; }
float *ih_model_params(ih_model *m) { return m->params; }
float *ih_model_grads(ih_model *m) { return m->grads; }
void ih_model_zero_grad(ih_model *m) { memset(m->grads, 0, sizeof(float) * m->n_params); }
int ih_model_n_tensors(const ih_model *m) { return m->n_tensors; }
const ih_tensor_info *ih_model_tensor(const ih_model *m, int i) {
    return i >= 0 && i < m->n_tensors ? &m->tensors[i] : NULL;
}
size_t ih_model_n_buffers(const ih_model *m) { return m->n_buffers; }
float *ih_model_buffers(ih_model *m) { return m->buffers; }
int ih_model_n_buffer_tensors(const ih_model *m) { return m->n_buf_tensors; }
const ih_tensor_info *ih_model_buffer_tensor(const ih_model *m, int i) {
    return i >= 0 && i < m->n_buf_tensors ? &m->buf_tensors[i] : NULL;
}
int ih_model_find_tensor(const ih_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return i;
    return -1;
}
int ih_model_find_buffer(const ih_model *m, const char *name) {
    for (int i = 0; i < m->n_buf_tensors; i++)
        if (!strcmp(m->buf_tensors[i].name, name)) return i;
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* single-graph convenience */

int model_reserve_main(ih_model *m, int max_structs, int max_atoms, int max_edges, int max_triplets,
                       int for_training) {
    ih_acts *a = ih_acts_create(m, max_structs, max_atoms, max_edges, max_triplets, for_training);
    if (!a) return -1;
    if (ih_model_reserve_head(m, max_structs)) {
        ih_acts_free(a);
        return -1;
    }
    ih_acts_free(m->acts);
    m->acts = a;
    return 0;
}

int model_forward_single(ih_model *m, const ih_graph *g, int training, float *out) {
    if (!m->acts) return ih_set_error("model: ih_model_reserve was not called");
    if (ih_trunk_forward(m, m->acts, g, training, m->h)) return -1;
    return ih_head_forward(m, m->h, g->n_structs, out);
}

int model_backward_single(ih_model *m, const ih_graph *g, const float *dout) {
    if (!m->acts) return ih_set_error("model: ih_model_reserve was not called");
    if (!m->acts->ready) return ih_set_error("model: backward without a forward pass");
    if (ih_head_backward(m, m->h, g->n_structs, dout, m->dh)) return -1;
    return ih_trunk_backward(m, m->acts, g, m->dh);
}

const float *ih_model_pooled(const ih_model *m) { return m->h; }

void ih_model_embedding_rows(const ih_model *m, int *bond_rows, int *angle_rows) {
    const ih_acts *a = m->acts;
    *bond_rows = !a ? 0 : a->uq_bond.n ? a->uq_bond.n : a->uq_bond.rows;
    *angle_rows = !a ? 0 : a->uq_ang.n ? a->uq_ang.n : a->uq_ang.rows;
}
size_t ih_model_arena_bytes(const ih_model *m) { return ih_acts_bytes(m->acts); }
