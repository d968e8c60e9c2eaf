/* Evaluation metrics of docs/method.md §8: regression errors with scikit-learn's R², and the good-conductor
 * classification (value < threshold, strict) with scikit-learn's zero_division = 0 convention. */
#include "core/util.h"

#include <stdio.h>

#include <math.h>

static int check_values(const double *truth, const double *pred, int n, const char *what) {
    if (n < 1) return ih_set_error("%s: no samples", what);
    for (int i = 0; i < n; i++)
        if (!isfinite(truth[i]) || !isfinite(pred[i]))
            return ih_set_error("%s: sample %d is not a finite number (truth %g, prediction %g)",
                                what, i, truth[i], pred[i]);
    return 0;
}

int ih_regression_metrics_compute(const double *truth, const double *pred, int n,
                                  ih_regression_metrics *out) {
    if (check_values(truth, pred, n, "regression metrics") != 0) return -1;
    double abs_sum = 0, sq_sum = 0, mean = 0;
    for (int i = 0; i < n; i++) {
        double d = pred[i] - truth[i];
        abs_sum += fabs(d);
        sq_sum += d * d;
        mean += truth[i];
    }
    mean /= n;
    double ss_tot = 0;
    for (int i = 0; i < n; i++) ss_tot += (truth[i] - mean) * (truth[i] - mean);
    out->n = n;
    out->mae = abs_sum / n;
    out->rmse = sqrt(sq_sum / n);
    if (n < 2)
        out->r2 = NAN; /* scikit-learn: not well-defined for one sample */
    else if (ss_tot == 0)
        out->r2 = sq_sum == 0 ? 1.0 : 0.0; /* scikit-learn's force_finite for constant truth */
    else
        out->r2 = 1.0 - sq_sum / ss_tot;
    return 0;
}

static double ratio(int num, int den) { return den > 0 ? (double)num / den : 0.0; }

int ih_class_metrics_compute(const double *truth, const double *pred, int n, double threshold,
                             ih_class_metrics *out) {
    if (check_values(truth, pred, n, "classification metrics") != 0) return -1;
    int tp = 0, fp = 0, fn = 0, tn = 0;
    for (int i = 0; i < n; i++) {
        int good_true = truth[i] < threshold, good_pred = pred[i] < threshold;
        if (good_true && good_pred) tp++;
        else if (!good_true && good_pred) fp++;
        else if (good_true && !good_pred) fn++;
        else tn++;
    }
    out->n = n;
    out->tp = tp;
    out->fp = fp;
    out->fn = fn;
    out->tn = tn;
    out->accuracy = ratio(tp + tn, n);
    out->precision = ratio(tp, tp + fp);
    out->recall = ratio(tp, tp + fn);
    /* 2TP/(2TP+FP+FN) equals 2PR/(P+R) and stays defined when P or R is 0/0 */
    out->f1 = ratio(2 * tp, 2 * tp + fp + fn);
    return 0;
}

int ih_metrics_print(FILE *f, const double *truth, const double *pred, int n, const char *label) {
    ih_regression_metrics rm;
    ih_class_metrics cm;
    if (ih_regression_metrics_compute(truth, pred, n, &rm) != 0 ||
        ih_class_metrics_compute(truth, pred, n, IH_GOOD_CONDUCTOR_EV, &cm) != 0)
        return -1;
    fprintf(f, "%s: n %d  MAE %.4f eV  RMSE %.4f eV  R² %.4f\n", label, n, rm.mae, rm.rmse, rm.r2);
    fprintf(f, "  good conductor (Em < %.2f eV): accuracy %.1f %%  precision %.1f %%  recall %.1f %%  F1 %.3f\n",
            IH_GOOD_CONDUCTOR_EV, 100 * cm.accuracy, 100 * cm.precision, 100 * cm.recall, cm.f1);
    fprintf(f, "  confusion (truth rows, prediction columns):   pred good  pred poor\n");
    fprintf(f, "                                   true good   %9d  %9d\n", cm.tp, cm.fn);
    fprintf(f, "                                   true poor   %9d  %9d\n", cm.fp, cm.tn);
    return 0;
}
