/* ionhop network internals: crystal graphs (neighbour search, line graphs, batching, the graph
 * cache) and the ALIGNN network (configuration, parameters, activation arenas, the trunk and
 * head, and one forward/backward/reserve API for every migration-path arch). For code that builds
 * graphs or runs the network directly: training, benchmarks, tests. */
#ifndef IONHOP_NN_H
#define IONHOP_NN_H
#include "ionhop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* graphs (neighbors.c, graph.c)                                                            */
/* ---------------------------------------------------------------------------------------- */

typedef struct ih_graph_opts {
    double cutoff;  /* starting cutoff, Å (8) */
    int k;          /* neighbours per atom, ties at the k-th kept (12) */
    int canonical;  /* 0: non-canonical keys (paper's models), 1: canonical (docs/method.md §2.4) */
    int line_graph; /* build the line graph and angle cosines (1) */
    int n_apart;    /* the first n_apart sites do not bond to each other (only to the other atoms
                       and to their own periodic images): 5 keeps a path's images from taking
                       each other's neighbour slots (ih_config.path_apart); 0, the published method's rule.
                       The graph builders refuse a structure that is not a 5-image path then */
    int path_chain; /* with n_apart: consecutive apart sites (0-1, 1-2, …) bonded to each other at
                       their nearest periodic image, so the images keep the step between them */
    double tie_tol; /* Å: neighbours within tie_tol of the k-th distance count as ties and are all
                       kept. 0 (the published method's exact comparison) lets rounding split a degenerate k-th
                       shell, so a rotated copy of a symmetric cell can get another graph */
    int path_desc;  /* 1: store the path descriptors (ih_path_descriptors, scaled) with the graph;
                       the structure must be a 5-image path then */
} ih_graph_opts;

void ih_graph_opts_default(ih_graph_opts *o);

/* One periodic neighbour (j, image) of centre i, selected by the k-NN-with-ties rule. */
typedef struct ih_neighbor {
    int i, j;
    int image[3];
    double dist;
} ih_neighbor;

/* Spec §2.1-2.3 with a cell list. On success *out is malloc'ed (n_out entries, grouped by centre
 * i ascending) and *final_cutoff holds the cutoff after retries. n_apart: sites i ≠ j both below
 * it are never neighbours (ih_graph_opts.n_apart; 0 for the published method's rule). tie_tol: every
 * neighbour with d ≤ d_k + tie_tol is kept (ih_graph_opts.tie_tol; 0 for the published method's rule). */
int ih_neighbors(const ih_structure *s, double cutoff, int k, int n_apart, double tie_tol,
                 ih_neighbor **out, int *n_out, double *final_cutoff);

/* A crystal graph with its line graph, possibly the disjoint union of several structures.
 * Edges are sorted by destination atom (CSR dst_ptr); triplets (line-graph edges e1 -> e2,
 * e1 = a->b, e2 = b->c) are sorted by e2 (CSR trip_ptr over edges). The *_by_src tables give
 * the same edges/triplets grouped by source, for scatter-free backward passes. */
typedef struct ih_graph {
    int n_structs, n_atoms, n_edges, n_triplets;
    int *struct_atom_ptr; /* n_structs + 1 */
    int *struct_edge_ptr; /* n_structs + 1 (edges of structure s are contiguous) */
    int *struct_trip_ptr; /* n_structs + 1 */
    int *atom_z;          /* n_atoms */
    int *edge_src, *edge_dst; /* n_edges */
    float *edge_vec;      /* n_edges × 3, from src to the image of dst, Å */
    float *edge_len;      /* n_edges */
    int *dst_ptr;         /* n_atoms + 1: edges into atom a are dst_ptr[a] .. dst_ptr[a+1]-1 */
    int *src_ptr;         /* n_atoms + 1 */
    int *edges_by_src;    /* n_edges: edge indices grouped by source atom */
    int *trip_src, *trip_dst; /* n_triplets: e1, e2 */
    float *trip_cos;      /* n_triplets: cos of the angle at the shared atom */
    int *trip_ptr;        /* n_edges + 1: triplets into edge e are trip_ptr[e] .. trip_ptr[e+1]-1 */
    int *tsrc_ptr;        /* n_edges + 1 */
    int *trips_by_src;    /* n_triplets: triplet indices grouped by e1 */
    double cutoff_used;   /* single structure: final cutoff after retries */
    float *path_desc;     /* n_structs × IH_PATH_DESC scaled path descriptors; NULL unless built
                             with ih_graph_opts.path_desc (a batch has them if all its parts do) */
} ih_graph;

