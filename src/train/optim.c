/* AdamW and the one-cycle schedule, following PyTorch 1.13's torch.optim.AdamW (single-tensor
 * path) and OneCycleLR so that a run can be compared step for step with the reference (§5.3, §5.4). */
#include "ionhop_train.h"
#include "core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ih_param_decays(const char *name) {
    return !(strstr(name, "bias") || strstr(name, "bn") || strstr(name, "norm"));
}

const char *const ih_trunk_prefixes[5] = {"atom_embedding.", "edge_embedding.", "angle_embedding.", "alignn_layers.",
                                          "gcn_layers."};

int ih_param_is_trunk(const char *name) {
    for (int k = 0; k < 5; k++)
        if (!strncmp(name, ih_trunk_prefixes[k], strlen(ih_trunk_prefixes[k]))) return 1;
    return 0;
}

int ih_adamw_init(ih_adamw *o, size_t n, double weight_decay) {
    memset(o, 0, sizeof *o);
    if (n == 0) return ih_set_error("AdamW: no parameters");
    if (!(weight_decay >= 0) || !isfinite(weight_decay))
        return ih_set_error("AdamW: weight decay %g is not a non-negative number", weight_decay);
    o->m = calloc(n, sizeof *o->m);
    o->v = calloc(n, sizeof *o->v);
    if (!o->m || !o->v) {
        ih_adamw_free(o);
        return ih_set_error("AdamW: out of memory for %zu parameters", n);
    }
    o->n = n;
    o->weight_decay = weight_decay;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    return 0;
}

void ih_adamw_free(ih_adamw *o) {
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

static int check_ranges(const ih_adamw *o, const ih_param_range *r, int n_ranges) {
    if (n_ranges < 0 || (n_ranges > 0 && !r)) return ih_set_error("AdamW: no parameter ranges");
    size_t end = 0;
    for (int i = 0; i < n_ranges; i++) {
        /* written to avoid overflow in offset + count */
        if (r[i].offset > o->n || r[i].count > o->n - r[i].offset)
            return ih_set_error("AdamW: range %d (offset %zu, %zu values) exceeds the %zu parameters",
                                i, r[i].offset, r[i].count, o->n);
        if (!(r[i].lr_scale >= 0) || !isfinite(r[i].lr_scale))
            return ih_set_error("AdamW: range %d has learning-rate scale %g", i, r[i].lr_scale);
        if (r[i].offset < end)
            return ih_set_error("AdamW: range %d (offset %zu) overlaps or precedes range %d", i,
                                r[i].offset, i - 1);
        end = r[i].offset + r[i].count;
    }
    return 0;
}

int ih_adamw_step(ih_adamw *o, float *params, const float *grads, const ih_param_range *ranges,
                  int n_ranges, double lr, double beta1) {
    if (!o->m || !o->v) return ih_set_error("AdamW: optimiser not initialised");
    if (!isfinite(lr) || !(beta1 >= 0 && beta1 < 1))
        return ih_set_error("AdamW: invalid lr %g or beta1 %g", lr, beta1);
    if (check_ranges(o, ranges, n_ranges) != 0) return -1;
    o->step++;
    /* Scalars are formed in double and rounded once to float, as PyTorch does with Python-number
     * arguments to its float32 kernels; the per-element arithmetic below keeps PyTorch's order. */
    double t = (double)o->step;
    double bias1 = 1.0 - pow(beta1, t);
    double bias2_sqrt = sqrt(1.0 - pow(o->beta2, t));
    const float b1 = (float)beta1, one_minus_b1 = (float)(1.0 - beta1);
    const float b2 = (float)o->beta2, one_minus_b2 = (float)(1.0 - o->beta2);
    const float bc2 = (float)bias2_sqrt, eps = (float)o->eps;
    float *m = o->m, *v = o->v;
    size_t total = 0;
    for (int r = 0; r < n_ranges; r++) total += ranges[r].count;
    /* Ranges are disjoint, so the per-range loops need no barrier between them. */
#pragma omp parallel if (total > 32768)
    for (int r = 0; r < n_ranges; r++) {
        const long lo = (long)ranges[r].offset, hi = lo + (long)ranges[r].count;
        /* lr × 1 is exact, so ranges at scale 1 step exactly as without scales; ×1 is exact too,
         * so one branch-free loop serves both decay groups */
        const double lr_r = lr * ranges[r].lr_scale;
        const float dm = ranges[r].decay ? (float)(1.0 - lr_r * o->weight_decay) : 1.0f;
        const float neg_step = (float)(-(lr_r / bias1));
#pragma omp for schedule(static) nowait
        for (long i = lo; i < hi; i++) {
            const float g = grads[i];
            const float p = params[i] * dm;
            m[i] = m[i] * b1 + one_minus_b1 * g;
            v[i] = v[i] * b2 + one_minus_b2 * g * g;
            const float denom = sqrtf(v[i]) / bc2 + eps;
            params[i] = p + neg_step * m[i] / denom;
        }
    }
    return 0;
}

void ih_onecycle_default(ih_onecycle *s, long total_steps, double max_lr) {
    s->total_steps = total_steps;
    s->max_lr = max_lr;
    s->pct_start = 0.3;
    s->div_factor = 25.0;
    s->final_div_factor = 1e4;
    s->base_momentum = 0.85;
    s->max_momentum = 0.95;
}

/* PyTorch's _annealing_cos: from `start` at pct 0 to `end` at pct 1. */
static double anneal_cos(double start, double end, double pct) {
    return end + (start - end) / 2.0 * (cos(M_PI * pct) + 1.0);
}

int ih_onecycle_at(const ih_onecycle *s, long t, double *lr, double *beta1) {
    if (s->total_steps < 1) return ih_set_error("one-cycle schedule: %ld total steps", s->total_steps);
    if (!(s->pct_start > 0 && s->pct_start < 1))
        return ih_set_error("one-cycle schedule: pct_start %g is not in (0, 1)", s->pct_start);
    if (!(s->max_lr > 0) || !(s->div_factor > 0) || !(s->final_div_factor > 0))
        return ih_set_error("one-cycle schedule: max_lr and the division factors must be positive");
    if (t < 0) t = 0;
    if (t > s->total_steps - 1) t = s->total_steps - 1;
    const double initial_lr = s->max_lr / s->div_factor;
    const double min_lr = initial_lr / s->final_div_factor;
    const double end1 = s->pct_start * (double)s->total_steps - 1.0; /* s1 of §5.4 */
    const double end2 = (double)s->total_steps - 1.0;                /* s2 */
    const double step = (double)t;
    if (step <= end1) {
        /* end1 can be 0 for tiny S, where PyTorch would divide by zero: phase 1 is one point */
        double pct = end1 > 0 ? step / end1 : 0.0;
        *lr = anneal_cos(initial_lr, s->max_lr, pct);
        if (beta1) *beta1 = anneal_cos(s->max_momentum, s->base_momentum, pct);
    } else {
        double pct = (step - end1) / (end2 - end1); /* end2 - end1 = 0.7·S > 0 */
        *lr = anneal_cos(s->max_lr, min_lr, pct);
        if (beta1) *beta1 = anneal_cos(s->base_momentum, s->max_momentum, pct);
    }
    return 0;
}
