/* Crystal graph, line graph, batching and the graph cache: docs/method.md §10.4 (CsCl) and §10.5
 * (Em training structures) numbers, structural invariants, and bad input. */
#include <omp.h>

#include "check.h"
#include "graph_check.h"
#include "ionhop_train.h"

static void make_cscl(ih_structure *s, int cartesian) {
    ih_structure_init(s, 2);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) s->lattice[r][c] = r == c ? 4.0 : 0.0;
    s->z[0] = ih_element_z("Cs");
    s->z[1] = ih_element_z("Cl");
    for (int c = 0; c < 3; c++) s->frac[3 + c] = 0.5;
    if (cartesian) {
        s->cart = calloc(6, sizeof *s->cart);
        for (int c = 0; c < 3; c++) s->cart[3 + c] = 2.0;
    }
}

static ih_graph_opts opts(int canonical, double cutoff, int k) {
    ih_graph_opts o;
    ih_graph_opts_default(&o);
    o.canonical = canonical;
    o.cutoff = cutoff;
    o.k = k;
    return o;
}

/* Sites `first` (one site) followed by sites 5.. of a 5-image record: initial (0) or final (4). */
static void end_point(const ih_structure *img, int first, ih_structure *out) {
    int n = img->n_atoms - 4;
    ih_structure_init(out, n);
    memcpy(out->lattice, img->lattice, sizeof out->lattice);
    snprintf(out->jid, sizeof out->jid, "%.40s-%s", img->jid, first ? "final" : "initial");
    for (int a = 0; a < n; a++) {
        int src = a == 0 ? first : a + 4;
        memcpy(out->frac + 3 * a, img->frac + 3 * src, 3 * sizeof(double));
        out->z[a] = img->z[src];
    }
}

static void test_cscl(void) {
    ih_structure s;
    make_cscl(&s, 0);
    /* neighbours: 8 at √12 (Cs-Cl) + 6 self-images at 4 Å, ties at the 12th all kept */
    ih_neighbor *nb;
    int n;
    double cut;
    CHECK(ih_neighbors(&s, 8.0, 12, 0, 0.0, &nb, &n, &cut) == 0);
    CHECK_INT(n, 28);
    CHECK_NEAR(cut, 8.0, 0);
    int n_self = 0, n_short = 0;
    for (int q = 0; q < n; q++) {
        if (nb[q].i == nb[q].j) {
            n_self++;
            CHECK(nb[q].dist == 4.0);
        } else {
            n_short++;
            CHECK(nb[q].dist == sqrt(12.0));
        }
        if (q > 0) CHECK(nb[q].i >= nb[q - 1].i);
    }
    CHECK_INT(n_self, 12);
    CHECK_INT(n_short, 16);
    free(nb);

    const struct {
        int canonical, E, loops, T;
        double sum_r;
        int plus1, minus1;
    } want[2] = {{0, 56, 24, 1544, 206.851252, 112, 88}, {1, 40, 24, 776, 151.425626, 64, 40}};
    for (int m = 0; m < 2; m++) {
        ih_graph_opts o = opts(want[m].canonical, 8.0, 12);
        ih_graph g;
        CHECK(ih_graph_build(&s, &o, &g) == 0);
        ih_graph_stats st;
        ih_graph_stats_compute(&g, &st);
        CHECK_INT(st.n_atoms, 2);
        CHECK_INT(st.n_edges, want[m].E);
        CHECK_INT(st.n_self_loops, want[m].loops);
        CHECK_INT(st.n_triplets, want[m].T);
        CHECK_NEAR(st.len_sum, want[m].sum_r, 5e-7);
        CHECK_NEAR(st.cos_sum, 24.0, 1e-9);
        int p1 = 0, m1 = 0;
        for (int t = 0; t < g.n_triplets; t++) p1 += g.trip_cos[t] == 1.0f, m1 += g.trip_cos[t] == -1.0f;
        CHECK_INT(p1, want[m].plus1);
        CHECK_INT(m1, want[m].minus1);
        CHECK_INT(graph_invariants(&g), 0);
        if (!want[m].canonical) {
            /* the full cosine histogram of §10.4 */
            const double val[7] = {-1, -0.5774, -0.3333, 0, 0.3333, 0.5774, 1};
            const int cnt[7] = {88, 384, 192, 192, 192, 384, 112};
            int got[7] = {0};
            for (int t = 0; t < g.n_triplets; t++)
                for (int b = 0; b < 7; b++)
                    if (fabs(g.trip_cos[t] - val[b]) < 5e-5) got[b]++;
            for (int b = 0; b < 7; b++) CHECK_INT(got[b], cnt[b]);
        }
        ih_graph_free(&g);
    }
    /* the starting cutoff only decides retries: 3 Å retries once to max(a, b, c) = 4 */
    const double starts[3] = {3.0, 4.5, 6.0}, finals[3] = {4.0, 4.5, 6.0};
    for (int q = 0; q < 3; q++) {
        ih_graph_opts o = opts(0, starts[q], 12);
        ih_graph g;
        CHECK(ih_graph_build(&s, &o, &g) == 0);
        CHECK_INT(g.n_edges, 56);
        CHECK_NEAR(g.cutoff_used, finals[q], 0);
        ih_graph_free(&g);
    }
    /* the same crystal given in Cartesian coordinates */
    ih_structure sc;
    make_cscl(&sc, 1);
    ih_graph_opts o = opts(0, 8.0, 12);
    ih_graph g;
    CHECK(ih_graph_build(&sc, &o, &g) == 0);
    CHECK_INT(g.n_edges, 56);
    CHECK_INT(g.n_triplets, 1544);
    ih_graph_free(&g);
    ih_structure_free(&sc);
    ih_structure_free(&s);
}

