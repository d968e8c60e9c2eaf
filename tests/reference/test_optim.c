/* AdamW and the one-cycle schedule: docs/method.md §10.7 table, hand-computed steps, a PyTorch trajectory
 * (tests/fixtures/adamw_onecycle_torch.json, tests/fixtures/gen/gen_adamw_fixture.py), range validation,
 * thread-count independence, and the optimizer-state file round trip. */
#include "check.h"
#include "ionhop_train.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <omp.h>
#include <unistd.h>

/* ---- schedule -------------------------------------------------------------------------- */

static void check_table_row(long S, double max_lr, long want_peak, double want_lr100,
                            double tol100) {
    ih_onecycle s;
    ih_onecycle_default(&s, S, max_lr);
    double lr, b1, best = -1, b1_peak = 0;
    long peak = -1;
    int monotone = 1;
    double prev = 0;
    int failed = 0;
    for (long t = 0; t < S; t++) {
        failed += ih_onecycle_at(&s, t, &lr, &b1) != 0;
        if (lr > best) best = lr, peak = t, b1_peak = b1;
        /* rises to the peak, then falls */
        if (t > 0 && ((t <= want_peak && !(lr > prev)) || (t > want_peak && !(lr < prev)))) monotone = 0;
        if (!(b1 >= 0.85 - 1e-15 && b1 <= 0.95 + 1e-15)) monotone = 0;
        prev = lr;
    }
    CHECK_INT(failed, 0);
    CHECK_MSG(monotone, "S = %ld: lr not rising then falling, or beta1 outside [0.85, 0.95]", S);
    CHECK_INT(peak, want_peak);
    CHECK_NEAR(best, max_lr, 1e-12 * max_lr);
    CHECK_NEAR(b1_peak, 0.85, 1e-12);
    ih_onecycle_at(&s, 0, &lr, &b1);
    CHECK_NEAR(lr, max_lr / 25, 1e-12 * max_lr);
    CHECK_NEAR(b1, 0.95, 1e-12);
    ih_onecycle_at(&s, 100, &lr, &b1);
    CHECK_NEAR(lr, want_lr100, tol100); /* the table's 6 significant digits */
    ih_onecycle_at(&s, S - 1, &lr, &b1);
    CHECK_NEAR(lr, max_lr / 25 / 1e4, 1e-9 * max_lr / 25 / 1e4);
    CHECK_NEAR(b1, 0.95, 1e-12);
}

static void test_schedule(void) {
    /* docs/method.md §10.7 */
    check_table_row(2000, 1e-3, 599, 1.04518e-4, 0.5e-9);
    check_table_row(4000, 1e-3, 1199, 5.63827e-5, 0.5e-10);
    check_table_row(16000, 1e-3, 4799, 4.10281e-5, 0.5e-10);
    check_table_row(15500, 1e-4, 4649, 4.10955e-6, 0.5e-11);

    /* t outside [0, S-1] is clamped, never extrapolated */
    ih_onecycle s;
    ih_onecycle_default(&s, 2000, 1e-3);
    double a, b, c, d;
    ih_onecycle_at(&s, -5, &a, NULL);
    ih_onecycle_at(&s, 0, &b, NULL);
    CHECK(a == b);
    ih_onecycle_at(&s, 5000, &c, NULL);
    ih_onecycle_at(&s, 1999, &d, NULL);
    CHECK(c == d);

    /* tiny schedules (phase 1 shorter than one step) stay finite and in range */
    for (long S = 1; S <= 6; S++) {
        ih_onecycle_default(&s, S, 1e-3);
        for (long t = 0; t < S; t++) {
            double lr, b1;
            CHECK(ih_onecycle_at(&s, t, &lr, &b1) == 0);
            CHECK_MSG(isfinite(lr) && lr >= 4e-9 * (1 - 1e-12) && lr <= 1e-3 * (1 + 1e-12) &&
                          b1 >= 0.85 - 1e-12 && b1 <= 0.95 + 1e-12,
                      "S %ld t %ld: lr %g beta1 %g", S, t, lr, b1);
        }
    }
    /* S = 1: the only step is the end of the annealing phase */
    ih_onecycle_default(&s, 1, 1e-3);
    ih_onecycle_at(&s, 0, &a, &b);
    CHECK_NEAR(a, 4e-9, 1e-20);
    CHECK_NEAR(b, 0.95, 1e-15);

    /* invalid schedules are refused */
    ih_onecycle_default(&s, 0, 1e-3);
    CHECK(ih_onecycle_at(&s, 0, &a, &b) == -1);
    ih_onecycle_default(&s, 10, 1e-3);
    s.pct_start = 1.0;
    CHECK(ih_onecycle_at(&s, 0, &a, &b) == -1);
    ih_onecycle_default(&s, 10, -1e-3);
    CHECK(ih_onecycle_at(&s, 0, &a, &b) == -1);
}

