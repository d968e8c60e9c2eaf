/* Disjoint union of graphs (docs/method.md §2.10), building a batch from structures, and summary
 * statistics. */
#include "graph/graph_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy n ints adding `add`. */
static void copy_offset(int *dst, const int *src, int n, int add) {
    for (int a = 0; a < n; a++) dst[a] = src[a] + add;
}

int ih_graph_batch(const ih_graph *const *gs, int n, ih_graph *out) {
    memset(out, 0, sizeof *out);
    if (n < 1) return ih_set_error("graph batch: no graphs");
    int64_t S = 0, N = 0, E = 0, T = 0;
    for (int b = 0; b < n; b++) {
        S += gs[b]->n_structs;
        N += gs[b]->n_atoms;
        E += gs[b]->n_edges;
        T += gs[b]->n_triplets;
    }
    if (S > INT_MAX - 1 || N > INT_MAX - 1 || E > INT_MAX - 1 || T > INT_MAX - 1)
        return ih_set_error("graph batch: more than 2^31 atoms, edges or triplets (%lld triplets)",
                            (long long)T);
    out->n_structs = (int)S, out->n_atoms = (int)N, out->n_edges = (int)E, out->n_triplets = (int)T;
    out->struct_atom_ptr = ih_graph_alloc((size_t)S + 1, sizeof(int));
    out->struct_edge_ptr = ih_graph_alloc((size_t)S + 1, sizeof(int));
    out->struct_trip_ptr = ih_graph_alloc((size_t)S + 1, sizeof(int));
    out->atom_z = ih_graph_alloc((size_t)N, sizeof(int));
    out->edge_src = ih_graph_alloc((size_t)E, sizeof(int));
    out->edge_dst = ih_graph_alloc((size_t)E, sizeof(int));
    out->edge_vec = ih_graph_alloc(3 * (size_t)E, sizeof(float));
    out->edge_len = ih_graph_alloc((size_t)E, sizeof(float));
    out->dst_ptr = ih_graph_alloc((size_t)N + 1, sizeof(int));
    out->src_ptr = ih_graph_alloc((size_t)N + 1, sizeof(int));
    out->edges_by_src = ih_graph_alloc((size_t)E, sizeof(int));
    out->trip_src = ih_graph_alloc((size_t)T, sizeof(int));
    out->trip_dst = ih_graph_alloc((size_t)T, sizeof(int));
    out->trip_cos = ih_graph_alloc((size_t)T, sizeof(float));
    out->trip_ptr = ih_graph_alloc((size_t)E + 1, sizeof(int));
    out->tsrc_ptr = ih_graph_alloc((size_t)E + 1, sizeof(int));
    out->trips_by_src = ih_graph_alloc((size_t)T, sizeof(int));
    if (!out->struct_atom_ptr || !out->struct_edge_ptr || !out->struct_trip_ptr || !out->atom_z ||
        !out->edge_src || !out->edge_dst || !out->edge_vec || !out->edge_len || !out->dst_ptr ||
        !out->src_ptr || !out->edges_by_src || !out->trip_src || !out->trip_dst || !out->trip_cos ||
        !out->trip_ptr || !out->tsrc_ptr || !out->trips_by_src) {
        ih_graph_free(out);
        return ih_set_error("graph batch: out of memory for %lld edges and %lld triplets",
                            (long long)E, (long long)T);
    }
    /* running offsets of each part; parts are independent, so copy them in parallel */
    int *off = malloc(4 * ((size_t)n + 1) * sizeof *off);
    if (!off) {
        ih_graph_free(out);
        return ih_set_error("graph batch: out of memory");
    }
    int *os = off, *on = off + (n + 1), *oe = off + 2 * (n + 1), *ot = off + 3 * (n + 1);
    os[0] = on[0] = oe[0] = ot[0] = 0;
    out->cutoff_used = 0;
    for (int b = 0; b < n; b++) {
        os[b + 1] = os[b] + gs[b]->n_structs;
        on[b + 1] = on[b] + gs[b]->n_atoms;
        oe[b + 1] = oe[b] + gs[b]->n_edges;
        ot[b + 1] = ot[b] + gs[b]->n_triplets;
        if (gs[b]->cutoff_used > out->cutoff_used) out->cutoff_used = gs[b]->cutoff_used;
    }
#pragma omp parallel for schedule(dynamic, 1) if (n > 1 && T + E >= IH_PAR_MIN_ITEMS)
    for (int b = 0; b < n; b++) {
        const ih_graph *g = gs[b];
        copy_offset(out->struct_atom_ptr + os[b], g->struct_atom_ptr, g->n_structs, on[b]);
        copy_offset(out->struct_edge_ptr + os[b], g->struct_edge_ptr, g->n_structs, oe[b]);
        copy_offset(out->struct_trip_ptr + os[b], g->struct_trip_ptr, g->n_structs, ot[b]);
        memcpy(out->atom_z + on[b], g->atom_z, (size_t)g->n_atoms * sizeof(int));
        copy_offset(out->edge_src + oe[b], g->edge_src, g->n_edges, on[b]);
        copy_offset(out->edge_dst + oe[b], g->edge_dst, g->n_edges, on[b]);
        memcpy(out->edge_vec + 3 * (size_t)oe[b], g->edge_vec, 3 * (size_t)g->n_edges * sizeof(float));
        memcpy(out->edge_len + oe[b], g->edge_len, (size_t)g->n_edges * sizeof(float));
        copy_offset(out->dst_ptr + on[b], g->dst_ptr, g->n_atoms, oe[b]);
        copy_offset(out->src_ptr + on[b], g->src_ptr, g->n_atoms, oe[b]);
        copy_offset(out->edges_by_src + oe[b], g->edges_by_src, g->n_edges, oe[b]);
        copy_offset(out->trip_src + ot[b], g->trip_src, g->n_triplets, oe[b]);
        copy_offset(out->trip_dst + ot[b], g->trip_dst, g->n_triplets, oe[b]);
        memcpy(out->trip_cos + ot[b], g->trip_cos, (size_t)g->n_triplets * sizeof(float));
        copy_offset(out->trip_ptr + oe[b], g->trip_ptr, g->n_edges, ot[b]);
        copy_offset(out->tsrc_ptr + oe[b], g->tsrc_ptr, g->n_edges, ot[b]);
        copy_offset(out->trips_by_src + ot[b], g->trips_by_src, g->n_triplets, ot[b]);
    }
    out->struct_atom_ptr[S] = (int)N;
    out->struct_edge_ptr[S] = (int)E;
    out->struct_trip_ptr[S] = (int)T;
    out->dst_ptr[N] = out->src_ptr[N] = (int)E;
    out->trip_ptr[E] = out->tsrc_ptr[E] = (int)T;
    int with_desc = 0;
    for (int b = 0; b < n; b++) with_desc += gs[b]->path_desc != NULL;
    if (with_desc == n) {
        out->path_desc = ih_graph_alloc((size_t)S * IH_PATH_DESC, sizeof(float));
        if (!out->path_desc) {
            free(off);
            ih_graph_free(out);
            return ih_set_error("graph batch: out of memory");
        }
        for (int b = 0; b < n; b++)
            memcpy(out->path_desc + (size_t)os[b] * IH_PATH_DESC, gs[b]->path_desc,
                   (size_t)gs[b]->n_structs * IH_PATH_DESC * sizeof(float));
    }
    free(off);
    return 0;
}

