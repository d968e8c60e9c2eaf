/* Finite-difference gradient checks (float32 forward, central differences, loss summed in
 * double). The error of one entry is |analytic − numeric| / max(|analytic|, |numeric|, floor),
 * floor = 1e-2 · the largest analytic magnitude of the tensor, so entries that are tiny
 * compared with the rest of the tensor are judged on the tensor's scale. */
#ifndef IH_TEST_GRADCHECK_H
#define IH_TEST_GRADCHECK_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef double (*gc_loss_fn)(void *ctx);

static double gc_worst_overall = 0.0; /* worst relative error over entries above the noise */
static int gc_failures = 0;

/* Absolute allowance for the float32 rounding noise of the loss (divided by the step): the
 * tests that need one measure it (see test_model.c); 0 = none. */
static double gc_abs_noise = 0.0;

static inline double gc_entries(const char *what, float *x, const float *grad, size_t n,
                                int n_samples, float h, gc_loss_fn f, void *ctx, double tol) {
    double gmax = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(grad[i]) > gmax) gmax = fabs(grad[i]);
    double floor_ = 1e-2 * gmax, worst = 0.0;
    double allow = gc_abs_noise;
    int failed = 0;
    size_t worst_i = 0;
    (void)failed;
    double worst_a = 0, worst_fd = 0;
    if ((size_t)n_samples > n) n_samples = (int)n;
    for (int s = 0; s < n_samples; s++) {
        size_t i = n_samples > 1 ? (size_t)((double)s * (double)(n - 1) / (n_samples - 1)) : 0;
        float orig = x[i];
        x[i] = orig + h;
        double lp = f(ctx);
        x[i] = orig - h;
        double lm = f(ctx);
        x[i] = orig;
        /* the actual step after float rounding */
        double fd = (lp - lm) / ((double)(orig + h) - (double)(orig - h));
        double a = grad[i];
        double mag = fmax(fmax(fabs(a), fabs(fd)), floor_);
        double err = mag > 0 ? fmax(0.0, fabs(a - fd) - allow) / mag : 0.0;
        if (err > tol) failed = 1;
        if (err > worst) {
            worst = err;
            worst_i = i;
            worst_a = a;
            worst_fd = fd;
        }
    }
    if (worst > gc_worst_overall) gc_worst_overall = worst;
    if (failed) gc_failures++;
    if (getenv("GC_VERBOSE") || failed)
        printf("  gradcheck %-44s n=%-6zu worst rel err %.2e (entry %zu: analytic %.6g, numeric %.6g; "
               "noise allowance %.1e)%s\n",
               what, n, worst, worst_i, worst_a, worst_fd, allow, failed ? " FAILED" : "");
    return worst;
}

/* Directional check over a whole block: the derivative along a fixed ±1 pattern v, by central
 * differences with Richardson extrapolation (steps h and h/2, error O(h⁴)), against g·v, so
 * every entry takes part. Returns max(0, |numeric − g·v| − allow) / max(|g·v|, 1e-2·Σ|g|), allow
 * being an absolute allowance for the loss's rounding noise (0 = none). */
static inline double gc_direction(const char *what, float *x, const float *grad, size_t n, float h,
                                  uint64_t seed, gc_loss_fn f, void *ctx, double allow) {
    float *orig = malloc(sizeof(float) * n);
    signed char *v = malloc(n);
    memcpy(orig, x, sizeof(float) * n);
    uint64_t s = seed;
    double gv = 0.0, gabs = 0.0;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = (s >> 33) & 1 ? 1 : -1;
        gv += v[i] * (double)grad[i];
        gabs += fabs(grad[i]);
    }
    double d[2];
    for (int k = 0; k < 2; k++) {
        float hk = k ? h / 2 : h;
        for (size_t i = 0; i < n; i++) x[i] = orig[i] + hk * v[i];
        double lp = f(ctx);
        for (size_t i = 0; i < n; i++) x[i] = orig[i] - hk * v[i];
        double lm = f(ctx);
        d[k] = (lp - lm) / (2.0 * hk);
    }
    memcpy(x, orig, sizeof(float) * n);
    double fd = (4.0 * d[1] - d[0]) / 3.0;
    double err = fmax(0.0, fabs(fd - gv) - allow) / fmax(fmax(fabs(gv), 1e-2 * gabs), 1e-30);
    if (err > gc_worst_overall) gc_worst_overall = err;
    if (getenv("GC_VERBOSE") || err > 1e-2)
        printf("  directional %-42s n=%-7zu g·v %.6g numeric %.6g rel err %.2e\n", what, n, gv, fd, err);
    free(orig);
    free(v);
    return err;
}
#endif
