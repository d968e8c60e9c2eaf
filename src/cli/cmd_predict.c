/* ionhop predict: the migration barrier of a hop given as two end points or as a structure, an
 * ion and a destination; or batch predictions for a record file. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Paths passing closer than this to a host atom were predicted badly in cross-validation
 * (docs/results.md: 36 of the 559 records, MAE 0.94 eV against 0.28 eV, barriers underestimated). */
#define IH_CLOSE_APPROACH_WARN 1.0

static void usage(FILE *f) {
    fprintf(f,
            "usage: ionhop predict [--model MODEL] --initial FILE --final FILE\n"
            "       ionhop predict [--model MODEL] STRUCTURE --ion INDEX --to \"x y z\"\n"
            "       ionhop predict [--model MODEL] STRUCTURE --ion ELEMENT [--max-hop 5.0] [--all] [--out hops.csv]\n"
            "       ionhop predict [--model MODEL] --data FILE.json [--out preds.csv]\n"
            "End points and structures: POSCAR/CONTCAR, CIF, extended XYZ or a JSON record.\n"
            "INDEX counts atoms from 1 in file order; x y z is the fractional destination.\n"
            "--ion ELEMENT (e.g. Li): every symmetry-distinct vacancy hop of that element between its\n"
            "own sites up to --max-hop Å (the destination site is emptied), lowest barrier first;\n"
            "hops passing within 1 Å of a host atom are left out of the list unless --all (the CSV\n"
            "of --out holds every hop);\n"
            "give a supercell large enough that a hop spans at most half of it.\n"
            "Without --model the bundled default model (models/default.ionhop) is used.\n");
}

static const char *default_model(void) { return cli_repo_path("models/default.ionhop"); }

/* A copy of s with atom `ion` at fractional position `to`: the final state of a hop. */
static int moved_copy(const ih_structure *s, int ion, const double to[3], ih_structure *out) {
    if (ih_structure_copy(out, s) != 0) return -1;
    memcpy(out->frac + 3 * ion, to, 3 * sizeof(double));
    if (out->cart) ih_structure_cart(out, ion, out->cart + 3 * ion);
    return 0;
}

/* The graphs of one hop for the model's arch: the 5-image structure (MODEL-3), with its local
 * sub-graph (MODEL-4), or the end points themselves (MODEL-1/2): the user's final structure if
 * given (the physically meaningful input: its host may be relaxed differently), else the initial
 * structure with the ion moved to `to`. */
static int hop_graphs(const ih_config *cfg, const ih_structure *ini, const ih_structure *fin, int ion,
                      const double to[3], ih_graph g[2]) {
    ih_graph_opts go;
    cli_graph_opts(cfg, &go, 0);
    memset(g, 0, 2 * sizeof *g);
    int input = ih_arch_input(cfg->arch), rc;
    if (input == IH_INPUT_ENDPOINTS) {
        ih_structure moved;
        if (!fin && moved_copy(ini, ion, to, &moved) != 0) return -1;
        rc = ih_graph_build(ini, &go, &g[0]);
        if (rc == 0) rc = ih_graph_build(fin ? fin : &moved, &go, &g[1]);
        if (!fin) ih_structure_free(&moved);
    } else {
        ih_structure five;
        if (ih_path_5image(ini, ion, to, &five) != 0) return -1;
        rc = ih_graph_build(&five, &go, &g[0]);
        if (rc == 0 && input == IH_INPUT_LOCAL) {
            ih_graph_opts lo;
            ih_graph_opts_local(&lo);
            lo.line_graph = 0;
            lo.tie_tol = go.tie_tol;
            rc = ih_graph_build_local(&five, &lo, 5, &g[1], NULL);
        }
        ih_structure_free(&five);
    }
    if (rc != 0) ih_graph_free(&g[0]), ih_graph_free(&g[1]);
    return rc;
}

/* Hops as one dataset through every ensemble member: hop k starts from structure ini[k] with atom
 * ion[k] moving to to[k]; fin (NULL, or the user's final structure) only with n == 1. */
