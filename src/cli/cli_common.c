/* Helpers shared by the sub-commands: option values, model-configuration flags, loading a
 * model with its task description. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_take(int argc, char **argv, int *i, const char *name, const char **val) {
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}

int cli_parse_long(const char *name, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return cli_usage_error("%s expects an integer in %ld..%ld, not '%s'", name, lo, hi, s);
    *out = v;
    return 0;
}

int cli_parse_int(const char *opt, const char *text, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || end == text || *end || errno || v < lo || v > hi) {
        cli_usage_error("%s needs an integer between %d and %d (got '%s')", opt, lo, hi,
                        text ? text : "nothing");
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_double(const char *opt, const char *text, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = text ? strtod(text, &end) : 0;
    if (!text || end == text || *end || errno || !(v >= lo && v <= hi)) {
        cli_usage_error("%s needs a number between %g and %g (got '%s')", opt, lo, hi,
                        text ? text : "nothing");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_graph_option(int argc, char **argv, int *i, ih_graph_opts *o) {
    const char *a = argv[*i];
    if (!strcmp(a, "--canonical")) {
        o->canonical = 1;
        return 1;
    }
    if (!strcmp(a, "--path-apart") || !strcmp(a, "--path-chain")) {
        o->n_apart = 5;
        o->path_chain = !strcmp(a, "--path-chain");
        return 1;
    }
    if (!strcmp(a, "--k") || !strcmp(a, "--cutoff") || !strcmp(a, "--tie-tol")) {
        const char *v = *i + 1 < argc ? argv[++*i] : NULL;
        if (!strcmp(a, "--k")) return cli_parse_int(a, v, 1, 1000, &o->k) ? -1 : 1;
        if (!strcmp(a, "--tie-tol")) return cli_parse_double(a, v, 0.0, 1.0, &o->tie_tol) ? -1 : 1;
        return cli_parse_double(a, v, 1e-3, 1e4, &o->cutoff) ? -1 : 1;
    }
    return 0;
}

/* Model-configuration flags: returns 1 if argv[*i] was one (consumed), 0 if not, 2 on error. */
int cli_config_flag(int argc, char **argv, int *i, ih_config *c) {
    const char *v;
    long n = 0;
    int r;
    static const struct {
        const char *flag;
        size_t off;
        long lo, hi;
    } ints[] = {
        {"--hidden", offsetof(ih_config, hidden), 1, 1024},
        {"--alignn-layers", offsetof(ih_config, alignn_layers), 0, 32},
        {"--gcn-layers", offsetof(ih_config, gcn_layers), 0, 32},
        {"--neighbors", offsetof(ih_config, neighbors), 1, 64},
        {"--embed", offsetof(ih_config, embed), 1, 1024},
        {"--head-width", offsetof(ih_config, head_width), 1, 1024},
        {"--head-hidden", offsetof(ih_config, head_hidden), 1, 2},
    };
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        if ((r = cli_take(argc, argv, i, ints[k].flag, &v)) == 0) continue;
        if (r < 0) return cli_usage_error("%s needs a value", ints[k].flag), 2;
        if (cli_parse_long(ints[k].flag, v, ints[k].lo, ints[k].hi, &n)) return 2;
        *(int *)((char *)c + ints[k].off) = (int)n;
        return 1;
    }
    if ((r = cli_take(argc, argv, i, "--cutoff", &v)) != 0) {
        if (r < 0) return cli_usage_error("--cutoff needs a value"), 2;
        return cli_parse_double("--cutoff", v, 1.0, 50.0, &c->cutoff) ? 2 : 1;
    }
    if ((r = cli_take(argc, argv, i, "--tie-tol", &v)) != 0) {
        if (r < 0) return cli_usage_error("--tie-tol needs a value"), 2;
        return cli_parse_double("--tie-tol", v, 0.0, 1.0, &c->tie_tol) ? 2 : 1;
    }
    if ((r = cli_take(argc, argv, i, "--edges", &v)) != 0) {
        if (r < 0 || (strcmp(v, "full") && strcmp(v, "canonical")))
            return cli_usage_error("--edges expects 'full' or 'canonical'"), 2;
        c->canonical = !strcmp(v, "canonical");
        return 1;
    }
    return 0;
}

void cli_graph_opts(const ih_config *c, ih_graph_opts *go, int line_graph) {
    ih_model_set_graph_opts(c, go);
    go->line_graph = line_graph;
}

int cli_training_option(int argc, char **argv, int *i, ih_train_opts *o, double *val_fraction) {
    const char *v;
    long n = 0;
    int r;
    if ((r = cli_take(argc, argv, i, "--val", &v))) {
        if (r < 0 || cli_parse_double("--val", v, 0.0, 0.9, val_fraction)) return -1;
    } else if ((r = cli_take(argc, argv, i, "--epochs", &v))) {
        if (r < 0 || cli_parse_long("--epochs", v, 1, 100000, &n)) return -1;
        o->epochs = (int)n;
    } else if ((r = cli_take(argc, argv, i, "--batch", &v))) {
        if (r < 0 || cli_parse_long("--batch", v, 1, 100000, &n)) return -1;
        o->batch = (int)n;
    } else if ((r = cli_take(argc, argv, i, "--lr", &v))) {
        if (r < 0 || cli_parse_double("--lr", v, 1e-8, 1.0, &o->max_lr)) return -1;
    } else if ((r = cli_take(argc, argv, i, "--wd", &v))) {
        if (r < 0 || cli_parse_double("--wd", v, 0.0, 10.0, &o->weight_decay)) return -1;
    } else if ((r = cli_take(argc, argv, i, "--seed", &v))) {
        if (r < 0 || cli_parse_long("--seed", v, 0, 2147483647L, &n)) return -1;
        o->seed = (uint64_t)n;
    } else if ((r = cli_take(argc, argv, i, "--micro-triplets", &v))) {
        if (r < 0 || cli_parse_long("--micro-triplets", v, 1000, 1L << 30, &n)) return -1;
        o->micro_triplets = n;
    } else if ((r = cli_take(argc, argv, i, "--micro-batch", &v))) {
        if (r < 0 || cli_parse_long("--micro-batch", v, 1, 100000, &n)) return -1;
        o->micro_structs = (int)n;
    } else if ((r = cli_take(argc, argv, i, "--loss", &v))) {
        if (r < 0 || (strcmp(v, "l1") && strcmp(v, "mse"))) return cli_usage_error("--loss expects l1 or mse"), -1;
        o->loss = strcmp(v, "mse") ? IH_LOSS_L1 : IH_LOSS_MSE;
    }
    return r ? 1 : 0;
}

int cli_fail(void) {
    fprintf(stderr, "ionhop: %s\n", ih_last_error());
    return 1;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ionhop: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 2;
}
