/* Periodic table and CGCNN feature table (docs/method.md §3, Appendix A). */
#include "check.h"
#include "ionhop.h"

int main(void) {
    CHECK_INT(ih_element_z("H"), 1);
    CHECK_INT(ih_element_z("Li"), 3);
    CHECK_INT(ih_element_z("Fm"), 100);
    CHECK_INT(ih_element_z("Lr"), 103);
    CHECK_INT(ih_element_z("Xx"), 0);
    CHECK_INT(ih_element_z("li"), 0);
    CHECK_INT(ih_element_z(""), 0);
    CHECK(strcmp(ih_element_symbol(26), "Fe") == 0);
    CHECK(ih_element_symbol(0) == NULL);
    CHECK(ih_element_symbol(104) == NULL);

    /* Every row has 6-9 ones, at most one per block; 69 rows have 9 (Appendix A check). */
    static const int block_start[] = {0, 19, 26, 36, 46, 58, 68, 78, 82, 92};
    int nine = 0;
    float f[IH_N_ATOM_FEATURES];
    for (int z = 1; z <= 100; z++) {
        CHECK(ih_atom_features(z, f) == 0);
        int ones = 0;
        for (int b = 0; b < 9; b++) {
            int in_block = 0;
            for (int k = block_start[b]; k < block_start[b + 1]; k++) in_block += f[k] == 1.0f;
            CHECK_MSG(in_block <= 1, "Z=%d block %d", z, b);
            ones += in_block;
        }
        for (int k = 0; k < IH_N_ATOM_FEATURES; k++) CHECK(f[k] == 0.0f || f[k] == 1.0f);
        CHECK_MSG(ones >= 6 && ones <= 9, "Z=%d has %d ones", z, ones);
        nine += ones == 9;
    }
    CHECK_INT(nine, 69);
    /* spot rows: Li = 1,20,27,40,46,59,73,78,85 */
    CHECK(ih_atom_features(3, f) == 0);
    static const int li[] = {1, 20, 27, 40, 46, 59, 73, 78, 85};
    float sum = 0;
    for (int k = 0; k < 92; k++) sum += f[k];
    CHECK_NEAR(sum, 9, 0);
    for (int k = 0; k < 9; k++) CHECK(f[li[k]] == 1.0f);
    /* Z >= 101 uses Fm's row; identical rows for La/Ce */
    float g[IH_N_ATOM_FEATURES];
    ih_atom_features(103, f);
    ih_atom_features(100, g);
    CHECK(memcmp(f, g, sizeof f) == 0);
    ih_atom_features(57, f);
    ih_atom_features(58, g);
    CHECK(memcmp(f, g, sizeof f) == 0);
    CHECK(ih_atom_features(0, f) == -1);
    CHECK(ih_atom_features(104, f) == -1);
    return test_summary("test_elements");
}