static int predict_hops(cli_model *cm, int n, const ih_structure *ini, const ih_structure *fin, const int *ion,
                        const double (*to)[3], double *em, double *spread) {
    const ih_config *cfg = ih_model_config(cm->m);
    ih_graph *g = calloc(2 * (size_t)n, sizeof *g);
    long *n_trip = calloc(2 * (size_t)n, sizeof *n_trip);
    float *zero = calloc((size_t)n * cm->n_tasks, sizeof *zero);
    int *idx = malloc((size_t)n * sizeof *idx);
    double *mean = malloc((size_t)n * cm->n_tasks * sizeof *mean), *sd = malloc((size_t)n * cm->n_tasks * sizeof *sd);
    int rc = g && n_trip && zero && idx && mean && sd ? 0 : ih_set_error("out of memory"), built = 0;
    ih_dataset d;
    memset(&d, 0, sizeof d);
    d.input = ih_arch_input(cfg->arch);
    /* graphs2 holds the second graph of each hop (the hop's end point or local sub-graph) */
    for (; built < n && rc == 0; built++) {
        ih_graph pair[2];
        rc = hop_graphs(cfg, &ini[built], fin, ion[built], to[built], pair);
        if (rc != 0) break;
        g[built] = pair[0], g[n + built] = pair[1];
        n_trip[built] = ih_graph_count_triplets(&pair[0]);
        n_trip[n + built] = ih_graph_count_triplets(&pair[1]);
        idx[built] = built;
    }
    if (rc == 0) {
        d.n = n, d.n_tasks = cm->n_tasks, d.graphs = g, d.n_triplets = n_trip;
        if (d.input != IH_INPUT_SINGLE) d.graphs2 = g + n, d.n_triplets2 = n_trip + n;
        d.targets = d.mask = zero;
        rc = cli_model_predict(cm, &d, idx, n, mean, sd);
    }
    for (int k = 0; k < built; k++) ih_graph_free(&g[k]), ih_graph_free(&g[n + k]);
    for (int k = 0; rc == 0 && k < n; k++) em[k] = mean[(size_t)k * cm->n_tasks], spread[k] = sd[(size_t)k * cm->n_tasks];
    free(g), free(n_trip), free(zero), free(idx), free(mean), free(sd);
    return rc;
}

static int predict_hop(cli_model *cm, const ih_structure *ini, const ih_structure *fin, int ion,
                       const double to[3], double *em, double *spread) {
    const double(*one)[3] = (const double(*)[3])to;
    return predict_hops(cm, 1, ini, fin, &ion, one, em, spread);
}

static void report_hop(const char *model, int n_members, const ih_structure *ini, int ion,
                       const double to[3], double hop_len, double approach, int near_atom, double em,
                       double spread) {
    const double *f = ini->frac + 3 * ion;
    printf("model:  %s\n", model);
    printf("hop:    %s (atom %d) from (%.4f %.4f %.4f) to (%.4f %.4f %.4f), %.2f Å\n",
           ih_element_symbol(ini->z[ion]), ion + 1, f[0], f[1], f[2], to[0], to[1], to[2], hop_len);
    if (n_members > 1)
        printf("Em:     %.3f eV ± %.3f (spread of %d ensemble members)\n", em, spread, n_members);
    else
        printf("Em:     %.3f eV\n", em);
    printf("verdict: %s (good conductor: Em < %.2f eV)\n",
           em < IH_GOOD_CONDUCTOR_EV ? "good" : "poor", IH_GOOD_CONDUCTOR_EV);
    if (near_atom >= 0) {
        printf("path:   passes %.2f Å from %s (atom %d) at its closest\n", approach,
               ih_element_symbol(ini->z[near_atom]), near_atom + 1);
        if (approach < IH_CLOSE_APPROACH_WARN)
            printf("warning: the straight path passes within %.1f Å of a host atom; such paths were predicted "
                   "with about 1 eV mean error in cross-validation, mostly too low (docs/results.md)\n",
                   IH_CLOSE_APPROACH_WARN);
    }
}

