/* Test helper: an ih_graph (CSR layout of include/ionhop.h) from plain per-structure edge lists,
 * with the line graph and angle cosines of docs/method.md §2.8 computed as the PyTorch reference does
 * (float32, ((x·x + y·y) + z·z) order). Independent of the library's graph builder. */
#ifndef IH_TEST_GRAPH_UTIL_H
#define IH_TEST_GRAPH_UTIL_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ionhop_nn.h"

typedef struct tg_struct {
    int n_atoms, n_edges;
    const int *z, *src, *dst; /* local atom indices */
    const float *r;           /* n_edges × 3 */
    const float *len;         /* n_edges, or NULL: |r| in float32 */
} tg_struct;

static inline void tg_free(ih_graph *g) {
    free(g->path_desc);
    free(g->struct_atom_ptr);
    free(g->struct_edge_ptr);
    free(g->struct_trip_ptr);
    free(g->atom_z);
    free(g->edge_src);
    free(g->edge_dst);
    free(g->edge_vec);
    free(g->edge_len);
    free(g->dst_ptr);
    free(g->src_ptr);
    free(g->edges_by_src);
    free(g->trip_src);
    free(g->trip_dst);
    free(g->trip_cos);
    free(g->trip_ptr);
    free(g->tsrc_ptr);
    free(g->trips_by_src);
    memset(g, 0, sizeof *g);
}

static inline float tg_norm(const float *r) {
    return sqrtf((r[0] * r[0] + r[1] * r[1]) + r[2] * r[2]);
}

