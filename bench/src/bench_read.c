/* ionhop-bench read FILE ...: the time to read and check each structure file (parsing, symmetry
 * expansion, the overlap check), best of --repeat R. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

int bench_read(int argc, char **argv) {
    long repeat = 3;
    int n_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = cli_take(argc, argv, &i, "--repeat", &v);
        if (r) {
            if (r < 0 || cli_parse_long("--repeat", v, 1, 100, &repeat)) return 2;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("usage: ionhop-bench read FILE ... [--repeat R]");
        } else {
            n_files++;
        }
    }
    if (!n_files) return cli_usage_error("usage: ionhop-bench read FILE ... [--repeat R]");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat")) {
            i++;
            continue;
        }
        double best = 1e30;
        int atoms = 0;
        for (long k = 0; k < repeat; k++) {
            ih_structure_set set;
            double t0 = ih_now();
            if (ih_read_structures(argv[i], IH_FMT_UNKNOWN, &set) != 0) return cli_fail();
            double t = ih_now() - t0;
            if (t < best) best = t;
            atoms = set.n ? set.items[0].n_atoms : 0;
            ih_structure_set_free(&set);
        }
        printf("%-40s %8d atoms  %9.4f s\n", argv[i], atoms, best);
    }
    return 0;
}
