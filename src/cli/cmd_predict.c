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
            "       ionhop predict [--model MODEL] STRUCTURE [--block NAME] --ion ELEMENT [--max-hop 5.0] [--symprec %g]\n"
            "                      [--top N] [--all] [--out hops.csv] [--network network.xyz]\n"
            "       (every structure read: [--disorder sites|half|refuse])\n"
            "       ionhop predict [--model MODEL] --data FILE.json [--out preds.csv]\n"
            "End points and structures: POSCAR/CONTCAR, CIF (magnetic .mcif too), extended XYZ or a JSON\n"
            "record, gzip-compressed or not. --block NAME reads the CIF data block data_NAME (default: the\n"
            "first block with atom sites, with a warning when there are several).\n"
            "INDEX counts atoms from 1 in file order; x y z is the fractional destination.\n"
            "--ion ELEMENT (e.g. Li): every symmetry-distinct vacancy hop of that element between its\n"
            "own sites up to --max-hop Å (the destination site is emptied), lowest barrier first;\n"
            "hops passing within 1 Å of a host atom are left out of the list unless --all (the CSV\n"
            "of --out holds every hop); --top N lists only the N lowest. Sites and hops are equivalent when a\n"
            "symmetry operation found with tolerance --symprec Å (spglib) maps one onto the other: relaxed\n"
            "structures keep their space group at the default (docs/results.md);\n"
            "hops to periodic images of a site count like any other; each hop is predicted in a supercell\n"
            "in which it is the nearest image of its path. The 1D/2D/3D percolation barriers follow the table;\n"
            "--network writes the structure with X markers along every hop open at the highest of them\n"
            "(extended XYZ with a hop_class column: VESTA, OVITO, ASE).\n"
            "--disorder: partly occupied CIF sites (split positions and shared sites merged first) are all\n"
            "taken as occupied (sites, the default), only those of occupancy >= 0.5 (half), or refused;\n"
            "each change is reported as a warning (docs/method.md §12).\n"
            "--level L (0.9): the central interval printed when the model carries a calibration (ionhop\n"
            "calibrate); the verdict then comes with p = P(Em < 0.65 eV) (docs/method.md §13).\n"
            "Without --model the bundled default model (models/default.ionhop) is used.\n",
            IH_DEFAULT_SYMPREC);
}

/* "good (p = 0.93)": the verdict, with its calibrated probability when the model has one */
static const char *verdict(const ih_predictor *pm, int ion_z, double em, double spread, char *buf, size_t cap) {
    double p = ih_predictor_p_good(pm, ion_z, em, spread);
    const char *word = em < IH_GOOD_CONDUCTOR_EV ? "good" : "poor";
    if (isnan(p))
        snprintf(buf, cap, "%s", word);
    else
        snprintf(buf, cap, "%s (p = %.2f)", word, p);
    return buf;
}