/* Hop length, and the path's closest approach to a host atom (*near_atom: 0-based index in s). */
static double hop_geometry(const ih_structure *s, int ion, const double to[3], double *approach, int *near_atom) {
    ih_structure five;
    *approach = NAN, *near_atom = -1;
    if (ih_path_5image(s, ion, to, &five) != 0) return NAN;
    double d[3], x[3];
    for (int c = 0; c < 3; c++) d[c] = five.frac[12 + c] - five.frac[c];
    ih_frac_to_cart(s->lattice, d, x);
    int site;
    *approach = ih_path_closest_approach(&five, &site);
    /* the 5-image structure holds the other atoms from site 5 on, in order, without the ion */
    if (site >= 5) *near_atom = site - 5 < ion ? site - 5 : site - 4;
    ih_structure_free(&five);
    return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
}

/* The final state of STRUCTURE --ion I --to "x y z" must not put the ion onto another atom (the
 * usual slip: a neighbouring site given as the destination without emptying it first). */
static int check_destination(const ih_structure *s, const char *path, int ion, const char *to_s,
                             const double to[3]) {
    ih_structure moved;
    if (moved_copy(s, ion, to, &moved) != 0) return -1;
    char what[512];
    snprintf(what, sizeof what, "%s with atom %d moved to (%s)", path, ion + 1, to_s);
    int rc = ih_structure_validate(&moved, what, IH_MIN_SEPARATION, 0);
    ih_structure_free(&moved);
    return rc;
}

/* --data FILE: jid,target,prediction[,spread] for a one-target model (target empty where a record
 * has none); a multi-property model (MPT) gives jid and one column per property instead, since the
 * file's target belongs to no particular one of them. */
static int predict_file(cli_model *cm, const char *data, const char *out_path) {
    cli_file_preds fp;
    if (cli_predict_file(cm, data, &fp) != 0) return cli_fail();
    int P = fp.P, ens = cm->n_members > 1;
    size_t cap = 256 + (size_t)P * 80 + (size_t)fp.n * (96 + 32 * P * (ens + 1)), len = 0;
    char *csv = malloc(cap);
    if (!csv) {
        cli_file_preds_free(&fp);
        return cli_usage_error("out of memory");
    }
    if (P == 1) {
        len += (size_t)snprintf(csv + len, cap - len, "jid,target,prediction%s\n", ens ? ",spread" : "");
    } else {
        len += (size_t)snprintf(csv + len, cap - len, "jid");
        for (int p = 0; p < P; p++) len += (size_t)snprintf(csv + len, cap - len, ",%s", cm->sc[p].name);
        for (int p = 0; p < P && ens; p++) len += (size_t)snprintf(csv + len, cap - len, ",%s_spread", cm->sc[p].name);
        len += (size_t)snprintf(csv + len, cap - len, "\n");
    }
    for (int i = 0; i < fp.n; i++) {
        len += (size_t)snprintf(csv + len, cap - len, "%s", fp.jid[i]);
        if (P == 1) {
            len += (size_t)snprintf(csv + len, cap - len, ",");
            if (!isnan(fp.target[i])) len += (size_t)snprintf(csv + len, cap - len, "%.6g", fp.target[i]);
        }
        for (int p = 0; p < P; p++) len += (size_t)snprintf(csv + len, cap - len, ",%.6f", fp.mean[(size_t)i * P + p]);
        for (int p = 0; p < P && ens; p++)
            len += (size_t)snprintf(csv + len, cap - len, ",%.6f", fp.spread[(size_t)i * P + p]);
        len += (size_t)snprintf(csv + len, cap - len, "\n");
    }
    int rc = out_path ? ih_write_file_atomic(out_path, csv, len)
                      : (fwrite(csv, 1, len, stdout) == len ? 0 : ih_set_error("cannot write output"));
    if (rc == 0 && out_path) printf("%d predictions -> %s\n", fp.n, out_path);
    free(csv);
    cli_file_preds_free(&fp);
    return rc == 0 ? 0 : cli_fail();
}