static inline void tg_build(const tg_struct *s, int n, ih_graph *g) {
    memset(g, 0, sizeof *g);
    int N = 0, E = 0;
    for (int i = 0; i < n; i++) {
        N += s[i].n_atoms;
        E += s[i].n_edges;
    }
    g->n_structs = n;
    g->n_atoms = N;
    g->n_edges = E;
    g->struct_atom_ptr = calloc((size_t)n + 1, sizeof(int));
    g->struct_edge_ptr = calloc((size_t)n + 1, sizeof(int));
    g->struct_trip_ptr = calloc((size_t)n + 1, sizeof(int));
    g->atom_z = malloc(sizeof(int) * (size_t)N);
    int *osrc = malloc(sizeof(int) * (size_t)E + 4), *odst = malloc(sizeof(int) * (size_t)E + 4);
    float *ovec = malloc(sizeof(float) * 3 * (size_t)E + 4), *olen = malloc(sizeof(float) * (size_t)E + 4);
    int na = 0, ne = 0;
    for (int i = 0; i < n; i++) {
        for (int a = 0; a < s[i].n_atoms; a++) g->atom_z[na + a] = s[i].z[a];
        for (int e = 0; e < s[i].n_edges; e++) {
            osrc[ne + e] = s[i].src[e] + na;
            odst[ne + e] = s[i].dst[e] + na;
            memcpy(ovec + 3 * (size_t)(ne + e), s[i].r + 3 * (size_t)e, 3 * sizeof(float));
            olen[ne + e] = s[i].len ? s[i].len[e] : tg_norm(s[i].r + 3 * (size_t)e);
        }
        na += s[i].n_atoms;
        ne += s[i].n_edges;
        g->struct_atom_ptr[i + 1] = na;
        g->struct_edge_ptr[i + 1] = ne;
    }
    /* edges by destination (stable) */
    g->dst_ptr = calloc((size_t)N + 1, sizeof(int));
    for (int e = 0; e < E; e++) g->dst_ptr[odst[e] + 1]++;
    for (int a = 0; a < N; a++) g->dst_ptr[a + 1] += g->dst_ptr[a];
    int *fill = malloc(sizeof(int) * (size_t)N + 4);
    memcpy(fill, g->dst_ptr, sizeof(int) * (size_t)N);
    g->edge_src = malloc(sizeof(int) * (size_t)E + 4);
    g->edge_dst = malloc(sizeof(int) * (size_t)E + 4);
    g->edge_vec = malloc(sizeof(float) * 3 * (size_t)E + 4);
    g->edge_len = malloc(sizeof(float) * (size_t)E + 4);
    for (int e = 0; e < E; e++) {
        int p = fill[odst[e]]++;
        g->edge_src[p] = osrc[e];
        g->edge_dst[p] = odst[e];
        memcpy(g->edge_vec + 3 * (size_t)p, ovec + 3 * (size_t)e, 3 * sizeof(float));
        g->edge_len[p] = olen[e];
    }
    /* grouping by source */
    g->src_ptr = calloc((size_t)N + 1, sizeof(int));
    for (int e = 0; e < E; e++) g->src_ptr[g->edge_src[e] + 1]++;
    for (int a = 0; a < N; a++) g->src_ptr[a + 1] += g->src_ptr[a];
    memcpy(fill, g->src_ptr, sizeof(int) * (size_t)N);
    g->edges_by_src = malloc(sizeof(int) * (size_t)E + 4);
    for (int e = 0; e < E; e++) g->edges_by_src[fill[g->edge_src[e]]++] = e;
    /* line graph, sorted by e2: e2 = (b→c) receives from every e1 = (·→b), e1 ≠ e2 */
    long T = 0;
    for (int e2 = 0; e2 < E; e2++) {
        int b = g->edge_src[e2];
        T += g->dst_ptr[b + 1] - g->dst_ptr[b];
        if (g->edge_dst[e2] == b) T--; /* a self-loop is in its own in-list */
    }
    g->n_triplets = (int)T;
    g->trip_src = malloc(sizeof(int) * (size_t)T + 4);
    g->trip_dst = malloc(sizeof(int) * (size_t)T + 4);
    g->trip_cos = malloc(sizeof(float) * (size_t)T + 4);
    g->trip_ptr = calloc((size_t)E + 1, sizeof(int));
    float *nrm = malloc(sizeof(float) * (size_t)E + 4);
    for (int e = 0; e < E; e++) nrm[e] = tg_norm(g->edge_vec + 3 * (size_t)e);
    long t = 0;
    for (int e2 = 0; e2 < E; e2++) {
        int b = g->edge_src[e2];
        const float *r2 = g->edge_vec + 3 * (size_t)e2;
        for (int e1 = g->dst_ptr[b]; e1 < g->dst_ptr[b + 1]; e1++) {
            if (e1 == e2) continue;
            const float *r1 = g->edge_vec + 3 * (size_t)e1;
            float a0 = -r1[0], a1 = -r1[1], a2 = -r1[2];
            float dot = (a0 * r2[0] + a1 * r2[1]) + a2 * r2[2];
            float c = dot / (nrm[e1] * nrm[e2]);
            c = c < -1.0f ? -1.0f : (c > 1.0f ? 1.0f : c);
            g->trip_src[t] = e1;
            g->trip_dst[t] = e2;
            g->trip_cos[t] = c;
            t++;
        }
        g->trip_ptr[e2 + 1] = (int)t;
    }
    /* structure ranges of triplets follow from the edge ranges */
    for (int i = 0; i <= n; i++) g->struct_trip_ptr[i] = g->trip_ptr[g->struct_edge_ptr[i]];
    /* triplets grouped by e1 */
    g->tsrc_ptr = calloc((size_t)E + 1, sizeof(int));
    for (long k = 0; k < T; k++) g->tsrc_ptr[g->trip_src[k] + 1]++;
    for (int e = 0; e < E; e++) g->tsrc_ptr[e + 1] += g->tsrc_ptr[e];
    int *tf = malloc(sizeof(int) * (size_t)E + 4);
    memcpy(tf, g->tsrc_ptr, sizeof(int) * (size_t)E);
    g->trips_by_src = malloc(sizeof(int) * (size_t)T + 4);
    for (long k = 0; k < T; k++) g->trips_by_src[tf[g->trip_src[k]]++] = (int)k;
    free(tf);
    free(nrm);
    free(fill);
    free(osrc);
    free(odst);
    free(ovec);
    free(olen);
}

/* A random structure for gradient checks: n atoms, e directed edges between random atoms
 * (multi-edges and self-loops allowed; some atoms may get no incoming edge), random vectors. */
typedef struct tg_random {
    int n, e;
    int z[64], src[512], dst[512];
    float r[512 * 3];
} tg_random;

static inline uint64_t tg_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline double tg_unif(uint64_t *s) { return (double)(tg_next(s) >> 11) * 0x1.0p-53; }

static inline void tg_make_random(tg_random *r, int n, int e, uint64_t seed) {
    uint64_t s = seed;
    r->n = n;
    r->e = e;
    for (int i = 0; i < n; i++) r->z[i] = 1 + (int)(tg_next(&s) % 90);
    for (int k = 0; k < e; k++) {
        /* the last atom never receives: exercises h = 0 for a node without in-edges */
        r->src[k] = (int)(tg_next(&s) % (uint64_t)n);
        r->dst[k] = (int)(tg_next(&s) % (uint64_t)(n > 1 ? n - 1 : 1));
        for (int c = 0; c < 3; c++) r->r[3 * k + c] = (float)(4.0 * tg_unif(&s) - 2.0);
        if (tg_norm(r->r + 3 * k) < 0.3f) r->r[3 * k] += 1.0f;
    }
}

static inline tg_struct tg_of_random(const tg_random *r) {
    tg_struct s = {r->n, r->e, r->z, r->src, r->dst, r->r, NULL};
    return s;
}
#endif
