/* Training and batched inference over a dataset of edge-only graphs.
 *
 * A mini-batch of `batch` structures is cut into micro-batches whose line graphs fit a triplet
 * budget; each micro-batch runs forward and backward on its own (BatchNorm statistics are those
 * of the micro-batch, "ghost" batch normalisation) and its loss gradient is weighted by its share
 * of the batch, so the accumulated gradient is that of the batch mean. Memory is therefore set by
 * the budget (or the largest single structure), whatever the batch size.
 *
 * On several MPI ranks (docs/mpi.md) the micro-batches of a step are dealt to the ranks in rounds;
 * each micro-batch's gradient is computed apart and the gradients are added in micro-batch order,
 * on one rank or many, and the BatchNorm running statistics replayed in that order, so that any
 * number of ranks trains the model of one process bit for bit. */
#include "ionhop_train.h"
#include "core/dist.h"
#include "core/util.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ih_train_opts_default(ih_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 100;
    o->batch = 16;
    o->max_lr = 1e-3;
    o->weight_decay = 0.01;
    o->loss = IH_LOSS_L1;
    o->seed = 123;
    o->micro_triplets = 1 << 20;
    o->trunk_lr_scale = 1.0;
}

/* ---------------------------------------------------------------------------------------- */
/* micro-batches                                                                            */

/* Sizes of record i (atoms, edges, triplets), both graphs of a two-graph record together. */
static void record_sizes(const ih_dataset *d, int i, long *a, long *e, long *t) {
    *a = d->graphs[i].n_atoms, *e = d->graphs[i].n_edges, *t = d->n_triplets[i];
    if (d->graphs2) *a += d->graphs2[i].n_atoms, *e += d->graphs2[i].n_edges, *t += d->n_triplets2[i];
}

/* Length of the micro-batch starting at idx[0] (at least 1). */
static int micro_len(const ih_dataset *d, const int *idx, int n, long budget_t) {
    long t = 0, e = 0, a = 0;
    long budget_e = budget_t / 8, budget_a = budget_t / 64;
    int k = 0;
    for (; k < n; k++) {
        long ra, re, rt;
        record_sizes(d, idx[k], &ra, &re, &rt);
        long nt = t + rt, ne = e + re, na = a + ra;
        if (k > 0 && (nt > budget_t || ne > budget_e || na > budget_a)) break;
        t = nt, e = ne, a = na;
    }
    return k;
}

void ih_balance_micro_batches(int *items, const long *cost, int n, int S, int *by_cost, long *load, int *fill,
                              int *out) {
    int K = (n + S - 1) / S;
    if (K < 2) return;
    for (int k = 0; k < n; k++) {
        /* insertion by cost, largest first; equal costs keep their order (the result is a
         * function of the list alone) */
        int p = k;
        while (p > 0 && cost[by_cost[p - 1]] < cost[k]) {
            by_cost[p] = by_cost[p - 1];
            p--;
        }
        by_cost[p] = k;
    }
    for (int g = 0; g < K; g++) load[g] = 0, fill[g] = 0;
    for (int r = 0; r < n; r++) {
        int k = by_cost[r], best = -1;
        for (int g = 0; g < K; g++) {
            int room = g < K - 1 ? S : n - (K - 1) * S;
            if (fill[g] < room && (best < 0 || load[g] < load[best])) best = g;
        }
        out[best * S + fill[best]++] = items[k];
        load[best] += cost[k];
    }
    memcpy(items, out, (size_t)n * sizeof *items);
}

/* Arena size for one graph of a micro-batch: the budget (or one record above it); for a
 * two-graph dataset only this graph's largest share of any record's size, since the budget
 * caps the sum of both graphs. */
static long arena_size(long budget, long max_one, double max_share, long max_structs) {
    long s = (long)(max_share * (double)budget) + 1;
    if (s > budget) s = budget;
    if (s > max_one * max_structs) s = max_one * max_structs;
    return s > max_one ? s : max_one;
}

static int dataset_reserve(ih_model *m, const ih_dataset *d, int max_structs, long budget_t, int for_training) {
    long budget[3] = {budget_t / 64, budget_t / 8, budget_t}; /* atoms, edges, triplets */
    long max_one[2][3] = {{1, 0, 0}, {1, 0, 0}};
    double share[2][3] = {{0, 0, 0}, {0, 0, 0}};
    int two = d->graphs2 != NULL;
    for (int i = 0; i < d->n; i++)
        for (int k = 0; k <= two; k++) {
            const ih_graph *g = k ? &d->graphs2[i] : &d->graphs[i];
            long v[3] = {g->n_atoms, g->n_edges, k ? d->n_triplets2[i] : d->n_triplets[i]};
            long tot[3];
            record_sizes(d, i, &tot[0], &tot[1], &tot[2]);
            for (int q = 0; q < 3; q++) {
                if (v[q] > max_one[k][q]) max_one[k][q] = v[q];
                if (tot[q] > 0 && (double)v[q] / tot[q] > share[k][q]) share[k][q] = (double)v[q] / tot[q];
            }
        }
    long s[2][3];
    for (int k = 0; k <= two; k++)
        for (int q = 0; q < 3; q++) s[k][q] = arena_size(budget[q], max_one[k][q], share[k][q], max_structs);
    if (!two) s[1][0] = s[1][1] = s[1][2] = 0;
    return (for_training ? ih_model_reserve : ih_model_reserve_eval)(
        m, max_structs, (int)s[0][0], (int)s[0][1], (int)s[0][2], (int)s[1][0], (int)s[1][1], (int)s[1][2]);
}

int ih_dataset_reserve(ih_model *m, const ih_dataset *d, int max_structs, long budget_t) {
    return dataset_reserve(m, d, max_structs, budget_t, 1);
}