typedef struct em_row {
    int jid, canonical, which; /* which: -1 5-image, 0 initial, 4 final */
    int N, E, T;
    double lmin, lmean, lmax, cmean; /* 0: not listed */
    int dmin, dmax;
} em_row;

static void test_em(const ih_structure_set *set) {
    const em_row rows[] = {
        {7, 0, -1, 33, 792, 19184, 0.65469, 2.45508, 3.62462, 0.042121, 20, 29},
        {7, 1, -1, 33, 438, 5890, 0.65469, 2.52835, 3.62462, 0.038451, 12, 17},
        {7, 0, 0, 29, 696, 16844, 1.53337, 2.65097, 3.63962, 0.014514, 21, 28},
        {7, 0, 4, 29, 696, 16864, 1.53337, 2.63861, 3.62462, 0.024282, 22, 29},
        {0, 0, -1, 211, 5064, 121860, 1.12028, 3.26881, 4.19118, 0.016585, 21, 28},
        {0, 1, -1, 211, 2658, 33608, 0, 0, 0, 0, 12, 16},
        {0, 0, 0, 207, 4968, 119474, 0, 0, 0, 0, 22, 26},
        {0, 0, 4, 207, 4968, 119484, 0, 0, 0, 0, 22, 26},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const em_row *w = &rows[r];
        ih_structure sub, *s = &set->items[w->jid];
        if (w->which >= 0) {
            end_point(s, w->which, &sub);
            s = &sub;
        }
        ih_graph_opts o = opts(w->canonical, 8.0, 12);
        ih_graph g;
        CHECK(ih_graph_build(s, &o, &g) == 0);
        ih_graph_stats st;
        ih_graph_stats_compute(&g, &st);
        CHECK_MSG(st.n_atoms == w->N && st.n_edges == w->E && st.n_triplets == w->T,
                  "jid %d row %zu: N %d E %d T %d", w->jid, r, st.n_atoms, st.n_edges, st.n_triplets);
        CHECK_INT(st.indeg_min, w->dmin);
        CHECK_INT(st.indeg_max, w->dmax);
        CHECK_NEAR(g.cutoff_used, 8.0, 0); /* no retry at 8 Å */
        if (w->lmin > 0) {
            CHECK_NEAR(st.len_min, w->lmin, 5e-6);
            CHECK_NEAR(st.len_mean, w->lmean, 5e-6);
            CHECK_NEAR(st.len_max, w->lmax, 5e-6);
            CHECK_NEAR(st.cos_mean, w->cmean, 5e-7);
        }
        CHECK_INT(graph_invariants(&g), 0);
        /* the cheap count agrees with the built graph */
        int cn, ce;
        int64_t ct;
        CHECK(ih_graph_count(s, &o, &cn, &ce, &ct) == 0);
        CHECK(cn == g.n_atoms && ce == g.n_edges && ct == g.n_triplets);
        ih_graph_free(&g);
        if (w->which >= 0) ih_structure_free(&sub);
    }

    /* MODEL-4 local sub-graph (§2.9): cutoff 3, k 6, retry to max(a, b, c) */
    const struct {
        int jid, n;
        int sites[17];
        double cut;
        int E, T;
    } loc[2] = {{7, 17, {0, 1, 2, 3, 4, 6, 8, 10, 12, 17, 19, 22, 24, 25, 27, 29, 31}, 7.910106, 114, 1200},
                {0, 16, {0, 1, 2, 3, 4, 37, 38, 53, 70, 102, 134, 162, 166, 174, 190, 197}, 22.465465, 110, 1176}};
    for (int q = 0; q < 2; q++) {
        ih_graph g;
        int *sites = NULL;
        CHECK(ih_graph_build_local(&set->items[loc[q].jid], NULL, 5, &g, &sites) == 0);
        CHECK_INT(g.n_atoms, loc[q].n);
        CHECK_NEAR(g.cutoff_used, loc[q].cut, 1e-12);
        CHECK_INT(g.n_edges, loc[q].E);
        CHECK_INT(g.n_triplets, loc[q].T);
        for (int a = 0; a < g.n_atoms && a < loc[q].n && sites; a++) CHECK_INT(sites[a], loc[q].sites[a]);
        for (int a = 0; a < g.n_atoms && sites; a++) CHECK_INT(g.atom_z[a], set->items[loc[q].jid].z[sites[a]]);
        CHECK_INT(graph_invariants(&g), 0);
        free(sites);
        ih_graph_free(&g);
    }
}