/* ---- AdamW by hand ---------------------------------------------------------------------- */

static void test_adamw_hand(void) {
    /* two parameters: [0] decayed, [1] not; two steps with different beta1 */
    ih_adamw o;
    CHECK(ih_adamw_init(&o, 2, 0.01) == 0);
    float p[2] = {0.5f, -2.0f}, g1[2] = {0.2f, -0.3f}, g2[2] = {-0.1f, 0.4f};
    ih_param_range r[2] = {{0, 1, 1, 1}, {1, 1, 0, 1}};
    const double lr1 = 1e-3, b1a = 0.95, lr2 = 2e-3, b1b = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
    CHECK(ih_adamw_step(&o, p, g1, r, 2, lr1, b1a) == 0);
    CHECK_INT(o.step, 1);
    /* step 1: m̂ = g, v̂ = g², so the update is lr·g/(|g| + eps) */
    double want0 = 0.5 * (1 - lr1 * wd) - lr1 * 0.2 / (0.2 + eps);
    double want1 = -2.0 + lr1 * 0.3 / (0.3 + eps);
    CHECK_NEAR(p[0], want0, 2e-7);
    CHECK_NEAR(p[1], want1, 4e-7);
    double m0 = (1 - b1a) * 0.2, v0 = (1 - b2) * 0.04;
    double m1 = (1 - b1a) * -0.3, v1 = (1 - b2) * 0.09;
    CHECK_NEAR(o.m[0], m0, 2e-7 * fabs(m0));
    CHECK_NEAR(o.v[1], v1, 2e-7 * v1);
    CHECK(ih_adamw_step(&o, p, g2, r, 2, lr2, b1b) == 0);
    /* step 2 with the new beta1 in both the moment and its bias correction */
    m0 = b1b * m0 + (1 - b1b) * -0.1;
    v0 = b2 * v0 + (1 - b2) * 0.01;
    m1 = b1b * m1 + (1 - b1b) * 0.4;
    v1 = b2 * v1 + (1 - b2) * 0.16;
    double c1 = 1 - b1b * b1b, c2 = 1 - b2 * b2;
    want0 = want0 * (1 - lr2 * wd) - lr2 * (m0 / c1) / (sqrt(v0 / c2) + eps);
    want1 = want1 - lr2 * (m1 / c1) / (sqrt(v1 / c2) + eps);
    CHECK_NEAR(o.m[0], m0, 4e-7 * fabs(m0));
    CHECK_NEAR(o.v[0], v0, 4e-7 * v0);
    CHECK_NEAR(p[0], want0, 2e-7);
    CHECK_NEAR(p[1], want1, 4e-7);
    /* a parameter outside every range is untouched, its moments too */
    float q[3] = {1.0f, 7.0f, 1.0f}, gq[3] = {1.0f, 1.0f, 1.0f};
    ih_adamw o3;
    CHECK(ih_adamw_init(&o3, 3, 0.5) == 0);
    ih_param_range r3[2] = {{0, 1, 1, 1}, {2, 1, 1, 1}};
    CHECK(ih_adamw_step(&o3, q, gq, r3, 2, 0.1, 0.9) == 0);
    CHECK(q[1] == 7.0f && o3.m[1] == 0.0f && o3.v[1] == 0.0f);
    CHECK(q[0] < 1.0f && q[0] == q[2]);
    ih_adamw_free(&o3);

    /* a range's learning-rate scale: 0.5 steps exactly as half the rate, 0 leaves it alone
     * (decay included); a negative scale is refused */
    {
        float a[2] = {0.5f, -2.0f}, b[2] = {0.5f, -2.0f};
        ih_adamw oa, ob;
        CHECK(ih_adamw_init(&oa, 2, 0.01) == 0 && ih_adamw_init(&ob, 2, 0.01) == 0);
        ih_param_range half[2] = {{0, 1, 1, 0.5}, {1, 1, 1, 0}}, full[1] = {{0, 1, 1, 1}};
        for (int k = 0; k < 3; k++) {
            CHECK(ih_adamw_step(&oa, a, g1, half, 2, 2e-3, 0.9) == 0);
            CHECK(ih_adamw_step(&ob, b, g1, full, 1, 1e-3, 0.9) == 0);
        }
        CHECK(a[0] == b[0] && a[0] != 0.5f);
        CHECK(a[1] == -2.0f);
        half[0].lr_scale = -1;
        CHECK(ih_adamw_step(&oa, a, g1, half, 2, 2e-3, 0.9) == -1);
        CHECK(strstr(ih_last_error(), "learning-rate scale") != NULL);
        ih_adamw_free(&oa), ih_adamw_free(&ob);
    }

    /* invalid ranges: refused, nothing changes, the step count stays */
    float before[2] = {p[0], p[1]};
    ih_param_range overlap[2] = {{0, 2, 1, 1}, {1, 1, 0, 1}};
    ih_param_range outside[1] = {{1, 2, 1, 1}};
    ih_param_range descending[2] = {{1, 1, 1, 1}, {0, 1, 0, 1}};
    long step = o.step;
    CHECK(ih_adamw_step(&o, p, g1, overlap, 2, lr1, b1a) == -1);
    CHECK(strstr(ih_last_error(), "overlap") != NULL);
    CHECK(ih_adamw_step(&o, p, g1, outside, 1, lr1, b1a) == -1);
    CHECK(strstr(ih_last_error(), "exceeds") != NULL);
    CHECK(ih_adamw_step(&o, p, g1, descending, 2, lr1, b1a) == -1);
    CHECK(ih_adamw_step(&o, p, g1, r, 2, lr1, 1.0) == -1);
    CHECK(p[0] == before[0] && p[1] == before[1] && o.step == step);
    ih_adamw_free(&o);
    CHECK(ih_adamw_init(&o, 0, 0.01) == -1);
    CHECK(ih_adamw_init(&o, 4, -1) == -1);
}