int ih_dataset_reserve_eval(ih_model *m, const ih_dataset *d, int max_structs, long budget_t) {
    return dataset_reserve(m, d, max_structs, budget_t, 0);
}

/* Each atom of g (before its line graph) displaced by N(0, sigma²) per coordinate. */
static int jitter_graph(ih_graph *g, double sigma, ih_rng *rng) {
    float *disp = malloc((size_t)3 * g->n_atoms * sizeof *disp);
    if (!disp) return ih_set_error("out of memory for %d atom displacements", g->n_atoms);
    for (long q = 0; q < 3L * g->n_atoms; q++) disp[q] = (float)(sigma * ih_rng_normal(rng));
    int rc = ih_graph_displace(g, disp);
    free(disp);
    return rc;
}

/* The micro-batch of records idx: G1 into out, G2 (two-graph datasets) into out2; with
 * jitter > 0 (Å) the atoms displaced at random (rng) before the angles are computed. */
static int make_micro(const ih_dataset *d, const int *idx, int n, double jitter, ih_rng *rng, ih_graph *out,
                      ih_graph *out2) {
    const ih_graph *parts[n];
    memset(out2, 0, sizeof *out2);
    for (int k = 0; k < n; k++) parts[k] = &d->graphs[idx[k]];
    if (ih_graph_batch(parts, n, out) != 0) return -1;
    if ((jitter > 0 && jitter_graph(out, jitter, rng) != 0) || ih_graph_add_line_graph(out) != 0) {
        ih_graph_free(out);
        return -1;
    }
    if (!d->graphs2) return 0;
    for (int k = 0; k < n; k++) parts[k] = &d->graphs2[idx[k]];
    if (ih_graph_batch(parts, n, out2) != 0 || (jitter > 0 && jitter_graph(out2, jitter, rng) != 0) ||
        ih_graph_add_line_graph(out2) != 0) {
        ih_graph_free(out);
        ih_graph_free(out2);
        return -1;
    }
    return 0;
}

static void free_micro(ih_graph *g, ih_graph *g2) {
    ih_graph_free(g);
    ih_graph_free(g2);
}

/* The model's arch must take the dataset's graphs. */
static int check_input(const ih_model *m, const ih_dataset *d) {
    int arch = ih_model_config(m)->arch, want = ih_arch_input(arch);
    static const char *const kinds[] = {"one graph", "initial/final graphs", "5-image and local graphs"};
    if (want != d->input || (want != IH_INPUT_SINGLE) != (d->graphs2 != NULL))
        return ih_set_error("a %s model takes %s per record, the dataset holds %s", ih_arch_name(arch),
                            kinds[want], d->input >= 0 && d->input <= 2 ? kinds[d->input] : "?");
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* scaling                                                                                  */

static double scaled_quantity(const ih_task_scaling *s, double y) {
    return s->log_offset > 0 ? log(y + s->log_offset) : y;
}

double ih_scale(const ih_task_scaling *s, double y) {
    double u_lo = scaled_quantity(s, s->lo), u_hi = scaled_quantity(s, s->hi);
    return 2.0 * (scaled_quantity(s, y) - u_lo) / (u_hi - u_lo) - 1.0;
}

double ih_unscale(const ih_task_scaling *s, double y) {
    double u_lo = scaled_quantity(s, s->lo), u_hi = scaled_quantity(s, s->hi);
    double u = (y + 1.0) / 2.0 * (u_hi - u_lo) + u_lo;
    return s->log_offset > 0 ? exp(u) - s->log_offset : u;
}

int ih_scaling_fit(const ih_dataset *d, const int *idx, int n, ih_task_scaling *s) {
    int labelled = 0;
    s->lo = INFINITY, s->hi = -INFINITY;
    for (int k = 0; k < n; k++) {
        int r = idx ? idx[k] : k;
        if (d->mask[r] == 0.0f) continue;
        double y = d->targets[r];
        s->lo = y < s->lo ? y : s->lo;
        s->hi = y > s->hi ? y : s->hi;
        labelled++;
    }
    return labelled;
}

/* Where ih_predict_dataset's forward passes start (n_chunks of them); chunk c has records
 * idx[start[c] .. start[c + 1]). */
static int predict_chunks(const ih_dataset *d, const int *idx, int n, int max_structs, long budget_t, int *start) {
    int c = 0;
    for (int s = 0; s < n; c++) {
        start[c] = s;
        s += micro_len(d, idx + s, n - s < max_structs ? n - s : max_structs, budget_t);
    }
    start[c] = n;
    return c;
}

int ih_predict_dataset(ih_model *m, const ih_dataset *d, const int *idx, int n, int max_structs,
                       long budget_t, float *out) {
    return ih_predict_dataset_pooled(m, d, idx, n, max_structs, budget_t, out, NULL);
}

int ih_predict_dataset_pooled(ih_model *m, const ih_dataset *d, const int *idx, int n, int max_structs,
                              long budget_t, float *out, float *pooled) {
    int P = ih_model_config(m)->n_outputs, H = ih_model_config(m)->hidden;
    if (check_input(m, d) != 0) return -1;
    for (int s = 0; s < n;) {
        int len = micro_len(d, idx + s, n - s < max_structs ? n - s : max_structs, budget_t);
        ih_graph g, g2;
        if (make_micro(d, idx + s, len, 0.0, NULL, &g, &g2) != 0) return -1;
        int rc = ih_model_forward(m, &g, d->graphs2 ? &g2 : NULL, 0, out + (size_t)s * P);
        if (rc == 0 && pooled) memcpy(pooled + (size_t)s * H, ih_model_pooled(m), (size_t)len * H * sizeof *pooled);
        free_micro(&g, &g2);
        if (rc != 0) return -1;
        s += len;
    }
    return 0;
}

/* mean over tasks (with validation records) of the per-task MAE in original units */
static double task_maes(const ih_dataset *d, const int *idx, int n, const float *pred,
                        const ih_task_scaling *sc, double *per_task) {
    int P = d->n_tasks, used = 0;
    double score = 0;
    for (int p = 0; p < P; p++) {
        double sum = 0;
        int cnt = 0;
        for (int k = 0; k < n; k++) {
            size_t r = (size_t)idx[k] * P + p;
            if (d->mask[r] == 0.0f) continue;
            sum += fabs(ih_unscale(&sc[p], pred[(size_t)k * P + p]) - d->targets[r]);
            cnt++;
        }
        per_task[p] = cnt ? sum / cnt : NAN;
        if (cnt) {
            /* selection in scaled units, so tasks of different magnitudes weigh alike */
            score += per_task[p] * 2.0 / (sc[p].hi - sc[p].lo);
            used++;
        }
    }
    return used ? score / used : NAN;
}

static int param_ranges(const ih_model *m, double trunk_lr_scale, ih_param_range **out) {
    int n = ih_model_n_tensors(m);
    ih_param_range *r = malloc((size_t)(n > 0 ? n : 1) * sizeof *r);
    if (!r) return ih_set_error("out of memory");
    int k = 0;
    for (int i = 0; i < n; i++) {
        const ih_tensor_info *t = ih_model_tensor(m, i);
        r[k].offset = t->offset;
        r[k].count = t->numel;
        r[k].decay = t->decay;
        r[k].lr_scale = ih_param_is_trunk(t->name) ? trunk_lr_scale : 1.0;
        k++;
    }
    /* ascending offsets, as ih_adamw_step wants */
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && r[j].offset < r[j - 1].offset; j--) {
            ih_param_range tmp = r[j];
            r[j] = r[j - 1];
            r[j - 1] = tmp;
        }
    *out = r;
    return k;
}

