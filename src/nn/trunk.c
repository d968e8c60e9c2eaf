/* The ALIGNN trunk (docs/method.md §4.3-4.6): embeddings, ALIGNN layers, GCN layers, mean pooling, with
 * its activation arena. A training arena keeps what backward needs (about ten T × H arrays:
 * per ALIGNN layer the edge-gate pre-activation and the layer output, the angle embedding's
 * pre-BatchNorm values, one gradient buffer); an inference arena runs every layer in place
 * (one buffer per tensor kind; the edge gates live only in per-thread chunks), so its triplet
 * memory is a single T × H array. */
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* arena */

typedef struct carver {
    float *base; /* NULL while sizing */
    size_t used;
} carver;

static float *take(carver *c, size_t n) {
    size_t off = c->used;
    c->used += (n + 15) & ~(size_t)15;
    return c->base ? c->base + off : NULL;
}

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

/* the arrays of a uniq_rows for up to M rows, carved from the arena */
static void take_uniq(carver *c, uniq_rows *u, size_t M) {
    int cap = 16;
    while ((size_t)cap < 2 * M) cap *= 2;
    u->n = 0;
    u->idx = (int *)take(c, M);
    u->grp_ptr = (int *)take(c, M + 1);
    u->grp_rows = (int *)take(c, M);
    u->val = take(c, M);
    u->count = take(c, M);
    u->hash = (int *)take(c, (size_t)cap);
    u->hash_cap = cap;
}

static void layout(ih_acts *a, carver *c, int nt) {
    size_t H = (size_t)a->H, emb = (size_t)a->emb, N = (size_t)a->cap_N, E = (size_t)a->cap_E,
           T = (size_t)a->cap_T;
    int L = a->L, G = a->G, ne = 2 * L + G;
    if (a->training) {
        a->feat = take(c, N * IH_N_ATOM_FEATURES);
        a->atom_u = take(c, N * H);
        a->bond_u1 = take(c, E * emb);
        a->bond_u2 = take(c, E * H);
        a->ang_u1 = take(c, T * emb);
        a->ang_u2 = take(c, T * H);
        for (int i = 0; i <= L + G; i++) a->X[i] = take(c, N * H);
        for (int l = 0; l <= L; l++) a->Yl[l] = take(c, E * H);
        for (int l = 0; l < L; l++) a->Yt[l] = take(c, E * H);
        for (int l = 0; l < L; l++) a->Z[l] = take(c, T * H);
        for (int k = 0; k < G; k++) a->Yg[k] = k == 0 ? a->Yl[L] : take(c, E * H);
        for (int i = 0; i < ne; i++) {
            int line = i < 2 * L && (i & 1); /* edge_update runs on the line graph */
            size_t n = line ? E : N, e = line ? T : E;
            a->eg[i].P = take(c, n * 4 * H);
            a->eg[i].m = take(c, e * H);
            a->eg[i].xp = take(c, n * H);
            a->eg[i].den = take(c, n * H);
        }
        a->h = take(c, (size_t)a->cap_B * H);
        a->dX = take(c, N * H);
        a->dY = take(c, E * H);
        a->dZ = take(c, T * H);
        if (L > 0) {
            a->ang_yu = take(c, (T + 1) / 2 * H);
            /* one Σdm slice per backward thread, at most 4 (memory: 2·T·H floats at most; more
             * threads run that one pass 4-wide) */
            a->ang_slices = nt < 1 ? 1 : nt > 4 ? 4 : nt;
            a->ang_work = take(c, (size_t)(a->ang_slices > 2 ? a->ang_slices : 2) * ((T + 1) / 2) * H);
        }
        size_t s = zmax(eggc_scratch_floats(a->H, (int)N, (int)E, nt),
                        L > 0 ? eggc_scratch_floats(a->H, (int)E, (int)T, nt) : 0);
        s = zmax(s, zmax(T, E) * emb);
        a->scratch_floats = s;
        a->scratch = take(c, s);
        a->emb_tmp = a->scratch;
        a->emb_tmp_floats = s;
    } else {
        size_t NE = zmax(N, E);
        a->feat = take(c, N * IH_N_ATOM_FEATURES);
        float *X = take(c, N * H), *Y = take(c, E * H), *Z = take(c, T * H);
        /* m is not kept: evaluation mode gates and writes y' chunk by chunk */
        float *P = take(c, NE * 4 * H), *m = NULL, *xp = take(c, NE * H), *den = take(c, NE * H);
        a->emb_tmp = P; /* free until the first EGGC */
        a->emb_tmp_floats = NE * 4 * H;
        a->atom_u = X;
        a->bond_u1 = a->bond_u2 = a->ang_u1 = a->ang_u2 = NULL;
        for (int i = 0; i <= L + G; i++) a->X[i] = X;
        for (int l = 0; l <= L; l++) a->Yl[l] = Y;
        for (int l = 0; l < L; l++) a->Yt[l] = Y;
        for (int l = 0; l < L; l++) a->Z[l] = Z;
        for (int k = 0; k < G; k++) a->Yg[k] = Y;
        for (int i = 0; i < ne; i++) {
            a->eg[i].P = P;
            a->eg[i].m = m;
            a->eg[i].xp = xp;
            a->eg[i].den = den;
        }
        a->h = take(c, (size_t)a->cap_B * H);
        a->dX = a->dY = a->dZ = a->scratch = NULL;
        a->scratch_floats = 0;
    }
    take_uniq(c, &a->uq_bond, E);
    take_uniq(c, &a->uq_ang, T);
}