static int same_graph(const ih_graph *a, const ih_graph *b) {
    if (a->n_structs != b->n_structs || a->n_atoms != b->n_atoms || a->n_edges != b->n_edges ||
        a->n_triplets != b->n_triplets)
        return 0;
    size_t S1 = a->n_structs + 1, N = a->n_atoms, E = a->n_edges, T = a->n_triplets;
#define SAME(f, n) (memcmp(a->f, b->f, (n) * sizeof *a->f) == 0)
    return SAME(struct_atom_ptr, S1) && SAME(struct_edge_ptr, S1) && SAME(struct_trip_ptr, S1) &&
           SAME(atom_z, N) && SAME(edge_src, E) && SAME(edge_dst, E) && SAME(edge_vec, 3 * E) &&
           SAME(edge_len, E) && SAME(dst_ptr, N + 1) && SAME(src_ptr, N + 1) &&
           SAME(edges_by_src, E) && SAME(trip_src, T) && SAME(trip_dst, T) && SAME(trip_cos, T) &&
           SAME(trip_ptr, E + 1) && SAME(tsrc_ptr, E + 1) && SAME(trips_by_src, T);
#undef SAME
}

static void test_batch_and_cache(const ih_structure_set *set) {
    ih_structure cscl;
    make_cscl(&cscl, 0);
    ih_graph parts[3];
    ih_graph_opts nc = opts(0, 8.0, 12), cn = opts(1, 8.0, 12);
    CHECK(ih_graph_build(&set->items[7], &nc, &parts[0]) == 0);
    CHECK(ih_graph_build(&cscl, &nc, &parts[1]) == 0);
    CHECK(ih_graph_build(&set->items[7], &cn, &parts[2]) == 0);
    const ih_graph *ptrs[3] = {&parts[0], &parts[1], &parts[2]};
    ih_graph b;
    CHECK(ih_graph_batch(ptrs, 3, &b) == 0);
    CHECK_INT(b.n_structs, 3);
    CHECK_INT(b.n_atoms, 33 + 2 + 33);
    CHECK_INT(b.n_edges, 792 + 56 + 438);
    CHECK_INT(b.n_triplets, 19184 + 1544 + 5890);
    CHECK_INT(graph_invariants(&b), 0);
    for (int s = 0; s < 3; s++) {
        CHECK_INT(b.struct_atom_ptr[s + 1] - b.struct_atom_ptr[s], parts[s].n_atoms);
        CHECK_INT(b.struct_edge_ptr[s + 1] - b.struct_edge_ptr[s], parts[s].n_edges);
        CHECK_INT(b.struct_trip_ptr[s + 1] - b.struct_trip_ptr[s], parts[s].n_triplets);
        /* per-structure sums are preserved and every index is shifted by the running offsets */
        double lp = 0, lb = 0, cp = 0, cb = 0;
        int e0 = b.struct_edge_ptr[s], a0 = b.struct_atom_ptr[s], t0 = b.struct_trip_ptr[s], ok = 1;
        for (int e = 0; e < parts[s].n_edges; e++) {
            lp += parts[s].edge_len[e], lb += b.edge_len[e0 + e];
            ok &= b.edge_src[e0 + e] == parts[s].edge_src[e] + a0;
            ok &= b.edge_dst[e0 + e] == parts[s].edge_dst[e] + a0;
        }
        for (int t = 0; t < parts[s].n_triplets; t++) {
            cp += parts[s].trip_cos[t], cb += b.trip_cos[t0 + t];
            ok &= b.trip_src[t0 + t] == parts[s].trip_src[t] + e0;
            ok &= b.trips_by_src[t0 + t] == parts[s].trips_by_src[t] + t0;
        }
        CHECK(ok);
        CHECK(lp == lb && cp == cb);
    }
    /* a batch of batches equals the flat batch */
    ih_graph b01, b012;
    const ih_graph *p01[2] = {&parts[0], &parts[1]};
    CHECK(ih_graph_batch(p01, 2, &b01) == 0);
    const ih_graph *p012[2] = {&b01, &parts[2]};
    CHECK(ih_graph_batch(p012, 2, &b012) == 0);
    CHECK(same_graph(&b, &b012));

    /* cache round trip: two graphs in one file, then a clean end of file */
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (f) {
        CHECK(ih_graph_write(f, &b) == 0);
        CHECK(ih_graph_write(f, &parts[1]) == 0);
        long size = ftell(f);
        rewind(f);
        ih_graph r1, r2, r3;
        CHECK(ih_graph_read(f, "c.ihgc", &r1) == 0);
        CHECK(same_graph(&r1, &b));
        CHECK(ih_graph_read(f, "c.ihgc", &r2) == 0);
        CHECK(same_graph(&r2, &parts[1]));
        CHECK_NEAR(r2.cutoff_used, 8.0, 0);
        CHECK(ih_graph_read(f, "c.ihgc", &r3) == 1);
        ih_graph_free(&r1), ih_graph_free(&r2);
        /* truncated, corrupted and foreign files are clean errors */
        char *buf = malloc((size_t)size);
        rewind(f);
        CHECK(fread(buf, 1, (size_t)size, f) == (size_t)size);
        const long cuts[4] = {10, 40, 200, 1000};
        for (int q = 0; q < 4; q++) {
            FILE *t = tmpfile();
            fwrite(buf, 1, (size_t)cuts[q], t);
            rewind(t);
            ih_graph r;
            CHECK(ih_graph_read(t, "cut.ihgc", &r) == -1);
            CHECK(strstr(ih_last_error(), "cut.ihgc") && strstr(ih_last_error(), "truncated"));
            fclose(t);
        }
        buf[500] ^= 0x10;
        FILE *t = tmpfile();
        fwrite(buf, 1, (size_t)size, t);
        rewind(t);
        ih_graph r;
        CHECK(ih_graph_read(t, "flip.ihgc", &r) == -1);
        CHECK(strstr(ih_last_error(), "corrupt") != NULL);
        fclose(t);
        t = tmpfile();
        fputs("[{\"jid\": 1, \"atoms\": {\"lattice_mat\": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}}]\n", t);
        rewind(t);
        CHECK(ih_graph_read(t, "x.json", &r) == -1);
        CHECK(strstr(ih_last_error(), "not an ionhop graph cache") != NULL);
        fclose(t);
        free(buf);
        fclose(f);
    }
    ih_graph_free(&b01), ih_graph_free(&b012), ih_graph_free(&b);
    for (int q = 0; q < 3; q++) ih_graph_free(&parts[q]);
    ih_structure_free(&cscl);
}