static void report_hop(const ih_predictor *pm, const char *model, const ih_structure *ini, const ih_hop_result *r,
                       double level) {
    int n_members = ih_predictor_n_members(pm);
    const double *f = r->from, *to = r->to;
    printf("model:  %s\n", model);
    printf("hop:    %s (atom %d) from (%.4f %.4f %.4f) to (%.4f %.4f %.4f), %.2f Å\n",
           ih_element_symbol(ini->z[r->ion]), r->ion + 1, f[0], f[1], f[2], to[0], to[1], to[2], r->length);
    if (n_members > 1)
        printf("Em:     %.3f eV ± %.3f (spread of %d ensemble members)\n", r->em, r->spread, n_members);
    else
        printf("Em:     %.3f eV\n", r->em);
    double low, high;
    if (ih_predictor_has_calibration(pm) && ih_predictor_interval(pm, r->ion_z, r->em, r->spread, level, &low, &high) == 0)
        printf("interval: %.2f to %.2f eV (%.0f %% central interval, calibrated on cross-validation)\n",
               low > 0 ? low : 0, high, 100 * level);
    char v[64];
    printf("verdict: %s (good conductor: Em < %.2f eV%s)\n", verdict(pm, r->ion_z, r->em, r->spread, v, sizeof v),
           IH_GOOD_CONDUCTOR_EV, ih_predictor_has_calibration(pm) ? "; p = P(Em < 0.65 eV)" : "");
    char why[512];
    if (ih_predictor_domain_check(pm, ini, r, why, sizeof why) > 0)
        printf("warning: outside the training domain (larger errors, docs/results.md §35): %s\n", why);
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
static int predict_file(ih_predictor *pm, const char *data, const char *out_path, double level) {
    ih_record_predictions fp;
    if (ih_predict_file(pm, data, &fp) != 0) return cli_fail();
    int P = fp.n_tasks, ens = fp.n_members > 1;
    int cal = P == 1 && ih_predictor_has_calibration(pm); /* low,high,p_good columns */
    int rep = cal && fp.n > 0 && !isnan(fp.rep_distance[0]); /* the model stores its training domain's representation */
    size_t cap = 256 + (size_t)P * 80 + (size_t)fp.n * (96 + 32 * P * (ens + 1) + 96 * cal + 16 * rep), len = 0;
    char *csv = malloc(cap);
    if (!csv) {
        ih_record_predictions_free(&fp);
        return cli_usage_error("out of memory");
    }
    if (P == 1) {
        len += (size_t)snprintf(csv + len, cap - len, "jid,target,prediction%s%s%s\n", ens ? ",spread" : "",
                                cal ? ",low,high,p_good" : "", rep ? ",rep_distance" : "");
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
        double low, high;
        if (cal && ih_predictor_interval(pm, fp.ion_z[i], fp.mean[i], fp.spread[i], level, &low, &high) == 0)
            len += (size_t)snprintf(csv + len, cap - len, ",%.6f,%.6f,%.4f", low, high,
                                    ih_predictor_p_good(pm, fp.ion_z[i], fp.mean[i], fp.spread[i]));
        if (rep) len += (size_t)snprintf(csv + len, cap - len, ",%.4f", fp.rep_distance[i]);
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

typedef struct predict_args {
    const char *model, *ini_path, *fin_path, *data, *out, *network;
    const char *structure, *ion_s, *to_s; /* STRUCTURE --ion … [--to …] */
    long ion_number;                      /* --ion INDEX (1-based), with to[] */
    double to[3];
    int scan, all, top; /* --ion ELEMENT: the hop listing */
    double max_hop, symprec, level; /* level: --level of the calibrated interval */
    ih_read_opts read;              /* --disorder */
} predict_args;

/* The table of STRUCTURE --ion ELEMENT, lowest barrier first; paths close to a host atom only
 * with `all`. */
static void print_scan(const ih_predictor *pm, const char *model, const char *path, const ih_structure *s, int z,
                       double max_hop, double symprec, double level, int top, int all, const ih_element_hops *h) {
    int n_members = ih_predictor_n_members(pm), cal = ih_predictor_has_calibration(pm);
    const char *el = ih_element_symbol(z);
    const ih_hops_info *info = &h->info;
    printf("model:  %s\n", model);
    printf("hops:   %s in %s: %d sites, space group %s (%d) at tolerance %g Å; %d hops up to %.1f Å in %d symmetry "
           "classes\n",
           el, path, info->n_sites, info->spacegroup ? info->spacegroup_symbol : "none found", info->spacegroup,
           symprec, info->n_hops, max_hop, h->n);
    char level_head[32] = "";
    if (cal) snprintf(level_head, sizeof level_head, " %2.0f %% interval ", 100 * level);
    printf("   from     to   image      length  closest  count  Em (eV)  %s%s verdict\n", n_members > 1 ? "spread" : "",
           level_head);
    int close = 0, hidden = 0, shown = 0, beyond_top = 0, flagged = 0;
    char first_why[512] = "";
    for (int r = 0; r < h->n; r++) {
        int k = h->order[r];
        const ih_hop *hop = &h->hops[k];
        const ih_hop_result *res = &h->result[k];
        int near = res->closest_approach < IH_CLOSE_APPROACH_WARN;
        if (!all && near) {
            hidden++;
            continue;
        }
        if (top > 0 && shown >= top) {
            beyond_top++;
            continue;
        }
        shown++;
        char spread[16] = "";
        if (n_members > 1) snprintf(spread, sizeof spread, " %6.3f", res->spread);
        char image[32];
        snprintf(image, sizeof image, "%d %d %d", hop->image[0], hop->image[1], hop->image[2]);
        char interval[40] = "", v[64];
        double low, high;
        if (cal && ih_predictor_interval(pm, res->ion_z, res->em, res->spread, level, &low, &high) == 0)
            snprintf(interval, sizeof interval, "  %5.2f-%-5.2f", low > 0 ? low : 0, high);
        char why[512];
        ih_hop_result at = *res; /* the class's ion as an atom of s (res->ion counts in the hop's cell) */
        at.ion = hop->from;
        int outside = ih_predictor_domain_check(pm, s, &at, why, sizeof why) > 0;
        if (outside && !flagged++) snprintf(first_why, sizeof first_why, "%s", why);
        printf("  %2s %-4d %2s %-4d %-9s %5.2f Å  %5.2f Å%s %5d  %7.3f%s%s  %s%s\n", el, hop->from + 1, el, hop->to + 1,
               image, hop->length, res->closest_approach, near ? "!" : " ", hop->multiplicity, res->em, spread,
               interval, verdict(pm, res->ion_z, res->em, res->spread, v, sizeof v), outside ? " *" : "");
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
    if (flagged)
        printf("warning: %d listed class%s (*) outside the training domain (larger errors, docs/results.md §35): %s\n",
               flagged, flagged > 1 ? "es" : "", first_why);
    if (beyond_top)
        printf("%d higher hop class%s not listed (--top %d); --out FILE writes them all\n", beyond_top,
               beyond_top > 1 ? "es" : "", top);
    if (hidden)
        printf("%d more hop class%s pass%s within %.1f Å of a host atom (through or past another site: the model "
               "is unreliable there); --all lists them\n",
               hidden, hidden > 1 ? "es" : "", hidden > 1 ? "" : "es", IH_CLOSE_APPROACH_WARN);
}

/* every hop class (the close ones too) as CSV, lowest barrier first */
static int write_scan_csv(const ih_predictor *pm, const ih_element_hops *h, const char *out_path, double level) {
    int cal = ih_predictor_has_calibration(pm);
    size_t cap = 128 + (size_t)h->n * 240, len = 0;
    char *csv = malloc(cap);
    if (!csv) return ih_set_error("out of memory");
    len += (size_t)snprintf(csv, cap, "from,to,image_a,image_b,image_c,length,closest_approach,count,em,spread%s\n",
                            cal ? ",low,high,p_good" : "");
    for (int r = 0; r < h->n; r++) {
        int k = h->order[r];
        const ih_hop *hop = &h->hops[k];
        const ih_hop_result *res = &h->result[k];
        len += (size_t)snprintf(csv + len, cap - len, "%d,%d,%d,%d,%d,%.4f,%.4f,%d,%.6f,%.6f", hop->from + 1,
                                hop->to + 1, hop->image[0], hop->image[1], hop->image[2], hop->length,
                                res->closest_approach, hop->multiplicity, res->em, res->spread);
        double low, high;
        if (cal && ih_predictor_interval(pm, res->ion_z, res->em, res->spread, level, &low, &high) == 0)
            len += (size_t)snprintf(csv + len, cap - len, ",%.6f,%.6f,%.4f", low, high,
                                    ih_predictor_p_good(pm, res->ion_z, res->em, res->spread));
        len += (size_t)snprintf(csv + len, cap - len, "\n");
    }
    int rc = ih_write_file_atomic(out_path, csv, len);
    free(csv);
    if (rc == 0) printf("%d hops -> %s\n", h->n, out_path);
    return rc;
}

static int predict_scan(ih_predictor *pm, const char *model, const char *path, const ih_structure *s, int z,
                        const predict_args *a) {
    ih_element_hops h;
    if (ih_predict_element_hops(pm, s, path, z, a->max_hop, a->symprec, &h) != 0) return -1;
    print_scan(pm, model, path, s, z, a->max_hop, a->symprec, a->level, a->top, a->all, &h);
    const char *out_path = a->out, *network_path = a->network;
    int rc = out_path ? write_scan_csv(pm, &h, out_path, a->level) : 0;
    if (rc == 0 && network_path) {
        rc = ih_write_hop_network(network_path, s, &h);
        if (rc == 0) printf("hop network (markers X by class) -> %s\n", network_path);
    }
    ih_element_hops_free(&h);
    return rc;
}


/* Options into *a; every combination checked before the model loads, so that a typo costs
 * nothing. Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, predict_args *a) {
    memset(a, 0, sizeof *a);
    a->max_hop = 5.0;
    a->symprec = IH_DEFAULT_SYMPREC;
    a->level = 0.9;
    const char *max_hop_s = NULL, *symprec_s = NULL, *top_s = NULL, *disorder_s = NULL, *level_s = NULL;
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
                   (r = cli_take(argc, argv, &i, "--block", &a->read.block)) ||
                   (r = cli_take(argc, argv, &i, "--ion", &a->ion_s)) ||
                   (r = cli_take(argc, argv, &i, "--to", &a->to_s)) ||
                   (r = cli_take(argc, argv, &i, "--max-hop", &max_hop_s)) ||
                   (r = cli_take(argc, argv, &i, "--symprec", &symprec_s)) ||
                   (r = cli_take(argc, argv, &i, "--top", &top_s)) ||
                   (r = cli_take(argc, argv, &i, "--disorder", &disorder_s)) ||
                   (r = cli_take(argc, argv, &i, "--level", &level_s))) {
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
    if (symprec_s && (!a->scan || cli_parse_double("--symprec", symprec_s, 1e-5, 0.5, &a->symprec)))
        return a->scan ? 2 : cli_usage_error("--symprec goes with STRUCTURE --ion ELEMENT");
    if (top_s) {
        double top;
        if (!a->scan) return cli_usage_error("--top goes with STRUCTURE --ion ELEMENT");
        if (cli_parse_double("--top", top_s, 1, 1e6, &top)) return 2;
        if (top != (int)top) return cli_usage_error("--top needs a whole number of hop classes, not '%s'", top_s);
        a->top = (int)top;
    }
    if (level_s && cli_parse_double("--level", level_s, 0.5, 0.99, &a->level)) return 2;
    if (disorder_s && ih_disorder_from_name(disorder_s, &a->read.disorder) != 0)
        return cli_usage_error("--disorder: '%s' is not sites, half or refuse", disorder_s);
    if (a->read.block && a->data) return cli_usage_error("--block goes with STRUCTURE or --initial/--final (CIF files)");
    if (a->out && !a->data && !a->scan)
        return cli_usage_error("--out goes with --data or STRUCTURE --ion ELEMENT");
    return -1;
}

/* --initial A --final B: the ion is the one atom that moved (minimum-image aware). */
static int predict_endpoints(ih_predictor *pm, const predict_args *a) {
    ih_structure ini, fin;
    if (ih_read_structure_opts(a->ini_path, IH_FMT_UNKNOWN, &a->read, &ini) != 0) return cli_fail();
    if (ih_read_structure_opts(a->fin_path, IH_FMT_UNKNOWN, &a->read, &fin) != 0) {
        ih_structure_free(&ini);
        return cli_fail();
    }
    ih_hop_result r;
    int rc = ih_predict_endpoints(pm, &ini, &fin, a->ini_path, a->fin_path, &r, NULL);
    if (rc == 0) report_hop(pm, a->model, &ini, &r, a->level);
    ih_structure_free(&ini);
    ih_structure_free(&fin);
    return rc == 0 ? 0 : cli_fail();
}

/* STRUCTURE --ion INDEX --to "x y z", or STRUCTURE --ion ELEMENT (the hop listing). */
static int predict_structure(ih_predictor *pm, const predict_args *a) {
    ih_structure ini;
    if (ih_read_structure_opts(a->structure, IH_FMT_UNKNOWN, &a->read, &ini) != 0) return cli_fail();
    int rc = 0;
    if (is_path_record(&ini)) {
        rc = ih_set_error("%s: a 5-image path record (sites 1-5: one ion at five points of its hop), not a "
                          "host structure; predict it with --data, or give the host",
                          a->structure);
    } else if (a->scan) {
        rc = predict_scan(pm, a->model, a->structure, &ini, ih_element_z(a->ion_s), a);
    } else if (a->ion_number < 1 || a->ion_number > ini.n_atoms) {
        int n_atoms = ini.n_atoms;
        ih_structure_free(&ini);
        return cli_usage_error("--ion %s: %s has atoms 1..%d", a->ion_s, a->structure, n_atoms);
    } else {
        ih_hop_result r;
        rc = ih_predict_move(pm, &ini, a->structure, (int)a->ion_number - 1, a->to, &r, NULL);
        if (rc == 0) report_hop(pm, a->model, &ini, &r, a->level);
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
        rc = predict_file(pm, a.data, a.out, a.level);
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
