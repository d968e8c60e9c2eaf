/* Masked L1 / MSE losses (values, gradients by finite differences, scaling, masking) and the
 * evaluation metrics (docs/method.md §10.8 and edge cases). */
#include "check.h"
#include "ionhop_train.h"

typedef double (*loss_fn)(const float *, const float *, const float *, int, int, double, float *);

/* Central differences in double on the loss, away from the L1 kink. */
static void check_gradient(loss_fn f, const char *name, const float *mask) {
    enum { B = 3, P = 4 };
    float out[B * P], tgt[B * P], grad[B * P];
    for (int i = 0; i < B * P; i++) {
        out[i] = (float)(0.37 * i - 1.1 + 0.05 * (i % 3));
        tgt[i] = (float)(0.9 - 0.21 * i);
    }
    f(out, tgt, mask, B, P, 1.0, grad);
    int bad = 0;
    for (int i = 0; i < B * P; i++) {
        const float h = 1e-2f; /* |out - tgt| > 0.05 everywhere: L1 stays on one side */
        float keep = out[i];
        out[i] = keep + h;
        double up = f(out, tgt, mask, B, P, 1.0, NULL);
        out[i] = keep - h;
        double down = f(out, tgt, mask, B, P, 1.0, NULL);
        out[i] = keep;
        /* divide by the step actually taken in float */
        double fd = (up - down) / ((double)(keep + h) - (double)(keep - h));
        if (fabs(fd - grad[i]) > 1e-5 + 1e-4 * fabs(fd)) {
            bad++;
            fprintf(stderr, "%s grad[%d] = %g, finite difference %g\n", name, i, grad[i], fd);
        }
    }
    CHECK_MSG(bad == 0, "%s: %d gradient entries off", name, bad);
}

static void test_losses(void) {
    /* B = 2, P = 3, with a mask as MPT uses it: masked outputs are 0, placeholder target 0 */
    float out[6] = {0.5f, 0.0f, -1.0f, 0.0f, 2.0f, 0.25f};
    float tgt[6] = {0.25f, 0.0f, 1.0f, 0.0f, 2.0f, -0.75f};
    float mask[6] = {1, 0, 1, 0, 1, 1};
    float grad[6];
    /* (0.25 + 2 + 0 + 1) / 6 */
    CHECK_NEAR(ih_loss_l1(out, tgt, mask, 2, 3, 1.0, grad), 3.25 / 6, 1e-12);
    float want_l1[6] = {1.0f / 6, 0, -1.0f / 6, 0, 0 /* exact fit: sign(0) = 0 */, 1.0f / 6};
    for (int i = 0; i < 6; i++) CHECK_NEAR(grad[i], want_l1[i], 1e-7);
    /* (0.0625 + 4 + 0 + 1) / 6 and 2·d/6 */
    CHECK_NEAR(ih_loss_mse(out, tgt, mask, 2, 3, 1.0, grad), 5.0625 / 6, 1e-12);
    float want_mse[6] = {0.5f / 6, 0, -4.0f / 6, 0, 0, 2.0f / 6};
    for (int i = 0; i < 6; i++) CHECK_NEAR(grad[i], want_mse[i], 1e-7);

    /* masked entries contribute nothing even where output and target differ */
    float out2[6], tgt2[6];
    memcpy(out2, out, sizeof out);
    memcpy(tgt2, tgt, sizeof tgt);
    out2[1] = 3.0f;
    tgt2[3] = -5.0f;
    CHECK_NEAR(ih_loss_l1(out2, tgt2, mask, 2, 3, 1.0, grad), 3.25 / 6, 1e-12);
    CHECK(grad[1] == 0.0f && grad[3] == 0.0f);
    /* without a mask they count */
    CHECK_NEAR(ih_loss_l1(out2, tgt2, NULL, 2, 3, 1.0, grad), (3.25 + 3 + 5) / 6, 1e-12);
    CHECK_NEAR(grad[1], 1.0 / 6, 1e-7);

    /* scale multiplies the gradient only: two half-batches with scale 1/2 add up to the batch */
    float g_full[6], g_a[3], g_b[3];
    double l_full = ih_loss_l1(out, tgt, mask, 2, 3, 1.0, g_full);
    double l_a = ih_loss_l1(out, tgt, mask, 1, 3, 0.5, g_a);
    double l_b = ih_loss_l1(out + 3, tgt + 3, mask + 3, 1, 3, 0.5, g_b);
    CHECK_NEAR(0.5 * (l_a + l_b), l_full, 1e-12);
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(g_a[i], g_full[i], 1e-8);
        CHECK_NEAR(g_b[i], g_full[3 + i], 1e-8);
    }
    ih_loss_mse(out, tgt, mask, 2, 3, 0.25, grad);
    CHECK_NEAR(grad[2], 0.25 * want_mse[2], 1e-8);

    /* logged "mae": summed over properties, averaged over rows */
    CHECK_NEAR(ih_mae_per_row(out, tgt, mask, 2, 3), 3.25 / 2, 1e-12);
    CHECK_NEAR(ih_mae_per_row(out2, tgt2, NULL, 2, 3), (3.25 + 8) / 2, 1e-12);

    /* empty batch: zero, no out-of-bounds access */
    CHECK(ih_loss_l1(out, tgt, NULL, 0, 3, 1.0, grad) == 0.0);
    CHECK(ih_loss_mse(out, tgt, NULL, 2, 0, 1.0, grad) == 0.0);

    float fmask[12];
    for (int i = 0; i < 12; i++) fmask[i] = (float)((i * 7) % 3 != 0);
    check_gradient(ih_loss_l1, "L1", NULL);
    check_gradient(ih_loss_l1, "L1 masked", fmask);
    check_gradient(ih_loss_mse, "MSE", NULL);
    check_gradient(ih_loss_mse, "MSE masked", fmask);
}