/* a × b × c supercell of s (fractional coordinates scaled, lattice rows multiplied) */
static void supercell(const ih_structure *s, const int rep[3], ih_structure *out) {
    int n = s->n_atoms * rep[0] * rep[1] * rep[2], a = 0;
    ih_structure_init(out, n);
    snprintf(out->jid, sizeof out->jid, "supercell");
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) out->lattice[r][c] = s->lattice[r][c] * rep[r];
    for (int i0 = 0; i0 < rep[0]; i0++)
        for (int i1 = 0; i1 < rep[1]; i1++)
            for (int i2 = 0; i2 < rep[2]; i2++)
                for (int q = 0; q < s->n_atoms; q++, a++) {
                    const int shift[3] = {i0, i1, i2};
                    for (int c = 0; c < 3; c++) out->frac[3 * a + c] = (s->frac[3 * q + c] + shift[c]) / rep[c];
                    out->z[a] = s->z[q];
                }
}

static void test_options_and_threads(const ih_structure_set *set) {
    /* without the line graph: same edges, no triplets */
    ih_graph_opts o = opts(0, 8.0, 12);
    ih_graph a, b;
    CHECK(ih_graph_build(&set->items[0], &o, &a) == 0);
    o.line_graph = 0;
    CHECK(ih_graph_build(&set->items[0], &o, &b) == 0);
    CHECK_INT(b.n_triplets, 0);
    CHECK(a.n_edges == b.n_edges && memcmp(a.edge_vec, b.edge_vec, 3 * (size_t)a.n_edges * sizeof(float)) == 0);
    CHECK_INT(graph_invariants(&b), 0);
    int64_t ct = -1;
    CHECK(ih_graph_count(&set->items[0], &o, NULL, NULL, &ct) == 0 && ct == 0);
    ih_graph_free(&b);
    ih_graph_free(&a);
    o.line_graph = 1;

    /* A 2×2×3 supercell of jid 0 (2532 atoms, ~1.5M triplets) is large enough for the
     * within-structure parallel paths: one and two threads must give the identical graph. Its
     * atoms have the neighbour shells of jid 0, so the sizes scale by 12. */
    const int rep[3] = {2, 2, 3};
    ih_structure big;
    supercell(&set->items[0], rep, &big);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(ih_graph_build(&big, &o, &a) == 0);
    omp_set_num_threads(2);
    CHECK(ih_graph_build(&big, &o, &b) == 0);
    omp_set_num_threads(saved);
    CHECK(same_graph(&a, &b));
    CHECK_INT(a.n_atoms, 12 * 211);
    CHECK_INT(a.n_edges, 12 * 5064);
    CHECK_INT(a.n_triplets, 12 * 121860);
    CHECK_INT(graph_invariants(&a), 0);
    /* large enough for the parallel copy of ih_graph_batch: the second copy is the first, shifted */
    const ih_graph *twice[2] = {&a, &b};
    ih_graph ab;
    CHECK(ih_graph_batch(twice, 2, &ab) == 0);
    int shifted = ab.n_triplets == 2 * a.n_triplets;
    for (int t = 0; shifted && t < a.n_triplets; t++)
        shifted = ab.trip_src[a.n_triplets + t] == a.trip_src[t] + a.n_edges &&
                  ab.trips_by_src[a.n_triplets + t] == a.trips_by_src[t] + a.n_triplets &&
                  ab.trip_cos[a.n_triplets + t] == a.trip_cos[t];
    for (int e = 0; shifted && e < a.n_edges; e++)
        shifted = ab.edge_dst[a.n_edges + e] == a.edge_dst[e] + a.n_atoms &&
                  ab.tsrc_ptr[a.n_edges + e] == a.tsrc_ptr[e] + a.n_triplets;
    CHECK(shifted);
    ih_graph_free(&ab);
    ih_graph_free(&a), ih_graph_free(&b);
    ih_structure_free(&big);

    /* a batch built in parallel over structures equals the batch of separately built graphs */
    const ih_structure *sp[4] = {&set->items[3], &set->items[7], &set->items[0], &set->items[7]};
    ih_graph parts[4], manual, par;
    const ih_graph *pp[4];
    for (int q = 0; q < 4; q++) {
        CHECK(ih_graph_build(sp[q], &o, &parts[q]) == 0);
        pp[q] = &parts[q];
    }
    CHECK(ih_graph_batch(pp, 4, &manual) == 0);
    CHECK(ih_graph_build_batch(sp, 4, &o, &par) == 0);
    CHECK(same_graph(&manual, &par));
    CHECK_INT(par.n_structs, 4);
    ih_graph_free(&manual), ih_graph_free(&par);
    for (int q = 0; q < 4; q++) ih_graph_free(&parts[q]);
    /* a failing structure fails the batch with its own message */
    ih_structure bad;
    ih_structure_copy(&bad, &set->items[7]);
    snprintf(bad.jid, sizeof bad.jid, "broken");
    bad.frac[5] = NAN;
    sp[2] = &bad;
    CHECK(ih_graph_build_batch(sp, 4, &o, &par) == -1);
    CHECK(strstr(ih_last_error(), "jid broken") != NULL && par.n_edges == 0);
    ih_structure_free(&bad);
}