/* A 5-image record read as a structure: one element on five evenly spaced collinear sites first,
 * either from a labelled record (a target or a sys_name) or spaced closer than atoms of one element
 * sit in a crystal (the records' images are 0.38-2.24 Å apart; mobile ions of one kind in a
 * crystal stay beyond ~2.2 Å). */
static int is_path_record(const ih_structure *s) {
    if (!ih_structure_is_5image(s)) return 0;
    if (s->has_target || s->sys_name[0]) return 1;
    double d[3], x[3];
    for (int c = 0; c < 3; c++) d[c] = s->frac[3 + c] - s->frac[c];
    ih_frac_to_cart(s->lattice, d, x);
    return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]) < 2.0;
}

/* Every symmetry-distinct vacancy hop of one element (STRUCTURE --ion ELEMENT): predicted as one
 * batch, listed from the lowest barrier up; --out writes them as CSV. */
/* The symmetry-distinct hops of one element in a structure with their predictions. */
typedef struct hop_scan {
    ih_hop *hops;
    int n, made; /* made: initial structures built */
    ih_hops_info info;
    ih_structure *ini;
    int *ion, *order; /* order: lowest barrier first */
    double (*to)[3], *em, *sd, *approach;
} hop_scan;

static void hop_scan_free(hop_scan *h) {
    for (int k = 0; k < h->made; k++) ih_structure_free(&h->ini[k]);
    free(h->ini), free(h->ion), free(h->order), free(h->to), free(h->em), free(h->sd), free(h->approach), free(h->hops);
}

/* each hop's initial structure (destination site emptied), closest approach, barrier; the order */
static int scan_predict(cli_model *cm, const ih_structure *s, hop_scan *h) {
    int n = h->n;
    h->ini = calloc((size_t)n, sizeof *h->ini);
    h->ion = malloc((size_t)n * sizeof *h->ion);
    h->order = malloc((size_t)n * sizeof *h->order);
    h->to = malloc((size_t)n * sizeof *h->to);
    h->em = malloc((size_t)n * sizeof *h->em);
    h->sd = malloc((size_t)n * sizeof *h->sd);
    h->approach = malloc((size_t)n * sizeof *h->approach);
    int rc = h->ini && h->ion && h->order && h->to && h->em && h->sd && h->approach ? 0 : ih_set_error("out of memory");
    while (rc == 0 && h->made < n) {
        rc = ih_hop_initial(s, &h->hops[h->made], &h->ini[h->made], &h->ion[h->made], h->to[h->made]);
        if (rc == 0) h->made++;
    }
    for (int k = 0; rc == 0 && k < n; k++) {
        ih_structure five;
        rc = ih_path_5image(&h->ini[k], h->ion[k], h->to[k], &five);
        if (rc == 0) h->approach[k] = ih_path_closest_approach(&five, NULL), ih_structure_free(&five);
    }
    if (rc == 0) rc = predict_hops(cm, n, h->ini, NULL, h->ion, (const double(*)[3])h->to, h->em, h->sd);
    if (rc != 0) return rc;
    for (int k = 0; k < n; k++) h->order[k] = k;
    for (int i = 1; i < n; i++) /* lowest barrier first (stable: equal barriers keep length order) */
        for (int j = i; j > 0 && h->em[h->order[j - 1]] > h->em[h->order[j]]; j--) {
            int t = h->order[j];
            h->order[j] = h->order[j - 1], h->order[j - 1] = t;
        }
    return 0;
}

