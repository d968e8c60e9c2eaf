/* ionhop-bench graph: graph-construction throughput on a record file. JSON parsing is timed
 * separately; graphs are built structure-parallel (as a data loader would) and freed at once, so
 * the peak RSS is the parsed file plus a few graphs in flight. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ionhop-bench graph --data FILE [--threads N] [--canonical] [--k K] [--cutoff R]\n"
            "                          [--limit N] [--repeat R] [--batch B] [--cache PATH]\n\n"
            "Times graph construction over the structures of FILE: neighbour search + edges, the\n"
            "same with the line graph, the size count without it (ih_graph_count), and training\n"
            "batches of B structures (ih_graph_build_batch, default 128); best of R repeats.\n"
            "Prints structures/s, atoms/s, edges/s, triplets/s, totals and the peak RSS.\n"
            "--cache PATH also writes every graph to a graph cache and times reading it back.\n"
            "Threads: --threads N, else OMP_NUM_THREADS.\n");
}

typedef struct totals {
    double cpu; /* process CPU seconds (user + sys) of the pass: robust on a busy machine */
    long long n, e, t;
    int t_max, t_max_at, retries;
    double en_min, en_max;
} totals;

enum { PASS_EDGES, PASS_FULL, PASS_COUNT };

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* One timed pass over the first n structures; returns the wall time or -1 on error. */
static double run_pass(const ih_structure_set *set, int n, const ih_graph_opts *base, int kind,
                       totals *tot) {
    ih_graph_opts o = *base;
    o.line_graph = kind != PASS_EDGES;
    memset(tot, 0, sizeof *tot);
    tot->en_min = INFINITY;
    int failed = 0;
    char err[1024] = "";
    long long sn = 0, se = 0, st = 0;
    double c0 = cpu_now(), t0 = ih_now();
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : sn, se, st)
    for (int s = 0; s < n; s++) {
        int N = 0, E = 0;
        int64_t T = 0;
        double cut = base->cutoff;
        int rc;
        if (kind == PASS_COUNT) {
            rc = ih_graph_count(&set->items[s], &o, &N, &E, &T);
        } else {
            ih_graph g;
            rc = ih_graph_build(&set->items[s], &o, &g);
            if (rc == 0) {
                N = g.n_atoms, E = g.n_edges, T = g.n_triplets, cut = g.cutoff_used;
                ih_graph_free(&g);
            }
        }
        if (rc != 0) {
#pragma omp critical(bench_graph_error)
            if (!failed) failed = 1, snprintf(err, sizeof err, "%s", ih_last_error());
            continue;
        }
        sn += N, se += E, st += T;
#pragma omp critical(bench_graph_totals)
        {
            if (T > tot->t_max) tot->t_max = (int)T, tot->t_max_at = s;
            tot->retries += cut != base->cutoff;
            double en = (double)E / N;
            tot->en_min = fmin(tot->en_min, en), tot->en_max = fmax(tot->en_max, en);
        }
    }
    double dt = ih_now() - t0;
    tot->cpu = cpu_now() - c0;
    if (failed) {
        ih_set_error("%s", err);
        return -1;
    }
    tot->n = sn, tot->e = se, tot->t = st;
    return dt;
}

/* Batches of B consecutive structures built with ih_graph_build_batch and freed; returns the
 * wall time and the largest batch's memory in *batch_mb, or -1 on error. */
static double run_batches(const ih_structure_set *set, int n, const ih_graph_opts *o, int B,
                          totals *tot, double *batch_mb) {
    memset(tot, 0, sizeof *tot);
    const ih_structure **ptrs = malloc((size_t)B * sizeof *ptrs);
    if (!ptrs) return ih_set_error("out of memory");
    *batch_mb = 0;
    double c0 = cpu_now(), t0 = ih_now();
    for (int first = 0; first < n; first += B) {
        int m = n - first < B ? n - first : B;
        for (int q = 0; q < m; q++) ptrs[q] = &set->items[first + q];
        ih_graph g;
        if (ih_graph_build_batch(ptrs, m, o, &g) != 0) {
            free(ptrs);
            return -1;
        }
        tot->n += g.n_atoms, tot->e += g.n_edges, tot->t += g.n_triplets;
        /* int32 indices + float32 values: 16 B per triplet, ~36 B per edge, 12 B per atom */
        double mb = (16.0 * g.n_triplets + 36.0 * g.n_edges + 12.0 * g.n_atoms) / 1e6;
        if (mb > *batch_mb) *batch_mb = mb;
        ih_graph_free(&g);
    }
    free(ptrs);
    tot->cpu = cpu_now() - c0;
    return ih_now() - t0;
}