static int fails_with(const ih_structure *s, const ih_graph_opts *o, const char *needle) {
    ih_graph g;
    int rc = ih_graph_build(s, o, &g);
    const char *e = ih_last_error();
    int ok = rc == -1 && strstr(e, needle) && strstr(e, "jid bad") && !strchr(e, '\n') && g.n_edges == 0 &&
             g.edge_src == NULL;
    if (!ok) fprintf(stderr, "rc %d message '%s' lacks '%s'\n", rc, e, needle);
    if (rc == 0) ih_graph_free(&g);
    return ok;
}

static void test_bad_input(void) {
    ih_structure s;
    make_cscl(&s, 0);
    snprintf(s.jid, sizeof s.jid, "bad");
    ih_graph_opts o = opts(0, 8.0, 12);
    o.cutoff = 0;
    CHECK(fails_with(&s, &o, "cutoff"));
    o.cutoff = NAN;
    CHECK(fails_with(&s, &o, "cutoff"));
    o = opts(0, 8.0, 0);
    CHECK(fails_with(&s, &o, "k must be"));
    o = opts(0, 8.0, 12);
    s.frac[4] = NAN;
    CHECK(fails_with(&s, &o, "coordinate"));
    s.frac[4] = 0.5;
    s.lattice[2][0] = 4.0, s.lattice[2][1] = 4.0, s.lattice[2][2] = 0.0; /* c = a + b: flat */
    CHECK(fails_with(&s, &o, "degenerate"));
    /* a needle-thin cell: thousands of images inside 0.15 Å */
    s.lattice[2][0] = 0, s.lattice[2][1] = 0, s.lattice[2][2] = 4.0;
    s.lattice[0][0] = 1e-3;
    CHECK(fails_with(&s, &o, "degenerate"));
    ih_structure_free(&s);
    CHECK(ih_structure_init(&s, 0) == 0);
    snprintf(s.jid, sizeof s.jid, "bad");
    CHECK(fails_with(&s, &o, "no atoms"));
    ih_structure_free(&s);
}

