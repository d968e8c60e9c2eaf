/* ionhop: migration barriers of mobile ions in crystals with an ALIGNN graph network.
 *
 * The one public header of libionhop. Conventions:
 *  - functions returning int give 0 on success and -1 on failure; the reason is then in
 *    ih_last_error() (one line, naming the file and the problem where there is a file);
 *  - lattice rows are lattice vectors (Å), positions are fractional unless stated otherwise;
 *  - geometry is double precision, network tensors are float32, row-major.
 */
#ifndef IONHOP_H
#define IONHOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IH_VERSION "0.1.0"

/* ---------------------------------------------------------------------------------------- */
/* errors                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Last error message of the calling thread ("" if none). */
const char *ih_last_error(void);
/* Set the calling thread's error message (printf-style); always returns -1. */
int ih_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------------------------------------- */
/* elements (elements.c)                                                                    */
/* ---------------------------------------------------------------------------------------- */

#define IH_N_ATOM_FEATURES 92

/* Atomic number of an element symbol (case-sensitive, "Li"), 0 if unknown. Z 1..103. */
int ih_element_z(const char *symbol);
/* Symbol of atomic number z (1..103), NULL otherwise. */
const char *ih_element_symbol(int z);
/* Fill out[92] with the CGCNN one-hot vector of z (spec §3, Appendix A); Z >= 101 uses Z = 100.
 * Returns -1 for z outside 1..103. */
int ih_atom_features(int z, float *out);

/* ---------------------------------------------------------------------------------------- */
/* crystal structures (structure.c, io_*.c)                                                 */
/* ---------------------------------------------------------------------------------------- */

typedef struct ih_structure {
    int n_atoms;
    double lattice[3][3]; /* row i = lattice vector i, Å */
    double *frac;         /* n_atoms × 3 fractional coordinates (not wrapped) */
    double *cart;         /* n_atoms × 3 Cartesian Å if given as Cartesian input, else NULL */
    int *z;               /* n_atoms atomic numbers */
    /* record metadata (JSON records); jid is "" and has_target 0 for plain structure files */
    char jid[64];
    int has_target;
    double target;
    char sys_name[128];
    char klass[64]; /* the record's "class" */
} ih_structure;

/* A list of structures, e.g. a whole JSON record file. */
typedef struct ih_structure_set {
    int n;
    ih_structure *items;
} ih_structure_set;

/* Allocate arrays for n atoms (zeroed metadata). */
int ih_structure_init(ih_structure *s, int n_atoms);
void ih_structure_free(ih_structure *s);
void ih_structure_set_free(ih_structure_set *set);
int ih_structure_copy(ih_structure *dst, const ih_structure *src);
/* Sanity checks every reader applies: finite numbers, non-degenerate cell (volume > 1e-6 Å^3 and
 * not absurdly skewed), known elements, and no two atoms closer than min_separation Å (periodic);
 * the first n_virtual sites (interpolated path images of a 5-image record) are exempt from the
 * overlap check. `what` names the source in the message. Structure files use
 * IH_MIN_SEPARATION; the curated JSON records tolerate near-duplicates down to
 * IH_MIN_SEPARATION_RECORDS (the shared data holds host sites 0.014 Å apart). */
#define IH_MIN_SEPARATION 0.1
#define IH_MIN_SEPARATION_RECORDS 1e-3
int ih_structure_validate(const ih_structure *s, const char *what, double min_separation,
                          int n_virtual);
/* 1 if sites 0-4 are one element on a straight, evenly spaced line (the 5-image layout). */
int ih_structure_is_5image(const ih_structure *s);
/* Cartesian position of atom i (x = f·L, the lattice as stored). */
/* Cartesian position (Å) of fractional coordinates f in the lattice whose rows are L. */
void ih_frac_to_cart(const double L[3][3], const double f[3], double x[3]);
void ih_structure_cart(const ih_structure *s, int i, double out[3]);
double ih_structure_volume(const ih_structure *s);
/* Distance between neighbouring lattice planes of each family (planes spanned by the other two
 * lattice vectors), Å: a point r Å away is at most r / spacing[k] translations away along k. */
void ih_lattice_plane_spacings(const double L[3][3], double spacing[3]);
/* Inverse of a 3×3 matrix (rows = lattice vectors); -1 if singular or not finite. det may be NULL. */
int ih_mat3_inverse(const double L[3][3], double inv[3][3], double *det);
/* frac = cart · L⁻¹ for a structure read in Cartesian coordinates; errors name `name`. */
int ih_frac_from_cart(ih_structure *s, const char *name);

