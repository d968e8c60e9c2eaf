/* Shared between neighbors.c and graph.c: the numerical preamble of docs/method.md §2.1 (rounded lattice,
 * positions, lattice lengths), kept in one place so that the neighbour search and the edge vectors
 * see exactly the same numbers. Not part of the public API. */
#ifndef IH_GRAPH_INTERNAL_H
#define IH_GRAPH_INTERNAL_H
#include "ionhop_nn.h"
#include "core/util.h"

/* Work below these sizes runs on the calling thread. A parallel region costs microseconds when
 * cores are free but up to a scheduler time slice when the machine is oversubscribed (measured:
 * 128 Em structures built one after the other took 0.1 s on 1 thread, 0.4-1.3 s on 2 threads
 * of a busy 2-core machine with the old thresholds of ~100 atoms); many structures are better
 * built in parallel over structures (ih_graph_build_batch). */
#define IH_PAR_MIN_ATOMS 2048
#define IH_PAR_MIN_ITEMS 1000000 /* edges, triplets or copied elements */

typedef struct ih_geom {
    int n;
    double Lraw[3][3]; /* lattice as given: image offsets (§2.2) */
    double Lr[3][3];   /* rounded to 5 decimals: positions and edge vectors */
    double Lr_inv[3][3];
    double *x;         /* n × 3 Cartesian positions */
    double *f;         /* n × 3 fractional coordinates (x · Lr⁻¹ for Cartesian input) */
    double volume;     /* |det Lr|, Å³ */
    double amax;       /* largest |row of Lr|, rounded to 6 decimals: the retry rule's max(a,b,c) */
} ih_geom;

/* `what` names the structure in error messages. */
int ih_geom_init(ih_geom *g, const ih_structure *s, const char *what);
void ih_geom_free(ih_geom *g);

/* ih_neighbors on a prepared geometry; *retries receives the number of cutoff enlargements.
 * Sites i, j < n_apart (i ≠ j) are never neighbours (ih_graph_opts.n_apart; 0: the published method's rule);
 * neighbours within tie_tol of the k-th distance are ties (ih_graph_opts.tie_tol). */
int ih_neighbors_geom(const ih_geom *g, const char *what, double cutoff, int k, int n_apart, double tie_tol,
                      ih_neighbor **out, int *n_out, double *final_cutoff, int *retries);

/* Cartesian vector (f_t + n − f_s)·Lr of docs/method.md §2.5, rounded like the reference's BLAS product. */
void ih_geom_bond_vector(const ih_geom *g, int s, int t, const int n[3], double out[3]);

/* malloc of max(n, 1) elements, so empty arrays are still valid pointers. */
void *ih_graph_alloc(size_t n, size_t size);

/* Complete a graph whose struct_atom_ptr, struct_edge_ptr, atom_z, edge_src, edge_dst and
 * edge_vec are set, edges sorted by destination (dst_ptr is derived if NULL): lengths, source
 * grouping and, if line_graph, the triplets with their cosines and groupings. */
int ih_graph_finish(ih_graph *g, int line_graph, const char *what);
/* (Re)build the line graph of a finished graph, replacing any triplets it had. The line graph of
 * a disjoint union is the union of the line graphs, in the same order. */
int ih_graph_line(ih_graph *g, const char *what);

/* A name for messages: "jid 7" when the structure has one, else "structure". */
const char *ih_structure_name(const ih_structure *s, char *buf, size_t cap);
#endif
