/* ionhop-bench train: time of one training step (forward, L1 loss, backward, AdamW) and of the
 * evaluation-mode forward pass on a fixed batch, default the PyTorch reference's batch of 16 Em
 * structures (shared/reference/torch-alignn/RESULTS.md), with GEMM FLOPs and the peak RSS. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "nn/model_internal.h"

static const char *const default_jids = "9,22,41,96,147,168,279,280,337,347,359,407,449,462,506,541";

static void usage(FILE *f) {
    fprintf(f,
            "usage: ionhop-bench train [--data FILE] [--jids LIST] [--hidden H] [--canonical]\n"
            "                          [--steps N] [--warmup N] [--infer N] [--no-train] [--seed S]\n\n"
            "Builds the graphs of the records LIST (comma-separated jids; default the reference's\n"
            "batch %s) of FILE (default ../shared/data/em/train.json), batches them, and times\n"
            "N training steps (default 3, after 1 warm-up; best and median) of ALIGNN_ft with\n"
            "hidden width H (default 256): forward in training mode, L1 loss against the scaled\n"
            "targets, backward, AdamW. Then N evaluation-mode forward passes in the inference arena.\n"
            "Prints seconds, GEMM FLOPs and GFLOP/s, arena sizes and the peak RSS.\n"
            "Threads: OMP_NUM_THREADS (OpenBLAS runs single-threaded inside the OpenMP team).\n",
            default_jids);
}

/* GEMM multiply-adds ×2 of one forward pass (the Linear layers; the head is negligible). The
 * bond and angle embeddings run on Eb distinct lengths and Ta distinct cosines
 * (ih_model_embedding_rows); in training (the arena with room for it) so does the first
 * line-graph EGGC's edge_gate, whose inputs are the angle embedding's rows. */
static double forward_flops(const ih_config *c, double N, double E, double T, double Eb, double Ta,
                            int training) {
    double H = c->hidden, emb = c->embed, L = c->alignn_layers, G = c->gcn_layers;
    double f = N * 92 * H + Eb * (80 * emb + emb * H) + (L > 0 ? Ta * (40 * emb + emb * H) : 0);
    f += L * (N * 4 * H * H + E * H * H + E * 4 * H * H + T * H * H);
    if (L > 0 && training) f -= (T - Ta) * H * H;
    f += G * (N * 4 * H * H + E * H * H);
    return 2.0 * f;
}

/* Backward: weight gradients everywhere, input gradients except for the first Linear of each
 * embedding (its input is data). */
static double backward_flops(const ih_config *c, double N, double E, double T, double Eb, double Ta) {
    double emb = c->embed, L = c->alignn_layers;
    double first = N * 92 * c->hidden + Eb * 80 * emb + (L > 0 ? Ta * 40 * emb : 0);
    return 2.0 * forward_flops(c, N, E, T, Eb, Ta, 1) - 2.0 * first;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int parse_jids(const char *s, char (*out)[64], int cap) {
    int n = 0;
    while (*s && n < cap) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || len >= 64) return -1;
        memcpy(out[n], s, len);
        out[n][len] = 0;
        n++;
        if (!e) break;
        s = e + 1;
    }
    return n;
}

#define BENCH_MAX 256 /* structures in the batch, timed steps */

typedef struct {
    const char *data, *jids_s;
    int hidden, canonical, steps, warmup, infer, do_train;
    long seed;
    char path_buf[4096];
} bench_args;

