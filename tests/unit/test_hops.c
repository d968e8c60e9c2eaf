/* Vacancy-hop enumeration: symmetry classes and multiplicities on cells whose answer is known by
 * hand, counts against a brute force, hops to periodic images of a site (also of the same site),
 * direction, classes that do not depend on the cell, and the hop's initial structure. */
#include "check.h"
#include "ionhop.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Li on a simple cubic lattice (spacing a in x/y, c in z) in an nx × ny × nz cell, plus optional extra sites. */
static void cubic_li(ih_structure *s, int nx, int ny, int nz, double a, double c, int n_extra) {
    int n = nx * ny * nz;
    CHECK(ih_structure_init(s, n + n_extra) == 0);
    memset(s->lattice, 0, sizeof s->lattice);
    s->lattice[0][0] = nx * a, s->lattice[1][1] = ny * a, s->lattice[2][2] = nz * c;
    int m = 0;
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++)
            for (int k = 0; k < nz; k++, m++) {
                s->z[m] = 3;
                s->frac[3 * m] = (double)i / nx, s->frac[3 * m + 1] = (double)j / ny, s->frac[3 * m + 2] = (double)k / nz;
            }
}

/* directed hops of element z up to max_len to any periodic image (the site's own included), counted
 * without symmetry */
static int brute_count(const ih_structure *s, int z, double max_len) {
    int count = 0;
    for (int a = 0; a < s->n_atoms; a++)
        for (int b = 0; b < s->n_atoms; b++) {
            if (s->z[a] != z || s->z[b] != z) continue;
            double d[3];
            for (int c = 0; c < 3; c++) d[c] = s->frac[3 * b + c] - s->frac[3 * a + c];
            for (int i = -3; i <= 3; i++)
                for (int j = -3; j <= 3; j++)
                    for (int k = -3; k <= 3; k++) {
                        double f[3] = {d[0] + i, d[1] + j, d[2] + k}, x[3] = {0, 0, 0};
                        for (int q = 0; q < 3; q++)
                            for (int r = 0; r < 3; r++) x[q] += f[r] * s->lattice[r][q];
                        double len = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
                        if (len <= max_len && len > 0.5) count++;
                    }
        }
    return count;
}