static void test_metrics(void) {
    /* docs/method.md §10.8 */
    const double y[8] = {0.30, 0.50, 0.70, 1.20, 0.64, 0.66, 2.00, 0.10};
    const double p[8] = {0.40, 0.70, 0.60, 1.00, 0.65, 0.64, 1.50, 0.20};
    ih_regression_metrics r;
    ih_class_metrics c;
    CHECK(ih_regression_metrics_compute(y, p, 8, &r) == 0);
    CHECK_INT(r.n, 8);
    CHECK_NEAR(r.mae, 0.153750, 5e-7);
    CHECK_NEAR(r.rmse, 0.212279, 5e-7);
    CHECK_NEAR(r.r2, 0.854282, 5e-7);
    CHECK(ih_class_metrics_compute(y, p, 8, IH_GOOD_CONDUCTOR_EV, &c) == 0);
    CHECK_INT(c.tp, 2);
    CHECK_INT(c.fp, 2);
    CHECK_INT(c.fn, 2);
    CHECK_INT(c.tn, 2);
    CHECK_NEAR(c.accuracy, 0.5, 1e-15);
    CHECK_NEAR(c.precision, 0.5, 1e-15);
    CHECK_NEAR(c.recall, 0.5, 1e-15);
    CHECK_NEAR(c.f1, 0.5, 1e-15);

    /* the threshold is strict: 0.65 is not good, the largest double below it is */
    const double at[2] = {0.65, nextafter(0.65, 0)};
    CHECK(ih_class_metrics_compute(at, at, 2, 0.65, &c) == 0);
    CHECK(c.tp == 1 && c.tn == 1 && c.fp == 0 && c.fn == 0);

    /* unbalanced case with distinct precision / recall / F1 */
    const double y2[6] = {0.1, 0.2, 0.3, 0.9, 1.0, 1.1};
    const double p2[6] = {0.1, 0.9, 0.9, 0.2, 1.0, 1.1};
    CHECK(ih_class_metrics_compute(y2, p2, 6, 0.65, &c) == 0);
    CHECK(c.tp == 1 && c.fn == 2 && c.fp == 1 && c.tn == 2);
    CHECK_NEAR(c.accuracy, 0.5, 1e-15);
    CHECK_NEAR(c.precision, 0.5, 1e-15);
    CHECK_NEAR(c.recall, 1.0 / 3, 1e-15);
    CHECK_NEAR(c.f1, 2 * 0.5 * (1.0 / 3) / (0.5 + 1.0 / 3), 1e-15);

    /* 0/0: nothing predicted good, nothing good -> precision, recall, F1 are 0, accuracy 1 */
    const double bad[3] = {1.0, 2.0, 3.0};
    CHECK(ih_class_metrics_compute(bad, bad, 3, 0.65, &c) == 0);
    CHECK(c.tn == 3 && c.accuracy == 1.0 && c.precision == 0.0 && c.recall == 0.0 && c.f1 == 0.0);
    /* perfect prediction: R² 1, errors 0 */
    CHECK(ih_regression_metrics_compute(y, y, 8, &r) == 0);
    CHECK(r.mae == 0 && r.rmse == 0 && r.r2 == 1.0);
    /* constant truth (scikit-learn force_finite): 1 if exact, else 0 */
    CHECK(ih_regression_metrics_compute(bad + 0, bad + 0, 1, &r) == 0);
    CHECK(isnan(r.r2) && r.mae == 0); /* one sample: R² undefined */
    const double cst[3] = {0.5, 0.5, 0.5}, off[3] = {0.5, 0.6, 0.5};
    CHECK(ih_regression_metrics_compute(cst, cst, 3, &r) == 0 && r.r2 == 1.0);
    CHECK(ih_regression_metrics_compute(cst, off, 3, &r) == 0 && r.r2 == 0.0);
    /* predicting the mean gives R² 0; worse than the mean is negative */
    const double yy[4] = {1, 2, 3, 4}, mean[4] = {2.5, 2.5, 2.5, 2.5}, rev[4] = {4, 3, 2, 1};
    CHECK(ih_regression_metrics_compute(yy, mean, 4, &r) == 0);
    CHECK_NEAR(r.r2, 0.0, 1e-15);
    CHECK(ih_regression_metrics_compute(yy, rev, 4, &r) == 0);
    CHECK_NEAR(r.r2, -3.0, 1e-15);
    CHECK_NEAR(r.rmse, sqrt(5.0), 1e-15);

    /* refused input */
    CHECK(ih_regression_metrics_compute(y, p, 0, &r) == -1);
    CHECK(strstr(ih_last_error(), "no samples") != NULL);
    const double nan_p[2] = {0.1, NAN};
    CHECK(ih_regression_metrics_compute(y, nan_p, 2, &r) == -1);
    CHECK(strstr(ih_last_error(), "sample 1") != NULL);
    CHECK(ih_class_metrics_compute(y, nan_p, 2, 0.65, &c) == -1);
}