/* ---- AdamW + OneCycleLR against PyTorch -------------------------------------------------- */

static int read_floats(const cJSON *arr, float *out, int n) {
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n) return -1;
    for (int i = 0; i < n; i++) out[i] = (float)cJSON_GetArrayItem(arr, i)->valuedouble;
    return 0;
}

/* |a - b| within a few float32 ulps of the larger magnitude: PyTorch's vectorised kernels fuse
 * some multiply-adds, so bit equality is not expected. */
static int close_f32(float a, float b) {
    float mag = fabsf(a) > fabsf(b) ? fabsf(a) : fabsf(b);
    return fabsf(a - b) <= 4 * 1.1920929e-7f * mag + 1e-30f;
}

static void test_adamw_torch(void) {
    size_t len;
    char *text = ih_read_file("tests/fixtures/adamw_onecycle_torch.json", &len);
    CHECK(text != NULL);
    if (!text) return;
    cJSON *j = cJSON_Parse(text);
    free(text);
    CHECK(j != NULL);
    if (!j) return;
    long S = (long)cJSON_GetObjectItem(j, "total_steps")->valuedouble;
    double max_lr = cJSON_GetObjectItem(j, "max_lr")->valuedouble;
    double wd = cJSON_GetObjectItem(j, "weight_decay")->valuedouble;
    const cJSON *init = cJSON_GetObjectItem(j, "init");
    int n = cJSON_GetArraySize(init);
    const cJSON *jr = cJSON_GetObjectItem(j, "ranges");
    int nr = cJSON_GetArraySize(jr);
    ih_param_range ranges[4];
    CHECK(nr >= 1 && nr <= 4 && n > 0 && n <= 64 && S > 0 && S <= 64);
    if (!(nr >= 1 && nr <= 4 && n > 0 && n <= 64 && S > 0 && S <= 64)) goto out;
    for (int r = 0; r < nr; r++) {
        const cJSON *e = cJSON_GetArrayItem(jr, r);
        ranges[r].offset = (size_t)cJSON_GetArrayItem(e, 0)->valuedouble;
        ranges[r].count = (size_t)cJSON_GetArrayItem(e, 1)->valuedouble;
        ranges[r].decay = (int)cJSON_GetArrayItem(e, 2)->valuedouble;
        ranges[r].lr_scale = 1;
    }
    float p[64], p0[64], g[64], want[64];
    CHECK(read_floats(init, p, n) == 0);
    memcpy(p0, p, sizeof p);
    ih_onecycle s;
    ih_onecycle_default(&s, S, max_lr);
    ih_adamw o;
    CHECK(ih_adamw_init(&o, (size_t)n, wd) == 0);
    int bad_sched = 0, bad_param = 0, bad_buffer = 0;
    for (long t = 0; t < S; t++) {
        double lr, b1;
        ih_onecycle_at(&s, t, &lr, &b1);
        double tlr = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "lr"), (int)t)->valuedouble;
        double tb1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "beta1"), (int)t)->valuedouble;
        if (fabs(lr - tlr) > 1e-15 * tlr || fabs(b1 - tb1) > 1e-15) {
            bad_sched++;
            fprintf(stderr, "step %ld: lr %.17g vs torch %.17g, beta1 %.17g vs %.17g\n", t, lr, tlr,
                    b1, tb1);
        }
        read_floats(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "grads"), (int)t), g, n);
        CHECK(ih_adamw_step(&o, p, g, ranges, nr, lr, b1) == 0);
        read_floats(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "params"), (int)t), want, n);
        for (int i = 0; i < n; i++) {
            int in_range = 0;
            for (int r = 0; r < nr; r++)
                in_range |= (size_t)i >= ranges[r].offset &&
                            (size_t)i < ranges[r].offset + ranges[r].count;
            if (!in_range && p[i] != p0[i]) bad_buffer++;
            if (!close_f32(p[i], want[i])) {
                bad_param++;
                fprintf(stderr, "step %ld param %d: %.9g vs torch %.9g\n", t, i, p[i], want[i]);
            }
        }
    }
    CHECK_INT(bad_sched, 0);
    CHECK_INT(bad_param, 0);
    CHECK_INT(bad_buffer, 0);
    /* the parameters really moved (the comparison is not vacuous) */
    CHECK(fabsf(p[0] - p0[0]) > 1e-3f);
    /* The moments are running sums of terms of either sign, so their rounding error scales with
     * the gradients summed, not with the (possibly cancelled) result: 8 float32 ulps of both. */
    float gmax[64] = {0};
    for (long t = 0; t < S; t++) {
        read_floats(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "grads"), (int)t), g, n);
        for (int i = 0; i < n; i++) gmax[i] = fmaxf(gmax[i], fabsf(g[i]));
    }
    read_floats(cJSON_GetObjectItem(j, "m"), want, n);
    int bad_m = 0, bad_v = 0;
    for (int i = 0; i < n; i++)
        if (!(fabsf(o.m[i] - want[i]) <= 8 * 5.96e-8f * (fabsf(want[i]) + gmax[i]))) {
            bad_m++;
            fprintf(stderr, "m[%d]: %.9g vs torch %.9g\n", i, o.m[i], want[i]);
        }
    read_floats(cJSON_GetObjectItem(j, "v"), want, n);
    for (int i = 0; i < n; i++) bad_v += !close_f32(o.v[i], want[i]); /* sums of squares: no cancellation */
    CHECK_INT(bad_m, 0);
    CHECK_INT(bad_v, 0);
    CHECK_INT(o.step, S);
    ih_adamw_free(&o);