/* Distinct values of an embedding input, when running on them saves work: at most half the
 * rows, and room in emb_tmp for their rows (n × (H + emb) for backward). Otherwise uq->n = 0. */
static void plan_uniq(const ih_model *m, ih_acts *a, uniq_rows *uq, const float *v, int M) {
    uq->n = 0;
    uq->rows = M;
    if (!m->embed_dedup || M < 2) return;
    int n = uniq_build(uq, v, M);
    if (2 * (size_t)n > (size_t)M || (size_t)n * (size_t)(a->H + a->emb) > a->emb_tmp_floats) uq->n = 0;
}

ih_acts *ih_acts_create(const ih_model *m, int max_structs, int max_atoms, int max_edges,
                        int max_triplets, int for_training) {
    return trunk_acts_create(m, m->cfg.alignn_layers, m->cfg.gcn_layers, 0, max_structs, max_atoms,
                             max_edges, max_triplets, for_training);
}

ih_acts *trunk_acts_create(const ih_model *m, int n_alignn, int n_gcn, int eggc0, int max_structs,
                           int max_atoms, int max_edges, int max_triplets, int for_training) {
    if (n_alignn < 0 || n_gcn < 0 || eggc0 < 0 || eggc0 + 2 * n_alignn + n_gcn > m->n_eggc_all) {
        ih_set_error("model: no such layer range (%d ALIGNN + %d GCN layers from EGGC %d)", n_alignn,
                     n_gcn, eggc0);
        return NULL;
    }
    if (max_structs < 1 || max_atoms < 1 || max_edges < 0 || max_triplets < 0) {
        ih_set_error("model: invalid arena sizes (%d structures, %d atoms, %d edges, %d triplets)",
                     max_structs, max_atoms, max_edges, max_triplets);
        return NULL;
    }
    ih_acts *a = calloc(1, sizeof *a);
    if (!a) goto oom;
    a->H = m->H;
    a->emb = m->cfg.embed;
    a->training = for_training ? 1 : 0;
    a->cap_B = max_structs;
    a->cap_N = max_atoms;
    a->cap_E = max_edges;
    a->cap_T = max_triplets;
    a->L = n_alignn;
    a->G = n_gcn;
    a->eggc0 = eggc0;
    int L = a->L, G = a->G;
    a->X = calloc((size_t)(L + G + 1), sizeof(float *));
    a->Yl = calloc((size_t)(L + 1), sizeof(float *));
    a->Yt = calloc((size_t)L + 1, sizeof(float *));
    a->Yg = calloc((size_t)G + 1, sizeof(float *));
    a->Z = calloc((size_t)L + 1, sizeof(float *));
    a->eg = calloc((size_t)(2 * L + G) + 1, sizeof(eggc_acts));
    if (!a->X || !a->Yl || !a->Yt || !a->Yg || !a->Z || !a->eg) goto oom;
    carver c = {NULL, 0};
    layout(a, &c, m->ws.nt);
    a->n_floats = c.used;
    a->arena = ops_alloc(sizeof(float) * (c.used + 16));
    if (!a->arena) goto oom;
    c.base = a->arena;
    c.used = 0;
    layout(a, &c, m->ws.nt);
    return a;
oom:
    ih_acts_free(a);
    ih_set_error("model: out of memory for activations (%d atoms, %d edges, %d triplets)",
                 max_atoms, max_edges, max_triplets);
    return NULL;
}