static void rates(const char *label, double dt, int n, const totals *t, int with_t) {
    printf("  %-38s %7.3f s (cpu %6.3f s) %9.1f structures/s %8.3g atoms/s %8.3g edges/s", label, dt,
           t->cpu, n / dt, t->n / dt, t->e / dt);
    if (with_t) printf(" %8.3g triplets/s", t->t / dt);
    printf("\n");
}

/* Write all graphs to path (atomically), then time reading them back. */
static int cache_round_trip(const ih_structure_set *set, int n, const ih_graph_opts *o,
                            const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return ih_set_error("%s: cannot write", path);
    double t0 = ih_now();
    for (int s = 0; s < n; s++) {
        ih_graph g;
        if (ih_graph_build(&set->items[s], o, &g) != 0 || ih_graph_write(f, &g) != 0) {
            ih_graph_free(&g);
            fclose(f);
            remove(tmp);
            return -1;
        }
        ih_graph_free(&g);
    }
    long size = ftell(f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return ih_set_error("%s: write failed", path);
    }
    double t_write = ih_now() - t0;
    f = fopen(path, "rb");
    if (!f) return ih_set_error("%s: cannot read back", path);
    t0 = ih_now();
    int count = 0, rc;
    long long se = 0, st = 0;
    ih_graph g;
    while ((rc = ih_graph_read(f, path, &g)) == 0) {
        count++, se += g.n_edges, st += g.n_triplets;
        ih_graph_free(&g);
    }
    double t_read = ih_now() - t0;
    fclose(f);
    if (rc < 0) return -1;
    if (count != n) return ih_set_error("%s: read %d graphs back, wrote %d", path, count, n);
    printf("  graph cache %s: %.1f MB for %d graphs (%.1f bytes/edge); build+write %.3f s, "
           "read + line graph %.3f s (%.1f structures/s, %.3g triplets/s)\n",
           path, size / 1e6, n, (double)size / (se ? se : 1), t_write, t_read, n / t_read, st / t_read);
    return 0;
}

typedef struct bench_args {
    const char *data, *cache;
    int threads, limit, repeat, batch;
    ih_graph_opts o;
} bench_args;

/* -1: go on; otherwise the exit status (0 after --help) */
static int parse_args(int argc, char **argv, bench_args *b) {
    for (int i = 1; i < argc; i++) {
        int r = cli_graph_option(argc, argv, &i, &b->o);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") && v) {
            b->data = argv[++i];
        } else if (!strcmp(a, "--cache") && v) {
            b->cache = argv[++i];
        } else if (!strcmp(a, "--threads")) {
            bad = cli_parse_int(a, v, 1, 1024, &b->threads), i++;
        } else if (!strcmp(a, "--limit")) {
            bad = cli_parse_int(a, v, 1, 1 << 30, &b->limit), i++;
        } else if (!strcmp(a, "--batch")) {
            bad = cli_parse_int(a, v, 1, 1 << 20, &b->batch), i++;
        } else if (!strcmp(a, "--repeat")) {
            bad = cli_parse_int(a, v, 1, 1000, &b->repeat), i++;
        } else {
            return cli_usage_error("bench graph: unknown option or missing value '%s'", a);
        }
        if (bad) return 2;
    }
    if (!b->data) return cli_usage_error("bench graph: --data FILE is required");
    return -1;
}

