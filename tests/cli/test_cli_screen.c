/* `ionhop screen` end to end: a directory, a structure file, a record file and a bad file in one
 * run; the JSON contract (names and types), every hop of the network with its class and image, the
 * percolation barriers against `predict STRUCTURE --ion`, the CSV summary, error rows that do not
 * stop the run, resuming from the progress file after an interruption, and refused progress files
 * of another run. Runs $IONHOP_CLI. */
#include "check.h"
#include "cli_util.h"
#include "tmpdir.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <math.h>

static cJSON *item_named(cJSON *list, const char *suffix) {
    cJSON *j;
    cJSON_ArrayForEach(j, list) {
        const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "file"));
        if (f && strlen(f) >= strlen(suffix) && !strcmp(f + strlen(f) - strlen(suffix), suffix)) return j;
    }
    return NULL;
}

int main(void) {
    CHECK(tmpdir_make("screen") == 0);
    char cmd[8192], out[65536];
    /* inputs: a directory with the olivine and a bad CIF, a record file of two 5-image records */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/in && cp examples/LiFePO4/LiFePO4.vasp %s/in/ && printf 'data_x\\n' > %s/in/bad.cif",
             tmpdir, tmpdir, tmpdir);
    CHECK(system(cmd) == 0);
    ih_structure_set all;
    CHECK(ih_read_json(shared_path("data/em/train.json"), &all) == 0);
    ih_structure two[2];
    int k = 0;
    for (int i = 0; i < all.n && k < 2; i++)
        if (all.items[i].z[0] == 3 && all.items[i].n_atoms <= 80) {
            /* hops shorter than --max-hop, so that both crystals have a network */
            double d[3], x[3];
            for (int c = 0; c < 3; c++) d[c] = all.items[i].frac[12 + c] - all.items[i].frac[c];
            ih_frac_to_cart(all.items[i].lattice, d, x);
            if (sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]) < 4.0) two[k++] = all.items[i];
        }
    CHECK_INT(k, 2);
    CHECK(ih_write_json(tmp_path("records.json"), two, 2) == 0);
    ih_structure_set_free(&all);

    snprintf(cmd, sizeof cmd, "%s screen %s/in %s --ion Li --max-hop 5 --out %s --csv %s", cli(), tmpdir,
             tmp_path("records.json"), tmp_path("a.json"), tmp_path("a.csv"));
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "screen: 1/4 ") && strstr(out, "screen: 4/4 ") && strstr(out, "4 structures (3 ok, 1 errors)"),
              "%s", out);
    char *text = ih_read_file(tmp_path("a.json"), NULL);
    cJSON *list = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(cJSON_IsArray(list) && cJSON_GetArraySize(list) == 4);
    /* the error row: named, with its reason, and the run went on */
    cJSON *bad = item_named(list, "bad.cif");
    CHECK(bad && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(bad, "status")), "error"));
    CHECK(bad && strstr(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(bad, "error")), "bad.cif"));
    /* the olivine: every hop (all symmetry copies) with class, image, em; percolation as predict says */
    cJSON *oli = item_named(list, "LiFePO4.vasp");
    CHECK(oli != NULL);
    if (oli) {
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(oli, "status")), "ok"));
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(oli, "error")));
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(oli, "formula")), "Li16Fe16P16O64"));
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(oli, "ion")), "Li"));
        cJSON *lat = cJSON_GetObjectItemCaseSensitive(oli, "lattice");
        CHECK(cJSON_GetArraySize(lat) == 3 && fabs(cJSON_GetArrayItem(cJSON_GetArrayItem(lat, 1), 1)->valuedouble - 11.94151) < 1e-5);
        cJSON *sites = cJSON_GetObjectItemCaseSensitive(oli, "sites");
        CHECK_INT(cJSON_GetArraySize(sites), 16);
        cJSON *hops = cJSON_GetObjectItemCaseSensitive(oli, "hops"), *h;
        CHECK_INT(cJSON_GetArraySize(hops), 64);
        int n_class0 = 0, ok = 1;
        cJSON_ArrayForEach(h, hops) {
            int from = cJSON_GetObjectItemCaseSensitive(h, "from")->valueint;
            int to = cJSON_GetObjectItemCaseSensitive(h, "to")->valueint;
            cJSON *img = cJSON_GetObjectItemCaseSensitive(h, "image");
            ok &= from >= 0 && from < 16 && to >= 0 && to < 16 && cJSON_GetArraySize(img) == 3;
            ok &= cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(h, "em")) &&
                  cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(h, "spread")) &&
                  cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(h, "length"));
            /* the hop's length from the sites, the image and the lattice */
            double d[3], x[3] = {0, 0, 0};
            for (int c = 0; c < 3; c++)
                d[c] = cJSON_GetArrayItem(cJSON_GetArrayItem(sites, to), c)->valuedouble + cJSON_GetArrayItem(img, c)->valueint -
                       cJSON_GetArrayItem(cJSON_GetArrayItem(sites, from), c)->valuedouble;
            for (int q = 0; q < 3; q++)
                for (int c = 0; c < 3; c++) x[c] += d[q] * cJSON_GetArrayItem(cJSON_GetArrayItem(lat, q), c)->valuedouble;
            double len = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
            ok &= fabs(len - cJSON_GetObjectItemCaseSensitive(h, "length")->valuedouble) < 1e-3;
            n_class0 += cJSON_GetObjectItemCaseSensitive(h, "class")->valueint == 0;
        }
        CHECK(ok);
        CHECK_INT(n_class0, 32);
        cJSON *perc = cJSON_GetObjectItemCaseSensitive(oli, "percolation");
        double b1 = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(perc, "1d"));
        CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(perc, "2d")) && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(perc, "3d")));
        snprintf(cmd, sizeof cmd, "%s predict examples/LiFePO4/LiFePO4.vasp --ion Li --max-hop 5", cli());
        CHECK_INT(run(cmd, out, sizeof out), 0);
        char want[64];
        snprintf(want, sizeof want, "1D: %.3f eV (good), along [0 1 0]", b1);
        CHECK_MSG(strstr(out, want) != NULL, "%s / %s", want, out);
        CHECK(strstr(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(oli, "verdict")), "good (1D") != NULL);
        /* the bundled model is calibrated: each class has its 90 % interval around Em and P(good) */
        cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(oli, "classes"), 0);
        double em = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c0, "em"));
        double lo = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c0, "low"));
        double hi = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c0, "high"));
        double pg = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c0, "p_good"));
        CHECK_MSG(lo >= 0 && lo < em && em < hi && pg > 0 && pg <= 1, "%g %g %g %g", lo, em, hi, pg);
        CHECK(cJSON_GetObjectItemCaseSensitive(c0, "outside_domain") == NULL);
    }
    /* predict's picture of the network: the atoms, then three X markers per drawn hop with its class */
    snprintf(cmd, sizeof cmd, "%s predict examples/LiFePO4/LiFePO4.vasp --ion Li --max-hop 5 --network %s", cli(),
             tmp_path("net.xyz"));
    CHECK_INT(run(cmd, out, sizeof out), 0);
    text = ih_read_file(tmp_path("net.xyz"), NULL);
    {
        int n_lines = 0, n_x = 0, declared = text ? atoi(text) : -1, classes_ok = 1;
        for (char *line = text; line && *line;) {
            char *nl = strchr(line, '\n');
            if (n_lines >= 2 && !strncmp(line, "X ", 2)) {
                n_x++;
                int c = atoi(strrchr(line, ' ') + 1);
                classes_ok &= c == 0 || c == 1;
            }
            n_lines++;
            line = nl ? nl + 1 : NULL;
        }
        CHECK_INT(declared, 112 + 3 * 64);
        CHECK_INT(n_x, 3 * 64);
        CHECK_INT(n_lines, declared + 2);
        CHECK(classes_ok && text && strstr(text, "Properties=species:S:1:pos:R:3:hop_class:I:1"));
    }
    free(text);
    /* record items: one per record, each the crystal of its path */
    CHECK(item_named(list, "records.json#1") && item_named(list, "records.json#2"));
    /* the CSV: a header and one row per structure */
    text = ih_read_file(tmp_path("a.csv"), NULL);
    const char *csv_head = "file,formula,ion,status,sites,classes,lowest_em,em_1d,em_2d,em_3d,verdict,error\n";
    CHECK(text && !strncmp(text, csv_head, strlen(csv_head)));
    int rows = 0;
    for (const char *p = text; p && *p; p++) rows += *p == '\n';
    CHECK_INT(rows, 5);
    free(text);
    CHECK(access(tmp_path("a.json.partial"), F_OK) != 0);

    /* an interrupted run: the progress file holds the first two results (and a cut third line);
     * the same command continues from it and ends with the same list */
    {
        char *full = ih_read_file(tmp_path("a.json"), NULL);
        cJSON *l = cJSON_Parse(full);
        /* the key line is the run's own: taken from a fresh progress file of the same command */
        snprintf(cmd, sizeof cmd, "%s screen %s/in %s --ion Li --max-hop 5 --out %s 2>&1 | head -1 >/dev/null; true",
                 cli(), tmpdir, tmp_path("records.json"), tmp_path("b.json"));
        CHECK(system(cmd) == 0);
        char *partial = ih_read_file(tmp_path("b.json.partial"), NULL);
        CHECK(partial != NULL);
        if (partial && l) {
            char *nl = strchr(partial, '\n');
            *nl = '\0';
            FILE *f = fopen(tmp_path("b.json.partial"), "w");
            fprintf(f, "%s\n", partial);
            for (int q = 0; q < 2; q++) {
                char *line = cJSON_PrintUnformatted(cJSON_GetArrayItem(l, q));
                fprintf(f, "%s\n", line);
                free(line);
            }
            fprintf(f, "{\"file\":\"cut");
            fclose(f);
            snprintf(cmd, sizeof cmd, "%s screen %s/in %s --ion Li --max-hop 5 --out %s", cli(), tmpdir,
                     tmp_path("records.json"), tmp_path("b.json"));
            CHECK_INT(run(cmd, out, sizeof out), 0);
            CHECK_MSG(strstr(out, "resuming, 2 of 4 structures already done") && strstr(out, "screen: 3/4") &&
                          !strstr(out, "screen: 1/4"), "%s", out);
            char *again = ih_read_file(tmp_path("b.json"), NULL);
            CHECK(again && !strcmp(again, full));
            free(again);
        }
        free(partial), free(full);
        cJSON_Delete(l);
    }
    /* a progress file of another run is refused, naming it */
    snprintf(cmd, sizeof cmd, "printf 'ionhop screen partial 0000000000000001\\n' > %s", tmp_path("c.json.partial"));
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s screen %s/in --ion Li --out %s", cli(), tmpdir, tmp_path("c.json"));
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "c.json.partial: written by a screen of other inputs or settings"), "%s", out);
    /* usage errors */
    snprintf(cmd, sizeof cmd, "%s screen %s/in", cli(), tmpdir);
    CHECK_INT(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s screen %s/in --ion Xx", cli(), tmpdir);
    CHECK_INT(run(cmd, out, sizeof out), 2);
    CHECK(strstr(out, "neither an element symbol nor auto") != NULL);
    snprintf(cmd, sizeof cmd, "%s screen %s/nothing --ion Li --out %s", cli(), tmpdir, tmp_path("d.json"));
    CHECK_INT(run(cmd, out, sizeof out), 0); /* a missing file is an error row, not a stop */
    text = ih_read_file(tmp_path("d.json"), NULL);
    CHECK(text && strstr(text, "\"status\":\t\"error\"") && strstr(text, "nothing"));
    free(text);

    cJSON_Delete(list);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0);
    return test_summary("test_cli_screen");
}
