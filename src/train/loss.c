/* Masked L1 / MSE losses with their gradients (docs/method.md §5.2, §6). Sums run in double: a B×P
 * output is small, and the loss is logged and compared across runs. */
#include "ionhop_train.h"

#include <stddef.h>

double ih_loss_l1(const float *out, const float *target, const float *mask, int B, int P,
                  double scale, float *grad) {
    size_t n = (size_t)(B > 0 ? B : 0) * (size_t)(P > 0 ? P : 0);
    if (n == 0) return 0.0;
    const double inv_n = 1.0 / (double)n;
    const float gstep = (float)(scale * inv_n);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double m = mask ? mask[i] : 1.0;
        const double d = (double)out[i] - (double)target[i];
        sum += m * (d < 0 ? -d : d);
        if (grad) {
            /* sign(0) = 0, as torch.nn.L1Loss: an exact fit gives no push either way */
            const float sgn = d > 0 ? 1.0f : (d < 0 ? -1.0f : 0.0f);
            grad[i] = (mask ? mask[i] : 1.0f) * sgn * gstep;
        }
    }
    return sum * inv_n;
}

double ih_loss_mse(const float *out, const float *target, const float *mask, int B, int P,
                   double scale, float *grad) {
    size_t n = (size_t)(B > 0 ? B : 0) * (size_t)(P > 0 ? P : 0);
    if (n == 0) return 0.0;
    const double inv_n = 1.0 / (double)n;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double m = mask ? mask[i] : 1.0;
        const double d = (double)out[i] - (double)target[i];
        sum += m * d * d;
        if (grad) grad[i] = (float)(2.0 * m * d * scale * inv_n);
    }
    return sum * inv_n;
}

double ih_mae_per_row(const float *out, const float *target, const float *mask, int B, int P) {
    if (B <= 0 || P <= 0) return 0.0;
    size_t n = (size_t)B * (size_t)P;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)out[i] - (double)target[i];
        sum += (mask ? mask[i] : 1.0) * (d < 0 ? -d : d);
    }
    return sum / B;
}
