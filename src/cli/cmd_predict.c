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
            "usage: ionhop predict [--model MODEL] --initial FILE --final FILE [--block NAME]\n"
            "       ionhop predict [--model MODEL] STRUCTURE [--block NAME] --ion INDEX --to \"x y z\"\n"
            "       ionhop predict [--model MODEL] STRUCTURE [--block NAME] --ion ELEMENT [--max-hop 5.0] [--all]\n"
            "                      [--out hops.csv] [--network network.xyz]\n"
            "       ionhop predict [--model MODEL] --data FILE.json [--out preds.csv]\n"
            "End points and structures: POSCAR/CONTCAR, CIF (magnetic .mcif too), extended XYZ or a JSON\n"
            "record, gzip-compressed or not. --block NAME reads the CIF data block data_NAME (default: the\n"
            "first block with atom sites, with a warning when there are several).\n"
            "INDEX counts atoms from 1 in file order; x y z is the fractional destination.\n"
            "--ion ELEMENT (e.g. Li): every symmetry-distinct vacancy hop of that element between its\n"
            "own sites up to --max-hop Å (the destination site is emptied), lowest barrier first;\n"
            "hops passing within 1 Å of a host atom are left out of the list unless --all (the CSV\n"
            "of --out holds every hop);\n"
            "hops to periodic images of a site count like any other; each hop is predicted in a supercell\n"
            "in which it is the nearest image of its path. The 1D/2D/3D percolation barriers follow the table;\n"
            "--network writes the structure with X markers along every hop open at the highest of them\n"
            "(extended XYZ with a hop_class column: VESTA, OVITO, ASE).\n"
            "Without --model the bundled default model (models/default.ionhop) is used.\n");
}

static void report_hop(const char *model, int n_members, const ih_structure *ini, const ih_hop_result *r) {
    const double *f = r->from, *to = r->to;
    printf("model:  %s\n", model);
    printf("hop:    %s (atom %d) from (%.4f %.4f %.4f) to (%.4f %.4f %.4f), %.2f Å\n",
           ih_element_symbol(ini->z[r->ion]), r->ion + 1, f[0], f[1], f[2], to[0], to[1], to[2], r->length);
    if (n_members > 1)
        printf("Em:     %.3f eV ± %.3f (spread of %d ensemble members)\n", r->em, r->spread, n_members);
    else
        printf("Em:     %.3f eV\n", r->em);
    printf("verdict: %s (good conductor: Em < %.2f eV)\n",
           r->em < IH_GOOD_CONDUCTOR_EV ? "good" : "poor", IH_GOOD_CONDUCTOR_EV);
    if (r->nearest_atom >= 0) {
        printf("path:   passes %.2f Å from %s (atom %d) at its closest\n", r->closest_approach,
               ih_element_symbol(ini->z[r->nearest_atom]), r->nearest_atom + 1);
        if (r->closest_approach < IH_CLOSE_APPROACH_WARN)
            printf("warning: the straight path passes within %.1f Å of a host atom; such paths were predicted "
                   "with about 1 eV mean error in cross-validation, mostly too low (docs/results.md)\n",
                   IH_CLOSE_APPROACH_WARN);
    }
}

/* --data FILE: jid,target,prediction[,spread] for a one-target model (target empty where a record
 * has none); a multi-property model (MPT) gives jid and one column per property instead, since the
 * file's target belongs to no particular one of them. */