void ih_acts_free(ih_acts *a) {
    if (!a) return;
    free(a->arena);
    free(a->X);
    free(a->Yl);
    free(a->Yt);
    free(a->Yg);
    free(a->Z);
    free(a->eg);
    free(a);
}

size_t ih_acts_bytes(const ih_acts *a) { return a ? a->n_floats * sizeof(float) : 0; }

void ih_graph_max_sizes(const ih_graph *const *gs, int n, int *atoms, int *edges, int *triplets) {
    int na = 0, ne = 0, nt = 0;
    for (int i = 0; i < n; i++) {
        if (gs[i]->n_atoms > na) na = gs[i]->n_atoms;
        if (gs[i]->n_edges > ne) ne = gs[i]->n_edges;
        if (gs[i]->n_triplets > nt) nt = gs[i]->n_triplets;
    }
    if (atoms) *atoms = na;
    if (edges) *edges = ne;
    if (triplets) *triplets = nt;
}

/* ---------------------------------------------------------------------------------------- */
/* graph checks: cheap (one pass over the index arrays), so a malformed graph is an error
 * rather than an out-of-bounds access */

static int check_ptr(const int *ptr, int n, int total, const char *what) {
    if (!ptr) return ih_set_error("model: graph has no %s", what);
    if (ptr[0] != 0 || ptr[n] != total)
        return ih_set_error("model: graph %s does not span 0..%d", what, total);
    for (int i = 0; i < n; i++)
        if (ptr[i + 1] < ptr[i]) return ih_set_error("model: graph %s is not monotone", what);
    return 0;
}

static int check_idx(const int *v, int n, int lim, const char *what) {
    if (!v && n > 0) return ih_set_error("model: graph has no %s", what);
    int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static) if (n > 200000)
    for (int i = 0; i < n; i++) bad |= v[i] < 0 || v[i] >= lim;
    return bad ? ih_set_error("model: graph %s holds an index outside 0..%d", what, lim - 1) : 0;
}

static int check_graph(const ih_acts *a, const ih_graph *g) {
    if (!g) return ih_set_error("model: no graph");
    int B = g->n_structs, N = g->n_atoms, E = g->n_edges, T = g->n_triplets;
    if (B < 1 || N < 1 || E < 0 || T < 0)
        return ih_set_error("model: empty graph (%d structures, %d atoms)", B, N);
    if (B > a->cap_B || N > a->cap_N || E > a->cap_E || T > a->cap_T)
        return ih_set_error("model: graph (%d structures, %d atoms, %d edges, %d triplets) exceeds "
                            "the reserved %d/%d/%d/%d",
                            B, N, E, T, a->cap_B, a->cap_N, a->cap_E, a->cap_T);
    if (check_ptr(g->struct_atom_ptr, B, N, "structure atom ranges")) return -1;
    for (int b = 0; b < B; b++)
        if (g->struct_atom_ptr[b + 1] == g->struct_atom_ptr[b])
            return ih_set_error("model: structure %d of the batch has no atoms", b);
    if (!g->atom_z || !g->edge_len || (T > 0 && !g->trip_cos))
        return ih_set_error("model: graph lacks atom, bond-length or angle data");
    if (check_ptr(g->dst_ptr, N, E, "destination index") ||
        check_ptr(g->src_ptr, N, E, "source index") ||
        check_ptr(g->trip_ptr, E, T, "triplet index") ||
        check_ptr(g->tsrc_ptr, E, T, "triplet source index") ||
        check_idx(g->edge_src, E, N, "edge sources") ||
        check_idx(g->edge_dst, E, N, "edge destinations") ||
        check_idx(g->edges_by_src, E, E, "edge source grouping") ||
        check_idx(g->trip_src, T, E, "triplet sources") ||
        check_idx(g->trip_dst, T, E, "triplet destinations") ||
        check_idx(g->trips_by_src, T, T, "triplet source grouping"))
        return -1;
    return 0;
}