/* Build the graph of one structure (o NULL: defaults). Errors name the structure by jid. On
 * failure *g is left empty (safe to ih_graph_free). Thread-safe. */
int ih_graph_build(const ih_structure *s, const ih_graph_opts *o, ih_graph *g);
/* Disjoint union of n graphs (node/edge/triplet offsets), docs/method.md §2.10. The parts may themselves
 * be batches; cutoff_used of the union is the largest of the parts. */
int ih_graph_batch(const ih_graph *const *gs, int n, ih_graph *out);
/* Graphs of n structures built in parallel over structures (OpenMP), then their disjoint union;
 * the usual way to make a training batch. ih_graph_build itself is thread-safe and uses threads
 * only for very large structures (thousands of atoms or millions of triplets). */
int ih_graph_build_batch(const ih_structure *const *s, int n, const ih_graph_opts *o, ih_graph *out);
void ih_graph_free(ih_graph *g);
/* Move atom a of g by disp[3a..3a+2] (Å) keeping the topology: every edge vector gains
 * disp[dst] − disp[src] and its length is recomputed. Only before the line graph is added
 * (n_triplets 0), whose angles are then those of the displaced atoms. The graph of the displaced
 * structure, as long as the displacements change no neighbour's rank. */
int ih_graph_displace(ih_graph *g, const float *disp);
/* Build the line graph of a graph made without one (e.g. a batch of cached edge-only graphs). */
int ih_graph_add_line_graph(ih_graph *g);
/* Line-graph size of a graph, whether or not its line graph was built. */
int64_t ih_graph_count_triplets(const ih_graph *g);

/* Sizes of the graph of s without building it (one neighbour search, no line graph):
 * T = Σ_v in(v)·out(v) − self-loop edges; 0 if o->line_graph is 0. Any output may be NULL. */
int ih_graph_count(const ih_structure *s, const ih_graph_opts *o, int *n_atoms, int *n_edges,
                   int64_t *n_triplets);

/* MODEL-4 local sub-graph of a 5-image structure (docs/method.md §2.9): the k-NN selection with o's cutoff
 * and k (ih_graph_opts_local: 3 Å, k = 6, non-canonical), keeping only keys with an image site
 * (index < n_images) at either end; nodes are the endpoints in ascending site order. If sites is
 * not NULL it receives a malloc'ed array: the original site index of each node. */
void ih_graph_opts_local(ih_graph_opts *o);
int ih_graph_build_local(const ih_structure *s, const ih_graph_opts *o, int n_images, ih_graph *g,
                         int **sites);

/* Binary graph cache: append g to f (edge list only; the line graph is rebuilt on reading).
 * ih_graph_read reads the next graph: 0 on success, 1 at a clean end of file, -1 on a
 * truncated, corrupt or foreign file (message names `name`). */
int ih_graph_write(FILE *f, const ih_graph *g);
int ih_graph_read(FILE *f, const char *name, ih_graph *g);

typedef struct ih_graph_stats {
    int n_atoms, n_edges, n_triplets, n_self_loops;
    double len_min, len_mean, len_max, cos_mean;
    int indeg_min, indeg_max;
    double len_sum, cos_sum; /* Σ‖r‖ over edges (double from the float32 vectors), Σ cos θ */
} ih_graph_stats;
void ih_graph_stats_compute(const ih_graph *g, ih_graph_stats *st);


/* ---------------------------------------------------------------------------------------- */
/* model (ops.c, eggc.c, model.c): the ALIGNN network of docs/method.md §4                            */
/* ---------------------------------------------------------------------------------------- */

/* Migration-path representations (docs/method.md §7): how one or two graphs of a hop pass the shared
 * trunk before the head. G1/G2 are the graphs of ih_arch_input. */
