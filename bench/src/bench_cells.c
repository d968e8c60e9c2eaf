/* ionhop-bench cells: the cells the hop-cell rule builds, against the cells of the training
 * records. For every 5-image record: the record's own shortest plane spacing, and, for each
 * --min-spacing T, the shortest plane spacing and atom count of the supercell of the canonical cell
 * of its host in which its hop would be predicted (ih_hop_cell). Prints the distributions. */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void quantiles(const char *label, double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("%-34s min %6.2f  q10 %6.2f  median %6.2f  q90 %6.2f  max %6.2f\n", label, v[0], v[n / 10], v[n / 2],
           v[(9 * n) / 10], v[n - 1]);
}

static double shortest_spacing(const double L[3][3]) {
    double sp[3];
    ih_lattice_plane_spacings(L, sp);
    return fmin(sp[0], fmin(sp[1], sp[2]));
}

int bench_cells(int argc, char **argv) {
    const char *data = NULL;
    double T[8];
    int nT = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_take(argc, argv, &i, "--data", &data))) {
            if (r < 0) return cli_usage_error("--data needs a file");
        } else if ((r = cli_take(argc, argv, &i, "--min-spacing", &v))) {
            if (r < 0 || nT == 8 || cli_parse_double("--min-spacing", v, 0.0, 30.0, &T[nT])) return 2;
            nT++;
        } else {
            return cli_usage_error("usage: ionhop-bench cells --data FILE.json [--min-spacing T ...]");
        }
    }
    if (!data) return cli_usage_error("usage: ionhop-bench cells --data FILE.json [--min-spacing T ...]");
    if (nT == 0) T[nT++] = IH_HOP_MIN_SPACING;
    ih_structure_set set;
    if (ih_read_structures(data, IH_FMT_UNKNOWN, &set) != 0) return cli_fail();
    int n = set.n, used = 0, failed = 0;
    double *rec = malloc((size_t)n * sizeof *rec), *sp = malloc((size_t)n * nT * sizeof *sp);
    double *atoms = malloc((size_t)n * nT * sizeof *atoms), *rec_atoms = malloc((size_t)n * sizeof *rec_atoms);
    for (int i = 0; i < n; i++) {
        const ih_structure *five = &set.items[i];
        ih_structure crystal, canon = {0};
        if (!ih_structure_is_5image(five) || ih_path_crystal(five, &crystal) != 0) {
            failed++;
            continue;
        }
        /* the record's hop in its crystal: the ion (atom 0) to the final site (the last atom) */
        ih_hop h = {.from = 0, .to = crystal.n_atoms - 1}, hc;
        for (int c = 0; c < 3; c++) h.step[c] = five->frac[12 + c] - five->frac[c];
        double shift[3];
        int ok = ih_canonical_cell(&crystal, 0.01, &canon, shift) == 0 &&
                 ih_hop_to_cell(&crystal, &h, &canon, shift, 0.01, &hc) == 0;
        for (int t = 0; ok && t < nT; t++) {
            int nn[3];
            ok = ih_hop_supercell_size(&canon, &hc, T[t], nn) == 0;
            if (!ok) break;
            double L[3][3];
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 3; c++) L[r][c] = canon.lattice[r][c] * nn[r];
            sp[(size_t)t * n + used] = shortest_spacing(L);
            atoms[(size_t)t * n + used] = (double)nn[0] * nn[1] * nn[2] * canon.n_atoms - 1;
        }
        if (ok) {
            rec[used] = shortest_spacing(five->lattice);
            rec_atoms[used] = five->n_atoms - 5 + 1;
            used++;
        } else {
            failed++;
        }
        if (canon.z) ih_structure_free(&canon);
        ih_structure_free(&crystal);
    }
    printf("%s: %d records, %d analysed, %d not (no canonical cell)\n", data, n, used, failed);
    if (used) {
        quantiles("records: shortest spacing (Å)", rec, used);
        quantiles("records: atoms", rec_atoms, used);
        for (int t = 0; t < nT; t++) {
            char label[64];
            snprintf(label, sizeof label, "T %.1f: shortest spacing (Å)", T[t]);
            quantiles(label, sp + (size_t)t * n, used);
            snprintf(label, sizeof label, "T %.1f: atoms", T[t]);
            quantiles(label, atoms + (size_t)t * n, used);
        }
    }
    free(rec), free(sp), free(atoms), free(rec_atoms);
    ih_structure_set_free(&set);
    return 0;
}