static mp_graph crystal_view(const ih_graph *g) {
    mp_graph v = {g->n_atoms, g->n_edges, g->edge_src, g->edge_dst, g->dst_ptr, g->src_ptr,
                  g->edges_by_src};
    return v;
}

static mp_graph line_view(const ih_graph *g) {
    mp_graph v = {g->n_edges, g->n_triplets, g->trip_src, g->trip_dst, g->trip_ptr, g->tsrc_ptr,
                  g->trips_by_src};
    return v;
}

/* ---------------------------------------------------------------------------------------- */
/* embeddings: out = SiLU(BN(Linear(in))) with u the pre-BN values (u may alias out when
 * nothing is kept for backward) */

static int mlp_forward(ih_model *m, const mlp_layer *l, const float *in, int M, float *u,
                       float *st, float *out, int training) {
    const float *P = m->params;
    float *B = m->buffers;
    linear_forward(u, in, P + l->w, P + l->b, M, l->in, l->out);
    if (bn_stats(st, u, M, l->out, training, B + l->rm, B + l->rv, &m->ws)) return -1;
    bn_apply(out, NULL, u, st, P + l->g, P + l->beta, M, l->out, 1);
    return 0;
}

/* dout (M × out) is overwritten by d u; din (M × in) is written when not NULL */
static void mlp_backward(ih_model *m, const mlp_layer *l, const float *in, int M, const float *u,
                         const float *st, float *dout, float *din, int training) {
    const float *P = m->params;
    float *Gr = m->grads;
    bn_backward(dout, Gr + l->g, Gr + l->beta, dout, u, st, P + l->g, P + l->beta, M, l->out,
                training, 1, &m->ws);
    gemm_dw(Gr + l->w, dout, in, M, l->out, l->in, &m->ws);
    colsum_acc(Gr + l->b, dout, M, l->out, &m->ws);
    if (din) gemm_xw(din, dout, P + l->w, M, l->out, l->in, 0.0f);
}

/* ---------------------------------------------------------------------------------------- */

