/* Crystal graph and line graph (docs/method.md §2.4-2.8): edge keys, directed edges sorted by destination,
 * the bond-pair line graph with angle cosines, and the cheap size count used for batch planning.
 *
 * Every array is int32/float32 and allocated once per graph: the largest training structure has
 * ~600k triplets and training batches hold hundreds of structures. */
#include "graph/graph_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void ih_graph_opts_default(ih_graph_opts *o) {
    o->cutoff = 8.0;
    o->k = 12;
    o->canonical = 0;
    o->line_graph = 1;
    o->n_apart = 0;
    o->path_chain = 0;
    o->tie_tol = 0;
    o->path_desc = 0;
}

void ih_graph_opts_local(ih_graph_opts *o) {
    ih_graph_opts_default(o);
    o->cutoff = 3.0;
    o->k = 6;
}

void *ih_graph_alloc(size_t n, size_t size) { return malloc((n ? n : 1) * size); }

void ih_graph_free(ih_graph *g) {
    if (!g) return;
    free(g->struct_atom_ptr), free(g->struct_edge_ptr), free(g->struct_trip_ptr);
    free(g->atom_z), free(g->edge_src), free(g->edge_dst), free(g->edge_vec), free(g->edge_len);
    free(g->dst_ptr), free(g->src_ptr), free(g->edges_by_src);
    free(g->trip_src), free(g->trip_dst), free(g->trip_cos), free(g->trip_ptr);
    free(g->tsrc_ptr), free(g->trips_by_src), free(g->path_desc);
    memset(g, 0, sizeof *g);
}

/* ---------------------------------------------------------------------------------------------- */
/* edge keys (§2.4)                                                                               */
/* ---------------------------------------------------------------------------------------------- */

typedef struct bond_key {
    int s, t, n[3];
} bond_key;

static int cmp_key(const bond_key *a, const bond_key *b) {
    if (a->s != b->s) return a->s < b->s ? -1 : 1;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    for (int c = 0; c < 3; c++)
        if (a->n[c] != b->n[c]) return a->n[c] < b->n[c] ? -1 : 1;
    return 0;
}

/* Keys of the selected neighbours. Non-canonical: (i, j, n) as found (a centre never lists the
 * same (j, n) twice, so the per-key sets hold no duplicates). Canonical: smaller atom first with
 * the image negated when flipped, duplicates removed; self pairs are not flipped. */
static bond_key *make_keys(const ih_neighbor *nb, int m, int n_atoms, int canonical, size_t *n_keys) {
    bond_key *keys = ih_graph_alloc((size_t)m, sizeof *keys);
    if (!keys) return NULL;
    for (int q = 0; q < m; q++) {
        const ih_neighbor *a = &nb[q];
        int flip = canonical && a->i > a->j;
        keys[q].s = flip ? a->j : a->i;
        keys[q].t = flip ? a->i : a->j;
        for (int c = 0; c < 3; c++) keys[q].n[c] = flip ? -a->image[c] : a->image[c];
    }
    *n_keys = (size_t)m;
    if (!canonical) return keys;
    /* group by first atom (counting sort), then sort and deduplicate each small group */
    int *ptr = calloc((size_t)n_atoms + 1, sizeof *ptr);
    bond_key *by = ih_graph_alloc((size_t)m, sizeof *by);
    if (!ptr || !by) {
        free(ptr), free(by), free(keys);
        return NULL;
    }
    for (int q = 0; q < m; q++) ptr[keys[q].s + 1]++;
    for (int a = 0; a < n_atoms; a++) ptr[a + 1] += ptr[a];
    for (int q = 0; q < m; q++) by[ptr[keys[q].s]++] = keys[q];
    size_t out = 0;
    int begin = 0;
    for (int a = 0; a < n_atoms; a++) {
        int end = ptr[a]; /* after the fill, ptr[a] is the end of group a */
        for (int q = begin + 1; q < end; q++) { /* insertion sort: groups are small */
            bond_key x = by[q];
            int b = q;
            while (b > begin && cmp_key(&by[b - 1], &x) > 0) by[b] = by[b - 1], b--;
            by[b] = x;
        }
        for (int q = begin; q < end; q++)
            if (q == begin || cmp_key(&by[q], &by[q - 1]) != 0) keys[out++] = by[q];
        begin = end;
    }
    free(ptr), free(by);
    *n_keys = out;
    return keys;
}

