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
void ih_structure_cart(const ih_structure *s, int i, double out[3]);
double ih_structure_volume(const ih_structure *s);

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
/* The one ion that moves between two NEB end points (same atoms in the same order, same lattice),
 * minimum-image aware; ambiguous or inconsistent end points are an error naming both files. */
int ih_path_find_ion(const ih_structure *ini, const ih_structure *fin, const char *ini_name,
                     const char *fin_name, int *ion, double *hop_length);
/* Initial (site 0 + host) and final (site 4 + host) structures of a 5-image structure (§1.4). */
int ih_path_endpoints(const ih_structure *five, ih_structure *ini, ih_structure *fin);

/* ---------------------------------------------------------------------------------------- */
/* graphs (neighbors.c, graph.c)                                                            */
/* ---------------------------------------------------------------------------------------- */

typedef struct ih_graph_opts {
    double cutoff;  /* starting cutoff, Å (8) */
    int k;          /* neighbours per atom, ties at the k-th kept (12) */
    int canonical;  /* 0: non-canonical keys (paper's models), 1: canonical (spec §2.4) */
    int line_graph; /* build the line graph and angle cosines (1) */
} ih_graph_opts;

void ih_graph_opts_default(ih_graph_opts *o);

/* One periodic neighbour (j, image) of centre i, selected by the k-NN-with-ties rule. */
typedef struct ih_neighbor {
    int i, j;
    int image[3];
    double dist;
} ih_neighbor;

/* Spec §2.1-2.3 with a cell list. On success *out is malloc'ed (n_out entries, grouped by centre
 * i ascending) and *final_cutoff holds the cutoff after retries. */
int ih_neighbors(const ih_structure *s, double cutoff, int k, ih_neighbor **out, int *n_out,
                 double *final_cutoff);

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
/* utilities                                                                                */
/* ---------------------------------------------------------------------------------------- */

/* Read a whole file into a NUL-terminated malloc'ed buffer; error names the file. */
char *ih_read_file(const char *path, size_t *len);
/* Write a buffer atomically (path.tmp.PID then rename). */
int ih_write_file_atomic(const char *path, const void *data, size_t len);
double ih_now(void); /* monotonic seconds */
long ih_peak_rss_kb(void);

/* Deterministic RNG (xoshiro256**), seeded by splitmix64. */
typedef struct ih_rng {
    uint64_t s[4];
} ih_rng;
void ih_rng_seed(ih_rng *r, uint64_t seed);
uint64_t ih_rng_next(ih_rng *r);
double ih_rng_uniform(ih_rng *r); /* [0, 1) */
void ih_rng_shuffle(ih_rng *r, int *a, int n);

#ifdef __cplusplus
}
#endif
#endif