/* -1: go on; otherwise the exit status (0 after --help) */
static int parse_args(int argc, char **argv, bench_args *b) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--canonical")) {
            b->canonical = 1;
        } else if (!strcmp(a, "--no-train")) {
            b->do_train = 0;
        } else if (!strcmp(a, "--data") && v) {
            b->data = v, i++;
        } else if (!strcmp(a, "--jids") && v) {
            b->jids_s = v, i++;
        } else if (!strcmp(a, "--hidden") && v) {
            bad = cli_parse_int(a, v, 1, 4096, &b->hidden), i++;
        } else if (!strcmp(a, "--steps") && v) {
            bad = cli_parse_int(a, v, 1, BENCH_MAX, &b->steps), i++;
        } else if (!strcmp(a, "--warmup") && v) {
            bad = cli_parse_int(a, v, 0, BENCH_MAX, &b->warmup), i++;
        } else if (!strcmp(a, "--infer") && v) {
            bad = cli_parse_int(a, v, 0, 1000, &b->infer), i++;
        } else if (!strcmp(a, "--seed") && v) {
            bad = cli_parse_long(a, v, 0, 2147483647L, &b->seed), i++;
        } else {
            usage(stderr);
            return cli_usage_error("bench train: unknown or incomplete option '%s'", a);
        }
        if (bad) return 2;
    }
    if (!b->data) {
        const char *root = getenv("IONHOP_SHARED");
        snprintf(b->path_buf, sizeof b->path_buf, "%s/data/em/train.json", root ? root : "../shared");
        b->data = b->path_buf;
    }
    return -1;
}

/* the records named by --jids from the data file, their graphs (gs) and the batch of them (g);
 * targets min-max scaled as in docs/method.md §5.8 */
static int load_batch(const bench_args *b, const ih_graph_opts *go, int *nj, ih_graph *gs, ih_graph *g,
                      float *target) {
    char jids[BENCH_MAX][64];
    *nj = parse_jids(b->jids_s, jids, BENCH_MAX);
    if (*nj < 1) return cli_usage_error("bench train: bad --jids list '%s'", b->jids_s);
    ih_structure_set set = {0};
    if (ih_read_json(b->data, &set)) return cli_fail();
    const ih_structure *picked[BENCH_MAX];
    const ih_graph *gp[BENCH_MAX];
    int built = 0, rc = 0;
    for (int j = 0; j < *nj && rc == 0; j++) {
        picked[j] = NULL;
        for (int i = 0; i < set.n && !picked[j]; i++)
            if (!strcmp(set.items[i].jid, jids[j])) picked[j] = &set.items[i];
        if (!picked[j]) rc = ih_set_error("%s: no record with jid %s", b->data, jids[j]);
    }
    double tg = ih_now();
    for (int j = 0; j < *nj && rc == 0; j++) {
        rc = ih_graph_build(picked[j], go, &gs[j]);
        if (rc == 0) built++;
        gp[j] = &gs[j];
        target[j] = (float)(2.0 * (picked[j]->target - 0.0035) / (8.77 - 0.0035) - 1.0);
    }
    tg = ih_now() - tg;
    if (rc == 0) rc = ih_graph_batch(gp, *nj, g);
    ih_structure_set_free(&set);
    if (rc != 0) {
        for (int j = 0; j < built; j++) ih_graph_free(&gs[j]);
        return cli_fail();
    }
    printf("bench train: %d structures, %d atoms, %d edges, %d triplets, H %d, %s edge keys, "
           "%d threads\n",
           *nj, g->n_atoms, g->n_edges, g->n_triplets, b->hidden, b->canonical ? "canonical" : "non-canonical",
           omp_get_max_threads());
    printf("graphs: built in %.2f s\n", tg);
    return 0;
}