typedef enum {
    IH_FMT_UNKNOWN = 0,
    IH_FMT_JSON,   /* list of records (or one record / one atoms object) of ../shared/data */
    IH_FMT_POSCAR, /* VASP 5 POSCAR / CONTCAR */
    IH_FMT_CIF,
    IH_FMT_XYZ     /* extended XYZ with Lattice= */
} ih_format;

/* Guess the format from the name (and, failing that, the first bytes of the file). */
ih_format ih_guess_format(const char *path);
/* Read every structure of a file (a JSON record file gives many, the other formats one). */
int ih_read_structures(const char *path, ih_format fmt, ih_structure_set *out);
/* Read exactly one structure (error if the file holds none or several). */
int ih_read_structure(const char *path, ih_format fmt, ih_structure *out);

int ih_read_json(const char *path, ih_structure_set *out);
int ih_read_poscar(const char *path, ih_structure *out);
int ih_read_cif(const char *path, ih_structure *out);
int ih_read_xyz(const char *path, ih_structure *out);
/* The same from memory; `name` is used in error messages. */
int ih_parse_json(const char *text, const char *name, ih_structure_set *out);
int ih_parse_poscar(const char *text, const char *name, ih_structure *out);
int ih_parse_cif(const char *text, const char *name, ih_structure *out);
int ih_parse_xyz(const char *text, const char *name, ih_structure *out);

/* Writers (atomic: temporary file + rename). */
int ih_write_poscar(const char *path, const ih_structure *s);
int ih_write_cif(const char *path, const ih_structure *s);
int ih_write_xyz(const char *path, const ih_structure *s);
int ih_write_json(const char *path, const ih_structure *items, int n);

/* ---------------------------------------------------------------------------------------- */
/* migration paths (path.c)                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* The 5-image structure of spec §1.3: the ion (0-based index in `ini`) at five evenly spaced
 * points from its initial position to final_frac (moved by a lattice vector so every component of
 * the fractional step lies in [-0.5, 0.5]), followed by the other sites of `ini` in order. */
int ih_path_5image(const ih_structure *ini, int ion, const double final_frac[3], ih_structure *out);
/* The one ion that moves between two NEB end points (same atoms, same lattice), minimum-image
 * aware: *ion is its index in ini, final_frac (may be NULL) its position in fin. Atoms listed in a
 * different order in the two files are matched by position (closest same-element pairs first).
 * Ambiguous or inconsistent end points are an error naming both files. */
int ih_path_find_ion(const ih_structure *ini, const ih_structure *fin, const char *ini_name,
                     const char *fin_name, int *ion, double final_frac[3], double *hop_length);
/* Initial (site 0 + host) and final (site 4 + host) structures of a 5-image structure (§1.4). */
int ih_path_endpoints(const ih_structure *five, ih_structure *ini, ih_structure *fin);
/* How close the straight path of a 5-image structure (the segment from image 0 to image 4) comes
 * to any other site, over all periodic images, in Å; *site (may be NULL) gets that site's index
 * in `five` (5 or more). The model sees the path only at five points: a path that passes through
 * or near a host atom is outside what it learnt well (see docs/results.md). */
double ih_path_closest_approach(const ih_structure *five, int *site);
/* Geometric descriptors of the straight path of a 5-image structure, fed to the network with
 * ih_config.path_desc: [0] hop length, [1] the bottleneck (nearest host site to any of 17 points
 * along the path), [2] / [3] / [4] the nearest host site to the initial site / final site /
 * midpoint, [5] / [6] host sites (periodic images counted) within 3 Å of the midpoint / the initial
 * site, [7] cell volume per host site (Å, Å^3). raw (may be NULL) gets them as such, scaled (may be
 * NULL) centred and scaled by fixed constants to O(1). -1 if `five` is not a 5-image structure. */
#define IH_PATH_DESC 8
int ih_path_descriptors(const ih_structure *five, double raw[IH_PATH_DESC], float scaled[IH_PATH_DESC]);

/* Vacancy hops of one element between its own sites (hops.c): from a site to the nearest image of
 * another site of the element (which becomes the vacancy), up to max_length Å, grouped into classes
 * of hops that a symmetry operation of the structure (spglib, tolerance symprec Å) maps onto each
 * other, direction included. One representative per class, shortest first; multiplicity = the
 * number of hops of its class in the cell. */
