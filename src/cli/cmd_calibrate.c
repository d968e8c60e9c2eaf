/* ionhop calibrate: store conformal calibration data in a model file (ih_calibrate_model). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: ionhop calibrate MODEL --cv CV.csv [--members 3] [--pred 0.5] [--const 0.02]\n"
               "                        [--data TRAIN.json] [--out OUT]\n"
               "Store in the model file (or OUT) the calibration of its prediction intervals: the residuals of\n"
               "host-grouped cross-validated predictions of the model's recipe (CV.csv: jid,fold,target,\n"
               "prediction,spread, as finetune --cv-out writes; spread from an ensemble of --members models,\n"
               "1: no spread term), scaled by spread + PRED·max(prediction, 0) + CONST (docs/method.md §13).\n"
               "predict, screen and the Python package then give a central interval and P(Em < 0.65 eV).\n"
               "--data: the model's training records; their mobile ions, host elements and paths' closest\n"
               "approach are stored as the training domain, and predictions outside it are flagged.\n");
}

int cmd_calibrate(int argc, char **argv) {
    const char *model = NULL, *cv = NULL, *out = NULL, *data = NULL, *v;
    double members = 3, c_pred = IH_CAL_PRED, c_const = IH_CAL_CONST;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((r = cli_take(argc, argv, &i, "--cv", &cv)) || (r = cli_take(argc, argv, &i, "--out", &out)) ||
                   (r = cli_take(argc, argv, &i, "--data", &data))) {
            if (r < 0) return cli_usage_error("%s needs a value", argv[i]);
        } else if ((r = cli_take(argc, argv, &i, "--members", &v))) {
            if (r < 0 || cli_parse_double("--members", v, 1, 1000, &members)) return 2;
        } else if ((r = cli_take(argc, argv, &i, "--pred", &v))) {
            if (r < 0 || cli_parse_double("--pred", v, 0, 100, &c_pred)) return 2;
        } else if ((r = cli_take(argc, argv, &i, "--const", &v))) {
            if (r < 0 || cli_parse_double("--const", v, 1e-6, 100, &c_const)) return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            usage(stderr);
            return cli_usage_error("unknown option '%s'", argv[i]);
        } else if (!model) {
            model = argv[i];
        } else {
            return cli_usage_error("unexpected argument '%s'", argv[i]);
        }
    }
    if (!model || !cv) {
        usage(stderr);
        return cli_usage_error("calibrate needs MODEL and --cv CV.csv");
    }
    if (members != (int)members) return cli_usage_error("--members needs a whole number");
    if (!out) out = model;
    if (ih_calibrate_model(model, cv, (int)members, c_pred, c_const, data, out) != 0) return cli_fail();
    printf("calibration from %s -> %s\n", cv, out);
    return 0;
}