/* Path images kept apart (ih_graph_opts.n_apart 5): no bond joins two different images, each
 * image still has its k nearest host neighbours (the images' own edges are exactly the
 * host-only k-NN), host atoms keep theirs, and n_apart 0 is the published method's graph. */
static void test_path_apart(const ih_structure_set *set) {
    const int jids[3] = {7, 0, 357};
    for (int q = 0; q < 3; q++) {
        const ih_structure *s = &set->items[jids[q]];
        for (int canonical = 0; canonical < 2; canonical++) {
            ih_graph_opts o = opts(canonical, 8.0, 12), oa = o;
            oa.n_apart = 5;
            ih_graph g, ga;
            CHECK(ih_graph_build(s, &o, &g) == 0);
            CHECK(ih_graph_build(s, &oa, &ga) == 0);
            int sib = 0, sib_apart = 0;
            for (int e = 0; e < g.n_edges; e++)
                sib += g.edge_src[e] < 5 && g.edge_dst[e] < 5 && g.edge_src[e] != g.edge_dst[e];
            for (int e = 0; e < ga.n_edges; e++)
                sib_apart += ga.edge_src[e] < 5 && ga.edge_dst[e] < 5 && ga.edge_src[e] != ga.edge_dst[e];
            CHECK_MSG(sib > 0, "jid %d: the published method's graph bonds sibling images (%d edges)", jids[q], sib);
            CHECK_INT(sib_apart, 0);
            CHECK_INT(graph_invariants(&ga), 0);
            /* every node still has at least k incoming edges */
            for (int a = 0; a < ga.n_atoms; a++)
                CHECK_MSG(ga.dst_ptr[a + 1] - ga.dst_ptr[a] >= 12, "jid %d atom %d: in-degree %d", jids[q], a,
                          ga.dst_ptr[a + 1] - ga.dst_ptr[a]);
            /* an image's nearest bond is now to a host atom: no shorter than its host-only k-NN */
            ih_neighbor *nb = NULL;
            int n = 0;
            double cut;
            CHECK(ih_neighbors(s, 8.0, 12, 5, 0.0, &nb, &n, &cut) == 0);
            for (int img = 0; img < 5; img++) {
                double dmin = INFINITY, emin = INFINITY;
                for (int k = 0; k < n; k++)
                    if (nb[k].i == img) {
                        CHECK(nb[k].j >= 5 || nb[k].j == img);
                        dmin = fmin(dmin, nb[k].dist);
                    }
                for (int e = ga.dst_ptr[img]; e < ga.dst_ptr[img + 1]; e++) emin = fmin(emin, ga.edge_len[e]);
                CHECK_NEAR(emin, dmin, 1e-5);
            }
            free(nb);
            int cn, ce;
            int64_t ct;
            CHECK(ih_graph_count(s, &oa, &cn, &ce, &ct) == 0);
            CHECK(cn == ga.n_atoms && ce == ga.n_edges && ct == ga.n_triplets);
            /* chained: the apart graph plus consecutive images bonded at the step length (a
             * quarter of the hop), 4 directed edges per pair (2 keys) with full keys, 2 canonical */
            ih_graph gc;
            ih_graph_opts oc = oa;
            oc.path_chain = 1;
            CHECK(ih_graph_build(s, &oc, &gc) == 0);
            CHECK_INT(gc.n_edges, ga.n_edges + 4 * (canonical ? 2 : 4));
            double hop[3], step;
            for (int c = 0; c < 3; c++) hop[c] = s->frac[12 + c] - s->frac[c];
            double x[3];
            ih_frac_to_cart(s->lattice, hop, x);
            step = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]) / 4;
            int chain = 0, other = 0;
            for (int e = 0; e < gc.n_edges; e++) {
                int a = gc.edge_src[e], b = gc.edge_dst[e];
                if (a >= 5 || b >= 5 || a == b) continue;
                if (abs(a - b) == 1) {
                    chain++;
                    CHECK_NEAR(gc.edge_len[e], step, 1e-4);
                } else {
                    other++;
                }
            }
            CHECK_INT(chain, canonical ? 8 : 16);
            CHECK_INT(other, 0);
            CHECK_INT(graph_invariants(&gc), 0);
            CHECK(ih_graph_count(s, &oc, &cn, &ce, &ct) == 0);
            CHECK(cn == gc.n_atoms && ce == gc.n_edges && ct == gc.n_triplets);
            ih_graph_free(&gc);
            ih_graph_free(&g);
            ih_graph_free(&ga);
            /* an end point holds the ion once: nothing to keep apart, refused by the builders */
            ih_structure ini, fin;
            CHECK(ih_path_endpoints(s, &ini, &fin) == 0);
            CHECK(ih_graph_build(&ini, &oa, &ga) == -1 && strstr(ih_last_error(), "not a 5-image path structure"));
            CHECK(ih_graph_count(&ini, &oc, &cn, &ce, &ct) == -1);
            ih_structure_free(&ini);
            ih_structure_free(&fin);
        }
    }
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* ih_graph_displace against an independent route: the graph built from the displaced structure
 * itself (a record whose neighbour ranks the small displacements keep), and the line graph's
 * angles from the displaced vectors. Also ih_rng_normal's first two moments. */