/* ---------------------------------------------------------------------------------------------- */
/* directed edges (§2.5)                                                                          */
/* ---------------------------------------------------------------------------------------------- */

/* Two directed edges per key, s→t with +r and t→s with −r, stably sorted by destination. node_of
 * renumbers atoms (local sub-graph); NULL keeps them. */
static int emit_edges(ih_graph *g, const ih_geom *geo, const bond_key *keys, size_t m,
                      const int *node_of, const char *what) {
    if (2 * m > (size_t)INT_MAX) return ih_set_error("%s: too many edges", what);
    int n_nodes = g->n_atoms, E = (int)(2 * m);
    g->n_edges = E;
    g->edge_src = ih_graph_alloc((size_t)E, sizeof *g->edge_src);
    g->edge_dst = ih_graph_alloc((size_t)E, sizeof *g->edge_dst);
    g->edge_vec = ih_graph_alloc(3 * (size_t)E, sizeof *g->edge_vec);
    g->dst_ptr = calloc((size_t)n_nodes + 1, sizeof *g->dst_ptr);
    int *fill = ih_graph_alloc((size_t)n_nodes, sizeof *fill);
    float *r = ih_graph_alloc(3 * m, sizeof *r);
    if (!g->edge_src || !g->edge_dst || !g->edge_vec || !g->dst_ptr || !fill || !r) {
        free(fill), free(r);
        return ih_set_error("%s: out of memory for %d edges", what, E);
    }
#pragma omp parallel for schedule(static) if (m >= IH_PAR_MIN_ITEMS)
    for (size_t q = 0; q < m; q++) {
        double v[3];
        ih_geom_bond_vector(geo, keys[q].s, keys[q].t, keys[q].n, v);
        for (int c = 0; c < 3; c++) r[3 * q + c] = (float)v[c];
    }
    for (size_t q = 0; q < m; q++) {
        int s = node_of ? node_of[keys[q].s] : keys[q].s;
        int t = node_of ? node_of[keys[q].t] : keys[q].t;
        g->dst_ptr[t + 1]++;
        g->dst_ptr[s + 1]++;
    }
    for (int a = 0; a < n_nodes; a++) g->dst_ptr[a + 1] += g->dst_ptr[a];
    memcpy(fill, g->dst_ptr, (size_t)n_nodes * sizeof *fill);
    /* emission order as the reference: every forward edge, then every reverse edge */
    for (int dir = 0; dir < 2; dir++)
        for (size_t q = 0; q < m; q++) {
            int s = node_of ? node_of[keys[q].s] : keys[q].s;
            int t = node_of ? node_of[keys[q].t] : keys[q].t;
            int from = dir ? t : s, to = dir ? s : t;
            float sign = dir ? -1.0f : 1.0f;
            int e = fill[to]++;
            g->edge_src[e] = from;
            g->edge_dst[e] = to;
            for (int c = 0; c < 3; c++) g->edge_vec[3 * e + c] = sign * r[3 * q + c];
        }
    free(fill), free(r);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* everything derived from the sorted edge list: lengths, source grouping, line graph              */
/* ---------------------------------------------------------------------------------------------- */

int ih_graph_finish(ih_graph *g, int line_graph, const char *what) {
    int N = g->n_atoms, E = g->n_edges;
    g->edge_len = ih_graph_alloc((size_t)E, sizeof *g->edge_len);
    g->src_ptr = calloc((size_t)N + 1, sizeof *g->src_ptr);
    g->edges_by_src = ih_graph_alloc((size_t)E, sizeof *g->edges_by_src);
    if (!g->dst_ptr) {
        g->dst_ptr = calloc((size_t)N + 1, sizeof *g->dst_ptr);
        if (g->dst_ptr) {
            for (int e = 0; e < E; e++) g->dst_ptr[g->edge_dst[e] + 1]++;
            for (int a = 0; a < N; a++) g->dst_ptr[a + 1] += g->dst_ptr[a];
        }
    }
    int *fill = ih_graph_alloc((size_t)N, sizeof *fill);
    if (!g->edge_len || !g->src_ptr || !g->edges_by_src || !g->dst_ptr || !fill) {
        free(fill);
        return ih_set_error("%s: out of memory for %d edges", what, E);
    }
    const float *v = g->edge_vec;
    /* float32 throughout, in the reference's order: ((x² + y²) + z²) */
#pragma omp parallel for schedule(static) if (E >= IH_PAR_MIN_ITEMS)
    for (int e = 0; e < E; e++)
        g->edge_len[e] = sqrtf((v[3 * e] * v[3 * e] + v[3 * e + 1] * v[3 * e + 1]) +
                               v[3 * e + 2] * v[3 * e + 2]);
    for (int e = 0; e < E; e++) g->src_ptr[g->edge_src[e] + 1]++;
    for (int a = 0; a < N; a++) g->src_ptr[a + 1] += g->src_ptr[a];
    memcpy(fill, g->src_ptr, (size_t)N * sizeof *fill);
    for (int e = 0; e < E; e++) g->edges_by_src[fill[g->edge_src[e]]++] = e;
    free(fill);

    if (!line_graph) {
        g->n_triplets = 0;
        g->trip_ptr = calloc((size_t)E + 1, sizeof *g->trip_ptr);
        g->tsrc_ptr = calloc((size_t)E + 1, sizeof *g->tsrc_ptr);
        g->struct_trip_ptr = calloc((size_t)g->n_structs + 1, sizeof *g->struct_trip_ptr);
        g->trip_src = ih_graph_alloc(0, sizeof(int));
        g->trip_dst = ih_graph_alloc(0, sizeof(int));
        g->trip_cos = ih_graph_alloc(0, sizeof(float));
        g->trips_by_src = ih_graph_alloc(0, sizeof(int));
        if (!g->trip_src || !g->trip_dst || !g->trip_cos || !g->trips_by_src || !g->trip_ptr ||
            !g->tsrc_ptr || !g->struct_trip_ptr)
            return ih_set_error("%s: out of memory", what);
        return 0;
    }
    return ih_graph_line(g, what);
}

int ih_graph_line(ih_graph *g, const char *what) {
    int E = g->n_edges;
    free(g->trip_src), free(g->trip_dst), free(g->trip_cos), free(g->trips_by_src);
    free(g->trip_ptr), free(g->tsrc_ptr), free(g->struct_trip_ptr);
    g->trip_src = g->trip_dst = g->trips_by_src = NULL;
    g->trip_cos = NULL;
    g->n_triplets = 0;
    g->trip_ptr = calloc((size_t)E + 1, sizeof *g->trip_ptr);
    g->tsrc_ptr = calloc((size_t)E + 1, sizeof *g->tsrc_ptr);
    g->struct_trip_ptr = calloc((size_t)g->n_structs + 1, sizeof *g->struct_trip_ptr);
    if (!g->trip_ptr || !g->tsrc_ptr || !g->struct_trip_ptr)
        return ih_set_error("%s: out of memory for %d edges", what, E);
    const float *v = g->edge_vec;
    /* §2.8: e1 = (a→b) feeds e2 = (b→c) for every e1 ≠ e2; the e1 of one e2 are exactly the
     * in-edges of b, which the destination sort made contiguous */
    const int *src = g->edge_src, *dst = g->edge_dst, *dptr = g->dst_ptr, *sptr = g->src_ptr;
    int64_t T = 0;
    for (int e = 0; e < E; e++) {
        int b = src[e];
        T += dptr[b + 1] - dptr[b] - (dst[e] == b);
        if (T > INT_MAX) return ih_set_error("%s: too many triplets for one graph", what);
        g->trip_ptr[e + 1] = (int)T;
    }
    g->n_triplets = (int)T;
    for (int e = 0; e < E; e++) {
        int b = dst[e];
        g->tsrc_ptr[e + 1] = g->tsrc_ptr[e] + (sptr[b + 1] - sptr[b]) - (src[e] == b);
    }
    g->trip_src = ih_graph_alloc((size_t)T, sizeof *g->trip_src);
    g->trip_dst = ih_graph_alloc((size_t)T, sizeof *g->trip_dst);
    g->trip_cos = ih_graph_alloc((size_t)T, sizeof *g->trip_cos);
    g->trips_by_src = ih_graph_alloc((size_t)T, sizeof *g->trips_by_src);
    if (!g->trip_src || !g->trip_dst || !g->trip_cos || !g->trips_by_src)
        return ih_set_error("%s: out of memory for %lld triplets", what, (long long)T);
    const float *len = g->edge_len;
    int *tsrc = g->trip_src, *tdst = g->trip_dst;
    float *tcos = g->trip_cos;
#pragma omp parallel for schedule(dynamic, 256) if (T >= IH_PAR_MIN_ITEMS)
    for (int e2 = 0; e2 < E; e2++) {
        int b = src[e2], t = g->trip_ptr[e2];
        const float *r2 = v + 3 * e2;
        for (int e1 = dptr[b]; e1 < dptr[b + 1]; e1++) {
            if (e1 == e2) continue;
            const float *r1 = v + 3 * e1;
            /* cos of the angle at b between b→a (= −r1) and b→c (= r2), float32 as the reference */
            float dot = ((-r1[0]) * r2[0] + (-r1[1]) * r2[1]) + (-r1[2]) * r2[2];
            float c = dot / (len[e1] * len[e2]);
            c = c < -1.0f ? -1.0f : (c > 1.0f ? 1.0f : c);
            tsrc[t] = e1;
            tdst[t] = e2;
            tcos[t] = c;
            t++;
        }
    }
    /* grouping by e1 without a scatter: the triplet (e1, e2) sits in e2's block at e1's rank
     * among b's in-edges, one less if e2 is a self-loop that precedes e1 there */
#pragma omp parallel for schedule(dynamic, 256) if (T >= IH_PAR_MIN_ITEMS)
    for (int e1 = 0; e1 < E; e1++) {
        int b = dst[e1], pos = g->tsrc_ptr[e1];
        for (int p = sptr[b]; p < sptr[b + 1]; p++) {
            int e2 = g->edges_by_src[p];
            if (e2 == e1) continue;
            int skip = (dst[e2] == b && e2 < e1);
            g->trips_by_src[pos++] = g->trip_ptr[e2] + (e1 - dptr[b]) - skip;
        }
    }
    for (int s = 0; s <= g->n_structs; s++) g->struct_trip_ptr[s] = g->trip_ptr[g->struct_edge_ptr[s]];
    return 0;
}

int ih_graph_add_line_graph(ih_graph *g) {
    if (g->n_triplets > 0) return 0;
    return ih_graph_line(g, "graph");
}

int64_t ih_graph_count_triplets(const ih_graph *g) {
    int64_t T = 0;
    for (int e = 0; e < g->n_edges; e++) {
        int b = g->edge_src[e];
        T += g->dst_ptr[b + 1] - g->dst_ptr[b] - (g->edge_dst[e] == b);
    }
    return T;
}

/* ---------------------------------------------------------------------------------------------- */

/* The neighbour list of a structure under o: the k-NN rule (with the path images kept apart if
 * o->n_apart), then, with o->path_chain, a bond between each pair of consecutive images (sites
 * 0-1, 1-2, …), both directions, at the periodic image nearest in fractional coordinates: the
 * images see their host neighbours and still the step between them (hop length / 4). */
static int graph_neighbors(const ih_structure *s, const ih_geom *geo, const ih_graph_opts *o, const char *what,
                           ih_neighbor **nb, int *m, double *cut) {
    if (o->n_apart > 0 && !ih_structure_is_5image(s))
        return ih_set_error("%s: not a 5-image path structure (its first %d sites are kept apart as path images)",
                            what, o->n_apart);
    int rc = ih_neighbors_geom(geo, what, o->cutoff, o->k, o->n_apart, o->tie_tol, nb, m, cut, NULL);
    if (rc != 0 || !o->path_chain || o->n_apart < 2) return rc;
    int extra = 2 * (o->n_apart - 1);
    ih_neighbor *grown = realloc(*nb, (size_t)(*m + extra) * sizeof *grown);
    if (!grown) return ih_set_error("%s: out of memory", what);
    *nb = grown;
    for (int a = 0; a + 1 < o->n_apart; a++) {
        int img[3];
        double v[3];
        for (int c = 0; c < 3; c++) img[c] = -(int)nearbyint(geo->f[3 * (a + 1) + c] - geo->f[3 * a + c]);
        ih_geom_bond_vector(geo, a, a + 1, img, v);
        double d = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        grown[(*m)++] = (ih_neighbor){a, a + 1, {img[0], img[1], img[2]}, d};
        grown[(*m)++] = (ih_neighbor){a + 1, a, {-img[0], -img[1], -img[2]}, d};
    }
    return 0;
}

/* Shared tail of the builders: one structure whose nodes are `sites` of s (NULL: all), keys in
 * the original numbering. */
static int build_from_keys(const ih_structure *s, const ih_geom *geo, const bond_key *keys,
                           size_t m, const int *sites, int n_nodes, const int *node_of,
                           int line_graph, double cutoff_used, ih_graph *g, const char *what) {
    g->n_structs = 1;
    g->n_atoms = n_nodes;
    g->cutoff_used = cutoff_used;
    g->struct_atom_ptr = ih_graph_alloc(2, sizeof(int));
    g->struct_edge_ptr = ih_graph_alloc(2, sizeof(int));
    g->atom_z = ih_graph_alloc((size_t)n_nodes, sizeof *g->atom_z);
    if (!g->struct_atom_ptr || !g->struct_edge_ptr || !g->atom_z)
        return ih_set_error("%s: out of memory", what);
    for (int a = 0; a < n_nodes; a++) g->atom_z[a] = s->z[sites ? sites[a] : a];
    if (emit_edges(g, geo, keys, m, node_of, what) != 0) return -1;
    g->struct_atom_ptr[0] = 0, g->struct_atom_ptr[1] = n_nodes;
    g->struct_edge_ptr[0] = 0, g->struct_edge_ptr[1] = g->n_edges;
    return ih_graph_finish(g, line_graph, what);
}

int ih_graph_build(const ih_structure *s, const ih_graph_opts *o, ih_graph *g) {
    ih_graph_opts def;
    if (!o) ih_graph_opts_default(&def), o = &def;
    memset(g, 0, sizeof *g);
    char what[96];
    ih_structure_name(s, what, sizeof what);
    ih_geom geo;
    if (ih_geom_init(&geo, s, what) != 0) return -1;
    ih_neighbor *nb = NULL;
    int m = 0;
    double cut = 0;
    bond_key *keys = NULL;
    size_t nk = 0;
    int rc = graph_neighbors(s, &geo, o, what, &nb, &m, &cut);
    if (rc == 0) {
        keys = make_keys(nb, m, s->n_atoms, o->canonical, &nk);
        if (!keys) rc = ih_set_error("%s: out of memory", what);
    }
    free(nb);
    if (rc == 0)
        rc = build_from_keys(s, &geo, keys, nk, NULL, s->n_atoms, NULL, o->line_graph, cut, g, what);
    free(keys);
    ih_geom_free(&geo);
    if (rc == 0 && o->path_desc) {
        g->path_desc = malloc(IH_PATH_DESC * sizeof *g->path_desc);
        if (!g->path_desc) rc = ih_set_error("%s: out of memory", what);
        else if (ih_path_descriptors(s, NULL, g->path_desc) != 0)
            rc = ih_set_error("%s: path descriptors need a 5-image path structure", what);
    }
    if (rc != 0) ih_graph_free(g);
    return rc;
}

int ih_graph_build_local(const ih_structure *s, const ih_graph_opts *o, int n_images, ih_graph *g,
                         int **sites_out) {
    ih_graph_opts def;
    if (!o) ih_graph_opts_local(&def), o = &def;
    memset(g, 0, sizeof *g);
    if (sites_out) *sites_out = NULL;
    char what[96];
    ih_structure_name(s, what, sizeof what);
    if (n_images < 1 || n_images > s->n_atoms)
        return ih_set_error("%s: %d image sites requested but the structure has %d", what, n_images,
                            s->n_atoms);
    ih_geom geo;
    if (ih_geom_init(&geo, s, what) != 0) return -1;
    ih_neighbor *nb = NULL;
    int m = 0;
    double cut = 0;
    bond_key *keys = NULL;
    size_t nk = 0;
    int *node_of = NULL, *sites = NULL, n_nodes = 0;
    int rc = graph_neighbors(s, &geo, o, what, &nb, &m, &cut);
    if (rc == 0) {
        keys = make_keys(nb, m, s->n_atoms, o->canonical, &nk);
        node_of = malloc((size_t)s->n_atoms * sizeof *node_of);
        sites = malloc((size_t)s->n_atoms * sizeof *sites);
        if (!keys || !node_of || !sites) rc = ih_set_error("%s: out of memory", what);
    }
    free(nb);
    if (rc == 0) {
        /* §2.9: keep bonds touching an image site; nodes are the endpoints, in site order */
        size_t kept = 0;
        for (int a = 0; a < s->n_atoms; a++) node_of[a] = -1;
        for (size_t q = 0; q < nk; q++)
            if (keys[q].s < n_images || keys[q].t < n_images) {
                keys[kept++] = keys[q];
                node_of[keys[q].s] = node_of[keys[q].t] = 0;
            }
        nk = kept;
        for (int a = 0; a < s->n_atoms; a++)
            if (node_of[a] == 0) sites[n_nodes] = a, node_of[a] = n_nodes++;
        rc = build_from_keys(s, &geo, keys, nk, sites, n_nodes, node_of, o->line_graph, cut, g,
                             what);
    }
    free(keys), free(node_of);
    ih_geom_free(&geo);
    if (rc != 0) {
        ih_graph_free(g);
        free(sites);
    } else if (sites_out) {
        *sites_out = sites;
    } else {
        free(sites);
    }
    return rc;
}

int ih_graph_count(const ih_structure *s, const ih_graph_opts *o, int *n_atoms, int *n_edges,
                   int64_t *n_triplets) {
    ih_graph_opts def;
    if (!o) ih_graph_opts_default(&def), o = &def;
    char what[96];
    ih_structure_name(s, what, sizeof what);
    ih_geom geo;
    if (ih_geom_init(&geo, s, what) != 0) return -1;
    ih_neighbor *nb = NULL;
    int m = 0;
    bond_key *keys = NULL;
    size_t nk = 0;
    int rc = graph_neighbors(s, &geo, o, what, &nb, &m, NULL);
    ih_geom_free(&geo);
    if (rc == 0) {
        keys = make_keys(nb, m, s->n_atoms, o->canonical, &nk);
        if (!keys) rc = ih_set_error("%s: out of memory", what);
    }
    free(nb);
    int64_t *deg = NULL;
    if (rc == 0 && !(deg = calloc((size_t)s->n_atoms, sizeof *deg)))
        rc = ih_set_error("%s: out of memory", what);
    if (rc == 0) {
        /* the graph is symmetric, so in(v) = out(v) = deg(v): T = Σ deg² − self-loop edges */
        int64_t loops = 0, T = 0;
        for (size_t q = 0; q < nk; q++) {
            deg[keys[q].s]++;
            deg[keys[q].t]++;
            if (keys[q].s == keys[q].t) loops += 2;
        }
        for (int a = 0; a < s->n_atoms; a++) T += deg[a] * deg[a];
        if (n_atoms) *n_atoms = s->n_atoms;
        if (n_edges) *n_edges = (int)(2 * nk);
        if (n_triplets) *n_triplets = o->line_graph ? T - loops : 0;
    }
    free(deg), free(keys);
    return rc;
}