static int trunk_forward(ih_model *m, ih_acts *a, const ih_graph *g, int training, float *h) {
    if (!a) return ih_set_error("model: no activation arena");
    if (a->H != m->H || a->eggc0 + 2 * a->L + a->G > m->n_eggc_all ||
        (a->eggc0 == 0 && (a->L != m->cfg.alignn_layers || a->G != m->cfg.gcn_layers)))
        return ih_set_error("model: activation arena belongs to a different model shape");
    if (training && !a->training)
        return ih_set_error("model: an inference arena cannot run in training mode");
    a->ready = 0;
    if (check_graph(a, g)) return -1;
    int N = g->n_atoms, E = g->n_edges, T = g->n_triplets, B = g->n_structs, H = m->H;
    int L = a->L, G = a->G;
    const float *P = m->params;
    float *Bf = m->buffers;
    training = training ? 1 : 0;

    double t0 = ih_now(), t1;
    for (int i = 0; i < N; i++)
        if (ih_atom_features(g->atom_z[i], a->feat + (size_t)i * IH_N_ATOM_FEATURES))
            return ih_set_error("model: atom %d has atomic number %d (not 1..103)", i,
                                g->atom_z[i]);
    if (mlp_forward(m, &m->atom, a->feat, N, a->atom_u, a->st_atom, a->X[0], training)) return -1;
    plan_uniq(m, a, &a->uq_bond, g->edge_len, E);
    if (embed_forward(m, &m->rbf_bond, &m->bond1, &m->bond2, g->edge_len, E, &a->uq_bond, a->emb_tmp,
                      a->bond_u1, a->bond_u2, a->st_b1, a->st_b2, a->Yl[0], training))
        return -1;
    a->uq_ang.n = 0;
    a->uq_ang.rows = 0;
    if (L > 0) plan_uniq(m, a, &a->uq_ang, g->trip_cos, T);
    /* the angle embedding's distinct rows, gathered, are the first line-graph EGGC's edge
     * features: its edge_gate GEMMs can run on them (training arena: room for m and for those
     * rows, which the embedding then writes to ang_yu instead of the scratch) */
    if (L > 0) {
        eggc_uniq *ur = &a->ang_rows;
        a->eg[1].uy = NULL;
        if (a->training && a->uq_ang.n > 0) {
            ur->n = a->uq_ang.n;
            ur->idx = a->uq_ang.idx;
            ur->yu = a->ang_yu;
            ur->work = a->ang_work;
            ur->slices = a->ang_slices;
            a->eg[1].uy = ur;
        }
    }
    if (L > 0 && embed_forward(m, &m->rbf_angle, &m->ang1, &m->ang2, g->trip_cos, T, &a->uq_ang,
                               a->eg[1].uy ? a->ang_yu : a->emb_tmp, a->ang_u1, a->ang_u2, a->st_a1,
                               a->st_a2, a->Z[0], training))
        return -1;
    t1 = ih_now();
    m->prof[PROF_F_EMBED] += t1 - t0;
    mp_graph cg = crystal_view(g), lg = line_view(g);
    for (int l = 0; l < L; l++) {
        int i = 2 * l, q = a->eggc0 + i;
        t0 = ih_now();
        if (eggc_forward(P + m->eggc_p[q], Bf + m->eggc_b[q], H, &cg, a->X[l], a->Yl[l],
                         a->X[l + 1], a->Yt[l], &a->eg[i], training, &m->ws))
            return -1;
        t1 = ih_now();
        m->prof[PROF_F_CRYSTAL] += t1 - t0;
        if (eggc_forward(P + m->eggc_p[q + 1], Bf + m->eggc_b[q + 1], H, &lg, a->Yt[l], a->Z[l],
                         a->Yl[l + 1], l + 1 < L ? a->Z[l + 1] : NULL, &a->eg[i + 1], training,
                         &m->ws))
            return -1;
        m->prof[PROF_F_LINE] += ih_now() - t1;
    }
    t0 = ih_now();
    for (int k = 0; k < G; k++) {
        int i = 2 * L + k, q = a->eggc0 + i;
        if (eggc_forward(P + m->eggc_p[q], Bf + m->eggc_b[q], H, &cg, a->X[L + k], a->Yg[k],
                         a->X[L + k + 1], k + 1 < G ? a->Yg[k + 1] : NULL, &a->eg[i], training,
                         &m->ws))
            return -1;
    }
    t1 = ih_now();
    m->prof[PROF_F_CRYSTAL] += t1 - t0;
    pool_forward(a->h, a->X[L + G], g->struct_atom_ptr, B, H);
    if (h) memcpy(h, a->h, sizeof(float) * (size_t)B * H);
    a->ready = a->training ? 1 + training : 0; /* remembers the mode for backward */
    m->prof[PROF_F_OTHER] += ih_now() - t1;
    return 0;
}

