/* Structural invariants of an ih_graph (CSR tables, groupings, line graph), shared by the graph
 * tests. Returns the number of violated invariants and prints the first few. */
#ifndef IH_GRAPH_CHECK_H
#define IH_GRAPH_CHECK_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ionhop_nn.h"

#define GC_FAIL(...)                                                                          \
    do {                                                                                      \
        if (bad++ < 5) {                                                                      \
            fprintf(stderr, "graph invariant: ");                                             \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fprintf(stderr, "\n");                                                            \
        }                                                                                     \
    } while (0)

static inline int graph_invariants(const ih_graph *g) {
    int bad = 0, N = g->n_atoms, E = g->n_edges, T = g->n_triplets, S = g->n_structs;
    if (g->struct_atom_ptr[0] != 0 || g->struct_atom_ptr[S] != N) GC_FAIL("struct_atom_ptr ends");
    if (g->struct_edge_ptr[0] != 0 || g->struct_edge_ptr[S] != E) GC_FAIL("struct_edge_ptr ends");
    if (g->struct_trip_ptr[0] != 0 || g->struct_trip_ptr[S] != T) GC_FAIL("struct_trip_ptr ends");
    for (int s = 0; s < S; s++) {
        int a0 = g->struct_atom_ptr[s], a1 = g->struct_atom_ptr[s + 1];
        for (int e = g->struct_edge_ptr[s]; e < g->struct_edge_ptr[s + 1]; e++)
            if (g->edge_src[e] < a0 || g->edge_src[e] >= a1 || g->edge_dst[e] < a0 || g->edge_dst[e] >= a1)
                GC_FAIL("edge %d leaves structure %d", e, s);
        for (int t = g->struct_trip_ptr[s]; t < g->struct_trip_ptr[s + 1]; t++)
            if (g->trip_dst[t] < g->struct_edge_ptr[s] || g->trip_dst[t] >= g->struct_edge_ptr[s + 1])
                GC_FAIL("triplet %d leaves structure %d", t, s);
    }
    if (g->dst_ptr[0] != 0 || g->dst_ptr[N] != E || g->src_ptr[0] != 0 || g->src_ptr[N] != E)
        GC_FAIL("dst_ptr/src_ptr ends");
    int *seen = calloc((size_t)(E > T ? E : T) + 1, sizeof *seen);
    for (int a = 0; a < N; a++) {
        for (int e = g->dst_ptr[a]; e < g->dst_ptr[a + 1]; e++)
            if (g->edge_dst[e] != a) GC_FAIL("edge %d not into atom %d", e, a);
        for (int p = g->src_ptr[a]; p < g->src_ptr[a + 1]; p++) {
            int e = g->edges_by_src[p];
            if (e < 0 || e >= E || g->edge_src[e] != a) GC_FAIL("edges_by_src[%d] not from atom %d", p, a);
            else seen[e]++;
            if (p > g->src_ptr[a] && e <= g->edges_by_src[p - 1]) GC_FAIL("edges_by_src unsorted");
        }
        /* symmetric multigraph: in-degree = out-degree */
        if (g->dst_ptr[a + 1] - g->dst_ptr[a] != g->src_ptr[a + 1] - g->src_ptr[a])
            GC_FAIL("atom %d: in-degree != out-degree", a);
    }
    for (int e = 0; e < E; e++) {
        if (seen[e] != 1) GC_FAIL("edge %d listed %d times by source", e, seen[e]);
        const float *v = g->edge_vec + 3 * e;
        float l = sqrtf((v[0] * v[0] + v[1] * v[1]) + v[2] * v[2]);
        if (l != g->edge_len[e]) GC_FAIL("edge %d length %g vs |r| %g", e, g->edge_len[e], l);
        if (!(l > 0.15f)) GC_FAIL("edge %d shorter than 0.15 Å", e);
    }
    /* line graph: triplets into e2 are all in-edges of src(e2) except e2 itself */
    if (g->trip_ptr[0] != 0 || g->trip_ptr[E] != T || g->tsrc_ptr[0] != 0 || g->tsrc_ptr[E] != T)
        GC_FAIL("trip_ptr/tsrc_ptr ends");
    for (int t = 0; t < T; t++) seen[t] = 0;
    for (int e2 = 0; e2 < E && T > 0; e2++) {
        int b = g->edge_src[e2];
        int want = g->dst_ptr[b + 1] - g->dst_ptr[b] - (g->edge_dst[e2] == b);
        if (g->trip_ptr[e2 + 1] - g->trip_ptr[e2] != want) GC_FAIL("edge %d: %d triplets, want %d", e2,
                                                                   g->trip_ptr[e2 + 1] - g->trip_ptr[e2], want);
        for (int t = g->trip_ptr[e2]; t < g->trip_ptr[e2 + 1]; t++) {
            int e1 = g->trip_src[t];
            if (g->trip_dst[t] != e2 || e1 == e2 || g->edge_dst[e1] != b) GC_FAIL("triplet %d malformed", t);
            const float *r1 = g->edge_vec + 3 * e1, *r2 = g->edge_vec + 3 * e2;
            double c = -((double)r1[0] * r2[0] + (double)r1[1] * r2[1] + (double)r1[2] * r2[2]) /
                       ((double)g->edge_len[e1] * g->edge_len[e2]);
            if (c > 1) c = 1;
            if (c < -1) c = -1;
            if (fabs(c - g->trip_cos[t]) > 2e-6) GC_FAIL("triplet %d cos %g vs %g", t, g->trip_cos[t], c);
        }
    }
    for (int e1 = 0; e1 < E && T > 0; e1++)
        for (int p = g->tsrc_ptr[e1]; p < g->tsrc_ptr[e1 + 1]; p++) {
            int t = g->trips_by_src[p];
            if (t < 0 || t >= T || g->trip_src[t] != e1) GC_FAIL("trips_by_src[%d] not from edge %d", p, e1);
            else seen[t]++;
            if (p > g->tsrc_ptr[e1] && t <= g->trips_by_src[p - 1]) GC_FAIL("trips_by_src unsorted");
        }
    for (int t = 0; t < T; t++)
        if (seen[t] != 1) GC_FAIL("triplet %d listed %d times by e1", t, seen[t]);
    free(seen);
    return bad;
}
#endif
