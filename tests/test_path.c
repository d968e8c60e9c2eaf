/* Migration paths: 5-image <-> end points on the shared records; moving-ion detection errors. */
#include "check.h"
#include "ionhop.h"

int main(void) {
    ih_structure_set set;
    CHECK(ih_read_json(shared_path("data/em/train.json"), &set) == 0);
    int worst_site = -1;
    double worst = 0;
    for (int r = 0; r < set.n; r++) {
        const ih_structure *five = &set.items[r];
        ih_structure ini, fin, back;
        CHECK(ih_path_endpoints(five, &ini, &fin) == 0);
        CHECK_INT(ini.n_atoms, five->n_atoms - 4);
        int ion = -1;
        double hop = 0;
        CHECK_MSG(ih_path_find_ion(&ini, &fin, "ini", "fin", &ion, &hop) == 0, "jid %s: %s",
                  five->jid, ih_last_error());
        CHECK_INT(ion, 0);
        CHECK(hop >= 1.0 && hop <= 9.0);
        CHECK(ih_path_5image(&ini, ion, fin.frac, &back) == 0);
        CHECK_INT(back.n_atoms, five->n_atoms);
        for (int i = 0; i < five->n_atoms; i++) {
            CHECK(back.z[i] == five->z[i]);
            for (int c = 0; c < 3; c++) {
                double d = fabs(back.frac[3 * i + c] - five->frac[3 * i + c]);
                if (d > worst) {
                    worst = d;
                    worst_site = i;
                }
            }
        }
        /* the destination given modulo a lattice vector gives the same path, unless a step
         * component is exactly ±0.5 (two equally short fractional paths; the record's is kept) */
        int tie = 0;
        for (int c = 0; c < 3; c++) tie |= fabs(fabs(fin.frac[c] - ini.frac[c]) - 0.5) < 1e-6;
        if (!tie) {
            double shifted[3] = {fin.frac[0] + 1, fin.frac[1] - 2, fin.frac[2]};
            ih_structure back2;
            CHECK(ih_path_5image(&ini, 0, shifted, &back2) == 0);
            for (int c = 0; c < 3; c++) CHECK_NEAR(back2.frac[12 + c], back.frac[12 + c], 1e-9);
            ih_structure_free(&back2);
        }
        ih_structure_free(&back);
        ih_structure_free(&ini);
        ih_structure_free(&fin);
    }
    printf("worst 5-image reconstruction error %.3g (site %d)\n", worst, worst_site);
    CHECK(worst < 2e-6);

    /* errors: inconsistent and ambiguous end points */
    ih_structure ini, fin;
    CHECK(ih_path_endpoints(&set.items[7], &ini, &fin) == 0);
    int ion;
    double saved[3];
    for (int c = 0; c < 3; c++) { /* a second atom makes the same hop */
        saved[c] = fin.frac[15 + c];
        fin.frac[15 + c] += fin.frac[c] - ini.frac[c];
    }
    CHECK(ih_path_find_ion(&ini, &fin, "a.vasp", "b.vasp", &ion, NULL) == -1);
    CHECK(strstr(ih_last_error(), "ambiguous") && strstr(ih_last_error(), "a.vasp"));
    for (int c = 0; c < 3; c++) fin.frac[15 + c] = saved[c];
    CHECK(ih_path_find_ion(&ini, &fin, "a.vasp", "b.vasp", &ion, NULL) == 0);
    fin.z[3] = 8 == fin.z[3] ? 9 : 8;
    CHECK(ih_path_find_ion(&ini, &fin, "a.vasp", "b.vasp", &ion, NULL) == -1);
    CHECK(strstr(ih_last_error(), "site 4") != NULL);
    ih_structure_free(&fin);
    CHECK(ih_structure_copy(&fin, &ini) == 0);
    CHECK(ih_path_find_ion(&ini, &fin, "a.vasp", "b.vasp", &ion, NULL) == -1);
    CHECK(strstr(ih_last_error(), "no atom moves") != NULL);
    /* a move by exactly one lattice vector is no move */
    fin.frac[0] += 1.0;
    CHECK(ih_path_find_ion(&ini, &fin, "a.vasp", "b.vasp", &ion, NULL) == -1);
    ih_structure_free(&fin);
    ih_structure_free(&ini);
    CHECK(ih_path_endpoints(&set.items[7], &ini, &fin) == 0);
    ih_structure five;
    ih_structure scratch1, scratch2;
    CHECK(ih_path_endpoints(&ini, &scratch1, &scratch2) == -1); /* ini is not a 5-image structure */
    ih_structure_free(&ini);
    ih_structure_free(&fin);
    CHECK(ih_path_5image(&set.items[0], 5000, set.items[0].frac, &five) == -1);
    ih_structure_set_free(&set);
    return test_summary("test_path");
}