typedef struct ih_hop {
    int from, to;       /* 0-based sites of the structure */
    double step[3];     /* fractional displacement from `from` to the image of `to` it reaches */
    double length;      /* Å */
    int multiplicity;
} ih_hop;
typedef struct ih_hops_info {
    int n_sites;               /* sites of the element */
    int n_hops;                /* hops up to max_length, all classes */
    int n_too_long;            /* hops up to max_length that need a larger cell (a step over half a cell) */
    int spacegroup;            /* 0 if spglib found none (then every hop is its own class) */
    char spacegroup_symbol[16];
} ih_hops_info;
int ih_hops_enumerate(const ih_structure *s, int z, double max_length, double symprec, ih_hop **hops,
                      int *n_hops, ih_hops_info *info);
/* The initial structure of a hop (its destination site removed), the moving ion's index in it and
 * its fractional destination, for ih_path_5image. */
int ih_hop_initial(const ih_structure *s, const ih_hop *h, ih_structure *ini, int *ion, double to[3]);

/* ---------------------------------------------------------------------------------------- */
/* graphs (neighbors.c, graph.c)                                                            */
/* ---------------------------------------------------------------------------------------- */

typedef struct ih_graph_opts {
    double cutoff;  /* starting cutoff, Å (8) */
    int k;          /* neighbours per atom, ties at the k-th kept (12) */
    int canonical;  /* 0: non-canonical keys (paper's models), 1: canonical (spec §2.4) */
    int line_graph; /* build the line graph and angle cosines (1) */
    int n_apart;    /* the first n_apart sites do not bond to each other (only to the other atoms
                       and to their own periodic images): 5 keeps a path's images from taking
                       each other's neighbour slots (ih_config.path_apart); 0, the spec's rule.
                       The graph builders refuse a structure that is not a 5-image path then */
    int path_chain; /* with n_apart: consecutive apart sites (0-1, 1-2, …) bonded to each other at
                       their nearest periodic image, so the images keep the step between them */
    double tie_tol; /* Å: neighbours within tie_tol of the k-th distance count as ties and are all
                       kept. 0 (the spec's exact comparison) lets rounding split a degenerate k-th
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
 * it are never neighbours (ih_graph_opts.n_apart; 0 for the spec's rule). tie_tol: every
 * neighbour with d ≤ d_k + tie_tol is kept (ih_graph_opts.tie_tol; 0 for the spec's rule). */
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
/* Disjoint union of n graphs (node/edge/triplet offsets), spec §2.10. The parts may themselves
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

/* MODEL-4 local sub-graph of a 5-image structure (spec §2.9): the k-NN selection with o's cutoff
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
/* model (ops.c, eggc.c, model.c): the ALIGNN network of spec §4                            */
/* ---------------------------------------------------------------------------------------- */

/* Migration-path representations (spec §7): how one or two graphs of a hop pass the shared
 * trunk before the head. G1/G2 are the graphs of ih_arch_input. */
enum {
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
};
/* What the graphs of a record are. */
enum {
    IH_INPUT_SINGLE = 0, /* G1 = the record's structure; no G2 */
    IH_INPUT_ENDPOINTS,  /* G1 = initial, G2 = final structure, from a 5-image record (§1.4) */
    IH_INPUT_LOCAL       /* G1 = the 5-image structure, G2 = its local sub-graph (§2.9) */
};
/* "model3", "model1-add", "model1-sub", "model1-cc", "model2", "model4", "model3-path",
 * "model3-saddle"; NULL if out of range. */
const char *ih_arch_name(int arch);
/* IH_ARCH_* of a name above, -1 if unknown. */
int ih_arch_parse(const char *name);
/* IH_INPUT_* the arch takes. */
int ih_arch_input(int arch);
/* ih_config.path_apart as a name ("all", "apart", "chain") and back (-1 if unknown). */
const char *ih_path_bonds_name(int path_apart);
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
    int arch;          /* IH_ARCH_* (0: MODEL-3). With head_hidden 0 and a fusion "fc", the
                          head's Linear(H→P) is named "fc_final" (SCRATCH-CC of §7.6) */
    int path_apart;    /* 5-image inputs only: 1 = the five path images do not bond to each other
                          (graph n_apart 5), so each image's k neighbours are host atoms; 2 = the
                          same plus a bond between consecutive images (path_chain); 0 = the spec's
                          graph, where an image's nearest neighbours are its sibling images */
    double tie_tol;    /* graph ih_graph_opts.tie_tol, Å (0: the spec's exact comparison) */
    int path_desc;     /* MODEL-3-PATH / MODEL-3-SADDLE only: 1 = the IH_PATH_DESC path descriptors
                          of each structure join the pooled vectors that "fc" fuses */
} ih_config;