/* the summary of the timed steps (tt: total, forward, backward, AdamW per step) */
static void report_steps(const bench_args *b, ih_model *m, const ih_graph *g, int nj, const double *tt,
                         const double *prof_best, int *eb, int *ta) {
    const ih_config *cfg = ih_model_config(m);
    double best = INFINITY, med[BENCH_MAX];
    int bi = b->warmup;
    for (int s = b->warmup; s < b->warmup + b->steps; s++) {
        med[s - b->warmup] = tt[4 * s];
        if (tt[4 * s] < best) best = tt[4 * s], bi = s;
    }
    qsort(med, (size_t)b->steps, sizeof(double), cmp_double);
    ih_model_embedding_rows(m, eb, ta);
    double ff = forward_flops(cfg, g->n_atoms, g->n_edges, g->n_triplets, *eb, *ta, 1);
    double bf = backward_flops(cfg, g->n_atoms, g->n_edges, g->n_triplets, *eb, *ta);
    printf("embeddings on distinct values: %d of %d bond lengths, %d of %d angle cosines\n", *eb, g->n_edges, *ta,
           g->n_triplets);
    printf("train step: best %.3f s (forward %.3f, backward %.3f, AdamW %.3f), median %.3f s; "
           "%.2f structures/s\n",
           best, tt[4 * bi + 1], tt[4 * bi + 2], tt[4 * bi + 3], med[b->steps / 2], nj / best);
    printf("GEMM: forward %.1f GFLOP, backward %.1f GFLOP, step %.1f GFLOP -> %.1f GFLOP/s "
           "over the best step (reference convention 3x forward: %.1f GFLOP)\n",
           ff * 1e-9, bf * 1e-9, (ff + bf) * 1e-9, (ff + bf) * 1e-9 / best, 3 * ff * 1e-9);
    printf("training arena: %.1f MiB\n", ih_model_arena_bytes(m) / 1048576.0);
    printf("best step by part (s): forward embeddings %.3f, crystal-graph EGGCs %.3f, "
           "line-graph EGGCs %.3f, other %.3f; backward embeddings %.3f, crystal %.3f, "
           "line %.3f, other %.3f\n",
           prof_best[PROF_F_EMBED], prof_best[PROF_F_CRYSTAL], prof_best[PROF_F_LINE], prof_best[PROF_F_OTHER],
           prof_best[PROF_B_EMBED], prof_best[PROF_B_CRYSTAL], prof_best[PROF_B_LINE], prof_best[PROF_B_OTHER]);
}

/* warm-up and timed training steps: forward, L1 loss, backward, AdamW */
static int time_training(const bench_args *b, ih_model *m, const ih_graph *g, int nj, const float *target, int *eb,
                         int *ta) {
    if (ih_model_reserve(m, nj, g->n_atoms, g->n_edges, g->n_triplets, 0, 0, 0)) return cli_fail();
    ih_adamw opt;
    if (ih_adamw_init(&opt, ih_model_n_params(m), 0.01)) return cli_fail();
    int ntens = ih_model_n_tensors(m), total = b->warmup + b->steps, status = 0;
    ih_param_range *ranges = malloc(sizeof *ranges * (size_t)ntens);
    double *tt = calloc((size_t)total * 4, sizeof(double));
    if (!ranges || !tt) status = (ih_set_error("out of memory"), cli_fail());
    for (int i = 0; i < ntens && !status; i++) {
        const ih_tensor_info *t = ih_model_tensor(m, i);
        ranges[i] = (ih_param_range){t->offset, t->numel, t->decay, 1};
    }
    double prof_best[8] = {0}, best_t = INFINITY;
    float out[BENCH_MAX], dout[BENCH_MAX];
    for (int s = 0; s < total && !status; s++) {
        double t0 = ih_now();
        clock_t c0 = clock();
        memset(m->prof, 0, sizeof m->prof);
        ih_model_zero_grad(m);
        if (ih_model_forward(m, g, NULL, 1, out)) status = cli_fail();
        double t1 = ih_now();
        double loss = ih_loss_l1(out, target, NULL, nj, 1, 1.0, dout);
        if (!status && ih_model_backward(m, g, NULL, dout)) status = cli_fail();
        double t2 = ih_now();
        if (!status && ih_adamw_step(&opt, ih_model_params(m), ih_model_grads(m), ranges, ntens, 1e-3, 0.9))
            status = cli_fail();
        double t3 = ih_now();
        tt[4 * s] = t3 - t0, tt[4 * s + 1] = t1 - t0, tt[4 * s + 2] = t2 - t1, tt[4 * s + 3] = t3 - t2;
        if (s >= b->warmup && t3 - t0 < best_t) best_t = t3 - t0, memcpy(prof_best, m->prof, sizeof prof_best);
        printf("step %d%s: %.3f s (forward %.3f, loss+backward %.3f, AdamW %.3f; process CPU %.3f s), "
               "loss %.5f\n",
               s, s < b->warmup ? " (warm-up)" : "", t3 - t0, t1 - t0, t2 - t1, t3 - t2,
               (double)(clock() - c0) / CLOCKS_PER_SEC, loss);
        fflush(stdout);
    }
    if (!status) report_steps(b, m, g, nj, tt, prof_best, eb, ta);
    free(tt);
    free(ranges);
    ih_adamw_free(&opt);
    return status;
}

