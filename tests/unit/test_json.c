/* JSON record reader: the shared Em file and bad-input cases. */
#include "check.h"
#include "ionhop_train.h"

#include <unistd.h>

static int parse_fails(const char *text, const char *needle) {
    ih_structure_set set;
    int rc = ih_parse_json(text, "bad.json", &set);
    if (rc == 0) {
        ih_structure_set_free(&set);
        fprintf(stderr, "accepted: %s\n", text);
        return 0;
    }
    const char *e = ih_last_error();
    int ok = strstr(e, "bad.json") != NULL && strstr(e, needle) != NULL && !strchr(e, '\n');
    if (!ok) fprintf(stderr, "message '%s' lacks '%s'\n", e, needle);
    return ok;
}

int main(void) {
    ih_structure_set set;
    CHECK(ih_read_json(shared_path("data/em/train.json"), &set) == 0);
    CHECK_INT(set.n, 559);
    if (set.n == 559) {
        double tmin = 1e9, tmax = -1e9, tsum = 0;
        int amin = 1 << 30, amax = 0;
        for (int i = 0; i < set.n; i++) {
            const ih_structure *s = &set.items[i];
            CHECK(s->has_target);
            tmin = s->target < tmin ? s->target : tmin;
            tmax = s->target > tmax ? s->target : tmax;
            tsum += s->target;
            amin = s->n_atoms < amin ? s->n_atoms : amin;
            amax = s->n_atoms > amax ? s->n_atoms : amax;
            char want[16];
            snprintf(want, sizeof want, "%d", i);
            CHECK(strcmp(s->jid, want) == 0);
            CHECK(s->cart == NULL);
            /* sites 0-4 are the same element, equally spaced on a line (docs/method.md §1.3) */
            for (int k = 1; k < 5; k++) {
                CHECK(s->z[k] == s->z[0]);
                for (int c = 0; c < 3; c++) {
                    double d01 = s->frac[3 + c] - s->frac[c];
                    double dk = s->frac[3 * k + c] - s->frac[3 * (k - 1) + c];
                    CHECK_NEAR(dk, d01, 1e-6);
                }
            }
        }
        CHECK_NEAR(tmin, 0.0035, 1e-9);
        CHECK_NEAR(tmax, 8.77, 1e-9);
        CHECK_NEAR(tsum / set.n, 0.8441, 5e-5);
        CHECK_INT(amin, 33);
        CHECK_INT(amax, 1027);
        CHECK(strcmp(set.items[7].sys_name, "e-VOPO4_Na_1") == 0);
        /* writing and reading back is bit-exact (graph ties depend on the last bit) */
        char path[64];
        snprintf(path, sizeof path, "/tmp/ih_test_json_%d.json", (int)getpid());
        CHECK(ih_write_json(path, &set.items[295], 10) == 0);
        ih_structure_set back;
        CHECK(ih_read_json(path, &back) == 0);
        CHECK_INT(back.n, 10);
        for (int r = 0; r < back.n && r < 10; r++) {
            const ih_structure *a = &set.items[295 + r], *b = &back.items[r];
            CHECK(memcmp(a->lattice, b->lattice, sizeof a->lattice) == 0);
            CHECK(a->n_atoms == b->n_atoms);
            if (a->n_atoms == b->n_atoms) {
                CHECK(memcmp(a->frac, b->frac, 3 * sizeof(double) * a->n_atoms) == 0);
                CHECK(memcmp(a->z, b->z, sizeof(int) * a->n_atoms) == 0);
            }
            CHECK(a->target == b->target && strcmp(a->jid, b->jid) == 0 &&
                  strcmp(a->sys_name, b->sys_name) == 0 && strcmp(a->klass, b->klass) == 0);
        }
        ih_structure_set_free(&back);
        remove(path);
    }
    ih_structure_set_free(&set);

    /* Cartesian input: positions kept, fractional derived */
    const char *cart = "[{\"jid\":\"c1\",\"atoms\":{\"lattice_mat\":[[4,0,0],[0,4,0],[0,0,4]],"
                       "\"coords\":[[0,0,0],[2,2,2]],\"elements\":[\"Cs\",\"Cl\"],\"cartesian\":true}}]";
    CHECK(ih_parse_json(cart, "cart.json", &set) == 0);
    if (set.n == 1) {
        CHECK_NEAR(set.items[0].frac[3], 0.5, 1e-15);
        CHECK(set.items[0].cart != NULL);
        CHECK(!set.items[0].has_target);
        CHECK(strcmp(set.items[0].jid, "c1") == 0);
    }
    ih_structure_set_free(&set);

    /* bad inputs: each a one-line message naming the file and the problem */
    CHECK(parse_fails("", "empty"));
    CHECK(parse_fails("[{\"atoms\": ", "malformed JSON"));
    CHECK(parse_fails("[]", "no records"));
    CHECK(parse_fails("[{\"jid\":1}]", "no \"atoms\""));
    CHECK(parse_fails("[{\"atoms\":{\"lattice_mat\":[[1,0,0],[0,1,0]],\"coords\":[[0,0,0]],\"elements\":[\"H\"]}}]",
                      "lattice_mat"));
    CHECK(parse_fails("[{\"atoms\":{\"lattice_mat\":[[3,0,0],[0,3,0],[0,0,3]],\"coords\":[[0,0,0]],\"elements\":[\"Qq\"]}}]",
                      "unknown element"));
    CHECK(parse_fails("[{\"atoms\":{\"lattice_mat\":[[3,0,0],[0,3,0],[0,0,3]],\"coords\":[[0,0,0],[0,0]],\"elements\":[\"H\",\"H\"]}}]",
                      "coordinate 2"));
    CHECK(parse_fails("[{\"atoms\":{\"lattice_mat\":[[3,0,0],[0,3,0],[6,0,0]],\"coords\":[[0,0,0]],\"elements\":[\"H\"]}}]",
                      "degenerate"));
    CHECK(parse_fails("[{\"atoms\":{\"lattice_mat\":[[3,0,0],[0,3,0],[0,0,3]],\"coords\":[[0,0,0],[0.0001,0,0]],\"elements\":[\"H\",\"O\"]}}]",
                      "overlap"));
    CHECK(parse_fails("[{\"atoms\":{\"lattice_mat\":[[3,0,0],[0,3,0],[0,0,3]],\"coords\":[[0,0,0],[0.99999,0.99999,0]],\"elements\":[\"H\",\"O\"]}}]",
                      "overlap"));
    CHECK(parse_fails("[{\"atoms\":{\"lattice_mat\":[[3,0,0],[0,3,0],[0,0,3]],\"coords\":[[0,0,0]],\"elements\":[\"H\"]},\"target\":\"x\"}, 5]",
                      "record 2"));
    CHECK(parse_fails("[{\"jid\":\"a\",\"atoms\":{\"lattice_mat\":[[3,0,0],[0,3,0],[0,0,3]],\"coords\":[[0,0,0]],\"elements\":[]}}]",
                      "no atoms"));
    /* overlap detection (sorted-window search) against brute force on skewed random cells */
    ih_rng rng;
    ih_rng_seed(&rng, 42);
    int caught = 0, clean = 0;
    for (int trial = 0; trial < 200; trial++) {
        ih_structure s;
        int n = 2 + (int)(ih_rng_uniform(&rng) * 30);
        CHECK(ih_structure_init(&s, n) == 0);
        double L[3][3] = {{4 + 3 * ih_rng_uniform(&rng), 0, 0},
                          {3 * (ih_rng_uniform(&rng) - 0.5), 4 + 3 * ih_rng_uniform(&rng), 0},
                          {3 * (ih_rng_uniform(&rng) - 0.5), 3 * (ih_rng_uniform(&rng) - 0.5), 4 + 3 * ih_rng_uniform(&rng)}};
        memcpy(s.lattice, L, sizeof L);
        for (int i = 0; i < n; i++) {
            s.z[i] = 8;
            for (int c = 0; c < 3; c++) s.frac[3 * i + c] = 3 * ih_rng_uniform(&rng) - 1;
        }
        if (trial % 2) { /* plant a near-duplicate across a cell boundary */
            int a = (int)(ih_rng_uniform(&rng) * n), b = (a + 1) % n;
            for (int c = 0; c < 3; c++) s.frac[3 * b + c] = s.frac[3 * a + c] + (c == 0 ? 1.0 : -2.0) + 0.002;
        }
        double brute = 1e9;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                for (int a = -3; a <= 3; a++)
                    for (int b = -3; b <= 3; b++)
                        for (int e = -3; e <= 3; e++) {
                            double f[3] = {s.frac[3 * j] - s.frac[3 * i] + a, s.frac[3 * j + 1] - s.frac[3 * i + 1] + b,
                                           s.frac[3 * j + 2] - s.frac[3 * i + 2] + e};
                            double x[3];
                            for (int c = 0; c < 3; c++) x[c] = f[0] * L[0][c] + f[1] * L[1][c] + f[2] * L[2][c];
                            double r = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
                            if (r < brute) brute = r;
                        }
        int rc = ih_structure_validate(&s, "random", 0.5, 0);
        CHECK_MSG((rc != 0) == (brute < 0.5), "trial %d: brute min %.4f, validate %d", trial, brute, rc);
        caught += rc != 0;
        clean += rc == 0;
        ih_structure_free(&s);
    }
    CHECK(caught >= 100 && clean >= 20);

    ih_structure_set empty;
    CHECK(ih_read_json("/nonexistent/file.json", &empty) == -1);
    CHECK(strstr(ih_last_error(), "/nonexistent/file.json") != NULL);
    return test_summary("test_json");
}