/* ALIGNN_ft of §4: H 256, 4 + 4 layers, head (c) with 2 hidden Linears, 1 output. */
void ih_config_default(ih_config *c);
/* 0 if the sizes are usable, else -1 with the reason. */
int ih_config_check(const ih_config *c);

/* One named tensor of the parameter (or buffer) block. Names are PyTorch state-dict names
 * (spec §4.9), e.g. "alignn_layers.0.node_update.src_gate.weight". */
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

/* Convenience for the single-graph models: one built-in training arena and head scratch. */
int ih_model_reserve(ih_model *m, int max_structs, int max_atoms, int max_edges, int max_triplets);
/* out: n_structs × n_outputs. */
int ih_model_forward(ih_model *m, const ih_graph *g, int training, float *out);
int ih_model_backward(ih_model *m, const ih_graph *g, const float *dout); /* ACCUMULATES */
/* Pooled trunk output of the last ih_model_forward (n_structs × H); after ih_model_forward2
 * the fused vector that entered the head. */
const float *ih_model_pooled(const ih_model *m);
/* Rows the bond and angle embeddings ran on in the last forward of ih_model_forward: the
 * distinct bond lengths and angle cosines (the embeddings are functions of the value alone),
 * or all edges/triplets when that saves nothing. */
void ih_model_embedding_rows(const ih_model *m, int *bond_rows, int *angle_rows);

/* Two-graph models (spec §7; any arch, MODEL-3 included, so callers need one path): g1 and g2
 * are the batched graphs of ih_arch_input, structure b of g2 belonging to structure b of g1;
 * g2 is NULL for IH_ARCH_MODEL3. Each trunk call has its own arena and its own BatchNorm batch
 * statistics, and updates the running statistics (twice per step for a Siamese trunk, as in
 * the reference). ih_model_reserve2 sizes every arena (sizes 2 are ignored for MODEL-3). */
int ih_model_reserve2(ih_model *m, int max_structs, int atoms1, int edges1, int triplets1,
                      int atoms2, int edges2, int triplets2);
/* The same with evaluation-only arenas (a fraction of the memory; forward with training 0 only). */
int ih_model_reserve2_eval(ih_model *m, int max_structs, int atoms1, int edges1, int triplets1,
                           int atoms2, int edges2, int triplets2);
int ih_model_forward2(ih_model *m, const ih_graph *g1, const ih_graph *g2, int training, float *out);
int ih_model_backward2(ih_model *m, const ih_graph *g1, const ih_graph *g2, const float *dout);
/* MODEL-4's attention dropout draws its masks from a generator seeded from the model seed at
 * creation; reseeding it per step makes the masks a function of (seed, step), so a resumed run
 * repeats an uninterrupted one. */
void ih_model_set_dropout_seed(ih_model *m, uint64_t seed);
/* Bytes of the built-in training arena (0 before ih_model_reserve). */
size_t ih_model_arena_bytes(const ih_model *m);

/* ---------------------------------------------------------------------------------------- */
/* datasets (dataset.c)                                                                     */
/* ---------------------------------------------------------------------------------------- */

/* Records of one or more files held as crystal graphs without line graphs (those are built per
 * micro-batch). File t supplies task t: targets and mask are n × n_tasks. */
typedef struct ih_dataset {
    int n, n_tasks;
    ih_graph *graphs;
    float *targets, *mask;
    char (*jid)[64];
    char (*group)[128];     /* host: sys_name without its trailing _N path suffix (else jid) */
    long *n_triplets;       /* line-graph size of each graph, for micro-batch planning */
    unsigned char *five_image; /* record is a 5-image path structure (spec §1.3) */
    ih_structure *structures; /* only if loaded with keep_structures */
    int from_cache;         /* files whose graphs came from the cache */
    int input;              /* IH_INPUT_*: what graphs (and graphs2) are */
    ih_graph *graphs2;      /* G2 of each record (NULL for IH_INPUT_SINGLE) */
    long *n_triplets2;
} ih_dataset;

/* cache_dir (or NULL): where graphs are cached per data file, keyed by the file's content and
 * the graph settings, so a second load skips the neighbour searches. */
int ih_dataset_load(ih_dataset *d, const char *const *paths, int n_paths, const ih_graph_opts *go,
                    int keep_structures, const char *cache_dir);
