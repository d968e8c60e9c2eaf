/* Graphs of 27 structures of the shared data (Em training records and pre-training cells: 1-atom
 * cells, triclinic cells, unwrapped coordinates, structures that need the retry rule) against the
 * PyTorch reference's graphs.py, both key modes. Fixture: tests/fixtures/graphs_ref.bin, written
 * by tests/fixtures/gen/make_graph_fixtures.py (layout there). Edge multisets must agree exactly in (src, dst)
 * with vectors and lengths to 1e-5 Å; sorted triplet cosines to 1e-6. */
#include "check.h"
#include "graph_check.h"
#include "ionhop_nn.h"
#include "core/util.h"

typedef struct reader {
    const unsigned char *p, *end;
    int bad;
} reader;

static void take(reader *r, void *out, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
}
static int32_t rd_i32(reader *r) { int32_t v; take(r, &v, 4); return v; }
static double rd_f64(reader *r) { double v; take(r, &v, 8); return v; }
static uint64_t rd_varint(reader *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        take(r, &b, 1);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
    }
    return v;
}

typedef struct ref_edge {
    int src, dst;
    float v[3];
} ref_edge;

static int cmp_edge(const void *pa, const void *pb) {
    const ref_edge *a = pa, *b = pb;
    if (a->src != b->src) return a->src < b->src ? -1 : 1;
    if (a->dst != b->dst) return a->dst < b->dst ? -1 : 1;
    return 0;
}

static int cmp_i64(const void *pa, const void *pb) {
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? -1 : a > b;
}

/* Match the edges of one (src, dst) group: every reference vector to a distinct vector of ours
 * within tol (groups hold a handful of images, so greedy matching is exact enough: distinct
 * images differ by a lattice vector). */
static int match_group(const ref_edge *want, const ref_edge *got, int n, double tol) {
    int used[256] = {0};
    if (n > 256) return 0;
    for (int a = 0; a < n; a++) {
        int found = 0;
        for (int b = 0; b < n && !found; b++) {
            if (used[b]) continue;
            double d = 0;
            for (int c = 0; c < 3; c++) d = fmax(d, fabs((double)want[a].v[c] - got[b].v[c]));
            if (d <= tol) used[b] = found = 1;
        }
        if (!found) return 0;
    }
    return 1;
}