/* Target scaling: the range's ends go to -1 and 1, its middle (arithmetic, or geometric in
 * y + C with a log offset) to 0, and unscaling inverts scaling. */
static void test_scaling(void) {
    ih_task_scaling lin = {"em", 0.05, 8.0, 0}, lg = {"em", 0.05, 8.0, 0.1};
    CHECK_NEAR(ih_scale(&lin, 0.05), -1, 1e-12);
    CHECK_NEAR(ih_scale(&lin, 8.0), 1, 1e-12);
    CHECK_NEAR(ih_unscale(&lin, 0), 4.025, 1e-12);
    CHECK_NEAR(ih_scale(&lg, 0.05), -1, 1e-12);
    CHECK_NEAR(ih_scale(&lg, 8.0), 1, 1e-12);
    CHECK_NEAR(ih_unscale(&lg, 0), sqrt(0.15 * 8.1) - 0.1, 1e-12);
    /* the bulk of the barriers (0.3-1 eV) spans 0.18 of [-1, 1] linearly, 0.5 with the log */
    CHECK(ih_scale(&lin, 1.0) - ih_scale(&lin, 0.3) < 0.2);
    CHECK(ih_scale(&lg, 1.0) - ih_scale(&lg, 0.3) > 0.4);
    for (double y = 0.0; y < 10; y += 0.37) {
        CHECK_NEAR(ih_unscale(&lin, ih_scale(&lin, y)), y, 1e-12);
        CHECK_NEAR(ih_unscale(&lg, ih_scale(&lg, y)), y, 1e-12);
    }
}

int main(void) {
    test_scaling();
    test_losses();
    test_metrics();
    return test_summary("test_loss_metrics");
}
