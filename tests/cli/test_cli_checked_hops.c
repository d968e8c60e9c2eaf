/* ionhop predict on hops that need a second look, end to end: end points that differ by more than
 * the moving ion (an atom moved, a larger cell: predicted with a warning; a much larger cell, other
 * atoms: refused), destinations close to an atom (refused, or a warning), and a destination on the
 * ion's own periodic image (predicted in a supercell, with a warning). Files are written here from
 * the bundled example. Runs $IONHOP_CLI (make test sets it) with the bundled default model. */
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "cli_util.h"
#include "ionhop.h"

#define INI "examples/LiFePO4_hop/initial.vasp"
#define FIN "examples/LiFePO4_hop/final.vasp"

static double predicted_em(const char *out) {
    const char *e = strstr(out, "Em:");
    double v = NAN;
    if (e) sscanf(e, "Em: %lf", &v);
    return v;
}

/* how many lines of out start with `prefix` */
static int lines_starting(const char *out, const char *prefix) {
    int n = 0;
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += !strncmp(p, prefix, strlen(prefix));
    return n;
}

int main(void) {
    char dir[] = "/tmp/ionhop-cli-checked-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cmd[4096], path[512];
    static char out[1 << 16];
    ih_structure fin, s;
    CHECK(ih_read_structure(FIN, IH_FMT_UNKNOWN, &fin) == 0);

    snprintf(cmd, sizeof cmd, "%s predict --initial " INI " --final " FIN, cli());
    CHECK_INT(run(cmd, out, sizeof out), 0);
    double em = predicted_em(out);
    CHECK(isfinite(em) && !strstr(out, "warning"));

    /* atom 61 (O) moved by 1 Å along a: predicted, with one warning naming it */
    CHECK(ih_structure_copy(&s, &fin) == 0);
    s.frac[3 * 60] += 1.0 / fin.lattice[0][0];
    snprintf(path, sizeof path, "%s/moved.vasp", dir);
    CHECK(ih_write_poscar(path, &s) == 0);
    ih_structure_free(&s);
    snprintf(cmd, sizeof cmd, "%s predict --initial " INI " --final %s", cli(), path);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_INT(lines_starting(out, "ionhop: warning: "), 1);
    CHECK_MSG(strstr(out, "ionhop: warning: " INI ", ") && strstr(out, "moved.vasp: besides the hopping Li (atom 1), "
                                                                      "atom 61 (O) moves 1.00 Å between the end points"),
              "%s", out);
    CHECK_NEAR(predicted_em(out), em, 0.0);

    /* the final cell 2 % larger: a warning; 20 % larger: refused */
    CHECK(ih_structure_copy(&s, &fin) == 0);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) s.lattice[r][c] *= 1.02;
    snprintf(path, sizeof path, "%s/larger.vasp", dir);
    CHECK(ih_write_poscar(path, &s) == 0);
    snprintf(cmd, sizeof cmd, "%s predict --initial " INI " --final %s", cli(), path);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "larger.vasp: the end points' cells differ by more than 0.5 %: a +2.00 % (9.310 to 9.496 Å), "
                          "b +2.00 %") &&
                  lines_starting(out, "ionhop: warning: ") == 1,
              "%s", out);
    CHECK_NEAR(predicted_em(out), em, 0.0);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) s.lattice[r][c] = fin.lattice[r][c] * 1.2;
    CHECK(ih_write_poscar(path, &s) == 0);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "larger.vasp: the end points' cells differ by more than 10 % (a +20.0 %, b +20.0 %, "
                                  "c +20.0 %): not two states of one cell"),
              "%s", out);
    ih_structure_free(&s);

    /* a Li of the final state written as Na: refused */
    CHECK(ih_structure_copy(&s, &fin) == 0);
    s.z[3] = 11;
    snprintf(path, sizeof path, "%s/sodium.vasp", dir);
    CHECK(ih_write_poscar(path, &s) == 0);
    ih_structure_free(&s);
    snprintf(cmd, sizeof cmd, "%s predict --initial " INI " --final %s", cli(), path);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "the end points hold different atoms: 15 Li in one, 14 in the other"), "%s", out);

    /* --to 0.32 Å from O atom 61 (at 0.1276067 0.875 0.9057694, c = 10.2361965 Å): refused;
     * 1.0 Å from it: a warning */
    double o_z = 0.90576935, c = 10.2361965179;
    snprintf(cmd, sizeof cmd, "%s predict " INI " --ion 1 --to \"0.12760672 0.875 %.9f\"", cli(), o_z + 0.32 / c);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "is 0.32 Å from atom 61 (O): no site is that close to another atom"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s predict " INI " --ion 1 --to \"0.12760672 0.875 %.9f\"", cli(), o_z + 1.0 / c);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "ionhop: warning: " INI ": the destination of atom 1 is 1.00 Å from atom 61 (O)") &&
                  isfinite(predicted_em(out)),
              "%s", out);

    /* the ion's own image one cell along a: predicted in a supercell, said so; its own site: no hop */
    snprintf(cmd, sizeof cmd, "%s predict " INI " --ion 1 --to \"1.75 0.5 0.5\"", cli());
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "ionhop: warning: " INI ": the destination of atom 1 (Li) is its own periodic image [1 0 0], "
                          "9.31 Å away: this cell is too small") &&
                  strstr(out, "in a 3x1x1 supercell") && strstr(out, "to (1.7500 0.5000 0.5000), 9.31 Å") &&
                  isfinite(predicted_em(out)),
              "%s", out);
    snprintf(cmd, sizeof cmd, "%s predict " INI " --ion 1 --to \"0.75 0.5 0.5\"", cli());
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "the destination is where atom 1 already is"), "%s", out);

    ih_structure_free(&fin);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return test_summary("test_cli_checked_hops");
}
