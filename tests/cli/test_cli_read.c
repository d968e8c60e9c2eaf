/* Structure files on the command line: `--block NAME` on predict (STRUCTURE and --initial/--final)
 * and screen, the warning when a CIF holds several structures and no block is named, refused block
 * names (missing, or for a file that is not a CIF), gzip-compressed CIFs in a screened directory.
 * Small rock-salt LiCl cells keep the predictions quick. Runs $IONHOP_CLI. */
#include "check.h"
#include "cli_util.h"
#include "tmpdir.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <zlib.h>

#define MODEL "models/default.ionhop"

static const char *META = "data_meta\n_journal_name_full 'J. Solid State Chem.'\n";

/* rock-salt LiCl (named group, 8 atoms) in a block of that name, cell length a */
static void licl_block(char *buf, size_t cap, const char *block, double a) {
    snprintf(buf, cap,
             "data_%s\n_cell_length_a %g\n_cell_length_b %g\n_cell_length_c %g\n_cell_angle_alpha 90\n"
             "_cell_angle_beta 90\n_cell_angle_gamma 90\n_symmetry_space_group_name_H-M 'F m -3 m'\nloop_\n"
             "_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\nLi1 0 0 0\nCl1 0.5 0.5 0.5\n",
             block, a, a, a);
}

/* a vacancy hop in P1 LiCl: Li on three of the four fcc sites, the fourth empty (moved: from
 * (0,0,0) into it) */
static void hop_block(char *buf, size_t cap, const char *block, int moved) {
    snprintf(buf, cap,
             "data_%s\n_cell_length_a 5.13\n_cell_length_b 5.13\n_cell_length_c 5.13\n_cell_angle_alpha 90\n"
             "_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n_atom_site_label\n_atom_site_fract_x\n"
             "_atom_site_fract_y\n_atom_site_fract_z\nLi1 %s\nLi2 0.5 0.5 0\nLi3 0.5 0 0.5\nCl1 0.5 0.5 0.5\n"
             "Cl2 0 0 0.5\nCl3 0 0.5 0\nCl4 0.5 0 0\n",
             block, moved ? "0 0.5 0.5" : "0 0 0");
}

static void write_file(const char *path, const char *a, const char *b, const char *c) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fprintf(f, "%s%s%s", a, b ? b : "", c ? c : "");
    fclose(f);
}

/* the hop table and percolation lines of `predict STRUCTURE --ion Li` (what follows the header) */
static const char *table_of(const char *out) {
    const char *t = strstr(out, "   from");
    return t ? t : "(no table)";
}

static double em_of(const char *out) {
    const char *e = strstr(out, "Em:");
    return e ? atof(e + 3) : -1;
}

static cJSON *load_json(const char *path) {
    char *text = ih_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

/* the row of the file ending in `suffix`: its status and lowest class Em (or NaN) */
static const char *row_status(cJSON *list, const char *suffix, double *em, const char **error) {
    cJSON *j;
    *em = NAN;
    *error = NULL;
    cJSON_ArrayForEach(j, list) {
        const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "file"));
        if (!f || strlen(f) < strlen(suffix) || strcmp(f + strlen(f) - strlen(suffix), suffix)) continue;
        cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "classes"), 0);
        if (c) *em = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "em"));
        *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error"));
        return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status"));
    }
    return "(missing)";
}

