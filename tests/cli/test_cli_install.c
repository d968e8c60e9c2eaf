/* Where the tool finds its default model: installed under PREFIX (bin/ionhop beside
 * share/ionhop/models/), copied anywhere (the build tree it was built in), $IONHOP_MODEL, --model;
 * and a clear error when the model named does not exist. Runs $IONHOP_CLI from another directory. */
#include "check.h"
#include "cli_util.h"
#include "tmpdir.h"

#include <limits.h>
#include <unistd.h>

int main(void) {
    CHECK(tmpdir_make("install") == 0);
    char cli_abs[PATH_MAX], repo[PATH_MAX], cmd[8192], out[16384];
    CHECK(realpath(cli(), cli_abs) != NULL);
    CHECK(getcwd(repo, sizeof repo) != NULL);
    char ini[PATH_MAX + 64], fin[PATH_MAX + 64];
    snprintf(ini, sizeof ini, "%.1000s/examples/LiFePO4_hop/initial.vasp", repo);
    snprintf(fin, sizeof fin, "%.1000s/examples/LiFePO4_hop/final.vasp", repo);

    /* an installed layout: PREFIX/bin/ionhop and PREFIX/share/ionhop/models/default.ionhop */
    snprintf(cmd, sizeof cmd,
             "mkdir -p %.1000s/bin %.1000s/share/ionhop/models && cp %.1000s %.1000s/bin/ionhop && "
             "cp models/default.ionhop %.1000s",
             tmpdir, tmpdir, cli_abs, tmpdir, tmp_path("share/ionhop/models/"));
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "cd / && %.1000s/bin/ionhop predict --initial %.1000s --final %.1000s", tmpdir, ini, fin);
    CHECK(run(cmd, out, sizeof out) == 0);
    char want[2200];
    snprintf(want, sizeof want, "model:  %.1000s/share/ionhop/models/default.ionhop", tmpdir);
    CHECK_MSG(strstr(out, want) != NULL, "%.1000s", out);
    CHECK(strstr(out, "Em:     0.246 eV") != NULL);

    /* copied alone, away from any share/ folder: the models of the tree it was built in */
    char alone[64] = "/tmp/ionhop-test-alone-XXXXXX";
    CHECK(mkdtemp(alone) != NULL);
    snprintf(cmd, sizeof cmd, "cp %.1000s %.1000s/ionhop && cd / && %.1000s/ionhop predict --initial %.1000s --final %.1000s",
             cli_abs, alone, alone, ini, fin);
    CHECK(run(cmd, out, sizeof out) == 0);
    snprintf(want, sizeof want, "model:  %.1000s/models/default.ionhop", repo);
    CHECK_MSG(strstr(out, want) != NULL, "%.1000s", out);

    /* $IONHOP_MODEL overrides both, --model overrides it */
    snprintf(cmd, sizeof cmd, "cd / && IONHOP_MODEL=%.1000s/nosuch.ionhop %.1000s/bin/ionhop predict --initial %.1000s --final %.1000s",
             tmpdir, tmpdir, ini, fin);
    CHECK(run(cmd, out, sizeof out) == 1);
    CHECK_MSG(one_line_error(out, "nosuch.ionhop: cannot open"), "%.1000s", out);
    snprintf(cmd, sizeof cmd,
             "cd / && IONHOP_MODEL=%.1000s/nosuch.ionhop %.1000s/bin/ionhop predict --model %.1000s/models/default.ionhop "
             "--initial %.1000s --final %.1000s",
             tmpdir, tmpdir, repo, ini, fin);
    CHECK(run(cmd, out, sizeof out) == 0);

    /* the README's C example, compiled against the library the tool was built with (the
     * sanitizer build's needs its flags) and run from the repository root: it prints what it says */
    char lib[PATH_MAX + 32];
    snprintf(lib, sizeof lib, "%.1000s", cli_abs);
    *strrchr(lib, '/') = '\0';
    int san = strstr(lib, "build-san") != NULL;
    strcat(lib, "/libionhop.a");
    snprintf(cmd, sizeof cmd,
             "awk '/^```c$/{f=1;next} /^```$/{f=0} f' README.md > %.1000s/readme_example.c && "
             "printf '#include \"ionhop.h\"\\n#include <stdio.h>\\nint main(void) {\\n#include \"readme_example.c\"\\n"
             "return 0;\\n}\\n' > %.1000s/readme_main.c && "
             "cc -std=c11 -Wall -Wextra -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-pthread %s %.1000s/readme_main.c "
             "%.1000s -lopenblas -lsymspg -lcjson -lz -lm -fopenmp -o %.1000s/readme_example && %.1000s/readme_example",
             tmpdir, tmpdir, san ? "-fsanitize=address,undefined" : "", tmpdir, lib, tmpdir, tmpdir);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "0.246 eV (90 %: 0.00-0.52)") != NULL, "%.1000s", out);
    CHECK_MSG(strstr(out, "warning") == NULL, "%.1000s", out);

    snprintf(cmd, sizeof cmd, "rm -rf %.1000s %.1000s", tmpdir, alone);
    CHECK(system(cmd) == 0);
    return test_summary("test_cli_install");
}