static int predict_file(ih_predictor *pm, const char *data, const char *out_path) {
    ih_record_predictions fp;
    if (ih_predict_file(pm, data, &fp) != 0) return cli_fail();
    int P = fp.n_tasks, ens = fp.n_members > 1;
    size_t cap = 256 + (size_t)P * 80 + (size_t)fp.n * (96 + 32 * P * (ens + 1)), len = 0;
    char *csv = malloc(cap);
    if (!csv) {
        ih_record_predictions_free(&fp);
        return cli_usage_error("out of memory");
    }
    if (P == 1) {
        len += (size_t)snprintf(csv + len, cap - len, "jid,target,prediction%s\n", ens ? ",spread" : "");
    } else {
        len += (size_t)snprintf(csv + len, cap - len, "jid");
        for (int p = 0; p < P; p++) len += (size_t)snprintf(csv + len, cap - len, ",%s", ih_predictor_task_name(pm, p));
        for (int p = 0; p < P && ens; p++) len += (size_t)snprintf(csv + len, cap - len, ",%s_spread", ih_predictor_task_name(pm, p));
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
    ih_record_predictions_free(&fp);
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

/* The table of STRUCTURE --ion ELEMENT, lowest barrier first; paths close to a host atom only
 * with `all`. */
static void print_scan(int n_members, const char *model, const char *path, int z, double max_hop, int all,
                       const ih_element_hops *h) {
    const char *el = ih_element_symbol(z);
    const ih_hops_info *info = &h->info;
    printf("model:  %s\n", model);
    printf("hops:   %s in %s: %d sites, space group %s (%d); %d hops up to %.1f Å in %d symmetry classes\n", el, path,
           info->n_sites, info->spacegroup ? info->spacegroup_symbol : "none found", info->spacegroup, info->n_hops,
           max_hop, h->n);
    printf("   from     to   image      length  closest  count  Em (eV)  %s verdict\n", n_members > 1 ? "spread" : "");
    int close = 0, hidden = 0;
    for (int r = 0; r < h->n; r++) {
        int k = h->order[r];
        const ih_hop *hop = &h->hops[k];
        const ih_hop_result *res = &h->result[k];
        int near = res->closest_approach < IH_CLOSE_APPROACH_WARN;
        if (!all && near) {
            hidden++;
            continue;
        }
        char spread[16] = "";
        if (n_members > 1) snprintf(spread, sizeof spread, " %6.3f", res->spread);
        char image[32];
        snprintf(image, sizeof image, "%d %d %d", hop->image[0], hop->image[1], hop->image[2]);
        printf("  %2s %-4d %2s %-4d %-9s %5.2f Å  %5.2f Å%s %5d  %7.3f%s  %s\n", el, hop->from + 1, el, hop->to + 1,
               image, hop->length, res->closest_approach, near ? "!" : " ", hop->multiplicity, res->em, spread,
               res->em < IH_GOOD_CONDUCTOR_EV ? "good" : "poor");
        close += near;
    }
    printf("Each hop: the ion moves from site `from` into a vacancy at site `to` of the cell `image` (removed), "
           "straight line; count = equivalent hops in the cell; good conductor: Em < %.2f eV.\n", IH_GOOD_CONDUCTOR_EV);
    const ih_percolation *pc = &h->percolation;
    printf("percolation: the lowest barrier at which the %s sites connect into a network infinite in\n", el);
    for (int d = 0; d < 3; d++) {
        if (isnan(pc->barrier[d])) {
            printf("  %dD: none up to %.1f Å hops\n", d + 1, max_hop);
            continue;
        }
        printf("  %dD: %.3f eV (%s), along", d + 1, pc->barrier[d], pc->barrier[d] < IH_GOOD_CONDUCTOR_EV ? "good" : "poor");
        for (int v = 0; v <= d; v++)
            printf(" [%d %d %d]", pc->direction[d][v][0], pc->direction[d][v][1], pc->direction[d][v][2]);
        printf("\n");
    }
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
static int write_scan_csv(const ih_element_hops *h, const char *out_path) {
    size_t cap = 128 + (size_t)h->n * 160, len = 0;
    char *csv = malloc(cap);
    if (!csv) return ih_set_error("out of memory");
    len += (size_t)snprintf(csv, cap, "from,to,image_a,image_b,image_c,length,closest_approach,count,em,spread\n");
    for (int r = 0; r < h->n; r++) {
        int k = h->order[r];
        const ih_hop *hop = &h->hops[k];
        len += (size_t)snprintf(csv + len, cap - len, "%d,%d,%d,%d,%d,%.4f,%.4f,%d,%.6f,%.6f\n", hop->from + 1,
                                hop->to + 1, hop->image[0], hop->image[1], hop->image[2], hop->length, h->result[k].closest_approach, hop->multiplicity, h->result[k].em,
                                h->result[k].spread);
    }
    int rc = ih_write_file_atomic(out_path, csv, len);
    free(csv);
    if (rc == 0) printf("%d hops -> %s\n", h->n, out_path);
    return rc;
}

static int predict_scan(ih_predictor *pm, const char *model, const char *path, const ih_structure *s, int z,
                        double max_hop, int all, const char *out_path, const char *network_path) {
    ih_element_hops h;
    if (ih_predict_element_hops(pm, s, path, z, max_hop, 0.01, &h) != 0) return -1;
    print_scan(ih_predictor_n_members(pm), model, path, z, max_hop, all, &h);
    int rc = out_path ? write_scan_csv(&h, out_path) : 0;
    if (rc == 0 && network_path) {
        rc = ih_write_hop_network(network_path, s, &h);
        if (rc == 0) printf("hop network (markers X by class) -> %s\n", network_path);
    }
    ih_element_hops_free(&h);
    return rc;
}

typedef struct predict_args {
    const char *model, *ini_path, *fin_path, *data, *out, *network, *block;
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
                   (r = cli_take(argc, argv, &i, "--network", &a->network)) ||
                   (r = cli_take(argc, argv, &i, "--block", &a->block)) ||
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
    if (a->network && !a->scan) return cli_usage_error("--network goes with STRUCTURE --ion ELEMENT");
    if (max_hop_s && (!a->scan || cli_parse_double("--max-hop", max_hop_s, 0.5, 20.0, &a->max_hop)))
        return a->scan ? 2 : cli_usage_error("--max-hop goes with STRUCTURE --ion ELEMENT");
    if (a->block && a->data) return cli_usage_error("--block goes with STRUCTURE or --initial/--final (CIF files)");
    if (a->out && !a->data && !a->scan)
        return cli_usage_error("--out goes with --data or STRUCTURE --ion ELEMENT");
    return -1;
}

/* one structure file; with --block, that data block of a CIF */
static int read_input(const predict_args *a, const char *path, ih_structure *s) {
    return a->block ? ih_read_cif_block(path, a->block, s) : ih_read_structure(path, IH_FMT_UNKNOWN, s);
}

/* --initial A --final B: the ion is the one atom that moved (minimum-image aware). */
static int predict_endpoints(ih_predictor *pm, const predict_args *a) {
    ih_structure ini, fin;
    if (read_input(a, a->ini_path, &ini) != 0) return cli_fail();
    if (read_input(a, a->fin_path, &fin) != 0) {
        ih_structure_free(&ini);
        return cli_fail();
    }
    ih_hop_result r;
    int rc = ih_predict_endpoints(pm, &ini, &fin, a->ini_path, a->fin_path, &r, NULL);
    if (rc == 0) report_hop(a->model, ih_predictor_n_members(pm), &ini, &r);
    ih_structure_free(&ini);
    ih_structure_free(&fin);
    return rc == 0 ? 0 : cli_fail();
}

/* STRUCTURE --ion INDEX --to "x y z", or STRUCTURE --ion ELEMENT (the hop listing). */
static int predict_structure(ih_predictor *pm, const predict_args *a) {
    ih_structure ini;
    if (read_input(a, a->structure, &ini) != 0) return cli_fail();
    int rc = 0;
    if (is_path_record(&ini)) {
        rc = ih_set_error("%s: a 5-image path record (sites 1-5: one ion at five points of its hop), not a "
                          "host structure; predict it with --data, or give the host",
                          a->structure);
    } else if (a->scan) {
        rc = predict_scan(pm, a->model, a->structure, &ini, ih_element_z(a->ion_s), a->max_hop, a->all, a->out,
                          a->network);
    } else if (a->ion_number < 1 || a->ion_number > ini.n_atoms) {
        int n_atoms = ini.n_atoms;
        ih_structure_free(&ini);
        return cli_usage_error("--ion %s: %s has atoms 1..%d", a->ion_s, a->structure, n_atoms);
    } else {
        ih_hop_result r;
        rc = ih_predict_move(pm, &ini, a->structure, (int)a->ion_number - 1, a->to, &r, NULL);
        if (rc == 0) report_hop(a->model, ih_predictor_n_members(pm), &ini, &r);
    }
    ih_structure_free(&ini);
    return rc == 0 ? 0 : cli_fail();
}

int cmd_predict(int argc, char **argv) {
    predict_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    ih_predictor *pm = ih_predictor_load(a.model);
    if (!pm) return cli_fail();
    if (!a.model) a.model = ih_predictor_path(pm);
    if (a.data) {
        rc = predict_file(pm, a.data, a.out);
    } else if (!ih_predictor_reads_hops(pm)) {
        rc = cli_usage_error("%s: not a migration-barrier model (it was not trained on 5-image path "
                             "structures); use --data",
                             a.model);
    } else {
        rc = a.structure ? predict_structure(pm, &a) : predict_endpoints(pm, &a);
    }
    ih_predictor_free(pm);
    return rc;
}