int main(void) {
    CHECK(tmpdir_make("read") == 0);
    static char a[1024], b[1024], ini[1024], fin[1024], cmd[8192], out[65536], want[65536];
    licl_block(a, sizeof a, "licl_a", 5.13);
    licl_block(b, sizeof b, "licl_b", 5.6);
    write_file(tmp_path("two.cif"), META, a, b);
    write_file(tmp_path("a.cif"), a, NULL, NULL);
    write_file(tmp_path("b.cif"), b, NULL, NULL);

    /* no --block: the first structure, with a warning naming the count and the block read */
    snprintf(cmd, sizeof cmd, "%s predict --model %s %s --ion Li --max-hop 4", cli(), MODEL, tmp_path("a.cif"));
    CHECK_INT(run(cmd, want, sizeof want), 0);
    CHECK_MSG(!strstr(want, "warning: "), "%s", want);
    snprintf(cmd, sizeof cmd, "%s predict --model %s %s --ion Li --max-hop 4", cli(), MODEL, tmp_path("two.cif"));
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "ionhop: warning: ") && strstr(out, "two.cif: 2 data blocks hold atom sites; read the first, data_licl_a"),
              "%s", out);
    CHECK_MSG(!strcmp(table_of(out), table_of(want)), "%s\nvs\n%s", out, want);
    /* --block: that block, no warning; another cell, other barriers */
    snprintf(cmd, sizeof cmd, "%s predict --model %s %s --ion Li --max-hop 4", cli(), MODEL, tmp_path("b.cif"));
    CHECK_INT(run(cmd, want, sizeof want), 0);
    snprintf(cmd, sizeof cmd, "%s predict --model %s %s --block LICL_B --ion Li --max-hop 4", cli(), MODEL, tmp_path("two.cif"));
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(!strstr(out, "warning: "), "%s", out);
    CHECK_MSG(!strcmp(table_of(out), table_of(want)), "%s\nvs\n%s", out, want);
    snprintf(cmd, sizeof cmd, "%s predict --model %s %s --block licl_a --ion Li --max-hop 4", cli(), MODEL, tmp_path("two.cif"));
    static char out_a[65536];
    CHECK_INT(run(cmd, out_a, sizeof out_a), 0);
    CHECK_MSG(strcmp(table_of(out_a), table_of(out)) != 0, "blocks licl_a and licl_b gave the same table");
    /* a missing block: one line listing the blocks */
    snprintf(cmd, sizeof cmd, "%s predict --model %s %s --block nope --ion Li", cli(), MODEL, tmp_path("two.cif"));
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "two.cif: no data block 'nope'; the file has data_meta, data_licl_a, data_licl_b (3 blocks)"),
              "%s", out);
    /* a block name for a POSCAR, or with --data: refused */
    snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4_hop/initial.vasp --block x --ion 1 --to \"0.5 0.5 0.5\"",
             cli(), MODEL);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "initial.vasp: not a CIF file, so it has no data block 'x'"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s predict --model %s --data %s --block x", cli(), MODEL, tmp_path("two.cif"));
    CHECK_INT(run(cmd, out, sizeof out), 2);
    CHECK_MSG(one_line_error(out, "--block goes with STRUCTURE or --initial/--final"), "%s", out);

    /* --initial/--final: the same block of each file (here the second of one and the first of the
     * other) gives the hop of the single-block files */
    hop_block(ini, sizeof ini, "hop", 0);
    hop_block(fin, sizeof fin, "hop", 1);
    write_file(tmp_path("ini.cif"), ini, NULL, NULL);
    write_file(tmp_path("fin.cif"), fin, NULL, NULL);
    snprintf(cmd, sizeof cmd, "%s predict --model %s --initial %s --final %s", cli(), MODEL, tmp_path("ini.cif"),
             tmp_path("fin.cif"));
    CHECK_INT(run(cmd, want, sizeof want), 0);
    hop_block(a, sizeof a, "other", 1);
    write_file(tmp_path("ini2.cif"), a, ini, NULL);
    hop_block(a, sizeof a, "other", 0);
    write_file(tmp_path("fin2.cif"), fin, a, NULL);
    snprintf(cmd, sizeof cmd, "%s predict --model %s --initial %s --final %s --block hop", cli(), MODEL,
             tmp_path("ini2.cif"), tmp_path("fin2.cif"));
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(em_of(out) > 0 && em_of(out) == em_of(want), "%s\nvs\n%s", out, want);
    /* without it, the first blocks, each with its warning (both the final structure: no hop) */
    snprintf(cmd, sizeof cmd, "%s predict --model %s --initial %s --final %s", cli(), MODEL, tmp_path("ini2.cif"),
             tmp_path("fin2.cif"));
    CHECK(run(cmd, out, sizeof out) != 0);
    CHECK_MSG(strstr(out, "ini2.cif: 2 data blocks hold atom sites; read the first, data_other") &&
                  strstr(out, "fin2.cif: 2 data blocks hold atom sites; read the first, data_hop"),
              "%s", out);

    /* screen: a directory with a gzip-compressed two-block CIF and a POSCAR of block licl_b */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/in", tmpdir);
    CHECK(system(cmd) == 0);
    char *text = ih_read_file(tmp_path("two.cif"), NULL);
    char gz[512];
    snprintf(gz, sizeof gz, "%s/in/two.cif.gz", tmpdir);
    gzFile g = gzopen(gz, "wb");
    CHECK(text && g && gzputs(g, text) == (int)strlen(text));
    if (g) gzclose(g);
    free(text);
    ih_structure s;
    CHECK(ih_read_cif(tmp_path("b.cif"), &s) == 0);
    char poscar[512];
    snprintf(poscar, sizeof poscar, "%s/in/POSCAR_b", tmpdir);
    CHECK(s.z && ih_write_poscar(poscar, &s) == 0);
    if (s.z) ih_structure_free(&s);
    double em_gz, em_poscar, em_gz_b;
    const char *err;
    snprintf(cmd, sizeof cmd, "%s screen %s/in --ion Li --max-hop 4 --model %s --out %s", cli(), tmpdir, MODEL,
             tmp_path("all.json"));
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "two.cif.gz: 2 data blocks hold atom sites; read the first, data_licl_a"), "%s", out);
    cJSON *list = load_json(tmp_path("all.json"));
    CHECK(cJSON_GetArraySize(list) == 2);
    CHECK(!strcmp(row_status(list, "two.cif.gz", &em_gz, &err), "ok"));
    CHECK(!strcmp(row_status(list, "POSCAR_b", &em_poscar, &err), "ok"));
    cJSON_Delete(list);
    snprintf(cmd, sizeof cmd, "%s screen %s/in --ion Li --max-hop 4 --model %s --out %s --block licl_b", cli(), tmpdir,
             MODEL, tmp_path("b.json"));
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(!strstr(out, "warning"), "%s", out);
    list = load_json(tmp_path("b.json"));
    CHECK(cJSON_GetArraySize(list) == 2);
    CHECK(!strcmp(row_status(list, "two.cif.gz", &em_gz_b, &err), "ok"));
    /* block licl_b is the crystal of POSCAR_b, not licl_a */
    CHECK_MSG(fabs(em_gz_b - em_poscar) < 1e-4 && fabs(em_gz_b - em_gz) > 1e-3, "%g %g %g", em_gz_b, em_poscar, em_gz);
    CHECK(!strcmp(row_status(list, "POSCAR_b", &em_poscar, &err), "error") && err &&
          strstr(err, "POSCAR_b: not a CIF file, so it has no data block 'licl_b'"));
    cJSON_Delete(list);

    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0);
    return test_summary("test_cli_read");
}