static void test_displace(const ih_structure_set *set) {
    const ih_structure *s = &set->items[7];
    ih_graph_opts o = opts(0, 8.0, 12);
    o.line_graph = 0;
    /* ties within 0.01 Å all kept, so displacements of a few mÅ cannot change the neighbours */
    o.tie_tol = 0.01;
    int N = s->n_atoms;
    float *disp = malloc((size_t)3 * N * sizeof *disp);
    ih_rng rng;
    ih_rng_seed(&rng, 11);
    for (int q = 0; q < 3 * N; q++) disp[q] = (float)(0.002 * ih_rng_normal(&rng));
    /* the displaced structure: fractional += disp · L⁻¹ (L rows = lattice vectors) */
    const double(*L)[3] = s->lattice;
    double inv[3][3], det = L[0][0] * (L[1][1] * L[2][2] - L[1][2] * L[2][1]) -
                           L[0][1] * (L[1][0] * L[2][2] - L[1][2] * L[2][0]) +
                           L[0][2] * (L[1][0] * L[2][1] - L[1][1] * L[2][0]);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            int r1 = (c + 1) % 3, r2 = (c + 2) % 3, c1 = (r + 1) % 3, c2 = (r + 2) % 3;
            inv[r][c] = (L[r1][c1] * L[r2][c2] - L[r1][c2] * L[r2][c1]) / det;
        }
    ih_structure moved;
    ih_structure_init(&moved, N);
    memcpy(moved.lattice, s->lattice, sizeof moved.lattice);
    memcpy(moved.z, s->z, (size_t)N * sizeof *moved.z);
    for (int a = 0; a < N; a++)
        for (int c = 0; c < 3; c++) {
            double df = 0;
            for (int k = 0; k < 3; k++) df += disp[3 * a + k] * inv[k][c];
            moved.frac[3 * a + c] = s->frac[3 * a + c] + df;
        }
    ih_graph g, ref;
    CHECK(ih_graph_build(s, &o, &g) == 0);
    CHECK(ih_graph_build(&moved, &o, &ref) == 0);
    CHECK_INT(g.n_edges, ref.n_edges);
    CHECK(ih_graph_displace(&g, disp) == 0);
    if (g.n_edges == ref.n_edges) {
        /* every displaced edge is an edge of the rebuilt graph (same atoms, same vector) */
        int unmatched = 0;
        double max_vec = 0, max_len = 0, max_moved = 0;
        for (int e = 0; e < g.n_edges; e++) {
            int best = -1;
            double best_d = 1e9;
            int a = g.edge_src[e];
            for (int q = ref.src_ptr[a]; q < ref.src_ptr[a + 1]; q++) {
                int f = ref.edges_by_src[q];
                if (ref.edge_dst[f] != g.edge_dst[e]) continue;
                double d = 0;
                for (int c = 0; c < 3; c++) d = fmax(d, fabs(g.edge_vec[3 * e + c] - ref.edge_vec[3 * f + c]));
                if (d < best_d) best_d = d, best = f;
            }
            if (best < 0) {
                unmatched++;
                continue;
            }
            max_vec = fmax(max_vec, best_d);
            max_len = fmax(max_len, fabs(g.edge_len[e] - ref.edge_len[best]));
        }
        ih_graph plain;
        CHECK(ih_graph_build(s, &o, &plain) == 0);
        for (int e = 0; e < g.n_edges; e++) max_moved = fmax(max_moved, fabs(g.edge_len[e] - plain.edge_len[e]));
        ih_graph_free(&plain);
        CHECK_INT(unmatched, 0);
        CHECK_MSG(max_vec < 2e-5 && max_len < 2e-5, "displaced edges differ by %g / %g Å", max_vec, max_len);
        CHECK(max_moved > 1e-3); /* the displacements did move the atoms */
        CHECK(ih_graph_add_line_graph(&g) == 0 && ih_graph_add_line_graph(&ref) == 0);
        CHECK_INT(g.n_triplets, ref.n_triplets);
        /* the angles, compared sorted (edge order may differ between the two builds) */
        if (g.n_triplets == ref.n_triplets) {
            qsort(g.trip_cos, (size_t)g.n_triplets, sizeof(float), cmp_float);
            qsort(ref.trip_cos, (size_t)ref.n_triplets, sizeof(float), cmp_float);
            double max_cos = 0;
            for (int t = 0; t < g.n_triplets; t++) max_cos = fmax(max_cos, fabs(g.trip_cos[t] - ref.trip_cos[t]));
            CHECK_MSG(max_cos < 2e-5, "displaced angle cosines differ by %g", max_cos);
        }
        /* with the line graph built, the angles would go stale: refused */
        CHECK(ih_graph_displace(&g, disp) == -1);
        CHECK(strstr(ih_last_error(), "line graph") != NULL);
    }
    ih_graph_free(&g);
    ih_graph_free(&ref);
    ih_structure_free(&moved);
    free(disp);
    double sum = 0, sum2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = ih_rng_normal(&rng);
        sum += x, sum2 += x * x;
    }
    CHECK_NEAR(sum / n, 0.0, 0.01);
    CHECK_NEAR(sum2 / n, 1.0, 0.01);
}

int main(void) {
    test_cscl();
    test_bad_input();
    ih_structure_set set;
    CHECK(ih_read_json(shared_path("data/em/train.json"), &set) == 0);
    if (set.n == 559) {
        test_em(&set);
        test_batch_and_cache(&set);
        test_options_and_threads(&set);
        test_path_apart(&set);
        test_displace(&set);
    }
    ih_structure_set_free(&set);
    return test_summary("test_graph");
}
