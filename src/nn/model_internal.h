/* The model's internal layout, shared by model.c, the trunk/head code and the tests. */
#ifndef IH_MODEL_INTERNAL_H
#define IH_MODEL_INTERNAL_H

#include "ionhop_train.h"
#include "core/util.h"
#include "nn/ops.h"

/* Linear(in→out) followed by BatchNorm(out): offsets into params / buffers. */
typedef struct mlp_layer {
    int in, out;
    size_t w, b, g, beta; /* params */
    size_t rm, rv;        /* buffers */
} mlp_layer;

typedef struct linear_layer {
    int in, out;
    size_t w, b;
} linear_layer;

/* Attention pooling of MODEL-4 (docs/method.md §7.5): Q/K/V Linear(H→H) and LayerNorm(H) params. */
typedef struct attn_layer {
    linear_layer q, k, v;
    size_t ln_g, ln_b;
} attn_layer;

/* Profile slots of ih_model.prof: forward / backward of the embeddings, the crystal-graph
 * EGGCs (ALIGNN node_update and GCN layers), the line-graph EGGCs, and everything else. */
enum { PROF_F_EMBED, PROF_F_CRYSTAL, PROF_F_LINE, PROF_F_OTHER,
       PROF_B_EMBED, PROF_B_CRYSTAL, PROF_B_LINE, PROF_B_OTHER };

/* Per-tensor initialisation rule (kept beside the public table). */
enum { INIT_LIN_W, INIT_LIN_B, INIT_ONE, INIT_ZERO };

/* The distinct values of an embedding's input (bond lengths, angle cosines). The embedding is
 * a function of the value alone, so it runs once per distinct value, with BatchNorm statistics
 * weighted by multiplicity, and its output rows are gathered; backward sums the output
 * gradients of each value's rows first. Crystals repeat lengths and angles: on the Em data the
 * triplets hold ~8x fewer distinct cosines than rows. Exact up to float summation order. */
typedef struct uniq_rows {
    int n;                  /* distinct values; 0: the embedding runs on all rows */
    int rows;               /* M of the last forward */
    int *idx;               /* M: row → its distinct value */
    int *grp_ptr, *grp_rows; /* n + 1, M: the rows of each value, ascending */
    float *val, *count;     /* n: the values (first-occurrence order) and multiplicities */
    int *hash;              /* hash_cap slots (a power of two ≥ 2M) */
    int hash_cap;
} uniq_rows;
/* Fills u from v[0..M) (u's arrays sized for M); returns the number of distinct values. */
int uniq_build(uniq_rows *u, const float *v, int M);

struct ih_model {
    ih_config cfg;
    int H;
    size_t n_params, n_buffers;
    float *params, *grads, *buffers;
    ih_tensor_info *tensors, *buf_tensors;
    int *init_kind, *init_fan_in;
    int n_tensors, n_buf_tensors, cap_tensors, cap_buf_tensors;

    mlp_layer atom, bond1, bond2, ang1, ang2;
    int n_eggc;           /* 2·alignn_layers + gcn_layers */
    int n_eggc_all;       /* n_eggc + the EGGCs of MODEL-2's delta branch (3) */
    size_t *eggc_p, *eggc_b; /* alignn l: node_update 2l, edge_update 2l+1; gcn k: 2L + k;
                                delta branch: n_eggc + 0, 1 (alignn_layers_1), + 2 (gcn_layers_1) */
    /* head (b)/(c): per output p; head (a): fc only */
    linear_layer *head1, *head2, *head3, fc;

    rbf_spec rbf_bond, rbf_angle;
    ops_ws ws;

    /* run the bond/angle embeddings on distinct values (uniq_rows); 1 unless a test compares */
    int embed_dedup;

    /* seconds spent per part (bench/profiling): see PROF_* */
    double prof[8];

    /* convenience single-graph state (ih_model_reserve) */
    ih_acts *acts;
    /* the arguments of the last ih_model_reserve / _eval: the same request again keeps the arenas
     * (a predictor reserves before every call; re-allocating ~100 MB each time cost more than the
     * forward pass) */
    int reserved[9];
    int has_reserved;
    int head_cap;
    float *head_scratch, *h, *dh;