out:
    cJSON_Delete(j);
}

/* ---- threads ------------------------------------------------------------------------------ */

static void test_adamw_threads(void) {
    /* large enough for the parallel path; element-wise, so any thread count gives the same bits */
    const size_t n = 100000;
    float *p1 = malloc(n * sizeof *p1), *p2 = malloc(n * sizeof *p2), *g = malloc(n * sizeof *g);
    ih_rng rng;
    ih_rng_seed(&rng, 7);
    for (size_t i = 0; i < n; i++) {
        p1[i] = p2[i] = (float)(ih_rng_uniform(&rng) - 0.5);
        g[i] = (float)(ih_rng_uniform(&rng) - 0.5);
    }
    ih_param_range r[3] = {{0, 40000, 1, 1}, {40000, 100, 0, 1}, {40200, 59800, 1, 1}};
    ih_adamw a, b;
    ih_adamw_init(&a, n, 0.01);
    ih_adamw_init(&b, n, 0.01);
    int saved = omp_get_max_threads();
    for (int step = 0; step < 3; step++) {
        omp_set_num_threads(1);
        ih_adamw_step(&a, p1, g, r, 3, 1e-3, 0.9);
        omp_set_num_threads(saved > 1 ? saved : 2);
        ih_adamw_step(&b, p2, g, r, 3, 1e-3, 0.9);
    }
    omp_set_num_threads(saved);
    CHECK(memcmp(p1, p2, n * sizeof *p1) == 0);
    CHECK(memcmp(a.v, b.v, n * sizeof *a.v) == 0);
    ih_adamw_free(&a);
    ih_adamw_free(&b);
    free(p1);
    free(p2);
    free(g);
}