static char *ckpt_path(const char *base, const char *suffix) {
    size_t n = strlen(base) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s", base, suffix);
    return p;
}

static void fmt_time(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

/* One training run: what ih_train was given, the optimiser and schedule state, and the buffers
 * it allocates once (no allocation in the epoch loop). */
typedef struct trainer {
    ih_model *m;
    const ih_dataset *d;
    const int *train_idx, *val_idx;
    int n_train, n_val, P, eval_structs;
    const ih_task_scaling *sc;
    const ih_train_opts *o;
    ih_param_range *ranges;
    int n_ranges;
    long steps_per_epoch;
    ih_adamw adam;
    int have_adam;
    ih_train_state st;
    char *ck_state;
    char run_json[256]; /* what a resume must match: split, learning rate, weight decay */
    int *order;
    float *out, *tgt, *msk, *dout, *val_pred; /* eval_structs × P; val_pred n_val × P */
    double *per_task, *train_abs;             /* P */
    long *train_cnt;                          /* P */
    int *mb_start, *mb_len;                   /* the micro-batches of a mini-batch (batch entries) */
    long *bal_cost, *bal_load;                /* ih_balance_micro_batches' scratch (batch each) */
    int *bal_by_cost, *bal_fill, *bal_out;
    int *val_chunk;                           /* validation forward passes (n_val + 1) */
    int quiet;                                /* o->quiet, or not rank 0 */
    /* data parallelism (ih_dist_size() > 1) */
    int rank, size;
    float *buf_start;    /* the BatchNorm buffers at the start of a step */
    ih_bn_log bn_log;    /* this rank's micro-batches' running-statistics updates, each after its length */
    size_t *log_counts, *log_at; /* the ranks' log lengths (size), replay cursors and ends (2 size) */
    double *sums;        /* 1 + 2P: loss and training-MAE sums to reduce */
    float *grad_acc;     /* the batch's gradient (n_params) */
} trainer;

static void trainer_free(trainer *t) {
    ih_model_set_bn_log(t->m, NULL);
    ih_bn_log_free(&t->bn_log);
    free(t->bal_cost), free(t->bal_load), free(t->bal_by_cost), free(t->bal_fill), free(t->bal_out);
    free(t->mb_start), free(t->mb_len), free(t->val_chunk), free(t->buf_start), free(t->log_counts), free(t->log_at);
    free(t->sums), free(t->grad_acc);
    if (t->have_adam) ih_adamw_free(&t->adam);
    free(t->ranges);
    free(t->order), free(t->out), free(t->tgt), free(t->msk), free(t->dout), free(t->val_pred);
    free(t->per_task), free(t->train_abs), free(t->train_cnt), free(t->ck_state);
}

static int trainer_alloc(trainer *t) {
    const ih_train_opts *o = t->o;
    int P = t->P, E = t->eval_structs;
    t->n_ranges = param_ranges(t->m, o->trunk_lr_scale, &t->ranges);
    if (t->n_ranges < 0) return -1;
    t->ck_state = o->checkpoint ? ckpt_path(o->checkpoint, ".state") : NULL;
    /* the sizes first: the two lists hashed back to back must not read the same when a record
     * moves from the end of one to the start of the other */
    int sizes[2] = {t->n_train, t->n_val};
    uint64_t split = ih_fnv1a(IH_FNV1A_START, sizes, sizeof sizes);
    split = ih_fnv1a(split, t->train_idx, (size_t)t->n_train * sizeof *t->train_idx);
    split = ih_fnv1a(split, t->val_idx ? (const void *)t->val_idx : "", (size_t)t->n_val * sizeof *t->val_idx);
    snprintf(t->run_json, sizeof t->run_json, "{\"split\":\"%016llx\",\"max_lr\":%.9g,\"weight_decay\":%.9g}",
             (unsigned long long)split, o->max_lr, o->weight_decay);
    t->order = malloc((size_t)t->n_train * sizeof *t->order);
    t->out = malloc((size_t)(E > t->n_val ? E : t->n_val + 1) * P * sizeof *t->out);
    t->tgt = malloc((size_t)E * P * sizeof *t->tgt);
    t->msk = malloc((size_t)E * P * sizeof *t->msk);
    t->dout = malloc((size_t)E * P * sizeof *t->dout);
    t->val_pred = malloc((size_t)(t->n_val + 1) * P * sizeof *t->val_pred);
    t->per_task = malloc((size_t)P * sizeof *t->per_task);
    t->train_abs = malloc((size_t)P * sizeof *t->train_abs);
    t->train_cnt = malloc((size_t)P * sizeof *t->train_cnt);
    t->mb_start = malloc((size_t)o->batch * sizeof *t->mb_start);
    t->mb_len = malloc((size_t)o->batch * sizeof *t->mb_len);
    t->bal_cost = malloc((size_t)o->batch * sizeof *t->bal_cost);
    t->bal_load = malloc((size_t)o->batch * sizeof *t->bal_load);
    t->bal_by_cost = malloc((size_t)o->batch * sizeof *t->bal_by_cost);
    t->bal_fill = malloc((size_t)o->batch * sizeof *t->bal_fill);
    t->bal_out = malloc((size_t)o->batch * sizeof *t->bal_out);
    t->val_chunk = malloc((size_t)(t->n_val + 1) * sizeof *t->val_chunk);
    t->sums = malloc((size_t)(1 + 2 * P) * sizeof *t->sums);
    t->grad_acc = malloc((ih_model_n_params(t->m) + 1) * sizeof *t->grad_acc);
    if (!t->order || !t->out || !t->tgt || !t->msk || !t->dout || !t->val_pred || !t->per_task || !t->train_abs ||
        !t->train_cnt || (o->checkpoint && !t->ck_state) || !t->mb_start || !t->mb_len || !t->val_chunk || !t->sums ||
        !t->bal_cost || !t->bal_load || !t->bal_by_cost || !t->bal_fill || !t->bal_out ||
        !t->grad_acc)
        return ih_set_error("out of memory");
    if (t->size > 1) {
        t->buf_start = malloc((ih_model_n_buffers(t->m) + 1) * sizeof *t->buf_start);
        t->log_counts = malloc((size_t)t->size * sizeof *t->log_counts);
        t->log_at = malloc(2 * (size_t)t->size * sizeof *t->log_at);
        if (!t->buf_start || !t->log_counts || !t->log_at) return ih_set_error("out of memory");
    }
    return 0;
}

/* The model and optimiser state of the last finished epoch (o->checkpoint), refused if the two
 * files disagree or were made with another schedule. */
static int resume_from_checkpoint(trainer *t) {
    const ih_train_opts *o = t->o;
    ih_train_state *st = &t->st;
    char *saved = NULL;
    if (ih_checkpoint_load(t->ck_state, &t->adam, st, t->m, &saved) != 0) return -1;
    t->have_adam = 1;
    /* the records, split, learning rate and weight decay must be the interrupted run's: another
     * --seed would re-split and move validation records into training halfway */
    int same = saved && !strcmp(saved, t->run_json);
    if (!same) {
        int rc = ih_set_error("%s: checkpoint was made with other settings (%s; now %s): resume with the same "
                              "data, --seed, --val, --lr and --wd",
                              t->ck_state, saved ? saved : "none recorded", t->run_json);
        free(saved);
        return rc;
    }
    free(saved);
    if (st->sched.total_steps != t->steps_per_epoch * o->epochs)
        return ih_set_error("%s: checkpoint was made with another schedule (%ld steps, now %ld): "
                            "resume with the same --epochs, --batch and data",
                            t->ck_state, st->sched.total_steps, t->steps_per_epoch * o->epochs);
    if (!t->quiet && isfinite(st->best_val))
        printf("resuming after epoch %ld (best validation %.4f at epoch %ld)\n", st->epoch, st->best_val,
               st->best_epoch);
    else if (!t->quiet)
        printf("resuming after epoch %ld (no validation set)\n", st->epoch);
    return 0;
}

static int start_fresh(trainer *t) {
    const ih_train_opts *o = t->o;
    if (ih_adamw_init(&t->adam, ih_model_n_params(t->m), o->weight_decay) != 0) return -1;
    t->have_adam = 1;
    ih_onecycle_default(&t->st.sched, t->steps_per_epoch * o->epochs, o->max_lr);
    ih_rng_seed(&t->st.rng, o->seed ^ 0x5eedf00dULL);
    t->st.best_val = INFINITY;
    t->st.best_epoch = -1;
    return 0;
}

/* Several ranks: every rank takes rank 0's model, optimiser and schedule state (rank 0 may have
 * resumed from its checkpoint; the others started fresh). */
static int sync_start(trainer *t) {
    ih_model *m = t->m;
    if (ih_dist_bcast(ih_model_params(m), ih_model_n_params(m) * sizeof(float), 0) != 0 ||
        ih_dist_bcast(ih_model_buffers(m), ih_model_n_buffers(m) * sizeof(float), 0) != 0 ||
        ih_dist_bcast(t->adam.m, t->adam.n * sizeof *t->adam.m, 0) != 0 ||
        ih_dist_bcast(t->adam.v, t->adam.n * sizeof *t->adam.v, 0) != 0 ||
        ih_dist_bcast(&t->adam.step, sizeof t->adam.step, 0) != 0 || ih_dist_bcast(&t->st, sizeof t->st, 0) != 0)
        return -1;
    return 0;
}

/* a double appended to the log (a micro-batch's length before its entries) */
static int log_push(ih_bn_log *log, double v) {
    if (log->n == log->cap) {
        size_t cap = log->cap ? 2 * log->cap : 4096;
        double *grown = realloc(log->v, cap * sizeof *grown);
        if (!grown) return ih_set_error("out of memory");
        log->v = grown, log->cap = cap;
    }
    log->v[log->n++] = v;
    return 0;
}

/* Several ranks, after each rank's micro-batches of a step: the buffers those of one process that
 * ran the K micro-batches in order, the step's starting buffers with every micro-batch's logged
 * updates replayed, micro-batch j from rank j mod size. */
static int sync_buffers(trainer *t, int K) {
    ih_model *m = t->m;
    double *all = NULL;
    if (ih_dist_allgatherv_f64(t->bn_log.v, t->bn_log.n, &all, t->log_counts) != 0) return -1;
    memcpy(ih_model_buffers(m), t->buf_start, ih_model_n_buffers(m) * sizeof *t->buf_start);
    /* rank r's part is all[log_at[r] .. log_at[size + r]) */
    size_t *at = t->log_at, *end = t->log_at + t->size, pos = 0;
    for (int r = 0; r < t->size; r++) at[r] = pos, pos += t->log_counts[r], end[r] = pos;
    int rc = 0;
    for (int j = 0; rc == 0 && j < K; j++) {
        int r = j % t->size;
        size_t q = at[r];
        double len = q < end[r] ? all[q] : -1;
        if (!(len >= 0 && len <= (double)(end[r] - q - 1))) {
            rc = ih_set_error("BatchNorm statistics of rank %d: micro-batch %d missing", r, j);
            break;
        }
        at[r] = q + 1 + (size_t)len;
        rc = ih_model_bn_replay(m, all + q + 1, (size_t)len);
    }
    free(all);
    return rc;
}
/* Forward and backward of one micro-batch (len records at idx); the loss gradient weighted by the
 * micro-batch's share of the nb-record batch. Adds to *loss_sum and the training MAE sums. */
static int micro_step(trainer *t, const int *idx, int len, int nb, int first_in_batch, double *loss_sum) {
    const ih_dataset *d = t->d;
    const ih_task_scaling *sc = t->sc;
    int P = t->P;
    ih_graph g, g2;
    const ih_graph *g2p = d->graphs2 ? &g2 : NULL;
    /* the displacements, as MODEL-4's dropout masks, are a function of (seed, step, micro-batch),
     * so that a resumed run repeats an uninterrupted one */
    uint64_t micro_seed = t->o->seed ^ ((uint64_t)t->st.sched_step << 20) ^ (uint64_t)first_in_batch;
    ih_rng jitter_rng;
    ih_rng_seed(&jitter_rng, micro_seed ^ 0x6a09e667f3bcc909ULL);
    if (make_micro(d, idx, len, t->o->jitter, &jitter_rng, &g, &g2) != 0) return -1;
    for (int k = 0; k < len; k++)
        for (int p = 0; p < P; p++) {
            size_t r = (size_t)idx[k] * P + p;
            t->msk[k * P + p] = d->mask[r];
            t->tgt[k * P + p] = d->mask[r] != 0.0f ? (float)ih_scale(&sc[p], d->targets[r]) : 0.0f;
        }
    ih_model_set_dropout_seed(t->m, micro_seed);
    if (ih_model_forward(t->m, &g, g2p, 1, t->out) != 0) {
        free_micro(&g, &g2);
        return -1;
    }
    double scale = (double)len / nb;
    double loss = t->o->loss == IH_LOSS_MSE ? ih_loss_mse(t->out, t->tgt, t->msk, len, P, scale, t->dout)
                                            : ih_loss_l1(t->out, t->tgt, t->msk, len, P, scale, t->dout);
    *loss_sum += loss * len;
    for (int k = 0; k < len; k++)
        for (int p = 0; p < P; p++)
            if (t->msk[k * P + p] != 0.0f) {
                t->train_abs[p] += fabs(t->out[k * P + p] - t->tgt[k * P + p]) * (sc[p].hi - sc[p].lo) / 2;
                t->train_cnt[p]++;
            }
    int rc = ih_model_backward(t->m, &g, g2p, t->dout);
    free_micro(&g, &g2);
    return rc;
}

/* One pass over the training records in a seeded order, an AdamW step per batch. */
static int train_epoch(trainer *t, long epoch, double *loss_sum) {
    int n_train = t->n_train, B = t->o->batch, P = t->P;
    long done_here = 0; /* records this rank trained on */
    double t0 = ih_now(), last_progress = t0;
    /* the order of epoch k is a function of the seed and k alone (resumable) */
    memcpy(t->order, t->train_idx, (size_t)n_train * sizeof *t->order);
    ih_rng_shuffle(&t->st.rng, t->order, n_train);
    *loss_sum = 0;
    for (int p = 0; p < t->P; p++) t->train_abs[p] = 0, t->train_cnt[p] = 0;
    for (int b0 = 0; b0 < n_train; b0 += B) {
        int nb = n_train - b0 < B ? n_train - b0 : B;
        if (!t->quiet && ih_now() - last_progress > 120) {
            /* long epochs (pre-training): a line every two minutes (the loss of this rank's share) */
            double done = (double)b0 / n_train, spent = ih_now() - t0;
            printf("  epoch %ld: %4.1f %% of the training records, loss %.4f, epoch ETA %.0f s\n", epoch + 1,
                   100 * done, *loss_sum / (done_here > 0 ? done_here : 1), spent / done * (1 - done));
            last_progress = ih_now();
        }
        /* the micro-batches: the same split on every rank */
        if (t->o->micro_structs > 0) {
            /* work of a record: atoms + edges + line-graph triplets */
            for (int k = 0; k < nb; k++) {
                long ra, re, rt;
                record_sizes(t->d, t->order[b0 + k], &ra, &re, &rt);
                t->bal_cost[k] = ra + re + rt;
            }
            ih_balance_micro_batches(t->order + b0, t->bal_cost, nb, t->o->micro_structs, t->bal_by_cost,
                                     t->bal_load, t->bal_fill, t->bal_out);
        }
        int K = 0;
        for (int s = 0; s < nb; K++) {
            int cap = nb - s;
            if (t->o->micro_structs > 0 && cap > t->o->micro_structs) cap = t->o->micro_structs;
            t->mb_start[K] = s;
            t->mb_len[K] = micro_len(t->d, t->order + b0 + s, cap, t->o->micro_triplets);
            s += t->mb_len[K];
        }
        if (t->size > 1) {
            memcpy(t->buf_start, ih_model_buffers(t->m), ih_model_n_buffers(t->m) * sizeof *t->buf_start);
            t->bn_log.n = 0;
        }
        /* Each micro-batch's gradient is computed apart and added to the batch's, in micro-batch
         * order. Several ranks: rounds of `size` micro-batches, micro-batch j of a round on rank j;
         * rank 0 adds the sum so far to its own, and the rank-order all-reduce then adds the
         * others' in order: the same additions as one process, so the same bits. */
        float *acc = t->grad_acc, *grads = ih_model_grads(t->m);
        size_t n_params = ih_model_n_params(t->m);
        memset(acc, 0, n_params * sizeof *acc);
        for (int j0 = 0; j0 < K; j0 += t->size) {
            int j = j0 + t->rank;
            ih_model_zero_grad(t->m);
            if (j < K) {
                size_t head = t->bn_log.n;
                if (t->size > 1) {
                    if (log_push(&t->bn_log, 0) != 0) return -1;
                    ih_model_set_bn_log(t->m, &t->bn_log);
                }
                int rc = micro_step(t, t->order + b0 + t->mb_start[j], t->mb_len[j], nb, t->mb_start[j], loss_sum);
                ih_model_set_bn_log(t->m, NULL);
                if (rc != 0) return -1;
                if (t->size > 1) t->bn_log.v[head] = (double)(t->bn_log.n - head - 1);
                done_here += t->mb_len[j];
            }
            if (t->size == 1) {
                for (size_t i = 0; i < n_params; i++) acc[i] += grads[i];
            } else {
                if (t->rank == 0)
                    for (size_t i = 0; i < n_params; i++) grads[i] = acc[i] + grads[i];
                if (ih_dist_allreduce_sum(grads, n_params) != 0) return -1;
                memcpy(acc, grads, n_params * sizeof *acc);
            }
        }
        if (t->size > 1 && sync_buffers(t, K) != 0) return -1;
        double lr, beta1;
        ih_onecycle_at(&t->st.sched, t->st.sched_step, &lr, &beta1);
        if (ih_adamw_step(&t->adam, ih_model_params(t->m), acc, t->ranges, t->n_ranges, lr, beta1) != 0) return -1;
        t->st.sched_step++;
    }
    if (t->size > 1) {
        /* the epoch's loss and training-MAE sums over every rank's share */
        t->sums[0] = *loss_sum;
        for (int p = 0; p < P; p++) t->sums[1 + p] = t->train_abs[p], t->sums[1 + P + p] = (double)t->train_cnt[p];
        if (ih_dist_allreduce_sum_f64(t->sums, (size_t)(1 + 2 * P)) != 0) return -1;
        *loss_sum = t->sums[0];
        for (int p = 0; p < P; p++) t->train_abs[p] = t->sums[1 + p], t->train_cnt[p] = (long)t->sums[1 + P + p];
    }
    if (!isfinite(*loss_sum))
        return ih_set_error("training diverged at epoch %ld (loss is not finite); try a smaller --lr", epoch + 1);
    return 0;
}

/* The validation records' outputs into val_pred: the forward passes of ih_predict_dataset, with
 * several ranks each rank's share of them (every size-th), gathered by a sum (each entry is one
 * rank's, the others add zeros): the same numbers as one process. */
static int predict_validation(trainer *t) {
    const ih_train_opts *o = t->o;
    int P = t->P;
    if (t->size == 1)
        return ih_predict_dataset(t->m, t->d, t->val_idx, t->n_val, t->eval_structs, o->micro_triplets, t->val_pred);
    int nc = predict_chunks(t->d, t->val_idx, t->n_val, t->eval_structs, o->micro_triplets, t->val_chunk);
    memset(t->val_pred, 0, (size_t)t->n_val * P * sizeof *t->val_pred);
    for (int c = t->rank; c < nc; c += t->size) {
        int s = t->val_chunk[c], len = t->val_chunk[c + 1] - s;
        if (ih_predict_dataset(t->m, t->d, t->val_idx + s, len, t->eval_structs, o->micro_triplets,
                               t->val_pred + (size_t)s * P) != 0)
            return -1;
    }
    return ih_dist_allreduce_sum(t->val_pred, (size_t)t->n_val * P);
}

/* After epoch (0-based) `epoch`: validation, the best model kept (o->save_model), the checkpoint
 * written. *improved says whether this epoch is the best so far. */
static int finish_epoch(trainer *t, long epoch, ih_train_result *res, int *improved) {
    const ih_train_opts *o = t->o;
    int n_val = t->n_val;
    double val_score = NAN;
    if (n_val > 0) {
        if (predict_validation(t) != 0) return -1;
        val_score = task_maes(t->d, t->val_idx, n_val, t->val_pred, t->sc, t->per_task);
    }
    t->st.epoch = epoch + 1;
    *improved = n_val == 0 || val_score < t->st.best_val;
    if (*improved) {
        /* without a validation part there is no score: infinity, which the state file stores
         * (a NaN it would refuse on --resume) */
        t->st.best_val = n_val ? val_score : INFINITY;
        t->st.best_epoch = epoch + 1;
        res->best_epoch = (int)(epoch + 1);
        for (int p = 0; p < t->P && p < IH_MAX_TASKS; p++) res->best_val_mae[p] = n_val ? t->per_task[p] : NAN;
        if (o->out && o->save_model(o->save_ctx, t->m, o->out, epoch + 1, n_val ? t->per_task : NULL) != 0) return -1;
    }
    /* one file, renamed into place: the weights and the optimiser of the same epoch, always (by
     * rank 0: every rank holds the same) */
    if (o->checkpoint && t->rank == 0 && ih_checkpoint_save(t->ck_state, &t->adam, &t->st, t->m, t->run_json) != 0) return -1;
    return 0;
}

static void print_epoch(const trainer *t, long epoch, double loss_sum, int improved, double epoch_s, double elapsed,
                        double eta) {
    int P = t->P;
    char te[32], tt[32];
    fmt_time(elapsed, te, sizeof te);
    fmt_time(eta, tt, sizeof tt);
    printf("epoch %3ld/%d  loss %.4f  train MAE", epoch + 1, t->o->epochs, loss_sum / t->n_train);
    for (int p = 0; p < P; p++) printf(" %.4f", t->train_cnt[p] ? t->train_abs[p] / t->train_cnt[p] : NAN);
    if (t->n_val) {
        printf("  val MAE");
        for (int p = 0; p < P; p++) printf(" %.4f", t->per_task[p]);
    }
    printf("%s  %.1f s  elapsed %s  ETA %s\n", improved && t->n_val ? " *" : "", epoch_s, te, tt);
    fflush(stdout);
}

int ih_train(ih_model *m, const ih_dataset *d, const int *train_idx, int n_train,
             const int *val_idx, int n_val, const ih_task_scaling *sc, const ih_train_opts *o,
             ih_train_result *res) {
    int P = ih_model_config(m)->n_outputs;
    if (P != d->n_tasks) return ih_set_error("model has %d outputs but the data %d tasks", P, d->n_tasks);
    if (n_train < 1) return ih_set_error("no training records");
    if (o->batch < 1 || o->epochs < 1) return ih_set_error("batch and epochs must be positive");
    if (check_input(m, d) != 0) return -1;
    memset(res, 0, sizeof *res);
    /* a resumed run that does not improve on the checkpoint's best does not know its per-task
     * validation MAE (the state keeps the selection score only) */
    for (int p = 0; p < IH_MAX_TASKS; p++) res->best_val_mae[p] = NAN;
    trainer t = {.m = m, .d = d, .train_idx = train_idx, .val_idx = val_idx, .n_train = n_train, .n_val = n_val,
                 .P = P, .sc = sc, .o = o, .rank = ih_dist_rank(), .size = ih_dist_size()};
    t.quiet = o->quiet || t.rank != 0;
    t.eval_structs = o->batch > 64 ? o->batch : 64;
    t.steps_per_epoch = (n_train + o->batch - 1) / o->batch;
    if (ih_dataset_reserve(m, d, t.eval_structs, o->micro_triplets) != 0) return -1;
    int rc = trainer_alloc(&t);
    /* several ranks: rank 0 resumes, and every rank takes its state */
    if (rc == 0) rc = o->resume && o->checkpoint && t.rank == 0 ? resume_from_checkpoint(&t) : start_fresh(&t);
    if (rc == 0 && t.size > 1) rc = sync_start(&t);
    double t_start = ih_now();
    int epochs_this_run = 0, stopped = 0;
    for (long epoch = t.st.epoch; rc == 0 && !stopped && epoch < o->epochs; epoch++) {
        double t0 = ih_now(), loss_sum;
        int improved;
        rc = train_epoch(&t, epoch, &loss_sum);
        if (rc == 0) rc = finish_epoch(&t, epoch, res, &improved);
        if (rc != 0) break;
        epochs_this_run++;
        /* --stop-after (tests of resuming): no epoch line, best epoch as of this run */
        stopped = o->stop_after > 0 && t.st.epoch >= o->stop_after;
        double now = ih_now(), el = now - t_start;
        if (!t.quiet && !stopped)
            print_epoch(&t, epoch, loss_sum, improved, now - t0, el, el / epochs_this_run * (o->epochs - epoch - 1));
    }
    if (rc == 0) {
        res->seconds = ih_now() - t_start;
        res->epochs = (int)t.st.epoch;
        if (!stopped) res->best_epoch = (int)t.st.best_epoch;
    }
    /* a finished run needs no checkpoint: the model file holds its result */
    if (rc == 0 && !stopped && o->checkpoint && t.rank == 0) remove(t.ck_state);
    trainer_free(&t);
    return rc != 0 ? -1 : 0;
}

static const ih_dataset *sort_ds;

static int cmp_group_then_index(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    int c = strcmp(sort_ds->group[a], sort_ds->group[b]);
    return c ? c : (a > b) - (a < b);
}

/* Host-group ids numbered in order of first appearance, and group sizes; returns the number of
 * groups or -1. Sorting by name keeps this O(n log n) for the 30k pre-training records. */
static int group_ids(const ih_dataset *d, int *group_of, int *size) {
    int n = d->n, n_groups = 0;
    int *order = malloc((size_t)n * sizeof *order), *first = malloc((size_t)n * sizeof *first);
    if (!order || !first) {
        free(order), free(first);
        return ih_set_error("out of memory");
    }
    for (int i = 0; i < n; i++) order[i] = i;
    sort_ds = d;
    qsort(order, (size_t)n, sizeof *order, cmp_group_then_index);
    /* group_of temporarily holds the first index of each record's run */
    for (int k = 0; k < n; k++) {
        int head = (k > 0 && strcmp(d->group[order[k]], d->group[order[k - 1]]) == 0)
                       ? group_of[order[k - 1]]
                       : order[k];
        group_of[order[k]] = head;
    }
    for (int i = 0; i < n; i++) first[i] = -1;
    for (int i = 0; i < n; i++) {
        int head = group_of[i];
        if (first[head] < 0) first[head] = n_groups++;
        group_of[i] = first[head];
    }
    for (int g = 0; g < n_groups; g++) size[g] = 0;
    for (int i = 0; i < n; i++) size[group_of[i]]++;
    free(order), free(first);
    return n_groups;
}

/* Whole host groups of d's records drawn in seeded random order until at least want records:
 * group_of[i] (n entries) gets each record's group, mark[g] (n + 1 entries, zeroed) 1 for a drawn
 * group. For one seed a smaller want marks a prefix of the same order, so draws are nested.
 * Returns 0 or -1. */
static int draw_groups(const ih_dataset *d, long want, uint64_t seed, int *group_of, char *mark) {
    int n = d->n;
    int *size = malloc((size_t)n * sizeof *size), *perm = malloc((size_t)n * sizeof *perm);
    int n_groups = size && perm ? group_ids(d, group_of, size) : -1;
    if (n_groups < 0) {
        free(size), free(perm);
        return ih_set_error("out of memory");
    }
    for (int g = 0; g < n_groups; g++) perm[g] = g;
    ih_rng rng;
    ih_rng_seed(&rng, seed);
    ih_rng_shuffle(&rng, perm, n_groups);
    long have = 0;
    for (int q = 0; q < n_groups && have < want; q++) {
        mark[perm[q]] = 1;
        have += size[perm[q]];
    }
    free(size), free(perm);
    return 0;
}

int ih_split_groups(const ih_dataset *d, double val_fraction, uint64_t seed, int **train_idx,
                    int *n_train, int **val_idx, int *n_val) {
    int n = d->n;
    int *group_of = malloc((size_t)n * sizeof *group_of);
    int *tr = malloc((size_t)n * sizeof *tr), *va = malloc((size_t)n * sizeof *va);
    char *gval = calloc((size_t)n + 1, 1);
    if (!group_of || !tr || !va || !gval || draw_groups(d, lround(val_fraction * n), seed, group_of, gval) != 0) {
        free(group_of), free(tr), free(va), free(gval);
        return ih_set_error("out of memory");
    }
    int nt = 0, nv = 0;
    for (int i = 0; i < n; i++) {
        if (gval[group_of[i]]) va[nv++] = i;
        else tr[nt++] = i;
    }
    free(gval), free(group_of);
    if (nt == 0) {
        free(tr), free(va);
        return ih_set_error("validation fraction %.2f leaves no training records", val_fraction);
    }
    *train_idx = tr, *n_train = nt, *val_idx = va, *n_val = nv;
    return 0;
}

int ih_subsample_groups(const ih_dataset *d, const int *idx, int n_idx, double fraction, uint64_t seed, int *kept,
                        int *n_kept) {
    if (!(fraction > 0 && fraction <= 1)) return ih_set_error("training fraction %g is not in (0, 1]", fraction);
    *n_kept = 0;
    if (n_idx <= 0) return 0;
    /* a view holding only the pool's group names, so that group ids number the pool's hosts */
    ih_dataset view;
    memset(&view, 0, sizeof view);
    view.n = n_idx;
    view.group = malloc((size_t)n_idx * sizeof *view.group);
    int *group_of = malloc((size_t)n_idx * sizeof *group_of);
    char *take = calloc((size_t)n_idx + 1, 1);
    int rc = view.group && group_of && take ? 0 : ih_set_error("out of memory");
    for (int i = 0; rc == 0 && i < n_idx; i++) memcpy(view.group[i], d->group[idx[i]], sizeof view.group[i]);
    /* at least the fraction: the count rounded up */
    if (rc == 0) rc = draw_groups(&view, (long)ceil(fraction * n_idx - 1e-9), seed, group_of, take);
    if (rc == 0) {
        int nk = 0;
        for (int i = 0; i < n_idx; i++)
            if (take[group_of[i]]) kept[nk++] = idx[i];
        *n_kept = nk;
    }
    free(view.group), free(group_of), free(take);
    return rc;
}

int ih_group_folds(const ih_dataset *d, int k, uint64_t seed, int *fold_of) {
    int n = d->n;
    if (k < 2 || k > n) return ih_set_error("%d folds for %d records", k, n);
    int *group_of = malloc((size_t)n * sizeof *group_of), *size = calloc((size_t)n, sizeof *size);
    int *perm = malloc((size_t)n * sizeof *perm), *group_fold = malloc((size_t)n * sizeof *group_fold);
    long *fold_size = calloc((size_t)k, sizeof *fold_size);
    if (!group_of || !size || !perm || !group_fold || !fold_size) {
        free(group_of), free(size), free(perm), free(group_fold), free(fold_size);
        return ih_set_error("out of memory");
    }
    int n_groups = group_ids(d, group_of, size);
    if (n_groups < k) {
        free(group_of), free(size), free(perm), free(group_fold), free(fold_size);
        return ih_set_error("%d host groups cannot fill %d folds", n_groups, k);
    }
    for (int g = 0; g < n_groups; g++) perm[g] = g;
    ih_rng rng;
    ih_rng_seed(&rng, seed);
    ih_rng_shuffle(&rng, perm, n_groups);
    /* groups in shuffled order, each to the currently smallest fold: folds stay balanced */
    for (int q = 0; q < n_groups; q++) {
        int g = perm[q], best = 0;
        for (int f = 1; f < k; f++)
            if (fold_size[f] < fold_size[best]) best = f;
        group_fold[g] = best;
        fold_size[best] += size[g];
    }
    for (int i = 0; i < n; i++) fold_of[i] = group_fold[group_of[i]];
    free(group_of), free(size), free(perm), free(group_fold), free(fold_size);
    return 0;
}
