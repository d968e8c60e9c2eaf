/* ionhop graph FILE: summary of the crystal graph of every structure in a file. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ionhop graph FILE [--canonical] [--k K] [--cutoff R] [--tie-tol A] [--path-apart|--path-chain]\n"
            "                   [--all]\n\n"
            "Builds the crystal graph (k nearest neighbours with ties, default k 12, starting cutoff\n"
            "8 Å) and its line graph for every structure of FILE (JSON records, POSCAR, CIF, XYZ)\n"
            "and prints atoms, directed edges, triplets, self-loop edges, bond lengths, in-degrees\n"
            "and the cutoff after retries. Many structures: the first 10 and totals (--all: every one).\n"
            "  --canonical  canonical edge keys (SCRATCH models) instead of non-canonical\n"
            "  --path-apart 5-image path records: the five images do not bond to each other\n"
            "               (finetune --path-bonds apart)\n"
            "  --path-chain the same plus a bond between consecutive images (--path-bonds chain)\n"
            "  --tie-tol A  neighbours within A Å of the k-th distance are ties, all kept (0: the\n"
            "               published method's exact comparison; finetune --tie-tol)\n");
}

typedef struct row {
    ih_graph_stats st;
    double cutoff;
    int ok;
} row;

/* "jid X" where the record has one, else "#index" */
static void structure_name(const ih_structure_set *set, int s, char *buf, size_t cap) {
    if (set->items[s].jid[0]) snprintf(buf, cap, "jid %.60s", set->items[s].jid);
    else snprintf(buf, cap, "#%d", s);
}

/* every structure's graph built (in parallel, each build on one thread) and summarised; the first
 * failure in file order is the error */
static int build_rows(const ih_structure_set *set, const ih_graph_opts *o, const char *path, row *rows) {
    int failed = -1;
    char err[1024] = "";
#pragma omp parallel for schedule(dynamic, 1)
    for (int s = 0; s < set->n; s++) {
        ih_graph g;
        if (ih_graph_build(&set->items[s], o, &g) != 0) {
#pragma omp critical(graph_cli_error)
            if (failed < 0 || s < failed) {
                failed = s;
                snprintf(err, sizeof err, "%s: %s", path, ih_last_error());
            }
            continue;
        }
        ih_graph_stats_compute(&g, &rows[s].st);
        rows[s].cutoff = g.cutoff_used;
        rows[s].ok = 1;
        ih_graph_free(&g);
    }
    if (failed < 0) return 0;
    fprintf(stderr, "ionhop: %s\n", err);
    return -1;
}

/* one line per structure (the first 10 of a longer file unless all), then the totals */
static void print_rows(const ih_structure_set *set, const ih_graph_opts *o, const char *path, const row *rows,
                       int all) {
    char ties[48] = "";
    if (o->tie_tol != 0) snprintf(ties, sizeof ties, ", ties within %g Å", o->tie_tol);
    printf("%s: %d structure%s, %s keys, k %d, starting cutoff %g Å%s%s\n", path, set->n, set->n == 1 ? "" : "s",
           o->canonical ? "canonical" : "non-canonical", o->k, o->cutoff,
           o->path_chain ? ", path images apart and chained" : o->n_apart ? ", path images apart" : "", ties);
    printf("%-16s %6s %8s %10s %6s  %-28s %9s %9s %10s\n", "structure", "atoms", "edges", "triplets", "loops",
           "bond min / mean / max (Å)", "mean cos", "in-deg", "cutoff (Å)");
    int shown = all || set->n <= 12 ? set->n : 10;
    long long sn = 0, se = 0, st = 0, sl = 0;
    int n_retry = 0, tmax_at = 0;
    double lmin = INFINITY, lmax = 0;
    for (int s = 0; s < set->n; s++) {
        const ih_graph_stats *g = &rows[s].st;
        sn += g->n_atoms, se += g->n_edges, st += g->n_triplets, sl += g->n_self_loops;
        n_retry += rows[s].cutoff != o->cutoff;
        if (g->n_triplets > rows[tmax_at].st.n_triplets) tmax_at = s;
        lmin = fmin(lmin, g->len_min), lmax = fmax(lmax, g->len_max);
        if (s >= shown) continue;
        char name[80], in[24], bonds[40];
        structure_name(set, s, name, sizeof name);
        snprintf(in, sizeof in, "%d-%d", g->indeg_min, g->indeg_max);
        snprintf(bonds, sizeof bonds, "%.5f / %.5f / %.5f", g->len_min, g->len_mean, g->len_max);
        printf("%-16s %6d %8d %10d %6d  %-28s %9.6f %9s %10.6g\n", name, g->n_atoms, g->n_edges, g->n_triplets,
               g->n_self_loops, bonds, g->cos_mean, in, rows[s].cutoff);
    }
    if (shown < set->n) printf("... %d more (--all lists every structure)\n", set->n - shown);
    if (set->n > 1) {
        char big[80];
        structure_name(set, tmax_at, big, sizeof big);
        printf("total: %d structures, %lld atoms, %lld edges, %lld triplets, %lld self-loop edges; "
               "bonds %.5f-%.5f Å; %d needed a larger cutoff; largest T %d (%s)\n",
               set->n, sn, se, st, sl, lmin, lmax, n_retry, rows[tmax_at].st.n_triplets, big);
    }
}

int cmd_graph(int argc, char **argv) {
    const char *path = NULL;
    int all = 0;
    ih_graph_opts o;
    ih_graph_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        int r = cli_graph_option(argc, argv, &i, &o);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--all")) {
            all = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("graph: unknown option '%s' (try 'ionhop graph --help')", argv[i]);
        } else if (path) {
            return cli_usage_error("graph: one FILE expected, got '%s' and '%s'", path, argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    cli_tune_malloc();
    ih_structure_set set;
    if (ih_read_structures(path, IH_FMT_UNKNOWN, &set) != 0) return cli_fail();
    row *rows = calloc((size_t)set.n, sizeof *rows);
    int rc = rows ? build_rows(&set, &o, path, rows) : (ih_set_error("out of memory"), cli_fail(), -1);
    if (rc == 0) print_rows(&set, &o, path, rows, all);
    free(rows);
    ih_structure_set_free(&set);
    return rc == 0 ? 0 : 1;
}
