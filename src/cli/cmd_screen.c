/* ionhop screen: many structures through one model, each with its hop network, class barriers,
 * percolation barriers and verdict (ih_screen). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: ionhop screen FILE|DIR ... --ion EL [--max-hop 5.0] [--symprec %g] [--out results.json]\n"
            "                     [--csv summary.csv] [--model MODEL] [--disorder sites|half|refuse] [--block NAME]\n"
            "Every structure of the inputs (structure files; record files of many structures, each one\n"
            "item FILE#K; directories: their .cif/.mcif/.vasp/POSCAR*/CONTCAR*/.xyz/.json files, gzipped\n"
            "or not) gets its hop network of element EL up to --max-hop Å, a barrier per symmetry class,\n"
            "the 1D/2D/3D percolation barriers (the lowest Em_max at which hops with Em <= Em_max connect\n"
            "the sites into a network infinite in 1, 2 or 3 directions) and a verdict; a file that cannot\n"
            "be read or has no hop becomes an error row with its reason. A 5-image path record stands for\n"
            "its crystal. --out (screen.json): the results, a JSON list in input order; --csv: one summary\n"
            "row per structure. Finished structures are kept in OUT.partial: run the same command again\n"
            "after an interruption and it continues. One progress line per structure on stderr.\n"
            "--ion auto: each path record's own mobile ion (record files of 5-image paths).\n"
            "--symprec: the symmetry tolerance in Å (spglib) under which sites and hops are equivalent.\n"
            "--disorder: how partly occupied CIF sites are read (as for predict; docs/method.md §12); what\n"
            "was done is listed under \"warnings\" in the structure's result.\n"
            "--block NAME: the data block data_NAME of every input, which must be CIFs (other inputs\n"
            "become error rows); without it a CIF gives its first block with atom sites.\n",
            IH_DEFAULT_SYMPREC);
}

int cmd_screen(int argc, char **argv) {
    ih_screen_opts o;
    ih_screen_opts_default(&o);
    o.z = 0;
    const char *model = NULL, *ion = NULL, *v;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    int n = 0, r;
    if (!inputs) return ih_set_error("out of memory"), cli_fail();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(inputs);
            return 0;
        } else if ((r = cli_take(argc, argv, &i, "--model", &model)) || (r = cli_take(argc, argv, &i, "--ion", &ion)) ||
                   (r = cli_take(argc, argv, &i, "--out", &o.out_json)) ||
                   (r = cli_take(argc, argv, &i, "--csv", &o.out_csv)) ||
                   (r = cli_take(argc, argv, &i, "--block", &o.block))) {
            if (r < 0) return free(inputs), cli_usage_error("%s needs a value", argv[i]);
        } else if ((r = cli_take(argc, argv, &i, "--max-hop", &v))) {
            if (r < 0 || cli_parse_double("--max-hop", v, 0.5, 20.0, &o.max_hop)) return free(inputs), 2;
        } else if ((r = cli_take(argc, argv, &i, "--disorder", &v))) {
            if (r < 0 || ih_disorder_from_name(v, &o.disorder) != 0)
                return free(inputs), cli_usage_error("--disorder needs sites, half or refuse");
        } else if ((r = cli_take(argc, argv, &i, "--symprec", &v))) {
            if (r < 0 || cli_parse_double("--symprec", v, 1e-5, 0.5, &o.symprec)) return free(inputs), 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            usage(stderr);
            free(inputs);
            return cli_usage_error("unknown option '%s'", argv[i]);
        } else {
            inputs[n++] = argv[i];
        }
    }
    if (!n || !ion) {
        usage(stderr);
        free(inputs);
        return cli_usage_error("screen needs input files or directories and --ion ELEMENT");
    }
    if (!strcmp(ion, "auto")) o.z = 0;
    else if ((o.z = ih_element_z(ion)) <= 0)
        return free(inputs), cli_usage_error("--ion: '%s' is neither an element symbol nor auto", ion);
    cli_tune_malloc();
    ih_predictor *p = ih_predictor_load(model);
    if (!p) return free(inputs), cli_fail();
    o.progress = stderr;
    ih_screen_summary sum;
    int rc = ih_screen(p, inputs, n, &o, &sum);
    if (rc == 0)
        printf("%d structures (%d ok, %d errors%s) in %.1f s -> %s%s%s\n", sum.n, sum.n_ok, sum.n_error,
               sum.n_resumed ? ", some from an earlier run" : "", sum.seconds, o.out_json, o.out_csv ? ", " : "",
               o.out_csv ? o.out_csv : "");
    ih_predictor_free(p);
    free(inputs);
    return rc == 0 ? 0 : cli_fail();
}