typedef enum ih_arch {
    IH_ARCH_MODEL3 = 0, /* one graph, mean pooling: MODEL-3, pre-training, plain ALIGNN */
    IH_ARCH_ADD,        /* MODEL-1-ADD: h(G1) + h(G2) (Siamese trunk; initial, final structure) */
    IH_ARCH_SUB,        /* MODEL-1-SUB: h(G1) − h(G2) */
    IH_ARCH_CC,         /* MODEL-1-CC: fc([h(G1) ‖ h(G2)]), fc = Linear(2H→H), no activation */
    IH_ARCH_DELTA,      /* MODEL-2: fc([h(G1) ‖ d(G1) − d(G2)]), d = embeddings + a new ALIGNN
                           layer (alignn_layers_1) + a new EGGC (gcn_layers_1), mean-pooled */
    IH_ARCH_ATTN,       /* MODEL-4: fc([p(G1) ‖ p(G2)]), p = attention pooling ("attention",
                           "attention1") of the trunk's node features; G1 5-image, G2 local */
    IH_ARCH_PATH,       /* MODEL-3-PATH (ours): fc([mean of all atoms ‖ mean of the 5 path
                           images]) on the 5-image structure's trunk: the barrier is local, and
                           the mean over all atoms dilutes the path in a large cell */
    IH_ARCH_SADDLE,     /* MODEL-3-SADDLE (ours): fc([mean of all atoms ‖ mean of the 5 path
                           images ‖ x(image 2) − (x(image 0) + x(image 4))/2]), Linear(3H→H):
                           the midpoint image's environment against the end points' */
    IH_N_ARCH
} ih_arch;
/* What the graphs of a record are. */
typedef enum ih_input_kind {
    IH_INPUT_SINGLE = 0, /* G1 = the record's structure; no G2 */
    IH_INPUT_ENDPOINTS,  /* G1 = initial, G2 = final structure, from a 5-image record (§1.4) */
    IH_INPUT_LOCAL       /* G1 = the 5-image structure, G2 = its local sub-graph (§2.9) */
} ih_input_kind;
/* How the five path images of a 5-image structure bond (ih_config.path_apart). */
typedef enum ih_path_bonds {
    IH_PATH_BONDS_ALL = 0,   /* the published graph: an image's nearest neighbours are its sibling images */
    IH_PATH_BONDS_APART = 1, /* the images do not bond to each other: their neighbours are host atoms */
    IH_PATH_BONDS_CHAIN = 2  /* apart, plus a bond between consecutive images */
} ih_path_bonds;
/* "model3", "model1-add", "model1-sub", "model1-cc", "model2", "model4", "model3-path",
 * "model3-saddle"; NULL if out of range. */
const char *ih_arch_name(ih_arch arch);
/* IH_ARCH_* of a name above, -1 if unknown. */
int ih_arch_parse(const char *name);
/* IH_INPUT_* the arch takes. */
ih_input_kind ih_arch_input(ih_arch arch);
/* ih_config.path_apart as a name ("all", "apart", "chain") and back (-1 if unknown). */
const char *ih_path_bonds_name(ih_path_bonds path_apart);
int ih_path_bonds_parse(const char *name);

typedef struct ih_config {
    int hidden;        /* H, 256 */
    int alignn_layers; /* 4 */
    int gcn_layers;    /* 4 */
    int embed;         /* 64: width of the bond/angle embedding's first MLP */
    int head_width;    /* 128 */
    int head_hidden;   /* head (b)/(c) of §4.7: 1 or 2 hidden Linears (2); 0 = head (a),
                          a plain Linear(H -> n_outputs) named "fc" */
    int n_outputs;     /* heads: 1 for Em, 7 for MPT (masking is the loss's business) */
    int neighbors;     /* graph k (12), stored with the model */
    double cutoff;     /* graph cutoff, Å (8) */
    int canonical;     /* graph edge keys: 0 = non-canonical (paper), 1 = canonical */
    ih_arch arch;      /* IH_ARCH_* (0: MODEL-3). With head_hidden 0 and a fusion "fc", the
                          head's Linear(H→P) is named "fc_final" (SCRATCH-CC of §7.6) */
    ih_path_bonds path_apart; /* 5-image inputs only: 1 = the five path images do not bond to each other
                          (graph n_apart 5), so each image's k neighbours are host atoms; 2 = the
                          same plus a bond between consecutive images (path_chain); 0 = the published method's
                          graph, where an image's nearest neighbours are its sibling images */
    double tie_tol;    /* graph ih_graph_opts.tie_tol, Å (0: the published method's exact comparison) */
    int path_desc;     /* MODEL-3-PATH / MODEL-3-SADDLE only: 1 = the IH_PATH_DESC path descriptors
                          of each structure join the pooled vectors that "fc" fuses */
} ih_config;

