/* Binary graph cache: a graph is stored as its sorted edge list (atoms, edges, float32 vectors);
 * the line graph is rebuilt on reading. Triplets outnumber edges ~25:1, so storing them would
 * make a cache of the pre-training set gigabytes instead of ~0.3 GB, while rebuilding them is a
 * cheap linear pass; the expensive neighbour search is what the cache saves.
 *
 * Layout (native byte order; a foreign one fails the version check):
 *   "IHGRAPH\0", u32 version, u32 flags (bit 0: line graph), i32 n_structs, n_atoms, n_edges,
 *   i32 0, f64 cutoff_used, i32 struct_atom_ptr[S+1], i32 struct_edge_ptr[S+1], i32 atom_z[N],
 *   i32 edge_src[E], i32 edge_dst[E], f32 edge_vec[3E], u64 checksum of everything before it.
 * Several graphs may follow each other in one file. */
#include "graph/graph_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MAGIC "IHGRAPH"
#define CACHE_VERSION 1u

typedef struct cache_header {
    char magic[8];
    uint32_t version, flags;
    int32_t n_structs, n_atoms, n_edges, reserved;
    double cutoff_used;
} cache_header;

/* FNV-1a over 64-bit words (and the tail bytes): catches truncation and corruption cheaply. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    size_t a = 0;
    for (; a + 8 <= len; a += 8) {
        uint64_t w;
        memcpy(&w, p + a, 8);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    for (; a < len; a++) h = (h ^ p[a]) * 0x100000001b3ULL;
    return h;
}

static int put(FILE *f, uint64_t *h, const void *data, size_t size, size_t n) {
    if (n && fwrite(data, size, n, f) != n) return -1;
    *h = hash_bytes(*h, data, size * n);
    return 0;
}

int ih_graph_write(FILE *f, const ih_graph *g) {
    cache_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, CACHE_MAGIC, sizeof CACHE_MAGIC);
    hd.version = CACHE_VERSION;
    hd.flags = g->n_triplets > 0 ? 1u : 0u; /* a line graph is never empty */
    hd.n_structs = g->n_structs;
    hd.n_atoms = g->n_atoms;
    hd.n_edges = g->n_edges;
    hd.cutoff_used = g->cutoff_used;
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t S1 = (size_t)g->n_structs + 1, N = (size_t)g->n_atoms, E = (size_t)g->n_edges;
    if (put(f, &h, &hd, sizeof hd, 1) || put(f, &h, g->struct_atom_ptr, sizeof(int), S1) ||
        put(f, &h, g->struct_edge_ptr, sizeof(int), S1) || put(f, &h, g->atom_z, sizeof(int), N) ||
        put(f, &h, g->edge_src, sizeof(int), E) || put(f, &h, g->edge_dst, sizeof(int), E) ||
        put(f, &h, g->edge_vec, sizeof(float), 3 * E) || fwrite(&h, sizeof h, 1, f) != 1)
        return ih_set_error("graph cache: write failed: %s", strerror(errno));
    return 0;
}

static int get(FILE *f, uint64_t *h, void *data, size_t size, size_t n) {
    if (n && fread(data, size, n, f) != n) return -1;
    *h = hash_bytes(*h, data, size * n);
    return 0;
}