static void compare_mode(reader *r, const ih_structure *s, int canonical, const char *name) {
    double cutoff = rd_f64(r);
    (void)rd_i32(r); /* retries: implied by the cutoff */
    int E = rd_i32(r);
    if (r->bad || E < 0 || E > 1000000) {
        r->bad = 1;
        return;
    }
    ref_edge *want = malloc((size_t)(E ? E : 1) * sizeof *want);
    for (int e = 0; e < E; e++) {
        want[e].src = rd_i32(r);
        want[e].dst = rd_i32(r);
        take(r, want[e].v, sizeof want[e].v);
    }
    int T = rd_i32(r);
    double cos_sum = rd_f64(r);
    int64_t *qwant = malloc((size_t)(T > 0 ? T : 1) * sizeof *qwant);
    for (int t = 0; t < T && !r->bad; t++) {
        uint64_t u = rd_varint(r);
        qwant[t] = t == 0 ? (int64_t)((u >> 1) ^ (~(u & 1) + 1)) : qwant[t - 1] + (int64_t)u;
    }
    ih_graph_opts o;
    ih_graph_opts_default(&o);
    o.canonical = canonical;
    ih_graph g;
    int rc = ih_graph_build(s, &o, &g);
    CHECK_MSG(rc == 0, "%s: %s", name, ih_last_error());
    if (rc == 0 && !r->bad) {
        CHECK_MSG(g.n_edges == E, "%s canonical=%d: E %d vs reference %d", name, canonical, g.n_edges, E);
        CHECK_MSG(g.n_triplets == T, "%s canonical=%d: T %d vs reference %d", name, canonical, g.n_triplets, T);
        CHECK_MSG(g.cutoff_used == cutoff, "%s: final cutoff %.9g vs reference %.9g", name, g.cutoff_used, cutoff);
        CHECK_INT(graph_invariants(&g), 0);
        if (g.n_edges == E) {
            ref_edge *got = malloc((size_t)(E ? E : 1) * sizeof *got);
            for (int e = 0; e < E; e++) {
                got[e].src = g.edge_src[e];
                got[e].dst = g.edge_dst[e];
                memcpy(got[e].v, g.edge_vec + 3 * e, sizeof got[e].v);
            }
            qsort(want, (size_t)E, sizeof *want, cmp_edge);
            qsort(got, (size_t)E, sizeof *got, cmp_edge);
            int same_pairs = 1, vec_ok = 1;
            for (int e = 0; e < E; e++) same_pairs &= want[e].src == got[e].src && want[e].dst == got[e].dst;
            CHECK_MSG(same_pairs, "%s canonical=%d: (src, dst) multisets differ", name, canonical);
            for (int a = 0; same_pairs && a < E;) {
                int b = a;
                while (b < E && cmp_edge(&want[a], &want[b]) == 0) b++;
                vec_ok &= match_group(want + a, got + a, b - a, 1e-5);
                a = b;
            }
            CHECK_MSG(vec_ok, "%s canonical=%d: edge vectors differ from the reference", name, canonical);
            /* lengths: ours are |r| in float32, the reference's |r| from its float32 vectors */
            double ls_want = 0, ls_got = 0;
            for (int e = 0; e < E; e++) {
                ls_want += sqrt((double)want[e].v[0] * want[e].v[0] + (double)want[e].v[1] * want[e].v[1] +
                                (double)want[e].v[2] * want[e].v[2]);
                ls_got += g.edge_len[e];
            }
            CHECK_NEAR(ls_got / (E ? E : 1), ls_want / (E ? E : 1), 1e-5);
            free(got);
        }
        if (g.n_triplets == T) {
            int64_t *qgot = malloc((size_t)(T > 0 ? T : 1) * sizeof *qgot);
            double cs = 0;
            for (int t = 0; t < T; t++) {
                qgot[t] = (int64_t)llrint((double)g.trip_cos[t] * (1 << 24));
                cs += g.trip_cos[t];
            }
            qsort(qgot, (size_t)T, sizeof *qgot, cmp_i64);
            double worst = 0;
            for (int t = 0; t < T; t++) worst = fmax(worst, fabs((double)(qgot[t] - qwant[t])) / (1 << 24));
            CHECK_MSG(worst <= 1e-6, "%s canonical=%d: sorted cosines differ by up to %g", name, canonical, worst);
            CHECK_NEAR(cs, cos_sum, 1e-6);
            free(qgot);
        }
        ih_graph_free(&g);
    }
    free(want);
    free(qwant);
}

int main(void) {
    size_t len = 0;
    char *buf = ih_read_file("tests/fixtures/graphs_ref.bin", &len);
    CHECK_MSG(buf != NULL, "%s", ih_last_error());
    if (!buf) return test_summary("test_graph_ref");
    reader r = {(const unsigned char *)buf, (const unsigned char *)buf + len, 0};
    char magic[8];
    take(&r, magic, 8);
    CHECK(memcmp(magic, "IHGFIX1", 8) == 0);
    int n_rec = rd_i32(&r), done = 0;
    for (int q = 0; q < n_rec && !r.bad; q++) {
        uint8_t nl;
        take(&r, &nl, 1);
        char name[256] = {0};
        take(&r, name, nl);
        int N = rd_i32(&r);
        if (r.bad || N < 1 || N > 100000) break;
        ih_structure s;
        ih_structure_init(&s, N);
        snprintf(s.jid, sizeof s.jid, "%.60s", name);
        for (int a = 0; a < 9; a++) s.lattice[a / 3][a % 3] = rd_f64(&r);
        for (int a = 0; a < 3 * N; a++) s.frac[a] = rd_f64(&r);
        for (int a = 0; a < N; a++) s.z[a] = rd_i32(&r);
        compare_mode(&r, &s, 0, name);
        compare_mode(&r, &s, 1, name);
        ih_structure_free(&s);
        done += !r.bad;
    }
    CHECK(!r.bad && r.p == r.end);
    CHECK_INT(done, 27);
    free(buf);
    return test_summary("test_graph_ref");
}
