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
               "recall, F1 and the confusion matrix.\n");
}

int cli_parity_svg(const char *path, const double *truth, const double *pred, const double *spread,
                   int n, const char *title) {
    double hi = 0;
    for (int i = 0; i < n; i++) hi = fmax(hi, fmax(truth[i], pred[i]));
    hi = ceil(hi + 1e-9);
    if (hi < 1) hi = 1;
    const double W = 520, pad = 60, S = W - 2 * pad;
    size_t cap = 8192 + (size_t)n * 200, len = 0;
    char *svg = malloc(cap);
    if (!svg) return ih_set_error("%s: out of memory", path);
#define PUT(...) len += (size_t)snprintf(svg + len, cap - len, __VA_ARGS__)
    PUT("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
        "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, W);
    PUT("<text x=\"%.0f\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n", W / 2, title);
    PUT("<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"black\"/>\n", pad, pad, S, S);
    /* good-conductor region and the diagonal */
    double g = IH_GOOD_CONDUCTOR_EV / hi * S;
    PUT("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#e6f4ea\"/>\n", pad, pad + S - g, g, g);
    PUT("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n", pad,
        pad + S, pad + S, pad);
    for (int t = 0; t <= (int)hi; t++) {
        double p = t / hi * S;
        PUT("<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%d</text>\n", pad + p, pad + S + 18, t);
        PUT("<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", pad - 6, pad + S - p + 4, t);
    }
    PUT("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">DFT Em (eV)</text>\n", W / 2, W - 14);
    PUT("<text x=\"16\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.0f)\">predicted Em (eV)</text>\n",
        W / 2, W / 2);
    for (int i = 0; i < n; i++) {
        double x = pad + truth[i] / hi * S, y = pad + S - pred[i] / hi * S;
        if (spread && spread[i] > 0)
            PUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9bb\"/>\n", x,
                pad + S - (pred[i] - spread[i]) / hi * S, x, pad + S - (pred[i] + spread[i]) / hi * S);
        PUT("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#1f77b4\" fill-opacity=\"0.7\"/>\n", x, y);
    }
    PUT("</svg>\n");
#undef PUT
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
    if (rc == 0 && plot) {
        rc = cli_parity_svg(plot, truth, pred, fp.n_members > 1 ? spr : NULL, n, data);
        if (rc == 0) printf("parity plot -> %s\n", plot);
    }
    free(truth), free(pred), free(spr);
    ih_record_predictions_free(&fp);
    ih_predictor_free(pred_model);
    return rc == 0 ? 0 : cli_fail();
}