int ih_graph_displace(ih_graph *g, const float *disp) {
    if (g->n_triplets > 0) return ih_set_error("graph displace: the line graph is already built");
    for (int e = 0; e < g->n_edges; e++) {
        const float *ds = disp + 3 * (size_t)g->edge_src[e], *dd = disp + 3 * (size_t)g->edge_dst[e];
        float *v = g->edge_vec + 3 * (size_t)e;
        for (int c = 0; c < 3; c++) v[c] += dd[c] - ds[c];
        /* as the builder computes it: float32, ((x² + y²) + z²) */
        g->edge_len[e] = sqrtf((v[0] * v[0] + v[1] * v[1]) + v[2] * v[2]);
    }
    return 0;
}

int ih_graph_build_batch(const ih_structure *const *s, int n, const ih_graph_opts *o, ih_graph *out) {
    memset(out, 0, sizeof *out);
    if (n < 1) return ih_set_error("graph batch: no structures");
    ih_graph *parts = calloc((size_t)n, sizeof *parts);
    const ih_graph **ptrs = malloc((size_t)n * sizeof *ptrs);
    if (!parts || !ptrs) {
        free(parts), free(ptrs);
        return ih_set_error("graph batch: out of memory");
    }
    /* messages are thread-local: keep the one of the first failing structure */
    int failed = -1;
    char err[1024] = "";
    /* parts without their line graphs: the union's line graph is built in place afterwards, so
     * the triplets (~95% of the memory) are written once instead of built and then copied */
    ih_graph_opts po;
    if (o) po = *o;
    else ih_graph_opts_default(&po);
    int line_graph = po.line_graph;
    po.line_graph = 0;
#pragma omp parallel for schedule(dynamic, 1) if (n > 1)
    for (int b = 0; b < n; b++) {
        ptrs[b] = &parts[b];
        if (ih_graph_build(s[b], &po, &parts[b]) != 0) {
#pragma omp critical(ih_graph_build_batch_error)
            if (failed < 0 || b < failed) {
                failed = b;
                snprintf(err, sizeof err, "%s", ih_last_error());
            }
        }
    }
    int rc = failed >= 0 ? ih_set_error("%s", err) : ih_graph_batch(ptrs, n, out);
    for (int b = 0; b < n; b++) ih_graph_free(&parts[b]);
    free(parts), free(ptrs);
    if (rc == 0 && line_graph && ih_graph_line(out, "graph batch") != 0) {
        ih_graph_free(out);
        return -1;
    }
    return rc;
}

