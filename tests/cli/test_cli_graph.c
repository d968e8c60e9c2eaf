/* `ionhop graph`, `ionhop-bench graph` and `ionhop-bench train` end to end: output on a small
 * record file, and the exit codes and one-line messages for bad input. Runs $IONHOP_CLI (make test sets it). */
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cli_util.h"
#include "core/util.h"

int main(void) {
    char dir[] = "/tmp/ionhop-cli-graph-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char json[256], bad[256], cmd[1024];
    static char out[1 << 16];
    snprintf(json, sizeof json, "%s/two.json", dir);
    snprintf(bad, sizeof bad, "%s/flat.json", dir);
    /* CsCl (§10.4) and a 1-atom fcc cell (12 self-image neighbours) */
    const char *text =
        "[{\"jid\": \"cscl\", \"atoms\": {\"lattice_mat\": [[4, 0, 0], [0, 4, 0], [0, 0, 4]],"
        " \"coords\": [[0, 0, 0], [0.5, 0.5, 0.5]], \"elements\": [\"Cs\", \"Cl\"], \"cartesian\": false}},"
        " {\"jid\": \"fcc\", \"atoms\": {\"lattice_mat\": [[0, 2, 2], [2, 0, 2], [2, 2, 0]],"
        " \"coords\": [[0, 0, 0]], \"elements\": [\"Cu\"], \"cartesian\": false}}]";
    CHECK(ih_write_file_atomic(json, text, strlen(text)) == 0);
    const char *flat = "[{\"jid\": \"flat\", \"atoms\": {\"lattice_mat\": [[4, 0, 0], [0, 4, 0], [4, 4, 0]],"
                       " \"coords\": [[0, 0, 0]], \"elements\": [\"Cu\"], \"cartesian\": false}}]";
    CHECK(ih_write_file_atomic(bad, flat, strlen(flat)) == 0);

    snprintf(cmd, sizeof cmd, "%s graph %s", cli(), json);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    /* CsCl: 2 atoms, 56 edges, 1544 triplets, 24 self-loop edges, in-degree 28, cutoff 8 */
    CHECK_MSG(strstr(out, "jid cscl") && strstr(out, "56") && strstr(out, "1544") && strstr(out, "28-28"), "%s", out);
    /* fcc: 12 neighbours, all self-images: 24 loop edges, T = 24² − 24 */
    CHECK_MSG(strstr(out, "jid fcc") && strstr(out, "552") && strstr(out, "24-24"), "%s", out);
    CHECK_MSG(strstr(out, "total: 2 structures, 3 atoms, 80 edges, 2096 triplets, 48 self-loop edges"), "%s", out);

    snprintf(cmd, sizeof cmd, "%s graph %s --canonical --cutoff 3", cli(), json);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "canonical keys") && strstr(out, "776") && strstr(out, "; 1 needed a larger cutoff"), "%s", out);

    /* --tie-tol: the bundled LiFePO4 cell has degenerate 12th shells that the exact comparison
     * splits; a tolerance keeps them whole (more edges) */
    snprintf(cmd, sizeof cmd, "%s graph examples/LiFePO4_hop/initial.vasp", cli());
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, " 2676 ") && !strstr(out, "ties within"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s graph examples/LiFePO4_hop/initial.vasp --tie-tol 1e-3", cli());
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, " 2712 ") && strstr(out, "ties within 0.001 Å"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s graph examples/LiFePO4_hop/initial.vasp --tie-tol -1", cli());
    CHECK_INT(run(cmd, out, sizeof out), 2);

    snprintf(cmd, sizeof cmd, "%s graph --data %s --threads 1", bench_cli(), json);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "structures/s") && strstr(out, "ΣN 3  ΣE 80  ΣT 2096") && strstr(out, "peak RSS"), "%s", out);

    /* bad input: exit 1 with one "ionhop: FILE: ..." line; usage errors exit 2 */
    snprintf(cmd, sizeof cmd, "%s graph %s", cli(), bad);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(strncmp(out, "ionhop: ", 8) == 0 && strstr(out, "flat.json") && strstr(out, "degenerate") &&
                  strchr(out, '\n') == out + strlen(out) - 1, "%s", out);
    snprintf(cmd, sizeof cmd, "%s graph %s/missing.json", cli(), dir);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(strstr(out, "ionhop: ") && strstr(out, "missing.json"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s graph %s --k zero", cli(), json);
    CHECK_INT(run(cmd, out, sizeof out), 2);
    CHECK_MSG(strstr(out, "--k"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s graph", bench_cli());
    CHECK_INT(run(cmd, out, sizeof out), 2);
    CHECK_MSG(strstr(out, "--data"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s nosuch", bench_cli());
    CHECK_INT(run(cmd, out, sizeof out), 2);

    /* bench train on two records at a tiny width: timed steps train (the loss of the repeated
     * batch falls), both inference timings print; bad values are usage errors */
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s train --data %s --jids 9,22 --hidden 8 --steps 3 --infer 1", bench_cli(), shared_path("data/em/train.json"));
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "2 structures") && strstr(out, "train step: best") &&
                  strstr(out, "inference one structure at a time"),
              "%s", out);
    {
        double first = NAN, last = NAN, loss;
        for (const char *q = strstr(out, "step 0"); q; q = strstr(q + 1, "\nstep ")) {
            const char *l = strstr(q, "loss ");
            if (l && sscanf(l, "loss %lf", &loss) == 1) {
                if (isnan(first)) first = loss;
                last = loss;
            }
        }
        CHECK_MSG(last < first, "bench train loss %g -> %g", first, last);
    }
    snprintf(cmd, sizeof cmd, "%s train --steps 300", bench_cli());
    CHECK_INT(run(cmd, out, sizeof out), 2);
    CHECK_MSG(strstr(out, "--steps"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s train --data %s --jids 9,nosuch --hidden 8", bench_cli(),
             shared_path("data/em/train.json"));
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(strstr(out, "no record with jid nosuch"), "%s", out);

    remove(json);
    remove(bad);
    rmdir(dir);
    return test_summary("test_cli_graph");
}
