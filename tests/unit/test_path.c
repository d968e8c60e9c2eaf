/* Migration paths: 5-image <-> end points on the shared records; moving-ion detection errors. */
#include "check.h"
#include "ionhop_train.h"

int main(void) {
    ih_rng rng;
    ih_rng_seed(&rng, 20261122);
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
        CHECK_MSG(ih_path_find_ion(&ini, &fin, "ini", "fin", &ion, NULL, &hop) == 0, "jid %s: %s",
                  five->jid, ih_last_error());
        CHECK_INT(ion, 0);
        CHECK(hop >= 1.0 && hop <= 9.0);
        /* the final structure's atoms in another order (as a different tool might write them):
         * matched by position, the same ion and destination */
        {
            ih_structure shuffled;
            CHECK(ih_structure_copy(&shuffled, &fin) == 0);
            int n = fin.n_atoms;
            int *perm = malloc((size_t)n * sizeof *perm);
            for (int i = 0; i < n; i++) perm[i] = i;
            ih_rng_shuffle(&rng, perm, n);
            for (int i = 0; i < n; i++) {
                shuffled.z[i] = fin.z[perm[i]];
                memcpy(shuffled.frac + 3 * i, fin.frac + 3 * perm[i], 3 * sizeof(double));
            }
            if (shuffled.cart) for (int i = 0; i < n; i++) ih_structure_cart(&shuffled, i, shuffled.cart + 3 * i);
            int ion2 = -1;
            double to[3], hop2 = 0;
            CHECK_MSG(ih_path_find_ion(&ini, &shuffled, "ini", "fin", &ion2, to, &hop2) == 0, "jid %s: %s", five->jid,
                      ih_last_error());
            CHECK_INT(ion2, 0);
            CHECK_NEAR(hop2, hop, 1e-9);
            for (int c = 0; c < 3; c++) CHECK_NEAR(to[c], fin.frac[c], 0);
            free(perm);
            ih_structure_free(&shuffled);
        }
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
    CHECK(ih_path_find_ion(&ini, &fin, "a.vasp", "b.vasp", &ion, NULL, NULL) == -1);
    CHECK(strstr(ih_last_error(), "ambiguous") && strstr(ih_last_error(), "a.vasp"));
    for (int c = 0; c < 3; c++) fin.frac[15 + c] = saved[c];
    CHECK(ih_path_find_ion(&ini, &fin, "a.vasp", "b.vasp", &ion, NULL, NULL) == 0);
    fin.z[3] = 8 == fin.z[3] ? 9 : 8;
    CHECK(ih_path_find_ion(&ini, &fin, "a.vasp", "b.vasp", &ion, NULL, NULL) == -1);
    CHECK(strstr(ih_last_error(), "site 4") != NULL);
    ih_structure_free(&fin);
    CHECK(ih_structure_copy(&fin, &ini) == 0);
    CHECK(ih_path_find_ion(&ini, &fin, "a.vasp", "b.vasp", &ion, NULL, NULL) == -1);
    CHECK(strstr(ih_last_error(), "no atom moves") != NULL);
    /* a move by exactly one lattice vector is no move */
    fin.frac[0] += 1.0;
    CHECK(ih_path_find_ion(&ini, &fin, "a.vasp", "b.vasp", &ion, NULL, NULL) == -1);
    ih_structure_free(&fin);
    ih_structure_free(&ini);
    CHECK(ih_path_endpoints(&set.items[7], &ini, &fin) == 0);
    ih_structure five;
    ih_structure scratch1, scratch2;
    CHECK(ih_path_endpoints(&ini, &scratch1, &scratch2) == -1); /* ini is not a 5-image structure */
    ih_structure_free(&ini);
    ih_structure_free(&fin);
    CHECK(ih_path_5image(&set.items[0], 5000, set.items[0].frac, &five) == -1);

    /* closest approach of the straight path to a host site: the records whose path runs through an
     * atom (LiRuO2_1, the 8.77 eV record) and an ordinary one */
    for (int r = 0; r < set.n; r++) {
        int site = -1;
        double d = ih_path_closest_approach(&set.items[r], &site);
        CHECK(d >= 0 && site >= 5 && site < set.items[r].n_atoms);
        if (!strcmp(set.items[r].sys_name, "LiRuO2_1")) {
            CHECK_MSG(d < 0.01, "LiRuO2_1: %g", d);
            CHECK_INT(set.items[r].z[site], 44); /* Ru */
        }
        if (r == 0) CHECK(d > 1.0 && d < 3.0);
    }
    /* against a brute force over sampled points of the path and many more lattice translations,
     * in skewed cells with long hops (where the 27 nearest translations are not enough) */
    ih_rng_seed(&rng, 12345);
    double worst_gap = 0;
    for (int trial = 0; trial < 20; trial++) {
        ih_structure s;
        int n = 5 + 6;
        CHECK(ih_structure_init(&s, n) == 0);
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) s.lattice[a][b] = (a == b ? 2.0 + 2 * ih_rng_uniform(&rng) : 0) +
                                                          (a > b ? 6.0 * (ih_rng_uniform(&rng) - 0.5) : 0);
        double step[3];
        for (int c = 0; c < 3; c++) s.frac[c] = ih_rng_uniform(&rng), step[c] = 1.6 * (ih_rng_uniform(&rng) - 0.5);
        for (int k = 0; k < 5; k++)
            for (int c = 0; c < 3; c++) s.frac[3 * k + c] = s.frac[c] + 0.25 * k * step[c];
        for (int i = 5; i < n; i++)
            for (int c = 0; c < 3; c++) s.frac[3 * i + c] = 3 * ih_rng_uniform(&rng) - 1;
        for (int i = 0; i < n; i++) s.z[i] = i < 5 ? 3 : 8;
        int site = -1;
        double d = ih_path_closest_approach(&s, &site), brute[11], len = 0, p[3], q[3];
        for (int k = 0; k < 3; k++) {
            p[k] = q[k] = 0;
            for (int c = 0; c < 3; c++) p[k] += s.frac[c] * s.lattice[c][k], q[k] += s.frac[12 + c] * s.lattice[c][k];
            len += (q[k] - p[k]) * (q[k] - p[k]);
        }
        int samples = 300;
        double best = INFINITY, tol = 0.5 * sqrt(len) / samples + 1e-9;
        for (int i = 5; i < n; i++) {
            brute[i] = INFINITY;
            for (int t = 0; t <= samples; t++)
                for (int a = -4; a <= 4; a++)
                    for (int b = -4; b <= 4; b++)
                        for (int c = -4; c <= 4; c++) {
                            double f[3] = {s.frac[3 * i] + a, s.frac[3 * i + 1] + b, s.frac[3 * i + 2] + c}, r2 = 0;
                            for (int k = 0; k < 3; k++) {
                                double x = f[0] * s.lattice[0][k] + f[1] * s.lattice[1][k] + f[2] * s.lattice[2][k];
                                double y = p[k] + (q[k] - p[k]) * t / samples - x;
                                r2 += y * y;
                            }
                            if (r2 < brute[i] * brute[i]) brute[i] = sqrt(r2);
                        }
            if (brute[i] < best) best = brute[i];
        }
        /* sampling can only overshoot, by at most half a sample spacing; the site named is that close */
        CHECK_MSG(d <= best + 1e-9 && best - d <= tol, "trial %d: %g vs %g", trial, d, best);
        CHECK(site >= 5 && site < n && brute[site] - d <= tol);
        if (best - d > worst_gap) worst_gap = best - d;
        ih_structure_free(&s);
    }
    {   /* an unreduced basis of a 4 Å cubic lattice (b = 5a + 4ŷ): the site's image 1.8 Å from the
         * path lies two translations beyond the 27 nearest of its reduced fractional offset */
        ih_structure s;
        CHECK(ih_structure_init(&s, 6) == 0);
        double L[3][3] = {{4, 0, 0}, {20, 4, 0}, {0, 0, 4}};
        memcpy(s.lattice, L, sizeof L);
        for (int k = 0; k < 5; k++) s.frac[3 * k + 2] = 0.125 + 0.125 * k;
        s.frac[15] = -2.25, s.frac[16] = 0.45, s.frac[17] = 0.375; /* Cartesian (0, 1.8, 1.5) */
        int site = -1;
        CHECK_NEAR(ih_path_closest_approach(&s, &site), 1.8, 1e-9);
        CHECK_INT(site, 5);
        ih_structure_free(&s);
    }
    printf("closest approach vs sampled brute force: worst gap %.2g Å\n", worst_gap);

    /* path descriptors against the independent numpy implementation (tests/fixtures/gen/path_desc_ref.py) */
    {
        FILE *f = fopen("tests/fixtures/path_desc_ref.txt", "r");
        CHECK(f != NULL);
        char line[512];
        int n_rows = 0;
        double worst_d = 0;
        while (f && fgets(line, sizeof line, f)) {
            if (line[0] == '#') continue;
            int r, used = 0;
            char name[128];
            double ref[IH_PATH_DESC], raw[IH_PATH_DESC];
            CHECK(sscanf(line, "%d %127s%n", &r, name, &used) == 2);
            char *q = line + used;
            for (int i = 0; i < IH_PATH_DESC; i++) ref[i] = strtod(q, &q);
            CHECK(r >= 0 && r < set.n && !strcmp(set.items[r].sys_name, name));
            float scaled[IH_PATH_DESC];
            CHECK(ih_path_descriptors(&set.items[r], raw, scaled) == 0);
            for (int i = 0; i < IH_PATH_DESC; i++) {
                if (i == 5 || i == 6) CHECK_MSG(raw[i] == ref[i], "%s descriptor %d: %g vs %g", name, i, raw[i], ref[i]);
                else CHECK_MSG(fabs(raw[i] - ref[i]) <= 1e-6 * fmax(1, fabs(ref[i])), "%s descriptor %d: %.9g vs %.9g", name, i, raw[i], ref[i]);
                worst_d = fmax(worst_d, fabs(raw[i] - ref[i]));
                CHECK(isfinite(scaled[i]) && fabs(scaled[i]) < 20);
            }
            n_rows++;
        }
        if (f) fclose(f);
        CHECK(n_rows >= 10);
        printf("path descriptors of %d records vs numpy: worst difference %.2g\n", n_rows, worst_d);
        /* the graph carries the scaled descriptors, a batch all of its parts' */
        ih_graph_opts go;
        ih_graph_opts_default(&go);
        go.path_desc = 1;
        const ih_structure *two[2] = {&set.items[0], &set.items[37]};
        ih_graph gb, g0;
        CHECK(ih_graph_build_batch(two, 2, &go, &gb) == 0);
        CHECK(ih_graph_build(&set.items[37], &go, &g0) == 0);
        float sc[IH_PATH_DESC];
        CHECK(ih_path_descriptors(&set.items[0], NULL, sc) == 0);
        CHECK(gb.path_desc && !memcmp(gb.path_desc, sc, sizeof sc));
        CHECK(g0.path_desc && !memcmp(gb.path_desc + IH_PATH_DESC, g0.path_desc, sizeof sc));
        ih_graph_free(&gb);
        ih_graph_free(&g0);
        go.path_desc = 0;
        CHECK(ih_graph_build(&set.items[0], &go, &g0) == 0 && g0.path_desc == NULL);
        ih_graph_free(&g0);
        /* not a 5-image path: refused, naming the structure */
        ih_structure ini2, fin2;
        CHECK(ih_path_endpoints(&set.items[0], &ini2, &fin2) == 0);
        CHECK(ih_path_descriptors(&ini2, NULL, sc) == -1);
        go.path_desc = 1;
        CHECK(ih_graph_build(&ini2, &go, &g0) == -1 && strstr(ih_last_error(), "5-image"));
        ih_structure_free(&ini2);
        ih_structure_free(&fin2);
    }
    {   /* a 4 Å cubic lattice in an unreduced basis (b = 5a + 4ŷ): the nearest host image and the
         * count within 3 Å lie beyond the 27 nearest translations of the reduced offsets */
        ih_structure s, r;
        CHECK(ih_structure_init(&s, 6) == 0 && ih_structure_init(&r, 6) == 0);
        double L[3][3] = {{4, 0, 0}, {20, 4, 0}, {0, 0, 4}}, Lr[3][3] = {{4, 0, 0}, {0, 4, 0}, {0, 0, 4}};
        memcpy(s.lattice, L, sizeof L);
        memcpy(r.lattice, Lr, sizeof Lr);
        for (int k = 0; k < 5; k++) s.z[k] = r.z[k] = 3, s.frac[3 * k + 2] = r.frac[3 * k + 2] = 0.125 + 0.125 * k;
        s.z[5] = r.z[5] = 8;
        s.frac[15] = -2.25, s.frac[16] = 0.45, s.frac[17] = 0.375; /* Cartesian (0, 1.8, 1.5) */
        r.frac[15] = 0, r.frac[16] = 0.45, r.frac[17] = 0.375;
        double ds[IH_PATH_DESC], dr[IH_PATH_DESC];
        CHECK(ih_path_descriptors(&s, ds, NULL) == 0 && ih_path_descriptors(&r, dr, NULL) == 0);
        CHECK_NEAR(dr[0], 2.0, 1e-12);       /* hop: 0.5 of the 4 Å c axis */
        CHECK_NEAR(dr[4], 1.8, 1e-12);       /* midpoint (0, 0, 1.5) to the site (0, 1.8, 1.5) */
        CHECK_NEAR(dr[1], 1.8, 1e-12);       /* the bottleneck is there */
        CHECK_NEAR(dr[7], 64.0, 1e-9);       /* one host site in 64 Å^3 */
        for (int i = 0; i < IH_PATH_DESC; i++) CHECK_MSG(fabs(ds[i] - dr[i]) < 1e-9, "descriptor %d: %g vs %g", i, ds[i], dr[i]);
        ih_structure_free(&s);
        ih_structure_free(&r);
    }
    ih_structure_set_free(&set);
    return test_summary("test_path");
}