/* the table, lowest barrier first; paths close to a host atom only with `all` */
static void print_scan(const cli_model *cm, const char *model, const char *path, int z, double max_hop, int all,
                       const hop_scan *h) {
    const char *el = ih_element_symbol(z);
    const ih_hops_info *info = &h->info;
    printf("model:  %s\n", model);
    printf("hops:   %s in %s: %d sites, space group %s (%d); %d hops up to %.1f Å in %d symmetry classes\n", el, path,
           info->n_sites, info->spacegroup ? info->spacegroup_symbol : "none found", info->spacegroup, info->n_hops,
           max_hop, h->n);
    if (info->n_too_long)
        printf("note:   %d more hops up to %.1f Å span over half the cell and are left out (use a supercell)\n",
               info->n_too_long, max_hop);
    printf("   from     to   length  closest  count  Em (eV)  %s verdict\n", cm->n_members > 1 ? "spread" : "");
    int close = 0, hidden = 0;
    for (int r = 0; r < h->n; r++) {
        int k = h->order[r];
        const ih_hop *hop = &h->hops[k];
        int near = h->approach[k] < IH_CLOSE_APPROACH_WARN;
        if (!all && near) {
            hidden++;
            continue;
        }
        char spread[16] = "";
        if (cm->n_members > 1) snprintf(spread, sizeof spread, " %6.3f", h->sd[k]);
        printf("  %2s %-4d %2s %-4d %5.2f Å  %5.2f Å%s %5d  %7.3f%s  %s\n", el, hop->from + 1, el, hop->to + 1,
               hop->length, h->approach[k], near ? "!" : " ", hop->multiplicity, h->em[k], spread,
               h->em[k] < IH_GOOD_CONDUCTOR_EV ? "good" : "poor");
        close += near;
    }
    printf("Each hop: the ion moves from site `from` into a vacancy at site `to` (removed), straight line; count = "
           "equivalent hops in the cell; good conductor: Em < %.2f eV.\n", IH_GOOD_CONDUCTOR_EV);
    if (close)
        printf("warning: %d hop%s (!) pass within %.1f Å of a host atom; such paths were predicted with about 1 eV "
               "mean error in cross-validation, mostly too low (docs/results.md)\n",
               close, close > 1 ? "s" : "", IH_CLOSE_APPROACH_WARN);
    if (hidden)
        printf("%d more hop class%s pass%s within %.1f Å of a host atom (through or past another site: the model "
               "is unreliable there); --all lists them\n",
               hidden, hidden > 1 ? "es" : "", hidden > 1 ? "" : "es", IH_CLOSE_APPROACH_WARN);
}

/* every hop class (the close ones too) as CSV, lowest barrier first */
static int write_scan_csv(const hop_scan *h, const char *out_path) {
    size_t cap = 128 + (size_t)h->n * 160, len = 0;
    char *csv = malloc(cap);
    if (!csv) return ih_set_error("out of memory");
    len += (size_t)snprintf(csv, cap, "from,to,length,closest_approach,count,em,spread\n");
    for (int r = 0; r < h->n; r++) {
        int k = h->order[r];
        const ih_hop *hop = &h->hops[k];
        len += (size_t)snprintf(csv + len, cap - len, "%d,%d,%.4f,%.4f,%d,%.6f,%.6f\n", hop->from + 1, hop->to + 1,
                                hop->length, h->approach[k], hop->multiplicity, h->em[k], h->sd[k]);
    }
    int rc = ih_write_file_atomic(out_path, csv, len);
    free(csv);
    if (rc == 0) printf("%d hops -> %s\n", h->n, out_path);
    return rc;
}

static int predict_scan(cli_model *cm, const char *model, const char *path, const ih_structure *s, int z,
                        double max_hop, int all, const char *out_path) {
    hop_scan h = {0};
    if (ih_hops_enumerate(s, z, max_hop, 0.01, &h.hops, &h.n, &h.info) != 0)
        return ih_set_error("%s: %s", path, ih_last_error());
    int rc = 0;
    if (h.n == 0)
        rc = ih_set_error("%s: no %s-%s hop up to %.1f Å%s", path, ih_element_symbol(z), ih_element_symbol(z), max_hop,
                          h.info.n_too_long ? " within half the cell (use a supercell)" : " (raise --max-hop)");
    if (rc == 0) rc = scan_predict(cm, s, &h);
    if (rc == 0) print_scan(cm, model, path, z, max_hop, all, &h);
    if (rc == 0 && out_path) rc = write_scan_csv(&h, out_path);
    hop_scan_free(&h);
    return rc;
}