/* evaluation-mode forward passes: the whole batch, then one structure at a time (a user predicting
 * hops one by one), in one inference arena */
static int time_inference(const bench_args *b, ih_model *m, const ih_graph *g, const ih_graph *gs, int nj, int eb,
                          int ta) {
    if (ih_model_reserve_head(m, nj)) return cli_fail();
    ih_acts *ia = ih_acts_create(m, nj, g->n_atoms, g->n_edges, g->n_triplets, 0);
    if (!ia) return cli_fail();
    float *h = malloc(sizeof(float) * (size_t)nj * b->hidden), out[BENCH_MAX];
    int status = h ? 0 : (ih_set_error("out of memory"), cli_fail());
    double best = INFINITY, best1 = INFINITY;
    for (int r = 0; r <= b->infer && !status; r++) { /* r = 0: warm-up */
        double t0 = ih_now();
        if (ih_trunk_forward(m, ia, g, 0, h) || ih_head_forward(m, h, nj, out)) status = cli_fail();
        double dt = ih_now() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    if (!status)
        printf("inference (evaluation mode, in-place arena of %.1f MiB): best %.3f s for the batch, "
               "%.2f structures/s, %.1f GFLOP/s\n",
               ih_acts_bytes(ia) / 1048576.0, best, nj / best,
               forward_flops(ih_model_config(m), g->n_atoms, g->n_edges, g->n_triplets, eb, ta, 0) * 1e-9 / best);
    for (int r = 0; r <= b->infer && !status; r++) {
        double t0 = ih_now();
        for (int j = 0; j < nj && !status; j++)
            if (ih_trunk_forward(m, ia, &gs[j], 0, h) || ih_head_forward(m, h, 1, out)) status = cli_fail();
        double dt = ih_now() - t0;
        if (r > 0 && dt < best1) best1 = dt;
    }
    if (!status)
        printf("inference one structure at a time: best %.3f s for the %d, %.2f structures/s\n", best1, nj,
               nj / best1);
    free(h);
    ih_acts_free(ia);
    return status;
}

int bench_train(int argc, char **argv) {
    bench_args b = {.jids_s = default_jids, .hidden = 256, .steps = 3, .warmup = 1, .infer = 3, .do_train = 1,
                    .seed = 123};
    int status = parse_args(argc, argv, &b);
    if (status >= 0) return status;
    cli_tune_malloc();
    ih_config cfg;
    ih_config_default(&cfg);
    cfg.hidden = b.hidden;
    cfg.canonical = b.canonical;
    ih_graph_opts go;
    ih_graph_opts_default(&go);
    go.canonical = b.canonical;
    go.k = cfg.neighbors;
    go.cutoff = cfg.cutoff;
    ih_graph gs[BENCH_MAX];
    ih_graph g;
    float target[BENCH_MAX];
    int nj;
    status = load_batch(&b, &go, &nj, gs, &g, target);
    if (status != 0) return status;
    ih_model *m = ih_model_create(&cfg, (uint64_t)b.seed);
    if (!m) status = cli_fail();
    /* nominal counts until a training forward tells the embeddings' distinct rows */
    int eb = g.n_edges, ta = g.n_triplets;
    if (!status && b.do_train) status = time_training(&b, m, &g, nj, target, &eb, &ta);
    if (!status) printf("peak RSS after training: %.1f MiB\n", ih_peak_rss_kb() / 1024.0);
    if (!status && b.infer > 0) status = time_inference(&b, m, &g, gs, nj, eb, ta);
    if (!status) printf("peak RSS: %.1f MiB\n", ih_peak_rss_kb() / 1024.0);
    ih_model_free(m);
    ih_graph_free(&g);
    for (int j = 0; j < nj; j++) ih_graph_free(&gs[j]);
    return status;
}