/* The same for the inputs of an arch (IH_INPUT_*, ih_arch_input): IH_INPUT_ENDPOINTS makes
 * graphs the initial-structure and graphs2 the final-structure graphs of each 5-image record
 * (ih_path_endpoints), IH_INPUT_LOCAL keeps the 5-image graph and adds its local sub-graph
 * (ih_graph_build_local with ih_graph_opts_local); both need 5-image records. */
int ih_dataset_load_input(ih_dataset *d, const char *const *paths, int n_paths,
                          const ih_graph_opts *go, int input, int keep_structures,
                          const char *cache_dir);
/* A one-task dataset of records first .. first+n-1 of a structure set already read (for the
 * inputs of an arch, no cache): to predict a large file a chunk at a time. `what` names the
 * records in errors ("what: record K (jid J): …", K counted in the whole set). */
int ih_dataset_from_structures(ih_dataset *d, const ih_structure_set *set, int first, int n,
                               const ih_graph_opts *go, int input, const char *what);
void ih_dataset_free(ih_dataset *d);
/* Keep one task's target column (n_tasks becomes 1); records stay, those without a label for
 * the task keep a zero mask. For single-task runs split exactly like a multi-task run. */
int ih_dataset_keep_task(ih_dataset *d, int task);
/* "LiFePO4_2" -> "LiFePO4" (sister pathways of one host share a cross-validation group). */
void ih_host_group(const char *sys_name, const char *fallback, char *out, size_t cap);
/* Every record its own group, so that splits and folds are by record (the published reference's
 * random split, where sister pathways of one host may sit on both sides). */
void ih_dataset_group_by_record(ih_dataset *d);

/* ---------------------------------------------------------------------------------------- */
/* model files (modelio.c)                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* Save parameters and BatchNorm buffers as safetensors with metadata {"format": "ionhop-model",
 * "ionhop": <extra_json plus "config">} (atomic). extra_json: a JSON object or NULL. */
int ih_model_save(const char *path, ih_model *m, const char *extra_json);
/* Rebuild a model from a file; *meta_json (if given) receives the "ionhop" metadata document
 * (free it). A truncated, corrupt, foreign or mismatched file is a one-line error. An ensemble
 * file gives its first member. */
ih_model *ih_model_load(const char *path, char **meta_json);
/* Ensembles: n models in one file (tensors "member.K.<name>"; metadata "ensemble": n). Members
 * may differ in arch and size (a mixed ensemble: metadata "member_configs" lists each member's
 * configuration) but must read the same graphs: k, cutoff, edges, tie tolerance, path bonds,
 * outputs and input kind equal, else saving (and loading) fails. Loading returns a malloc'ed
 * array of *n_members models. */
int ih_ensemble_save(const char *path, ih_model *const *ms, int n_members, const char *extra_json);
ih_model **ih_ensemble_load(const char *path, int *n_members, char **meta_json);
/* Copy the tensors (parameters and buffers) of src whose names start with one of the prefixes
 * (all if n_prefixes is 0) and whose shapes match into dst; returns how many were copied. */
int ih_model_copy_matching(ih_model *dst, ih_model *src, const char *const *prefixes, int n_prefixes);

/* ---------------------------------------------------------------------------------------- */
/* training (train.c)                                                                       */
/* ---------------------------------------------------------------------------------------- */

#define IH_MAX_TASKS 16
enum { IH_LOSS_L1 = 0, IH_LOSS_MSE = 1 };

/* Min-max target scaling to [-1, 1] (spec §5.8): y' = 2(u(y) - u(lo))/(u(hi) - u(lo)) - 1 with
 * u(y) = y (log_offset 0, the spec's) or u(y) = log(y + log_offset) (log_offset > 0: barriers
 * spread over two decades, and a linear scale squeezes the bulk of them into a tenth of [-1, 1]).
 * lo and hi stay in the target's own units either way. */
typedef struct ih_task_scaling {
    char name[32];
    double lo, hi;
    double log_offset;
} ih_task_scaling;
double ih_scale(const ih_task_scaling *s, double y);
double ih_unscale(const ih_task_scaling *s, double y_scaled);
/* Min–max scaling (spec §5.8) of a one-task dataset's labelled records idx[0..n) (idx NULL: all
 * d->n records): s->lo/hi = their smallest/largest target. Returns how many were labelled. */
int ih_scaling_fit(const ih_dataset *d, const int *idx, int n, ih_task_scaling *s);