typedef struct predict_args {
    const char *model, *ini_path, *fin_path, *data, *out;
    const char *structure, *ion_s, *to_s; /* STRUCTURE --ion … [--to …] */
    long ion_number;                      /* --ion INDEX (1-based), with to[] */
    double to[3];
    int scan, all; /* --ion ELEMENT: the hop listing */
    double max_hop;
} predict_args;

/* Options into *a; every combination checked before the model loads, so that a typo costs
 * nothing. Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, predict_args *a) {
    memset(a, 0, sizeof *a);
    a->max_hop = 5.0;
    const char *max_hop_s = NULL;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((r = cli_take(argc, argv, &i, "--model", &a->model)) ||
                   (r = cli_take(argc, argv, &i, "--initial", &a->ini_path)) ||
                   (r = cli_take(argc, argv, &i, "--final", &a->fin_path)) ||
                   (r = cli_take(argc, argv, &i, "--data", &a->data)) ||
                   (r = cli_take(argc, argv, &i, "--out", &a->out)) ||
                   (r = cli_take(argc, argv, &i, "--ion", &a->ion_s)) ||
                   (r = cli_take(argc, argv, &i, "--to", &a->to_s)) ||
                   (r = cli_take(argc, argv, &i, "--max-hop", &max_hop_s))) {
            if (r < 0) return cli_usage_error("%s needs a value", argv[i]);
        } else if (!strcmp(argv[i], "--all")) {
            a->all = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            usage(stderr);
            return cli_usage_error("unknown option '%s'", argv[i]);
        } else if (!a->structure) {
            a->structure = argv[i];
        } else {
            return cli_usage_error("unexpected argument '%s'", argv[i]);
        }
    }
    if (!!a->data + !!(a->ini_path || a->fin_path) + !!a->structure != 1) {
        usage(stderr);
        return cli_usage_error("give exactly one of --data, --initial/--final, or STRUCTURE --ion --to");
    }
    if ((a->ini_path || a->fin_path) && (!a->ini_path || !a->fin_path))
        return cli_usage_error("--initial and --final go together");
    /* STRUCTURE --ion: an atom number (with --to) or an element symbol (a hop listing) */
    if (a->structure) {
        char *end, tail;
        const char *ion_s = a->ion_s, *to_s = a->to_s;
        if (!ion_s) return cli_usage_error("STRUCTURE needs --ion INDEX and --to \"x y z\", or --ion ELEMENT");
        a->ion_number = strtol(ion_s, &end, 10);
        int is_number = end != ion_s && *end == '\0';
        a->scan = !is_number && ih_element_z(ion_s) > 0;
        if (!is_number && !a->scan)
            return cli_usage_error("--ion: '%s' is neither an atom number nor an element symbol", ion_s);
        if (a->scan && to_s)
            return cli_usage_error("--to goes with --ion INDEX (an atom number), not with an element symbol");
        if (is_number && !to_s)
            return cli_usage_error("--ion %s (an atom number) needs its destination: --to \"x y z\"; "
                                   "give an element symbol (e.g. --ion Li) to list hops",
                                   ion_s);
        double *to = a->to;
        if (is_number && (sscanf(to_s, "%lf %lf %lf %c", &to[0], &to[1], &to[2], &tail) != 3 ||
                          !isfinite(to[0] + to[1] + to[2])))
            return cli_usage_error("--to needs three finite fractional coordinates \"x y z\", not '%s'", to_s);
    } else if (a->ion_s || a->to_s) {
        return cli_usage_error("--ion and --to go with STRUCTURE (a structure file as the first argument)");
    }
    if (a->all && !a->scan) return cli_usage_error("--all goes with STRUCTURE --ion ELEMENT");
    if (max_hop_s && (!a->scan || cli_parse_double("--max-hop", max_hop_s, 0.5, 20.0, &a->max_hop)))
        return a->scan ? 2 : cli_usage_error("--max-hop goes with STRUCTURE --ion ELEMENT");
    if (a->out && !a->data && !a->scan)
        return cli_usage_error("--out goes with --data or STRUCTURE --ion ELEMENT");
    return -1;
}