/* ---- optimizer-state file ---------------------------------------------------------------- */

static void test_state_file(const char *dir) {
    char path[512], other[512];
    snprintf(path, sizeof path, "%s/opt.safetensors", dir);
    snprintf(other, sizeof other, "%s/model.safetensors", dir);
    ih_adamw o;
    CHECK(ih_adamw_init(&o, 10, 0.01) == 0);
    float p[10], g[10];
    for (int i = 0; i < 10; i++) p[i] = (float)i, g[i] = (float)(i % 3) - 1.0f;
    ih_param_range r = {0, 10, 1, 1};
    for (int k = 0; k < 3; k++) ih_adamw_step(&o, p, g, &r, 1, 1e-3, 0.9 - 0.01 * k);
    ih_train_state ts = {.epoch = 12, .sched_step = 48, .best_val = 0.1234567890123456789,
                         .best_epoch = 9};
    ih_onecycle_default(&ts.sched, 2000, 1e-3);
    ih_rng_seed(&ts.rng, 123);
    ih_rng_next(&ts.rng);
    CHECK(ih_adamw_save(path, &o, &ts, "{\"run\":\"test\"}") == 0);

    ih_st_file sf;
    CHECK(ih_st_read(path, &sf) == 0);
    CHECK(ih_st_meta_get(&sf, "ionhop") && !strcmp(ih_st_meta_get(&sf, "ionhop"), "{\"run\":\"test\"}"));
    CHECK(ih_st_meta_get(&sf, "rng") && strlen(ih_st_meta_get(&sf, "rng")) == 4 * 16 + 3);
    ih_st_free(&sf);

    ih_adamw l;
    ih_train_state lt;
    CHECK(ih_adamw_load(path, &l, &lt, 10) == 0);
    CHECK(l.n == 10 && l.step == 3 && l.weight_decay == 0.01 && l.beta2 == o.beta2 &&
          l.eps == o.eps);
    CHECK(memcmp(l.m, o.m, sizeof p) == 0 && memcmp(l.v, o.v, sizeof p) == 0);
    CHECK(lt.epoch == 12 && lt.sched_step == 48 && lt.best_epoch == 9);
    CHECK(lt.best_val == ts.best_val); /* %.17g round-trips doubles exactly */
    CHECK(memcmp(&lt.sched, &ts.sched, sizeof ts.sched) == 0);
    CHECK(memcmp(lt.rng.s, ts.rng.s, sizeof ts.rng.s) == 0);
    /* resuming gives the same next step as never stopping */
    float p2[10];
    memcpy(p2, p, sizeof p);
    ih_adamw_step(&o, p, g, &r, 1, 5e-4, 0.88);
    ih_adamw_step(&l, p2, g, &r, 1, 5e-4, 0.88);
    CHECK(memcmp(p, p2, sizeof p) == 0);
    ih_adamw_free(&l);
    /* no best yet: infinity survives */
    ts.best_val = INFINITY;
    ts.best_epoch = -1;
    CHECK(ih_adamw_save(path, &o, &ts, NULL) == 0);
    CHECK(ih_adamw_load(path, &l, &lt, 0) == 0);
    CHECK(isinf(lt.best_val) && lt.best_val > 0 && lt.best_epoch == -1);
    ih_adamw_free(&l);
    /* wrong size, and a model file passed as optimizer state */
    /* an optimizer-state file with a damaged scalar */
    ih_st_tensor mv[2] = {{.name = "adam.m", .ndim = 1, .shape = {10}, .data = o.m},
                          {.name = "adam.v", .ndim = 1, .shape = {10}, .data = o.v}};
    ih_st_kv bad_meta[2] = {{"format", "ionhop-optimizer-state"}, {"adam.step", "12x"}};
    CHECK(ih_st_write(other, mv, 2, bad_meta, 2) == 0);
    CHECK(ih_adamw_load(other, &l, &lt, 0) == -1);
    CHECK(strstr(ih_last_error(), "\"adam.step\" = \"12x\" is not an integer") != NULL);
    bad_meta[1].value = "12";
    CHECK(ih_st_write(other, mv, 2, bad_meta, 2) == 0);
    CHECK(ih_adamw_load(other, &l, &lt, 0) == -1);
    CHECK(strstr(ih_last_error(), "lacks \"adam.weight_decay\"") != NULL);
    CHECK(ih_adamw_load(path, &l, &lt, 11) == -1);
    CHECK(strstr(ih_last_error(), "10 parameters") != NULL && strstr(ih_last_error(), path));
    ih_st_tensor t = {.name = "w", .ndim = 1, .shape = {2}, .data = p};
    ih_st_kv kv = {"format", "ionhop-model"};
    CHECK(ih_st_write(other, &t, 1, &kv, 1) == 0);
    CHECK(ih_adamw_load(other, &l, &lt, 0) == -1);
    CHECK(strstr(ih_last_error(), "not an optimizer-state file") != NULL);
    CHECK(l.m == NULL);
    ih_adamw_free(&o);
    remove(path);
    remove(other);
}

