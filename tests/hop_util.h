/* Test helper: small synthetic 5-image hop records (docs/method.md §1.3), so that training tests on every
 * arch stay fast under the sanitizers. Rock-salt NaCl conventional cells (a = 5.2 Å + 0.2 Å·k)
 * with the Na at (½ ½ 0) removed; the Na at the origin hops into that vacancy: 5 images + 3 Na
 * + 4 Cl = 12 sites (the smallest record of the shared data has 33). */
#ifndef IH_TEST_HOP_UTIL_H
#define IH_TEST_HOP_UTIL_H
#include <stdio.h>
#include <string.h>

#include "ionhop.h"

static inline int hop_records_write(const char *path, int n) {
    static const double na[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    static const double cl[4][3] = {{0.5, 0, 0}, {0, 0.5, 0}, {0, 0, 0.5}, {0.5, 0.5, 0.5}};
    ih_structure recs[16];
    if (n < 1 || n > 16) return -1;
    for (int k = 0; k < n; k++) {
        ih_structure ini;
        if (ih_structure_init(&ini, 7) != 0) return -1;
        double a = 5.2 + 0.2 * k;
        for (int r = 0; r < 3; r++) ini.lattice[r][r] = a;
        int m = 0;
        for (int i = 0; i < 4; i++) {
            if (i == 1) continue; /* the vacancy the ion hops into */
            ini.z[m] = 11;
            memcpy(ini.frac + 3 * m, na[i], sizeof na[i]);
            m++;
        }
        for (int i = 0; i < 4; i++, m++) {
            ini.z[m] = 17;
            memcpy(ini.frac + 3 * m, cl[i], sizeof cl[i]);
        }
        int rc = ih_path_5image(&ini, 0, na[1], &recs[k]);
        ih_structure_free(&ini);
        if (rc != 0) return -1;
        snprintf(recs[k].jid, sizeof recs[k].jid, "%d", k);
        snprintf(recs[k].sys_name, sizeof recs[k].sys_name, "NaCl%d_1", k);
        snprintf(recs[k].klass, sizeof recs[k].klass, "ROCKSALT");
        recs[k].has_target = 1;
        recs[k].target = 0.3 + 0.25 * k;
    }
    int rc = ih_write_json(path, recs, n);
    for (int k = 0; k < n; k++) ih_structure_free(&recs[k]);
    return rc;
}
#endif
