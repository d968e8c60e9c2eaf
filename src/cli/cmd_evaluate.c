/* ionhop evaluate: regression and good-conductor metrics of a model on a record file, and an
 * optional SVG parity plot. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: ionhop evaluate [--model MODEL] --data FILE.json [--plot parity.svg]\n"
               "Prints MAE, RMSE, R² and, for good conductor = Em < 0.65 eV, accuracy, precision,\n"
               "recall, F1 and the confusion matrix; with a calibrated model, the coverage of its 90 %%\n"
               "interval; and whether the records were among the model's training records.\n"
               "--plot: an SVG parity plot (0-2 eV panel, intervals as bars, metrics, the 0.65 eV lines).\n");
}

/* Escape text for SVG (file names may hold &, < or >). */
static void svg_text(char *out, size_t cap, const char *in) {
    size_t k = 0;
    for (; *in && k + 6 < cap; in++) {
        const char *rep = *in == '&' ? "&amp;" : *in == '<' ? "&lt;" : *in == '>' ? "&gt;" : NULL;
        if (rep)
            k += (size_t)snprintf(out + k, cap - k, "%s", rep);
        else
            out[k++] = *in;
    }
    out[k] = 0;
}

/* A parity plot for a paper: the 0-AXIS eV panel (points beyond it drawn on its edge as open
 * triangles and counted), intervals as bars (calibrated ones if given), the 0.65 eV lines and the
 * good-conductor square, MAE/RMSE/R²/n, a legend, and a note when the records were training data. */
int cli_parity_svg(const char *path, const double *truth, const double *pred, const double *low, const double *high,
                   int n, const char *title, const char *bar_label, int n_trained) {
    ih_regression_metrics m;
    if (ih_regression_metrics_compute(truth, pred, n, &m) != 0) return -1;
    const double AXIS = 2.0, W = 600, H = 640, left = 70, top = 50, S = 460;
    size_t cap = 16384 + (size_t)n * 260, len = 0;
    char *svg = malloc(cap), name[512];
    if (!svg) return ih_set_error("%s: out of memory", path);
    svg_text(name, sizeof name, title);
#define PUT(...) len += (size_t)snprintf(svg + len, cap - len, __VA_ARGS__)
#define X(v) (left + fmin(fmax(v, 0), AXIS) / AXIS * S)
#define Y(v) (top + S - fmin(fmax(v, 0), AXIS) / AXIS * S)
    PUT("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
        "font-size=\"13\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    PUT("<text x=\"%.0f\" y=\"28\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n", left + S / 2, name);
    /* good-conductor square (both below 0.65 eV), threshold lines, diagonal */
    double g = IH_GOOD_CONDUCTOR_EV;
    PUT("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#e6f4ea\"/>\n", X(0), Y(g), X(g) - X(0),
        Y(0) - Y(g));
    PUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#2a8\" stroke-dasharray=\"2 3\"/>\n", X(g), Y(0),
        X(g), Y(AXIS));
    PUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#2a8\" stroke-dasharray=\"2 3\"/>\n", X(0), Y(g),
        X(AXIS), Y(g));
    PUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" stroke-dasharray=\"5 3\"/>\n", X(0), Y(0),
        X(AXIS), Y(AXIS));
    PUT("<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"black\"/>\n", left, top, S, S);
    for (int t = 0; t <= 4; t++) {
        double v = t * 0.5;
        PUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", X(v), Y(0), X(v), Y(0) + 5);
        PUT("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f</text>\n", X(v), Y(0) + 20, v);
        PUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", X(0) - 5, Y(v), X(0), Y(v));
        PUT("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", X(0) - 8, Y(v) + 4, v);
    }
    PUT("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">DFT Em (eV)</text>\n", left + S / 2, top + S + 42);
    PUT("<text x=\"20\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 20 %.0f)\">predicted Em (eV)</text>\n",
        top + S / 2, top + S / 2);
    int beyond = 0;
    for (int i = 0; i < n; i++) {
        double x = X(truth[i]), y = Y(pred[i]);
        if (low && high)
            PUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ab\" stroke-width=\"0.8\" "
                "stroke-opacity=\"0.55\"/>\n", x,
                Y(low[i]), x, Y(high[i]));
        if (truth[i] > AXIS || pred[i] > AXIS) {
            beyond++;
            PUT("<path d=\"M%.1f %.1f l-4 7 h8 z\" fill=\"none\" stroke=\"#d62728\"/>\n", x, y - 4);
        } else {
            PUT("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"#1f77b4\" fill-opacity=\"0.75\"/>\n", x, y);
        }
    }
    /* metrics and legend inside the panel's upper left */
    PUT("<text x=\"%.0f\" y=\"%.0f\">n = %d · MAE %.3f eV · RMSE %.3f eV · R² %.3f</text>\n", left + 10, top + 20,
        m.n, m.mae, m.rmse, m.r2);
    double ly = top + 42;
    PUT("<circle cx=\"%.0f\" cy=\"%.0f\" r=\"3\" fill=\"#1f77b4\"/><text x=\"%.0f\" y=\"%.0f\">record</text>\n",
        left + 16, ly - 4, left + 26, ly);
    if (low && high) {
        ly += 18;
        PUT("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#9ab\"/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
            left + 16, ly - 10, left + 16, ly + 2, left + 26, ly, bar_label);
    }
    ly += 18;
    PUT("<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\" fill=\"#e6f4ea\" stroke=\"#2a8\"/><text x=\"%.0f\" "
        "y=\"%.0f\">both below %.2f eV (good conductor)</text>\n",
        left + 11, ly - 9, left + 26, ly, IH_GOOD_CONDUCTOR_EV);
    if (beyond) {
        ly += 18;
        PUT("<path d=\"M%.0f %.0f l-4 7 h8 z\" fill=\"none\" stroke=\"#d62728\"/><text x=\"%.0f\" y=\"%.0f\">%d beyond "
            "%.0f eV, drawn on the edge</text>\n",
            left + 16, ly - 9, left + 26, ly, beyond, AXIS);
    }
    if (n_trained > 0)
        PUT("<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">Note: %d of these %d records were in the model's training "
            "data:</text>\n<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">fitted values, not a test of the "
            "model.</text>\n",
            left, top + S + 66, n_trained, n, left, top + S + 84);
    PUT("</svg>\n");
#undef PUT
#undef X
#undef Y
    int rc = ih_write_file_atomic(path, svg, len);
    free(svg);
    return rc;
}