typedef struct ih_train_opts {
    int epochs, batch;
    double max_lr, weight_decay;
    int loss;              /* IH_LOSS_L1 or IH_LOSS_MSE */
    uint64_t seed;         /* shuffling */
    long micro_triplets;   /* line-graph budget of one micro-batch (memory bound) */
    const char *out;       /* best-validation model (every epoch if there is no validation set) */
    const char *checkpoint; /* base path of the resume checkpoint (.model, .state), or NULL */
    int resume;
    int stop_after;        /* > 0: return after this many epochs in total (interruption tests) */
    double jitter;         /* Å: each training micro-batch's atoms displaced by independent
                            * N(0, jitter²) per coordinate, graph topology kept (0: none); a
                            * function of (seed, step, micro-batch), so resumable */
    double trunk_lr_scale; /* learning-rate factor of the trunk's parameters (1; below 1: the
                            * pre-trained features move less than the new head) */
    int quiet;
    /* writes the model file `path` with the caller's metadata; val_mae per task or NULL */
    int (*save_model)(void *ctx, ih_model *m, const char *path, long epoch, const double *val_mae);
    void *save_ctx;
} ih_train_opts;

typedef struct ih_train_result {
    int epochs, best_epoch;
    double seconds;
    double best_val_mae[IH_MAX_TASKS];
} ih_train_result;

void ih_train_opts_default(ih_train_opts *o);
/* Train m (n_outputs = d->n_tasks) on the records train_idx, selecting on val_idx. */
int ih_train(ih_model *m, const ih_dataset *d, const int *train_idx, int n_train,
             const int *val_idx, int n_val, const ih_task_scaling *sc, const ih_train_opts *o,
             ih_train_result *res);
/* Size the model's activation arena for micro-batches of this dataset. */
int ih_dataset_reserve(ih_model *m, const ih_dataset *d, int max_structs, long budget_t);
/* The same for prediction only (evaluation-only arenas; ih_predict_dataset, not training). */
int ih_dataset_reserve_eval(ih_model *m, const ih_dataset *d, int max_structs, long budget_t);
/* Structures per forward pass when predicting: the arena grows with it while the speed does not
 * (100 records, 5-member ensemble: peak RSS 2.2 GB at 64, 0.73 GB at 8, same time; bench/README.md). */
#define IH_PREDICT_BATCH 8
/* Evaluation-mode outputs (scaled) of records idx into out (n × n_outputs). */
int ih_predict_dataset(ih_model *m, const ih_dataset *d, const int *idx, int n, int max_structs,
                       long budget_t, float *out);
/* Split records into training and validation parts by host group (sister paths stay together),
 * seeded; val_fraction 0 gives no validation part. Arrays are malloc'ed. */
int ih_split_groups(const ih_dataset *d, double val_fraction, uint64_t seed, int **train_idx,
                    int *n_train, int **val_idx, int *n_val);
/* Whole host groups of records idx, drawn in seeded random order until at least fraction · n_idx
 * records are kept (fraction in (0, 1]); kept (n_idx entries; may be idx itself) keeps idx's order. For one
 * seed the kept sets of smaller fractions are subsets of larger ones (learning curves). */
int ih_subsample_groups(const ih_dataset *d, const int *idx, int n_idx, double fraction, uint64_t seed, int *kept,
                        int *n_kept);
/* K folds by host group (sister paths never straddle folds), balanced by record count, seeded:
 * fold_of[i] in 0..k-1 for every record. */
int ih_group_folds(const ih_dataset *d, int k, uint64_t seed, int *fold_of);

/* ---------------------------------------------------------------------------------------- */
/* utilities                                                                                */
/* ---------------------------------------------------------------------------------------- */

/* Read a whole file into a NUL-terminated malloc'ed buffer; error names the file. */
char *ih_read_file(const char *path, size_t *len);
/* Write a buffer atomically (path.tmp.PID then rename). */
int ih_write_file_atomic(const char *path, const void *data, size_t len);
/* FNV-1a of len bytes continuing from h (start with IH_FNV1A_START): cache and progress keys. */
#define IH_FNV1A_START 0xcbf29ce484222325ULL
uint64_t ih_fnv1a(uint64_t h, const void *data, size_t len);
double ih_now(void); /* monotonic seconds */
long ih_peak_rss_kb(void);