void ih_graph_stats_compute(const ih_graph *g, ih_graph_stats *st) {
    memset(st, 0, sizeof *st);
    st->n_atoms = g->n_atoms;
    st->n_edges = g->n_edges;
    st->n_triplets = g->n_triplets;
    double sum = 0;
    st->len_min = INFINITY;
    st->len_max = -INFINITY;
    for (int e = 0; e < g->n_edges; e++) {
        const float *v = g->edge_vec + 3 * e;
        /* double precision from the float32 vectors, like the reference's statistics */
        double x = v[0], y = v[1], z = v[2], d = sqrt(x * x + y * y + z * z);
        sum += d;
        if (d < st->len_min) st->len_min = d;
        if (d > st->len_max) st->len_max = d;
        st->n_self_loops += g->edge_src[e] == g->edge_dst[e];
    }
    st->len_sum = sum;
    st->len_mean = g->n_edges ? sum / g->n_edges : 0;
    if (!g->n_edges) st->len_min = st->len_max = 0;
    double cs = 0;
    for (int t = 0; t < g->n_triplets; t++) cs += g->trip_cos[t];
    st->cos_sum = cs;
    st->cos_mean = g->n_triplets ? cs / g->n_triplets : 0;
    st->indeg_min = INT_MAX;
    st->indeg_max = 0;
    for (int a = 0; a < g->n_atoms; a++) {
        int d = g->dst_ptr[a + 1] - g->dst_ptr[a];
        if (d < st->indeg_min) st->indeg_min = d;
        if (d > st->indeg_max) st->indeg_max = d;
    }
    if (!g->n_atoms) st->indeg_min = 0;
}
