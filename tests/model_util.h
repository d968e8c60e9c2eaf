/* Small test networks whose norm layers are not the identity (test_model, test_variants). */
#ifndef IH_TEST_MODEL_UTIL_H
#define IH_TEST_MODEL_UTIL_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#include "graph_util.h"
#include "nn/model_internal.h"

/* BatchNorm/LayerNorm scales 1 ± 0.3 and shifts ± 0.3 from stream sp; running means ± 0.3 and
 * variances 0.5 … 1.5 from stream sb (may be sp), so evaluation mode is not trivial */
static inline void perturb_norms(ih_model *m, uint64_t *sp, uint64_t *sb) {
    for (int k = 0; k < ih_model_n_tensors(m); k++) {
        const ih_tensor_info *t = ih_model_tensor(m, k);
        if (m->init_kind[k] == INIT_ONE || m->init_kind[k] == INIT_ZERO)
            for (size_t j = 0; j < t->numel; j++)
                ih_model_params(m)[t->offset + j] =
                    (m->init_kind[k] == INIT_ONE ? 1.0f : 0.0f) + 0.3f * (float)(2 * tg_unif(sp) - 1);
    }
    for (int k = 0; k < ih_model_n_buffer_tensors(m); k++) {
        const ih_tensor_info *t = ih_model_buffer_tensor(m, k);
        int var = strstr(t->name, "running_var") != NULL;
        for (size_t j = 0; j < t->numel; j++)
            ih_model_buffers(m)[t->offset + j] =
                var ? 0.5f + (float)tg_unif(sb) : 0.3f * (float)(2 * tg_unif(sb) - 1);
    }
}

/* In training mode a Linear directly followed by BatchNorm has a bias with zero gradient
 * (BatchNorm removes the mean); only rounding remains. */
static inline int bias_before_train_bn(const char *name) {
    return (strstr(name, "embedding") && strstr(name, "layer.0.bias")) || strstr(name, "src_update.bias");
}

/* a fixture's newline-separated names split in place; returns how many */
static inline int split_lines(char *s, char **out, int max) {
    int n = 0;
    if (!s || !*s) return 0;
    out[n++] = s;
    for (char *p = s; *p && n < max; p++)
        if (*p == '\n') *p = 0, out[n++] = p + 1;
    return n;
}

/* Euclidean norm of n floats, summed in double */
static inline double norm_f32(const float *x, size_t n) {
    double n2 = 0;
    for (size_t j = 0; j < n; j++) n2 += (double)x[j] * x[j];
    return sqrt(n2);
}

/* The model's gradients against a reference's: per-tensor norms (ref_norm) relative to the norm,
 * four sampled entries per tensor (ref_samples, at 0, n/3, 2n/3, n-1) relative to the tensor's RMS
 * (entries tiny on the tensor's scale carry no signal in float32). Both are floored at 1e-4 of the
 * whole gradient norm: in training mode the biases before BatchNorm (and the dst_update biases,
 * which only shift the gated mean) have a true gradient of (almost) zero, and both sides then hold
 * rounding of ~1e-8 of the whole norm. With zero_bias_check those biases are instead checked to be
 * rounding on both sides and left out. REF_VERBOSE=1 prints every tensor off by more than 1e-4. */
typedef struct {
    double norm_err, entry_err;
    const char *norm_worst, *entry_worst;
} ref_grad_err;

static inline ref_grad_err ref_compare_grads(ih_model *m, char **names, int n_names, const double *ref_norm,
                                             const double *ref_samples, int zero_bias_check, const char *label) {
    ref_grad_err r = {0, 0, "", ""};
    double G2 = 0;
    for (int k = 0; k < n_names; k++) G2 += ref_norm[k] * ref_norm[k];
    double gfloor = 1e-4 * sqrt(G2);
    for (int k = 0; k < n_names; k++) {
        int ti = ih_model_find_tensor(m, names[k]);
        CHECK_MSG(ti >= 0, "reference tensor %s unknown", names[k]);
        if (ti < 0) continue;
        const ih_tensor_info *t = ih_model_tensor(m, ti);
        const float *gr = ih_model_grads(m) + t->offset;
        double gn = norm_f32(gr, t->numel), rn = ref_norm[k];
        if (zero_bias_check && bias_before_train_bn(names[k])) {
            CHECK_MSG(gn < 1e-5 * sqrt(G2) && rn < 1e-5 * sqrt(G2), "%s %s", label, names[k]);
            continue;
        }
        double e = fabs(gn - rn) / fmax(rn, gfloor);
        if (e > 1e-4 && getenv("REF_VERBOSE"))
            printf("    %s %s: norm %.6g ref %.6g (%.1e of all)\n", label, names[k], gn, rn, rn / sqrt(G2));
        if (e > r.norm_err) r.norm_err = e, r.norm_worst = names[k];
        size_t n = t->numel, idx[4] = {0, n / 3, 2 * n / 3, n - 1};
        double rms = rn / sqrt((double)n);
        for (int q = 0; q < 4; q++) {
            double ref = ref_samples[k * 4 + q];
            double es = fabs(gr[idx[q]] - ref) / fmax(fmax(fabs(ref), rms), gfloor);
            if (es > r.entry_err) r.entry_err = es, r.entry_worst = names[k];
        }
    }
    return r;
}

/* the largest relative error of the running-statistics buffers' norms against a reference's */
static inline double ref_buffer_error(ih_model *m, char **bufnames, int n_buf, const double *ref_norm) {
    double err = 0;
    for (int k = 0; k < n_buf; k++) {
        int bi = ih_model_find_buffer(m, bufnames[k]);
        CHECK_MSG(bi >= 0, "reference buffer %s unknown", bufnames[k]);
        if (bi < 0) continue;
        const ih_tensor_info *t = ih_model_buffer_tensor(m, bi);
        double bn = norm_f32(ih_model_buffers(m) + t->offset, t->numel);
        err = fmax(err, fabs(bn - ref_norm[k]) / ref_norm[k]);
    }
    return err;
}
#endif