int cmd_evaluate(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *plot = NULL;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((r = cli_take(argc, argv, &i, "--model", &model)) ||
                   (r = cli_take(argc, argv, &i, "--data", &data)) ||
                   (r = cli_take(argc, argv, &i, "--plot", &plot))) {
            if (r < 0) return cli_usage_error("%s needs a value", argv[i]);
        } else {
            usage(stderr);
            return cli_usage_error("unknown argument '%s'", argv[i]);
        }
    }
    if (!data) {
        usage(stderr);
        return cli_usage_error("evaluate needs --data");
    }
    ih_predictor *pred_model = ih_predictor_load(model);
    if (!pred_model) return cli_fail();
    if (!model) model = ih_predictor_path(pred_model);
    if (ih_predictor_n_tasks(pred_model) != 1) {
        int n_tasks = ih_predictor_n_tasks(pred_model);
        int rc = cli_usage_error("%s predicts %d properties: evaluate scores one-target models (use "
                                 "predict --data for the properties)",
                                 model, n_tasks);
        ih_predictor_free(pred_model);
        return rc;
    }
    ih_record_predictions fp;
    if (ih_predict_file(pred_model, data, &fp) != 0) {
        ih_predictor_free(pred_model);
        return cli_fail();
    }
    int n = 0, rc = 0;
    double *truth = malloc((size_t)(fp.n ? fp.n : 1) * sizeof *truth), *pred = malloc((size_t)(fp.n ? fp.n : 1) * sizeof *pred);
    double *spr = malloc((size_t)(fp.n ? fp.n : 1) * sizeof *spr);
    if (!truth || !pred || !spr) rc = ih_set_error("out of memory");
    for (int i = 0; rc == 0 && i < fp.n; i++)
        if (!isnan(fp.target[i])) {
            truth[n] = fp.target[i];
            pred[n] = fp.mean[i];
            spr[n] = fp.spread[i];
            n++;
        }
    if (rc == 0 && n == 0) rc = ih_set_error("%s: no record has a target", data);
    if (rc == 0) {
        char label[256];
        snprintf(label, sizeof label, "%s on %s", model, data);
        rc = ih_metrics_print(stdout, truth, pred, n, label);
    }
    /* calibrated intervals: their coverage on these records; else the members' spread as bars */
    int cal = ih_predictor_has_calibration(pred_model), covered = 0, n_trained = 0, known = 0;
    double *lo = malloc((size_t)(n ? n : 1) * sizeof *lo), *hi = malloc((size_t)(n ? n : 1) * sizeof *hi);
    if (rc == 0 && (!lo || !hi)) rc = ih_set_error("out of memory");
    for (int i = 0, k = 0; rc == 0 && i < fp.n; i++) {
        if (isnan(fp.target[i])) continue;
        int t = ih_predictor_trained_on(pred_model, fp.jid[i]);
        known |= t >= 0;
        n_trained += t == 1;
        if (cal && ih_predictor_interval(pred_model, fp.ion_z[i], pred[k], spr[k], 0.9, &lo[k], &hi[k]) == 0) {
            covered += truth[k] >= lo[k] && truth[k] <= hi[k];
        } else {
            lo[k] = pred[k] - spr[k], hi[k] = pred[k] + spr[k];
        }
        k++;
    }
    if (rc == 0 && cal)
        printf("90 %% calibrated interval covers %d of %d records (%.1f %%)\n", covered, n, 100.0 * covered / n);
    if (rc == 0 && n_trained)
        printf("note: %d of the %d records were in the model's training data: these are fitted values, not a test\n",
               n_trained, n);
    else if (rc == 0 && !known)
        printf("note: the model file does not list its training records; they may overlap these\n");
    if (rc == 0 && plot) {
        const char *bars = cal ? "90 % calibrated interval" : "± ensemble spread";
        rc = cli_parity_svg(plot, truth, pred, cal || fp.n_members > 1 ? lo : NULL, cal || fp.n_members > 1 ? hi : NULL,
                            n, data, bars, n_trained);
        if (rc == 0) printf("parity plot -> %s\n", plot);
    }
    free(lo), free(hi);
    free(truth), free(pred), free(spr);
    ih_record_predictions_free(&fp);
    ih_predictor_free(pred_model);
    return rc == 0 ? 0 : cli_fail();
}