int main(void) {
    ih_structure s;
    ih_hop *h;
    int n;
    ih_hops_info info;

    /* cubic 2×2×2 (Pm-3m): one class per neighbour shell, 6 / 12 / 8 hops per site */
    cubic_li(&s, 2, 2, 2, 3.0, 3.0, 0);
    CHECK(ih_hops_enumerate(&s, 3, 3.5, 0.01, &h, &n, &info) == 0);
    CHECK_INT(info.spacegroup, 221);
    CHECK_INT(n, 1);
    CHECK_INT(h[0].multiplicity, 48);
    CHECK_NEAR(h[0].length, 3.0, 1e-12);
    free(h);
    CHECK(ih_hops_enumerate(&s, 3, 5.3, 0.01, &h, &n, &info) == 0);
    CHECK_INT(n, 3);
    CHECK_INT(h[0].multiplicity, 48);
    CHECK_INT(h[1].multiplicity, 96);
    CHECK_INT(h[2].multiplicity, 64);
    CHECK_NEAR(h[1].length, 3.0 * sqrt(2.0), 1e-12);
    CHECK_NEAR(h[2].length, 3.0 * sqrt(3.0), 1e-12);
    CHECK_INT(info.n_hops, brute_count(&s, 3, 5.3));
    CHECK_INT(info.n_sites, 8);
    CHECK_INT(info.n_too_long, 0);

    /* the moving ion's initial structure: destination removed, the path ends on its image */
    ih_structure ini, five;
    int ion;
    double to[3];
    CHECK(ih_hop_initial(&s, &h[1], &ini, &ion, to) == 0);
    CHECK_INT(ini.n_atoms, 7);
    CHECK_INT(ion, h[1].from - (h[1].to < h[1].from));
    for (int c = 0; c < 3; c++) CHECK_NEAR(ini.frac[3 * ion + c], s.frac[3 * h[1].from + c], 0);
    CHECK(ih_path_5image(&ini, ion, to, &five) == 0);
    for (int c = 0; c < 3; c++) {
        double d = five.frac[12 + c] - s.frac[3 * h[1].to + c];
        CHECK_NEAR(d, nearbyint(d), 1e-12);
        CHECK_NEAR(five.frac[12 + c] - five.frac[c], h[1].step[c], 1e-12);
    }
    double approach = ih_path_closest_approach(&five, NULL);
    CHECK_NEAR(approach, 3.0 * sqrt(2.0) / 2, 1e-9); /* the diagonal hop passes between two Li */
    ih_structure_free(&five);
    ih_structure_free(&ini);
    free(h);
    ih_structure_free(&s);

    /* tetragonal (c ≠ a: P4/mmm): the nearest shell splits into 4 in-plane and 2 axial hops per site */
    cubic_li(&s, 2, 2, 2, 3.0, 3.3, 0);
    CHECK(ih_hops_enumerate(&s, 3, 3.4, 0.01, &h, &n, &info) == 0);
    CHECK_INT(info.spacegroup, 123);
    CHECK_INT(n, 2);
    CHECK_INT(h[0].multiplicity, 32);
    CHECK_INT(h[1].multiplicity, 16);
    CHECK_NEAR(h[1].length, 3.3, 1e-12);
    free(h);
    ih_structure_free(&s);

    /* a 2×1×1 cell: the hops along y and z go to periodic images of the same site, and the cell's
     * lattice lacks the cube's 4-fold axes; the classes are those of the cubic crystal all the same */
    cubic_li(&s, 2, 1, 1, 3.0, 3.0, 0);
    CHECK(ih_hops_enumerate(&s, 3, 4.3, 0.01, &h, &n, &info) == 0);
    CHECK_INT(info.n_hops, 36);
    CHECK_INT(info.n_hops, brute_count(&s, 3, 4.3));
    CHECK_INT(info.n_too_long, 0);
    CHECK_INT(info.spacegroup, 221);
    CHECK_INT(n, 2);
    CHECK_INT(h[0].multiplicity, 12);
    CHECK_INT(h[1].multiplicity, 24);
    free(h);
    ih_structure_free(&s);

    /* direction counts: an F beside one Li makes the two sites and the ±x directions inequivalent;
     * each site's four hops to its own images along ±y, ±z form one class (the 4-fold axis along x) */
    cubic_li(&s, 2, 1, 1, 3.0, 3.0, 1);
    s.z[2] = 9;
    s.frac[6] = 0.1, s.frac[7] = 0.5, s.frac[8] = 0.5;
    CHECK(ih_hops_enumerate(&s, 3, 3.5, 0.01, &h, &n, &info) == 0);
    CHECK_INT(n, 6);
    int from_first = 0, single = 0;
    for (int k = 0; k < n; k++) {
        CHECK(h[k].multiplicity == 1 || (h[k].multiplicity == 4 && h[k].from == h[k].to));
        single += h[k].multiplicity == 1;
        from_first += h[k].from == 0;
    }
    CHECK_INT(single, 4);
    CHECK_INT(from_first, 3);
    free(h);
    /* a single site of the element still hops, to its own periodic images */
    CHECK(ih_hops_enumerate(&s, 9, 3.5, 0.01, &h, &n, &info) == 0);
    CHECK_INT(n, 1);
    CHECK_INT(h[0].multiplicity, 4);
    CHECK(h[0].from == 2 && h[0].to == 2);
    free(h);
    CHECK(ih_hops_enumerate(&s, 11, 3.5, 0.01, &h, &n, &info) == -1);
    CHECK(strstr(ih_last_error(), "no Na site") != NULL);
    ih_structure_free(&s);

    /* the LiFePO4 example host (its Li row has a vacancy): classes cover every hop */
    CHECK(ih_read_structure("examples/LiFePO4_hop/initial.vasp", IH_FMT_UNKNOWN, &s) == 0);
    CHECK(ih_hops_enumerate(&s, 3, 6.0, 0.01, &h, &n, &info) == 0);
    int total = 0;
    for (int k = 0; k < n; k++) total += h[k].multiplicity;
    CHECK_INT(total, info.n_hops);
    CHECK_INT(info.n_hops, brute_count(&s, 3, 6.0));
    CHECK(info.spacegroup > 0 && n > 1 && n < info.n_hops);
    printf("LiFePO4 example: %d Li sites, space group %s (%d), %d hops up to 6 Å in %d classes\n", info.n_sites,
           info.spacegroup_symbol, info.spacegroup, info.n_hops, n);
    free(h);
    ih_structure_free(&s);

    /* a relaxed-like olivine: every atom displaced by a seeded Gaussian step of 0.01 Å rms per
     * component keeps Pnma and its classes at the default tolerance, and is P1 (every hop its own
     * class) at 0.01 Å */
    ih_hops_info ideal, loose, tight;
    ih_hop *h0, *h1, *h2;
    int n0, n1, n2;
    CHECK(ih_read_structure("examples/LiFePO4/LiFePO4.vasp", IH_FMT_UNKNOWN, &s) == 0);
    CHECK(ih_hops_enumerate(&s, 3, 5.0, IH_DEFAULT_SYMPREC, &h0, &n0, &ideal) == 0);
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    double inv[3][3], det;
    CHECK(ih_mat3_inverse(s.lattice, inv, &det) == 0);
    for (int i = 0; i < s.n_atoms; i++) {
        double step[3];
        for (int c = 0; c < 3; c++) { /* Box-Muller from a xorshift stream */
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            double u1 = ((state >> 11) + 0.5) / 9007199254740992.0;
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            double u2 = ((state >> 11) + 0.5) / 9007199254740992.0;
            step[c] = 0.01 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        }
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < 3; r++) s.frac[3 * i + c] += step[r] * inv[r][c];
    }
    CHECK(ih_hops_enumerate(&s, 3, 5.0, IH_DEFAULT_SYMPREC, &h1, &n1, &loose) == 0);
    CHECK(ih_hops_enumerate(&s, 3, 5.0, 0.01, &h2, &n2, &tight) == 0);
    CHECK_INT(ideal.spacegroup, 62);
    CHECK_INT(loose.spacegroup, 62);
    CHECK_INT(n1, n0);
    CHECK_INT(loose.n_hops, ideal.n_hops);
    CHECK_INT(tight.spacegroup, 1);
    CHECK_INT(n2, tight.n_hops);
    printf("perturbed olivine (0.01 Å rms): %s, %d classes at %g Å; %s, %d classes at 0.01 Å\n",
           loose.spacegroup_symbol, n1, IH_DEFAULT_SYMPREC, tight.spacegroup_symbol, n2);
    free(h0), free(h1), free(h2);
    ih_structure_free(&s);
    return test_summary("test_hops");
}
