/* The model's internal layout, shared by model.c, the trunk/head code and the tests. */
#ifndef IH_MODEL_INTERNAL_H
#define IH_MODEL_INTERNAL_H

#include "ionhop.h"
#include "ops.h"

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

/* Per-tensor initialisation rule (kept beside the public table). */
enum { INIT_LIN_W, INIT_LIN_B, INIT_ONE, INIT_ZERO };

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
    size_t *eggc_p, *eggc_b; /* alignn l: node_update 2l, edge_update 2l+1; gcn k: 2L + k */
    /* head (b)/(c): per output p; head (a): fc only */
    linear_layer *head1, *head2, *head3, fc;

    rbf_spec rbf_bond, rbf_angle;
    ops_ws ws;

    /* convenience single-graph state (ih_model_reserve) */
    ih_acts *acts;
    int head_cap;
    float *head_scratch, *h, *dh;
};

struct ih_acts {
    int H, emb, training;
    int cap_B, cap_N, cap_E, cap_T;
    int L, G;
    int ready; /* a training-mode-capable forward has run and not been invalidated */
    float *arena;
    size_t n_floats;

    /* embeddings: inputs and pre-BatchNorm values */
    float *feat;                          /* N × 92 */
    float *atom_u;                        /* N × H */
    float *bond_rbf, *bond_u1, *bond_a1;  /* E × 80, E × emb, E × emb */
    float *bond_u2;                       /* E × H */
    float *ang_rbf, *ang_u1, *ang_a1;     /* T × 40, T × emb, T × emb */
    float *ang_u2;                        /* T × H */
    float st_atom[2 * EGGC_MAX_H], st_b1[2 * EGGC_MAX_H], st_b2[2 * EGGC_MAX_H];
    float st_a1[2 * EGGC_MAX_H], st_a2[2 * EGGC_MAX_H];

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

/* Floats of head scratch for n structures. */
size_t ih_head_scratch_floats(const ih_model *m, int n);

#endif