    /* migration-path variants (docs/method.md §7; variants.c, attention.c) */
    linear_layer fuse;       /* "fc": Linear(2H→H) of MODEL-1-CC, MODEL-2, MODEL-4 */
    attn_layer attn[2];      /* "attention" (on G1), "attention1" (on G2) of MODEL-4 */
    ih_rng drop_rng;         /* attention dropout masks */
    ih_bn_log *bn_log;       /* ih_model_set_bn_log, or NULL */
    struct variant_state *var; /* arenas of the two-graph forward (ih_model_reserve) */
    /* releases var: set by variants.c, which owns that state, so that the model's own module
     * (model.c) never calls into the forward code built on top of it */
    void (*free_var)(struct ih_model *m);
};

/* Two-graph arch: 1 if the arch fuses [h1 ‖ h2] (MODEL-3-SADDLE: [h1 ‖ h2 ‖ s]) with "fc". */
static inline int arch_has_fuse(int arch) {
    return arch == IH_ARCH_CC || arch == IH_ARCH_DELTA || arch == IH_ARCH_ATTN || arch == IH_ARCH_PATH ||
           arch == IH_ARCH_SADDLE;
}
/* H-wide parts "fc" fuses */
static inline int arch_fuse_parts(int arch) { return arch == IH_ARCH_SADDLE ? 3 : 2; }
/* one graph (the 5-image structure), pooled two ways: MODEL-3-PATH, MODEL-3-SADDLE */
static inline int arch_is_path(int arch) { return arch == IH_ARCH_PATH || arch == IH_ARCH_SADDLE; }
void variants_free(ih_model *m); /* variants.c: the state of ih_model_reserve */
/* variants.c: a two-graph network up to the fused vector that enters the head (left in
 * ih_model_pooled), and its backward from dL/d(fused) (B × H). ih_model_forward/backward2
 * are these plus the head; the tests check gradients at the fused vector, where the signal
 * is well above float32 noise. */
int variants_forward_fused(ih_model *m, const ih_graph *g1, const ih_graph *g2, int training);
int variants_backward_fused(ih_model *m, const ih_graph *g1, const ih_graph *g2, const float *dfused);
/* MODEL-4's attention activations of graph k (0: G1, 1: G2) after a forward; NULL otherwise. */
const struct attn_acts *variants_attn(const ih_model *m, int k);

struct ih_acts {
    int H, emb, training;
    int cap_B, cap_N, cap_E, cap_T;
    int L, G;
    int eggc0; /* the arena's first EGGC in the model's table (0: the main trunk) */
    int ready; /* a training-mode-capable forward has run and not been invalidated */
    float *arena;
    size_t n_floats;

    /* embeddings: inputs and pre-BatchNorm values */
    float *feat;                          /* N × 92 */
    float *atom_u;                        /* N × H */
    float *bond_u1, *bond_u2;             /* E × emb, E × H (training arena only) */
    float *ang_u1, *ang_u2;               /* T × emb, T × H (training arena only) */
    float st_atom[2 * EGGC_MAX_H], st_b1[2 * EGGC_MAX_H], st_b2[2 * EGGC_MAX_H];
    float st_a1[2 * EGGC_MAX_H], st_a2[2 * EGGC_MAX_H];
    uniq_rows uq_bond, uq_ang; /* distinct bond lengths / cosines of the last forward */
    /* training arena: the first line-graph EGGC on the distinct cosines' rows (eggc_uniq);
     * ang_yu holds up to T/2 rows (uq_ang never has more), ang_work ang_slices times that */
    eggc_uniq ang_rows;
    float *ang_yu, *ang_work;
    int ang_slices;
    float *emb_tmp;            /* the embeddings' per-value rows (training: the scratch) */
    size_t emb_tmp_floats;

    /* layer inputs/outputs: X[0..L+G]; Yl[0..L] (inputs of the ALIGNN layers, Yl[L] = the
     * first GCN's), Yt[0..L-1] (node_update outputs), Yg[0..G-1] (GCN inputs, Yg[0] = Yl[L]),
     * Z[0..L-1] (ALIGNN inputs) */
    float **X, **Yl, **Yt, **Yg, **Z;
    eggc_acts *eg; /* n_eggc */
    float *h;      /* B × H */

    /* backward */
    float *dX, *dY, *dZ, *scratch;
    size_t scratch_floats;
};