/* One hop of `ion` in ini to `to` (fin: the user's final structure, or NULL): its geometry,
 * the prediction and the report. */
static int predict_and_report(cli_model *cm, const char *model, const ih_structure *ini,
                              const ih_structure *fin, int ion, const double to[3], const char *where) {
    double em, spread, approach = NAN;
    int near_atom = -1;
    double len = hop_geometry(ini, ion, to, &approach, &near_atom);
    if (!(len > 0.3)) return ih_set_error("%s: the destination is where atom %d already is", where, ion + 1);
    if (predict_hop(cm, ini, fin, ion, to, &em, &spread) != 0) return -1;
    report_hop(model, cm->n_members, ini, ion, to, len, approach, near_atom, em, spread);
    return 0;
}

/* --initial A --final B: the ion is the one atom that moved (minimum-image aware). */
static int predict_endpoints(cli_model *cm, const predict_args *a) {
    ih_structure ini, fin;
    if (ih_read_structure(a->ini_path, IH_FMT_UNKNOWN, &ini) != 0) return cli_fail();
    if (ih_read_structure(a->fin_path, IH_FMT_UNKNOWN, &fin) != 0) {
        ih_structure_free(&ini);
        return cli_fail();
    }
    int ion = -1;
    double to[3];
    int rc = ih_path_find_ion(&ini, &fin, a->ini_path, a->fin_path, &ion, to, NULL);
    if (rc == 0) rc = predict_and_report(cm, a->model, &ini, &fin, ion, to, a->ini_path);
    ih_structure_free(&ini);
    ih_structure_free(&fin);
    return rc == 0 ? 0 : cli_fail();
}

/* STRUCTURE --ion INDEX --to "x y z", or STRUCTURE --ion ELEMENT (the hop listing). */
static int predict_structure(cli_model *cm, const predict_args *a) {
    ih_structure ini;
    if (ih_read_structure(a->structure, IH_FMT_UNKNOWN, &ini) != 0) return cli_fail();
    int rc = 0;
    if (is_path_record(&ini)) {
        rc = ih_set_error("%s: a 5-image path record (sites 1-5: one ion at five points of its hop), not a "
                          "host structure; predict it with --data, or give the host",
                          a->structure);
    } else if (a->scan) {
        rc = predict_scan(cm, a->model, a->structure, &ini, ih_element_z(a->ion_s), a->max_hop, a->all, a->out);
    } else if (a->ion_number < 1 || a->ion_number > ini.n_atoms) {
        int n_atoms = ini.n_atoms;
        ih_structure_free(&ini);
        return cli_usage_error("--ion %s: %s has atoms 1..%d", a->ion_s, a->structure, n_atoms);
    } else {
        int ion = (int)a->ion_number - 1;
        rc = check_destination(&ini, a->structure, ion, a->to_s, a->to);
        if (rc == 0) rc = predict_and_report(cm, a->model, &ini, NULL, ion, a->to, a->structure);
    }
    ih_structure_free(&ini);
    return rc == 0 ? 0 : cli_fail();
}

int cmd_predict(int argc, char **argv) {
    predict_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (!a.model) a.model = default_model();
    cli_model cm;
    if (cli_model_load(a.model, &cm) != 0) return cli_fail();
    if (a.data) {
        rc = predict_file(&cm, a.data, a.out);
    } else if (!cm.five_image) {
        rc = cli_usage_error("%s: not a migration-barrier model (it was not trained on 5-image path "
                             "structures); use --data",
                             a.model);
    } else {
        rc = a.structure ? predict_structure(&cm, &a) : predict_endpoints(&cm, &a);
    }
    cli_model_free(&cm);
    return rc;
}