/* the three single-structure passes and the batched one, best of b->repeat each; tot: the passes' totals */
static int time_passes(const bench_args *b, const ih_structure_set *set, int n, totals tot[3]) {
    const char *labels[3] = {"neighbours + edges", "neighbours + edges + line graph",
                             "size count only (ih_graph_count)"};
    for (int kind = 0; kind < 3; kind++) {
        double best = INFINITY;
        for (int r = 0; r < b->repeat; r++) {
            totals tr;
            double dt = run_pass(set, n, &b->o, kind, &tr);
            if (dt < 0) return -1;
            if (dt < best) best = dt, tot[kind] = tr;
        }
        rates(labels[kind], best, n, &tot[kind], kind != PASS_EDGES);
    }
    totals tb = {0}, tr;
    double best = INFINITY, mb = 0;
    for (int r = 0; r < b->repeat; r++) {
        double dt = run_batches(set, n, &b->o, b->batch, &tr, &mb);
        if (dt < 0) return -1;
        if (dt < best) best = dt, tb = tr;
    }
    char label[64];
    snprintf(label, sizeof label, "batches of %d (ih_graph_build_batch)", b->batch);
    rates(label, best, n, &tb, 1);
    printf("  %-38s largest batch graph %.1f MB\n", "", mb);
    return 0;
}

/* sizes of the full graphs, the count pass's agreement, and the published method's figures for the Em set */
static void print_totals(const bench_args *b, const ih_structure_set *set, int n, const totals tot[3]) {
    const totals *t = &tot[PASS_FULL];
    const char *jid = set->items[t->t_max_at].jid;
    printf("  totals: ΣN %lld  ΣE %lld  ΣT %lld  largest T %d (%s%s)  E/N %.2f-%.2f  "
           "structures needing a larger cutoff %d\n",
           t->n, t->e, t->t, t->t_max, jid[0] ? "jid " : "#", jid[0] ? jid : "", t->en_min, t->en_max, t->retries);
    if (tot[PASS_COUNT].e != t->e || tot[PASS_COUNT].t != t->t)
        printf("  WARNING: the size count (E %lld, T %lld) disagrees with the built graphs\n", tot[PASS_COUNT].e,
               tot[PASS_COUNT].t);
    /* docs/method.md §10.9: the Em training set's graph sizes */
    const ih_graph_opts *o = &b->o;
    if (set->n == 559 && n == 559 && !o->canonical && o->k == 12 && o->cutoff == 8.0 && o->tie_tol == 0 &&
        !strcmp(set->items[0].jid, "0") && !strcmp(set->items[558].jid, "558")) {
        int ok = t->e == 1726122 && t->t == 41921108 && t->t_max == 592908 && t->retries == 0;
        printf("  docs/method.md §10.9 (ΣE 1726122, ΣT 41921108, largest T 592908, no retries): %s\n", ok ? "MATCH" : "MISMATCH");
    }
}

int bench_graph(int argc, char **argv) {
    bench_args b = {.repeat = 1, .batch = 128};
    ih_graph_opts_default(&b.o);
    int rc = parse_args(argc, argv, &b);
    if (rc >= 0) return rc;
    cli_tune_malloc();
    if (b.threads) omp_set_num_threads(b.threads);

    double t0 = ih_now();
    ih_structure_set set;
    if (ih_read_structures(b.data, IH_FMT_UNKNOWN, &set) != 0) return cli_fail();
    double t_parse = ih_now() - t0;
    long rss_parse = ih_peak_rss_kb();
    int n = b.limit && b.limit < set.n ? b.limit : set.n;
    printf("bench graph: %s, %d of %d structures, %d thread%s, %s keys, k %d, starting cutoff %g Å\n", b.data, n,
           set.n, omp_get_max_threads(), omp_get_max_threads() == 1 ? "" : "s",
           b.o.canonical ? "canonical" : "non-canonical", b.o.k, b.o.cutoff);
    printf("  %-38s %7.3f s  (%d structures)\n", "JSON parsing (not included below)", t_parse, set.n);
    totals tot[3];
    rc = time_passes(&b, &set, n, tot);
    if (rc == 0) {
        print_totals(&b, &set, n, tot);
        long rss = ih_peak_rss_kb();
        printf("  peak RSS %.1f MB (%.1f MB after parsing the file)\n", rss / 1024.0, rss_parse / 1024.0);
        if (b.cache) rc = cache_round_trip(&set, n, &b.o, b.cache);
    }
    ih_structure_set_free(&set);
    return rc == 0 ? 0 : cli_fail();
}