/* Bond/angle embedding (embed.c): RBF → MLP → MLP over M rows. Training keeps u1 (M × emb)
 * and u2 (M × H); evaluation mode needs neither (NULL). Backward takes dout = dL/d(out)
 * (overwritten) and da1 scratch (M × emb). Workspace: embed_ws_floats per thread.
 * With uq->n > 0 the chain runs on the uq->n distinct values instead (u1, u2 then hold n
 * rows): forward needs tmp for n × H output rows, backward n × (H + emb) (dout is then left
 * as it was and da1 unused), and dsum_add (n × H or NULL) is added to each value's summed
 * output gradient: gradient the first line-graph EGGC computed per distinct cosine. */
int embed_forward(ih_model *m, const rbf_spec *rbf, const mlp_layer *l1, const mlp_layer *l2,
                  const float *v, int M, const uniq_rows *uq, float *tmp, float *u1, float *u2,
                  float *st1, float *st2, float *out, int training);
void embed_backward(ih_model *m, const rbf_spec *rbf, const mlp_layer *l1, const mlp_layer *l2,
                    const float *v, int M, const uniq_rows *uq, float *tmp, const float *u1,
                    const float *u2, const float *st1, const float *st2, float *dout,
                    const float *dsum_add, float *da1, int training);
size_t embed_ws_floats(int H, int emb, int K);

/* trunk.c: an arena for n_alignn ALIGNN + n_gcn GCN layers starting at EGGC eggc0 of the
 * model's table (MODEL-2's delta branch: the shared embeddings, then its own layers). */
/* The main arena (training or evaluation-only) and the head scratch. */
/* MODEL-3's own path (model.c): the trunk's built-in arena, trunk then head */
int model_forward_single(ih_model *m, const ih_graph *g, int training, float *out);
int model_backward_single(ih_model *m, const ih_graph *g, const float *dout);
int model_reserve_main(ih_model *m, int max_structs, int max_atoms, int max_edges, int max_triplets,
                       int for_training);
ih_acts *trunk_acts_create(const ih_model *m, int n_alignn, int n_gcn, int eggc0, int max_structs,
                           int max_atoms, int max_edges, int max_triplets, int for_training);
/* Backward of the last forward on `a` from the node gradients of the last layer, which the
 * caller has written into a->dX (n_atoms × H) in place of the mean pooling's (MODEL-4). */
int trunk_backward_nodes(ih_model *m, ih_acts *a, const ih_graph *g);
/* Node features after the last layer of the last forward on `a` (n_atoms × H). */
static inline const float *trunk_nodes(const ih_acts *a) { return a->X[a->L + a->G]; }

/* attention.c: MODEL-4 attention pooling over the nodes of each structure (docs/method.md §7.5).
 * Per structure with rows X (n × H): Q, K, V = ReLU(Linear(X)); s_i = Σ_j tanh(K_i·Q_j);
 * α = softmax_i(s); training: α_i ← α_i·keep_i (dropout 0.2); p = LayerNorm(mean_i X_i +
 * Σ_i α_i V_i). K·Qᵀ is formed ATTN_CHUNK rows at a time (recomputed in backward), so memory
 * is O(N·H), not O(n²). */
#define ATTN_CHUNK 64
#define ATTN_DROPOUT 0.2f
#define IH_LN_EPS 1e-5f
typedef struct attn_acts {
    int H, cap_N, cap_B;
    float *q, *k, *v;   /* N × H each, after the ReLU */
    float *alpha, *keep; /* N: softmax weights; dropout factors (0 or 1/(1−p); 1 in evaluation) */
    float *r, *ln;      /* B × H LayerNorm input; B × 2 its mean and 1/std */
    float *dq, *dk, *dv; /* backward: N × H each */
    float *ds, *dr, *sc; /* N; B × H; ATTN_CHUNK × N (rows of K·Qᵀ) */
} attn_acts;
size_t attn_acts_floats(int H, int max_atoms, int max_structs);
void attn_acts_carve(attn_acts *a, float *base, int H, int max_atoms, int max_structs);
/* x: N × H node rows, ptr: B + 1 structure row ranges; out: B × H. rng NULL: no dropout
 * (evaluation). */
int attn_forward(ih_model *m, const attn_layer *l, attn_acts *a, const float *x, const int *ptr,
                 int B, float *out, ih_rng *rng);
/* ACCUMULATES dL/dx into dx (N × H) and the layer's parameter gradients. */
void attn_backward(ih_model *m, const attn_layer *l, attn_acts *a, const float *x, const int *ptr,
                   int B, const float *dout, float *dx);

/* Floats of head scratch for n structures. */
size_t ih_head_scratch_floats(const ih_model *m, int n);

#endif