/* Deterministic RNG (xoshiro256**), seeded by splitmix64. */
typedef struct ih_rng {
    uint64_t s[4];
} ih_rng;
void ih_rng_seed(ih_rng *r, uint64_t seed);
uint64_t ih_rng_next(ih_rng *r);
double ih_rng_uniform(ih_rng *r); /* [0, 1) */
double ih_rng_normal(ih_rng *r);  /* standard normal (Box-Muller, one draw per call) */
void ih_rng_shuffle(ih_rng *r, int *a, int n);

/* ---------------------------------------------------------------------------------------- */
/* optimiser (optim.c)                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* A run of parameters inside the flat parameter block; `decay` selects the weight-decay group
 * (spec §5.3: 0 for biases and normalisation weights). */
typedef struct ih_param_range {
    size_t offset, count;
    int decay;
    double lr_scale; /* this range's learning rate = lr × lr_scale (decay too): 1 normally */
} ih_param_range;

/* The decay group of a parameter from its PyTorch-style name (spec §5.3): 0 if the name
 * contains "bias", "bn" or "norm", else 1 (so BatchNorm weights inside the embedding MLPs,
 * "…layer.1.weight", are decayed, as in the reference). */
int ih_param_decays(const char *name);
/* 1 if a parameter belongs to the trunk (embeddings, ALIGNN and GCN layers: what a pre-trained
 * model hands to fine-tuning), 0 for heads and the archs' own modules. */
int ih_param_is_trunk(const char *name);
extern const char *const ih_trunk_prefixes[5];

/* AdamW (PyTorch semantics, spec §5.3) over a flat float block of n parameters. */
typedef struct ih_adamw {
    size_t n;
    float *m, *v;        /* first and second moments, n each */
    long step;           /* updates done so far */
    double weight_decay; /* for ranges with decay = 1 */
    double beta2, eps;   /* 0.999, 1e-8 */
} ih_adamw;

/* Zeroed moments for n parameters, step 0, β2 0.999, ε 1e-8. */
int ih_adamw_init(ih_adamw *o, size_t n, double weight_decay);
void ih_adamw_free(ih_adamw *o);
/* One update: θ ← θ(1 − lr·wd) (decay ranges only), then the Adam moments and the bias-corrected
 * step with β1ᵗ from the given (current) β1. Ranges must be ascending, disjoint and inside the
 * block; parameters outside every range (e.g. buffers stored in the block) are left alone.
 * Returns -1 (nothing updated) if the ranges are invalid. */
int ih_adamw_step(ih_adamw *o, float *params, const float *grads, const ih_param_range *ranges,
                  int n_ranges, double lr, double beta1);

/* One-cycle schedule (PyTorch OneCycleLR with cosine annealing, two phases, β1 cycling; §5.4). */
typedef struct ih_onecycle {
    long total_steps; /* S */
    double max_lr, pct_start, div_factor, final_div_factor;
    double base_momentum, max_momentum; /* β1 range: 0.85 .. 0.95 */
} ih_onecycle;

/* PyTorch's defaults with pct_start 0.3: div 25, final_div 1e4, β1 0.85..0.95. */
void ih_onecycle_default(ih_onecycle *s, long total_steps, double max_lr);
/* lr and β1 for iteration t (t = 0 is the first update); t is clamped to [0, S − 1].
 * Returns -1 for a schedule with S < 1, pct_start outside (0, 1) or non-positive factors. */
int ih_onecycle_at(const ih_onecycle *s, long t, double *lr, double *beta1);

/* ---------------------------------------------------------------------------------------- */
/* losses and metrics (loss.c, metrics.c)                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Masked losses over B×P outputs (spec §5.2, §6): loss = (1/(B·P))·Σ m·ℓ(o, t), the masked-out
 * entries counting in the denominator. mask may be NULL (all ones). If grad is non-NULL it
 * receives scale·∂loss/∂o (B×P), e.g. scale = B_micro/B_total to accumulate micro-batches; the
 * returned loss is not scaled. L1 uses sign(o − t) with sign(0) = 0, as PyTorch. */
double ih_loss_l1(const float *out, const float *target, const float *mask, int B, int P,
                  double scale, float *grad);
double ih_loss_mse(const float *out, const float *target, const float *mask, int B, int P,
                   double scale, float *grad);
/* The logged "mae" of §5.2: Σ m·|o − t| / B (summed over the P properties, averaged over rows). */
double ih_mae_per_row(const float *out, const float *target, const float *mask, int B, int P);

typedef struct ih_regression_metrics {
    int n;
    double mae, rmse;
    double r2; /* scikit-learn: 1 − SS_res/SS_tot; constant truth gives 1 if SS_res = 0 else 0;
                  NaN for n = 1 */
} ih_regression_metrics;