/* ALIGNN_ft of §4: H 256, 4 + 4 layers, head (c) with 2 hidden Linears, 1 output. */
void ih_config_default(ih_config *c);
/* 0 if the sizes are usable, else -1 with the reason. */
int ih_config_check(const ih_config *c);

/* One named tensor of the parameter (or buffer) block. Names are PyTorch state-dict names
 * (docs/method.md §4.9), e.g. "alignn_layers.0.node_update.src_gate.weight". */
typedef struct ih_tensor_info {
    char name[96];
    size_t offset; /* in floats from the start of the block */
    size_t numel;
    int ndim;      /* 1 or 2 */
    int shape[2];  /* PyTorch shape; a Linear weight is (out, in), row-major */
    int decay;     /* AdamW weight decay applies: name holds none of "bias", "bn", "norm" (§5.3) */
} ih_tensor_info;

typedef struct ih_model ih_model;

/* PyTorch default initialisation from the seed: every Linear W, b ~ U(±1/sqrt(in)); BatchNorm
 * gamma 1, beta 0, running mean 0, variance 1. Same seed, same weights. NULL on bad config.
 * The model splits its GEMMs over OpenMP threads itself and sets OpenBLAS to one thread
 * (process-wide). One model serves one call at a time (shared workspace); results depend only
 * on the inputs and the OpenMP thread count. */
ih_model *ih_model_create(const ih_config *c, uint64_t seed);
void ih_model_free(ih_model *m);
const ih_config *ih_model_config(const ih_model *m);
/* Spec §10.6 weights: W[o][i] = cos(0.3o + 0.7i)/sqrt(in), b[o] = 0.01 sin(o), BatchNorm identity. */
void ih_model_set_deterministic(ih_model *m);

/* Parameters and their gradients, one contiguous block each (same layout); BatchNorm running
 * statistics in a third block. The tensor tables describe the layout. */
size_t ih_model_n_params(const ih_model *m);
float *ih_model_params(ih_model *m);
float *ih_model_grads(ih_model *m);
void ih_model_zero_grad(ih_model *m);
int ih_model_n_tensors(const ih_model *m);
const ih_tensor_info *ih_model_tensor(const ih_model *m, int i);
size_t ih_model_n_buffers(const ih_model *m);
float *ih_model_buffers(ih_model *m);
int ih_model_n_buffer_tensors(const ih_model *m);
const ih_tensor_info *ih_model_buffer_tensor(const ih_model *m, int i);
/* Index of the parameter tensor (or buffer tensor) with this name, -1 if none. */
int ih_model_find_tensor(const ih_model *m, const char *name);
int ih_model_find_buffer(const ih_model *m, const char *name);

/* Activation memory for one trunk pass over graphs of at most these sizes (a batch is their
 * disjoint union). Everything is allocated here; forward and backward allocate nothing.
 * for_training 0 gives the small inference arena (evaluation mode only, no backward). */
typedef struct ih_acts ih_acts;
ih_acts *ih_acts_create(const ih_model *m, int max_structs, int max_atoms, int max_edges,
                        int max_triplets, int for_training);
void ih_acts_free(ih_acts *a);
size_t ih_acts_bytes(const ih_acts *a);
/* Largest sizes of a set of graphs, for ih_acts_create / ih_model_reserve. */
void ih_graph_max_sizes(const ih_graph *const *gs, int n, int *atoms, int *edges, int *triplets);