/* Structural checks, so that a corrupted cache cannot make later code index out of bounds. */
static int validate(const ih_graph *g, const char *name) {
    const int *ap = g->struct_atom_ptr, *ep = g->struct_edge_ptr;
    if (ap[0] != 0 || ep[0] != 0 || ap[g->n_structs] != g->n_atoms || ep[g->n_structs] != g->n_edges)
        return ih_set_error("%s: corrupt graph cache (structure offsets)", name);
    for (int s = 0; s < g->n_structs; s++) {
        if (ap[s + 1] < ap[s] || ep[s + 1] < ep[s])
            return ih_set_error("%s: corrupt graph cache (structure offsets)", name);
        for (int e = ep[s]; e < ep[s + 1]; e++) {
            int a = g->edge_src[e], b = g->edge_dst[e];
            if (a < ap[s] || a >= ap[s + 1] || b < ap[s] || b >= ap[s + 1] ||
                (e > 0 && b < g->edge_dst[e - 1]))
                return ih_set_error("%s: corrupt graph cache (edge %d)", name, e);
        }
    }
    for (int a = 0; a < g->n_atoms; a++)
        if (g->atom_z[a] < 1 || g->atom_z[a] > 103)
            return ih_set_error("%s: corrupt graph cache (atomic number)", name);
    return 0;
}

int ih_graph_read(FILE *f, const char *name, ih_graph *g) {
    memset(g, 0, sizeof *g);
    if (!name) name = "graph cache";
    cache_header hd;
    size_t got = fread(&hd, 1, sizeof hd, f);
    if (got == 0 && feof(f)) return 1;
    if (got != sizeof hd) return ih_set_error("%s: truncated graph cache (header)", name);
    if (memcmp(hd.magic, CACHE_MAGIC, sizeof CACHE_MAGIC) != 0)
        return ih_set_error("%s: not an ionhop graph cache", name);
    if (hd.version != CACHE_VERSION)
        return ih_set_error("%s: graph cache version %u, this build reads version %u", name,
                            hd.version, CACHE_VERSION);
    if (hd.n_structs < 1 || hd.n_atoms < 0 || hd.n_edges < 0 || hd.n_structs > (1 << 28) ||
        hd.n_atoms > (1 << 28) || hd.n_edges > (1 << 30) || (hd.flags & ~1u))
        return ih_set_error("%s: corrupt graph cache (header)", name);
    g->n_structs = hd.n_structs;
    g->n_atoms = hd.n_atoms;
    g->n_edges = hd.n_edges;
    g->cutoff_used = hd.cutoff_used;
    size_t S1 = (size_t)g->n_structs + 1, N = (size_t)g->n_atoms, E = (size_t)g->n_edges;
    g->struct_atom_ptr = ih_graph_alloc(S1, sizeof(int));
    g->struct_edge_ptr = ih_graph_alloc(S1, sizeof(int));
    g->atom_z = ih_graph_alloc(N, sizeof(int));
    g->edge_src = ih_graph_alloc(E, sizeof(int));
    g->edge_dst = ih_graph_alloc(E, sizeof(int));
    g->edge_vec = ih_graph_alloc(3 * E, sizeof(float));
    if (!g->struct_atom_ptr || !g->struct_edge_ptr || !g->atom_z || !g->edge_src || !g->edge_dst ||
        !g->edge_vec) {
        ih_graph_free(g);
        return ih_set_error("%s: out of memory for a cached graph of %zu edges", name, E);
    }
    uint64_t h = hash_bytes(0xcbf29ce484222325ULL, &hd, sizeof hd), stored;
    if (get(f, &h, g->struct_atom_ptr, sizeof(int), S1) || get(f, &h, g->struct_edge_ptr, sizeof(int), S1) ||
        get(f, &h, g->atom_z, sizeof(int), N) || get(f, &h, g->edge_src, sizeof(int), E) ||
        get(f, &h, g->edge_dst, sizeof(int), E) || get(f, &h, g->edge_vec, sizeof(float), 3 * E) ||
        fread(&stored, sizeof stored, 1, f) != 1) {
        ih_graph_free(g);
        return ih_set_error("%s: truncated graph cache", name);
    }
    if (stored != h) {
        ih_graph_free(g);
        return ih_set_error("%s: corrupt graph cache (checksum mismatch)", name);
    }
    if (validate(g, name) != 0 || ih_graph_finish(g, (int)(hd.flags & 1u), name) != 0) {
        ih_graph_free(g);
        return -1;
    }
    return 0;
}