/* Good conductor = value < threshold (strict), for truth and prediction; positive = good.
 * Ratios with a zero denominator are 0 (scikit-learn's zero_division default). */
typedef struct ih_class_metrics {
    int n, tp, fp, fn, tn;
    double accuracy, precision, recall, f1;
} ih_class_metrics;

#define IH_GOOD_CONDUCTOR_EV 0.65

/* -1 if n < 1 or a value is not finite. */
int ih_regression_metrics_compute(const double *truth, const double *pred, int n,
                                  ih_regression_metrics *out);
int ih_class_metrics_compute(const double *truth, const double *pred, int n, double threshold,
                             ih_class_metrics *out);

/* ---------------------------------------------------------------------------------------- */
/* model files: safetensors (modelfile.c, modelinfo.c)                                      */
/* ---------------------------------------------------------------------------------------- */
/* Layout: u64 little-endian header length N, N bytes of JSON header
 * {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string value", ...}} padded with spaces to a multiple of 8, then the
 * tensors' little-endian float32 data, back to back. Only F32 tensors are supported. */

#define IH_ST_MAX_DIM 8

/* A tensor to write (data not copied). ndim 0 is a scalar. */
typedef struct ih_st_tensor {
    const char *name;
    int ndim;
    int64_t shape[IH_ST_MAX_DIM];
    const float *data;
} ih_st_tensor;

/* One metadata entry; values are strings (a JSON document may be stored as a string). */
typedef struct ih_st_kv {
    const char *key, *value;
} ih_st_kv;

/* A tensor read from a file: owned name and data. */
typedef struct ih_st_entry {
    char *name;
    int ndim;
    int64_t shape[IH_ST_MAX_DIM];
    size_t count; /* product of the shape */
    float *data;  /* count floats (points into the file's one data block) */
} ih_st_entry;

typedef struct ih_st_file {
    int n;
    ih_st_entry *tensors; /* in file data order */
    int n_meta;
    ih_st_kv *meta;       /* owned strings, in header order */
    float *block;         /* all tensor data */
} ih_st_file;

/* Write atomically (temporary file, fsync, rename): a failed write never leaves a partial file
 * under `path`. Names must be unique, non-empty and not "__metadata__"; metadata keys unique. */
int ih_st_write(const char *path, const ih_st_tensor *tensors, int n, const ih_st_kv *meta,
                int n_meta);
/* Read and validate a whole file: header JSON, dtypes, shapes, offsets (in range, matching the
 * shape, contiguous and covering the data exactly). Errors name the file. */
int ih_st_read(const char *path, ih_st_file *f);
/* The same from memory; `name` is used in error messages. */
int ih_st_parse(const void *buf, size_t len, const char *name, ih_st_file *f);
void ih_st_free(ih_st_file *f);
/* Lookups: NULL if absent. */
const ih_st_entry *ih_st_find(const ih_st_file *f, const char *name);
const char *ih_st_meta_get(const ih_st_file *f, const char *key);
/* 1 for tensors that are state rather than trainable parameters: names ending in
 * "running_mean", "running_var" or "num_batches_tracked". */
int ih_st_is_buffer_name(const char *name);
/* Human-readable description of a model file (metadata, pretty-printed JSON, tensor and
 * parameter counts; with list_tensors every tensor's name and shape). */
int ih_st_describe(FILE *out, const char *path, int list_tensors);

/* Training state saved beside a model to resume a run (format "ionhop-optimizer-state"). */
typedef struct ih_train_state {
    long epoch;        /* epochs completed */
    long sched_step;   /* next iteration t of the schedule */
    ih_onecycle sched;
    ih_rng rng;
    double best_val;   /* best validation metric so far (INFINITY if none yet) */
    long best_epoch;   /* -1 if none yet */
} ih_train_state;

/* Save AdamW (m, v as tensors "adam.m", "adam.v"; step and hyper-parameters) and the training
 * state (metadata strings) atomically; extra_json (may be NULL) is stored under key "ionhop". */
int ih_adamw_save(const char *path, const ih_adamw *o, const ih_train_state *ts,
                  const char *extra_json);
/* Load into a fresh optimiser (o is initialised here; free with ih_adamw_free). If
 * expect_n > 0 the moments must have exactly that many entries. */
int ih_adamw_load(const char *path, ih_adamw *o, ih_train_state *ts, size_t expect_n);

#ifdef __cplusplus
}
#endif
#endif