/* Trunk: embeddings, ALIGNN and GCN layers, mean pooling -> h (n_structs × H). training 1 uses
 * batch statistics and updates the BatchNorm running statistics (once per call, so a Siamese
 * model updates them twice); 0 uses the running statistics. */
int ih_trunk_forward(ih_model *m, ih_acts *a, const ih_graph *g, int training, float *h);
/* Backward of the last ih_trunk_forward on `a` (training arena): ACCUMULATES into the grads. */
int ih_trunk_backward(ih_model *m, ih_acts *a, const ih_graph *g, const float *dh);
/* Head (§4.7): h (n × H) -> out (n × n_outputs). Stateless: backward recomputes from h,
 * accumulates the head's parameter gradients and writes dh (n × H; may be NULL). n must not
 * exceed the max_structs of ih_model_reserve. */
int ih_head_forward(ih_model *m, const float *h, int n, float *out);
int ih_head_backward(ih_model *m, const float *h, int n, const float *dout, float *dh);

/* Head scratch (and the pooled-vector buffers) for up to max_structs rows. */
int ih_model_reserve_head(ih_model *m, int max_structs);

/* The vector that entered the head in the last ih_model_forward (n_structs × H): the pooled
 * trunk output, or the fused vector of a two-graph or path arch. */
const float *ih_model_pooled(const ih_model *m);
/* Rows the bond and angle embeddings ran on in the last forward of ih_model_forward: the
 * distinct bond lengths and angle cosines (the embeddings are functions of the value alone),
 * or all edges/triplets when that saves nothing. */
void ih_model_embedding_rows(const ih_model *m, int *bond_rows, int *angle_rows);

/* The network, for every arch (docs/method.md §7): g1 and g2
 * are the batched graphs of ih_arch_input, structure b of g2 belonging to structure b of g1;
 * g2 is NULL for IH_ARCH_MODEL3. Each trunk call has its own arena and its own BatchNorm batch
 * statistics, and updates the running statistics (twice per step for a Siamese trunk, as in
 * the reference). ih_model_reserve sizes every arena (sizes 2 are ignored for MODEL-3). */
int ih_model_reserve(ih_model *m, int max_structs, int atoms1, int edges1, int triplets1,
                      int atoms2, int edges2, int triplets2);
/* The same with evaluation-only arenas (a fraction of the memory; forward with training 0 only). */
int ih_model_reserve_eval(ih_model *m, int max_structs, int atoms1, int edges1, int triplets1,
                           int atoms2, int edges2, int triplets2);
int ih_model_forward(ih_model *m, const ih_graph *g1, const ih_graph *g2, int training, float *out);
int ih_model_backward(ih_model *m, const ih_graph *g1, const ih_graph *g2, const float *dout);
/* MODEL-4's attention dropout draws its masks from a generator seeded from the model seed at
 * creation; reseeding it per step makes the masks a function of (seed, step), so a resumed run
 * repeats an uninterrupted one. */
void ih_model_set_dropout_seed(ih_model *m, uint64_t seed);
/* BatchNorm running-statistics updates as data (data-parallel training, docs/mpi.md). While a log
 * is attached, every training-mode forward appends, for each update of a BatchNorm layer's running
 * statistics and in the order applied, the statistics it used: doubles [mean offset, variance
 * offset, C, batch mean ×C, unbiased batch variance ×C], offsets into the buffer block
 * (ih_model_buffers). The training-mode forward never reads the running statistics, so forwards
 * of one step may run on several processes; replaying their logs there in the order of a
 * one-process run gives that run's buffers bit for bit. */
typedef struct ih_bn_log {
    double *v;
    size_t n, cap;
} ih_bn_log;
void ih_model_set_bn_log(ih_model *m, ih_bn_log *log); /* NULL detaches */
/* Apply logged updates (n doubles, whole entries) to m's buffers in order; -1 if malformed. */
int ih_model_bn_replay(ih_model *m, const double *v, size_t n);
void ih_bn_log_free(ih_bn_log *log);
/* Bytes of the built-in training arena (0 before ih_model_reserve). */
size_t ih_model_arena_bytes(const ih_model *m);

#ifdef __cplusplus
}
#endif
#endif