/* dh: gradient of the pooled vectors; NULL: the node gradients are already in a->dX */
static int trunk_backward(ih_model *m, ih_acts *a, const ih_graph *g, const float *dh) {
    if (!a || !a->training) return ih_set_error("model: backward needs a training arena");
    if (!a->ready) return ih_set_error("model: backward without a forward pass");
    if (check_graph(a, g)) return -1;
    int training = a->ready - 1;
    int N = g->n_atoms, E = g->n_edges, T = g->n_triplets, B = g->n_structs, H = m->H;
    int L = a->L, G = a->G;
    const float *P = m->params;
    float *Gr = m->grads;
    mp_graph cg = crystal_view(g), lg = line_view(g);

    double t0 = ih_now(), t1;
    if (dh) {
        memset(a->dX, 0, sizeof(float) * (size_t)N * H);
        pool_backward(a->dX, dh, g->struct_atom_ptr, B, H);
    }
    int dy_zero = 1;
    t1 = ih_now();
    m->prof[PROF_B_OTHER] += t1 - t0;
    for (int k = G - 1; k >= 0; k--) {
        int i = 2 * L + k, q = a->eggc0 + i;
        if (eggc_backward(P + m->eggc_p[q], Gr + m->eggc_p[q], H, &cg, a->X[L + k], a->Yg[k],
                          &a->eg[i], training, a->dX, a->dY, dy_zero, a->scratch, &m->ws))
            return -1;
        dy_zero = 0;
    }
    if (dy_zero && L > 0) {
        memset(a->dY, 0, sizeof(float) * (size_t)E * H);
        dy_zero = 0;
    }
    t0 = ih_now();
    m->prof[PROF_B_CRYSTAL] += t0 - t1;
    for (int l = L - 1; l >= 0; l--) {
        int i = 2 * l, q = a->eggc0 + i;
        t0 = ih_now();
        if (eggc_backward(P + m->eggc_p[q + 1], Gr + m->eggc_p[q + 1], H, &lg, a->Yt[l], a->Z[l],
                          &a->eg[i + 1], training, a->dY, a->dZ, l == L - 1, a->scratch, &m->ws))
            return -1;
        t1 = ih_now();
        m->prof[PROF_B_LINE] += t1 - t0;
        if (eggc_backward(P + m->eggc_p[q], Gr + m->eggc_p[q], H, &cg, a->X[l], a->Yl[l],
                          &a->eg[i], training, a->dX, a->dY, 0, a->scratch, &m->ws))
            return -1;
        m->prof[PROF_B_CRYSTAL] += ih_now() - t1;
    }
    t0 = ih_now();
    if (L > 0)
        embed_backward(m, &m->rbf_angle, &m->ang1, &m->ang2, g->trip_cos, T, &a->uq_ang, a->emb_tmp,
                       a->ang_u1, a->ang_u2, a->st_a1, a->st_a2, a->dZ,
                       a->eg[1].uy ? a->ang_work + (size_t)a->ang_rows.n * H : NULL, a->scratch,
                       training);
    if (!dy_zero)
        embed_backward(m, &m->rbf_bond, &m->bond1, &m->bond2, g->edge_len, E, &a->uq_bond, a->emb_tmp,
                       a->bond_u1, a->bond_u2, a->st_b1, a->st_b2, a->dY, NULL, a->scratch, training);
    mlp_backward(m, &m->atom, a->feat, N, a->atom_u, a->st_atom, a->dX, NULL, training);
    m->prof[PROF_B_EMBED] += ih_now() - t0;
    return 0;
}

int ih_trunk_forward(ih_model *m, ih_acts *a, const ih_graph *g, int training, float *h) {
    return trunk_forward(m, a, g, training, h);
}

int ih_trunk_backward(ih_model *m, ih_acts *a, const ih_graph *g, const float *dh) {
    if (!dh) return ih_set_error("model: trunk backward without a gradient");
    return trunk_backward(m, a, g, dh);
}

int trunk_backward_nodes(ih_model *m, ih_acts *a, const ih_graph *g) {
    return trunk_backward(m, a, g, NULL);
}