static void test_decay_names(void) {
    /* docs/method.md §5.3 with the reference's checkpoint names (§4.9) */
    CHECK_INT(ih_param_decays("atom_embedding.layer.0.weight"), 1);
    CHECK_INT(ih_param_decays("atom_embedding.layer.1.weight"), 1); /* BatchNorm in the MLP */
    CHECK_INT(ih_param_decays("atom_embedding.layer.1.bias"), 0);
    CHECK_INT(ih_param_decays("alignn_layers.0.node_update.src_gate.weight"), 1);
    CHECK_INT(ih_param_decays("alignn_layers.0.node_update.src_gate.bias"), 0);
    CHECK_INT(ih_param_decays("gcn_layers.3.bn_nodes.weight"), 0);
    CHECK_INT(ih_param_decays("alignn_layers.1.edge_update.bn_edges.weight"), 0);
    CHECK_INT(ih_param_decays("attention.norm.weight"), 0);
    CHECK_INT(ih_param_decays("fc_hp.0.0.weight"), 1);
    CHECK_INT(ih_param_decays("fc.weight"), 1);
}

int main(void) {
    test_decay_names();
    test_schedule();
    test_adamw_hand();
    test_adamw_torch();
    test_adamw_threads();
    char dir[] = "/tmp/ionhop-test-optim-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    test_state_file(dir);
    rmdir(dir);
    return test_summary("test_optim");
}
