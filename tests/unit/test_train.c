/* Model files, the training loop and resuming: save/load round trip, bad model files,
 * determinism, resume equals an uninterrupted run, micro-batching keeps memory bounded. */
#include "check.h"
#include "tmpdir.h"
#include "train_util.h"
#include "ionhop_train.h"
#include "core/util.h"

#include <unistd.h>


static void small_config(ih_config *c) {
    ih_config_default(c);
    c->hidden = 8;
    c->alignn_layers = 1;
    c->gcn_layers = 1;
    c->embed = 8;
    c->head_width = 8;
}

static ih_model *train_run(const ih_dataset *d, int epochs, int stop_after, const char *ckpt,
                           uint64_t seed, long micro, double jitter) {
    ih_config c;
    small_config(&c);
    ih_model *m = ih_model_create(&c, seed);
    int tr[6] = {0, 1, 2, 3, 4, 5}, va[2] = {6, 7};
    ih_task_scaling sc = {"em", 0.0, 9.0, 0};
    ih_train_opts o = quiet_train_opts(epochs, 3, seed, ckpt, micro, tmp_path("best.ionhop"));
    o.jitter = jitter;
    ih_train_result r;
    if (stop_after > 0) {
        /* an interrupted run: train stop_after epochs of the `epochs` schedule, then resume */
        ih_train_opts o1 = o;
        o1.epochs = epochs;
        ih_model *m1 = ih_model_create(&c, seed);
        /* run the full schedule but stop early by training a copy with fewer epochs is not the
         * same schedule; instead train to stop_after via a resume limit */
        o1.stop_after = stop_after;
        CHECK(ih_train(m1, d, tr, 6, va, 2, &sc, &o1, &r) == 0);
        CHECK_INT(r.epochs, stop_after);
        /* the interrupted run's checkpoint is one file (weights and optimiser together) */
        if (ckpt) {
            char p[512];
            snprintf(p, sizeof p, "%s.state", ckpt);
            CHECK(access(p, F_OK) == 0);
            snprintf(p, sizeof p, "%s.model", ckpt);
            CHECK(access(p, F_OK) != 0);
        }
        ih_model_free(m1);
        o.resume = 1;
    }
    CHECK_MSG(ih_train(m, d, tr, 6, va, 2, &sc, &o, &r) == 0, "%s", ih_last_error());
    CHECK_INT(r.epochs, epochs);
    /* a finished run leaves no checkpoint behind (an interrupted one kept its pair to resume) */
    if (ckpt) {
        char p[512];
        snprintf(p, sizeof p, "%s.model", ckpt);
        CHECK(access(p, F_OK) != 0);
        snprintf(p, sizeof p, "%s.state", ckpt);
        CHECK(access(p, F_OK) != 0);
    }
    return m;
}

/* ih_balance_micro_batches: a permutation; groups of S (the last shorter); the heaviest group no
 * heavier than the contiguous split's, and within the greedy bound (mean load + the largest item);
 * the same input gives the same order. Costs like the pre-training records' (2-200 atoms). */
static void test_balance(void) {
    enum { N = 128 };
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    for (int trial = 0; trial < 50; trial++) {
        int n = 1 + trial * 127 % N, S = 1 + trial % 16;
        int items[N], again[N], by_cost[N], fill[N], out[N];
        long cost[N], load[N], cost_of[N];
        for (int k = 0; k < n; k++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            long atoms = 2 + (long)(state % 199);
            cost_of[k] = cost[k] = atoms * (1 + 12 + 12 * 11); /* atoms, edges, triplets */
            items[k] = again[k] = k;
        }
        long contiguous_max = 0, total = 0, largest = 0;
        for (int g0 = 0; g0 < n; g0 += S) {
            long l = 0;
            for (int k = g0; k < n && k < g0 + S; k++) l += cost[k];
            if (l > contiguous_max) contiguous_max = l;
        }
        for (int k = 0; k < n; k++) total += cost[k], largest = cost[k] > largest ? cost[k] : largest;
        ih_balance_micro_batches(items, cost, n, S, by_cost, load, fill, out);
        ih_balance_micro_batches(again, cost, n, S, by_cost, load, fill, out);
        int seen[N] = {0}, same = 1;
        for (int k = 0; k < n; k++) seen[items[k]]++, same &= items[k] == again[k];
        int perm = 1;
        for (int k = 0; k < n; k++) perm &= seen[k] == 1;
        CHECK_MSG(perm, "trial %d: not a permutation", trial);
        CHECK(same);
        long balanced_max = 0;
        int K = (n + S - 1) / S;
        for (int g0 = 0; g0 < n; g0 += S) {
            long l = 0;
            for (int k = g0; k < n && k < g0 + S; k++) l += cost_of[items[k]];
            if (l > balanced_max) balanced_max = l;
        }
        CHECK_MSG(balanced_max <= contiguous_max, "trial %d: %ld > %ld", trial, balanced_max, contiguous_max);
        /* the last group may hold fewer items: the bound is on groups of S */
        CHECK_MSG(K < 2 || balanced_max <= total / (n / S > 0 ? n / S : 1) + largest, "trial %d: %ld", trial,
                  balanced_max);
    }
    /* an example by hand: costs 5 4 3 2 1 0 in groups of 3: 5→A, 4→B, 3→B (7), 2→A (7), 1→A (full
     * at 8)… A = {5, 2, 1}, B = {4, 3, 0} */
    int items[6] = {0, 1, 2, 3, 4, 5}, by_cost[6], fill[6], out[6];
    long cost[6] = {5, 4, 3, 2, 1, 0}, load[6];
    ih_balance_micro_batches(items, cost, 6, 3, by_cost, load, fill, out);
    int want[6] = {0, 3, 4, 1, 2, 5};
    for (int k = 0; k < 6; k++) CHECK_INT(items[k], want[k]);
}

int main(void) {
    test_balance();
    CHECK(tmpdir_make("train") == 0);
    ih_structure_set all;
    CHECK(ih_read_json(shared_path("data/em/train.json"), &all) == 0);
    ih_structure sub[8];
    int k = 0;
    for (int i = 0; i < all.n && k < 8; i++)
        if (all.items[i].n_atoms <= 40) sub[k++] = all.items[i];
    CHECK_INT(k, 8);
    CHECK(ih_write_json(tmp_path("small.json"), sub, 8) == 0);
    ih_structure_set_free(&all);

    ih_graph_opts go;
    ih_graph_opts_default(&go);
    go.line_graph = 0;
    ih_dataset d;
    const char *paths[1] = {tmp_path("small.json")};
    CHECK(ih_dataset_load(&d, paths, 1, &go, 0, NULL) == 0);

    /* grouped splits and folds: hosts never straddle, seeded, balanced */
    {
        ih_dataset g;
        memset(&g, 0, sizeof g);
        g.n = 40;
        g.group = calloc(40, sizeof *g.group);
        for (int i = 0; i < 40; i++) snprintf(g.group[i], sizeof g.group[i], "host%d", (i * 7) % 13);
        int fold[40], fold2[40];
        CHECK(ih_group_folds(&g, 5, 9, fold) == 0);
        CHECK(ih_group_folds(&g, 5, 9, fold2) == 0);
        CHECK(memcmp(fold, fold2, sizeof fold) == 0);
        int count[5] = {0};
        for (int i = 0; i < 40; i++) {
            CHECK(fold[i] >= 0 && fold[i] < 5);
            count[fold[i]]++;
            for (int j = 0; j < i; j++)
                if (!strcmp(g.group[i], g.group[j])) CHECK(fold[i] == fold[j]);
        }
        for (int f = 0; f < 5; f++) CHECK(count[f] >= 5 && count[f] <= 11);
        CHECK(ih_group_folds(&g, 14, 9, fold) == -1); /* 13 hosts cannot fill 14 folds */
        int *tr, *va, ntr, nva;
        CHECK(ih_split_groups(&g, 0.25, 3, &tr, &ntr, &va, &nva) == 0);
        CHECK_INT(ntr + nva, 40);
        CHECK(nva >= 10 && nva <= 14);
        for (int a = 0; a < ntr; a++)
            for (int b = 0; b < nva; b++) CHECK(strcmp(g.group[tr[a]], g.group[va[b]]) != 0);
        free(tr), free(va);
        /* subsampling whole hosts of a pool: at least the fraction, hosts kept whole, seeded, nested */
        {
            int pool[40], n_pool = 0, k50[40], k25[40], k25b[40], n50, n25, n25b, k100[40], n100;
            for (int i = 0; i < 40; i++)
                if (fold[i] != 0) pool[n_pool++] = i; /* the 14-fold call failed: fold is still 5 folds */
            CHECK(n_pool < 40);
            CHECK(ih_subsample_groups(&g, pool, n_pool, 0.5, 11, k50, &n50) == 0);
            CHECK(ih_subsample_groups(&g, pool, n_pool, 0.25, 11, k25, &n25) == 0);
            CHECK(ih_subsample_groups(&g, pool, n_pool, 0.25, 11, k25b, &n25b) == 0);
            CHECK(ih_subsample_groups(&g, pool, n_pool, 1.0, 11, k100, &n100) == 0);
            CHECK_INT(n100, n_pool);
            CHECK(memcmp(k100, pool, (size_t)n_pool * sizeof *pool) == 0);
            CHECK(n25 == n25b && memcmp(k25, k25b, (size_t)n25 * sizeof *k25) == 0);
            CHECK(n50 >= (n_pool + 1) / 2 && n50 < n_pool);
            CHECK(n25 * 4 >= n_pool && n25 < n50);
            /* a host is kept with all its pool records, and the 25 % hosts are among the 50 % */
            for (int q = 0; q < n_pool; q++) {
                int in50 = 0, in25 = 0, host50 = 0;
                for (int a = 0; a < n50; a++) in50 += k50[a] == pool[q], host50 += !strcmp(g.group[k50[a]], g.group[pool[q]]);
                for (int a = 0; a < n25; a++) in25 += k25[a] == pool[q];
                CHECK(in50 == (host50 > 0));
                CHECK(!in25 || in50);
            }
            for (int a = 1; a < n50; a++) CHECK(k50[a] > k50[a - 1]); /* the pool's order */
            /* in place, as the cross-validation calls it */
            int inplace[40];
            memcpy(inplace, pool, (size_t)n_pool * sizeof *pool);
            CHECK(ih_subsample_groups(&g, inplace, n_pool, 0.5, 11, inplace, &n25b) == 0);
            CHECK(n25b == n50 && memcmp(inplace, k50, (size_t)n50 * sizeof *k50) == 0);
            /* another seed draws other hosts */
            CHECK(ih_subsample_groups(&g, pool, n_pool, 0.5, 12, k25b, &n25b) == 0);
            CHECK(n25b != n50 || memcmp(k25b, k50, (size_t)n50 * sizeof *k50) != 0);
            CHECK(ih_subsample_groups(&g, pool, 0, 0.5, 11, k25b, &n25b) == 0 && n25b == 0);
            CHECK(ih_subsample_groups(&g, pool, n_pool, 0, 11, k25b, &n25b) == -1);
            CHECK(ih_subsample_groups(&g, pool, n_pool, 1.5, 11, k25b, &n25b) == -1);
        }
        /* by record: exactly balanced folds, and sister records of a host do land in different folds */
        ih_dataset_group_by_record(&g);
        CHECK(ih_group_folds(&g, 5, 9, fold) == 0);
        memset(count, 0, sizeof count);
        int straddle = 0;
        for (int i = 0; i < 40; i++) {
            count[fold[i]]++;
            for (int j = 0; j < i; j++) straddle += (i * 7) % 13 == (j * 7) % 13 && fold[i] != fold[j];
        }
        for (int f = 0; f < 5; f++) CHECK_INT(count[f], 8);
        CHECK(straddle > 0);
        CHECK(ih_group_folds(&g, 40, 9, fold) == 0); /* leave-one-out is possible by record */
        free(g.group);
    }

    /* model file round trip: same parameters, buffers and predictions */
    ih_config c;
    small_config(&c);
    ih_model *a = ih_model_create(&c, 7);
    CHECK(ih_model_save(tmp_path("a.ionhop"), a, "{\"tasks\":[{\"name\":\"em\",\"lo\":0,\"hi\":9}]}") == 0);
    char *meta = NULL;
    ih_model *b = ih_model_load(tmp_path("a.ionhop"), &meta);
    CHECK(b != NULL);
    if (b) {
        CHECK(params_equal(a, b));
        CHECK(meta && strstr(meta, "\"hidden\":8") && strstr(meta, "\"tasks\""));
        int idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        float pa[8], pb[8];
        CHECK(ih_dataset_reserve(a, &d, 8, 1 << 16) == 0);
        CHECK(ih_dataset_reserve(b, &d, 8, 1 << 16) == 0);
        CHECK(ih_predict_dataset(a, &d, idx, 8, 8, 1 << 16, pa) == 0);
        CHECK(ih_predict_dataset(b, &d, idx, 8, 8, 1 << 16, pb) == 0);
        CHECK(memcmp(pa, pb, sizeof pa) == 0);
        /* micro-batching does not change evaluation-mode predictions */
        float pc[8];
        CHECK(ih_predict_dataset(a, &d, idx, 8, 8, 1000, pc) == 0);
        for (int i = 0; i < 8; i++) CHECK_NEAR(pc[i], pa[i], 1e-5);
        ih_model_free(b);
    }
    free(meta);

    /* bad model files: each a one-line error naming the file */
    CHECK(ih_model_load(tmp_path("small.json"), NULL) == NULL);
    CHECK(strstr(ih_last_error(), "small.json") != NULL);
    CHECK(ih_model_load(tmp_path("missing.ionhop"), NULL) == NULL);
    size_t len;
    char *bytes = ih_read_file(tmp_path("a.ionhop"), &len);
    CHECK(bytes != NULL);
    if (bytes) {
        CHECK(ih_write_file_atomic(tmp_path("trunc.ionhop"), bytes, len - 100) == 0);
        CHECK(ih_model_load(tmp_path("trunc.ionhop"), NULL) == NULL);
        CHECK(strstr(ih_last_error(), "trunc.ionhop") != NULL);
        free(bytes);
    }
    /* a safetensors file of another model configuration: tensor shapes disagree */
    ih_config c2 = c;
    c2.hidden = 12;
    ih_model *other = ih_model_create(&c2, 1);
    CHECK(ih_model_save(tmp_path("other.ionhop"), other, NULL) == 0);
    /* hand-edit: keep the tensors of `other` but claim hidden 8 */
    ih_st_file f;
    CHECK(ih_st_read(tmp_path("other.ionhop"), &f) == 0);
    ih_st_tensor *ts = st_tensors_of(&f);
    char fake_meta[512];
    snprintf(fake_meta, sizeof fake_meta, "{\"config\":{\"hidden\":8,\"alignn_layers\":1,\"gcn_layers\":1,"
             "\"embed\":8,\"head_width\":8,\"head_hidden\":2,\"n_outputs\":1,\"neighbors\":12,"
             "\"cutoff\":8,\"edges\":\"full\"}}");
    ih_st_kv kv[2] = {{"format", "ionhop-model"}, {"ionhop", fake_meta}};
    CHECK(ih_st_write(tmp_path("mismatch.ionhop"), ts, f.n, kv, 2) == 0);
    CHECK(ih_model_load(tmp_path("mismatch.ionhop"), NULL) == NULL);
    CHECK(strstr(ih_last_error(), "wrong shape") != NULL);
    /* a safetensors file written by another program (PyTorch's format "pt"), and one of ionhop's
     * format without its metadata: the message quotes the foreign format, which the loader must
     * copy before releasing the file (under ASan a use after free aborts here) */
    ih_st_kv pt_kv = {"format", "pt"};
    CHECK(ih_st_write(tmp_path("torch.safetensors"), ts, 1, &pt_kv, 1) == 0);
    CHECK(ih_model_load(tmp_path("torch.safetensors"), NULL) == NULL);
    CHECK(strstr(ih_last_error(), "torch.safetensors: not an ionhop model file (format 'pt')") != NULL);
    ih_st_kv bare_kv = {"format", "ionhop-model"};
    CHECK(ih_st_write(tmp_path("bare.ionhop"), ts, 1, &bare_kv, 1) == 0);
    CHECK(ih_model_load(tmp_path("bare.ionhop"), NULL) == NULL);
    CHECK(strstr(ih_last_error(), "bare.ionhop: ionhop model file without its \"ionhop\" metadata") != NULL);
    /* numbers in the configuration beyond int range are refused, not cast (undefined behaviour) */
    const char *huge[] = {"\"hidden\":1e20", "\"hidden\":-1e12", "\"neighbors\":3e9"};
    for (int k = 0; k < 3; k++) {
        snprintf(fake_meta, sizeof fake_meta, "{\"config\":{%s,\"hidden\":8,\"alignn_layers\":1,\"gcn_layers\":1,"
                 "\"embed\":8,\"head_width\":8,\"head_hidden\":2,\"n_outputs\":1,\"neighbors\":12,"
                 "\"cutoff\":8,\"edges\":\"full\"}}", huge[k]);
        /* cJSON keeps the first of two equal keys */
        CHECK(ih_st_write(tmp_path("huge.ionhop"), ts, f.n, kv, 2) == 0);
        CHECK(ih_model_load(tmp_path("huge.ionhop"), NULL) == NULL);
        CHECK_MSG(strstr(ih_last_error(), "out of range") != NULL, "%s", ih_last_error());
    }
    /* a tiny file claiming the largest configuration: refused before anything is built */
    snprintf(fake_meta, sizeof fake_meta, "{\"config\":{\"hidden\":1024,\"alignn_layers\":64,\"gcn_layers\":64,"
             "\"embed\":8,\"head_width\":8,\"head_hidden\":2,\"n_outputs\":1,\"neighbors\":12,"
             "\"cutoff\":8,\"edges\":\"full\"}}");
    CHECK(ih_st_write(tmp_path("huge_cfg.ionhop"), ts, 1, kv, 2) == 0);
    CHECK(ih_model_load(tmp_path("huge_cfg.ionhop"), NULL) == NULL);
    CHECK_MSG(strstr(ih_last_error(), "but its configuration needs at least") != NULL, "%s", ih_last_error());
    snprintf(fake_meta, sizeof fake_meta, "{\"ensemble\":1e10,\"config\":{\"hidden\":8,\"alignn_layers\":1,"
             "\"gcn_layers\":1,\"embed\":8,\"head_width\":8,\"head_hidden\":2,\"n_outputs\":1,"
             "\"neighbors\":12,\"cutoff\":8,\"edges\":\"full\"}}");
    CHECK(ih_st_write(tmp_path("huge.ionhop"), ts, f.n, kv, 2) == 0);
    CHECK(ih_model_load(tmp_path("huge.ionhop"), NULL) == NULL);
    CHECK_MSG(strstr(ih_last_error(), "ensemble size 1e+10 is out of range") != NULL, "%s", ih_last_error());
    free(ts);
    ih_st_free(&f);
    ih_model_free(other);
    ih_model_free(a);

    /* ensembles: members keep their own weights */
    {
        ih_model *e[3] = {ih_model_create(&c, 1), ih_model_create(&c, 2), ih_model_create(&c, 3)};
        CHECK(ih_ensemble_save(tmp_path("ens.ionhop"), e, 3, "{\"tasks\":[]}") == 0);
        int nm = 0;
        char *em = NULL;
        ih_model **back = ih_ensemble_load(tmp_path("ens.ionhop"), &nm, &em);
        CHECK(back != NULL && nm == 3);
        CHECK(em && strstr(em, "\"ensemble\":3"));
        for (int k = 0; back && k < nm; k++) {
            CHECK(params_equal(back[k], e[k]));
            ih_model_free(back[k]);
        }
        CHECK(!params_equal(e[0], e[1]));
        free(back), free(em);
        /* a single-model load of an ensemble file gives member 0 */
        ih_model *first = ih_model_load(tmp_path("ens.ionhop"), NULL);
        CHECK(first && params_equal(first, e[0]));
        ih_model_free(first);
        for (int k = 0; k < 3; k++) ih_model_free(e[k]);
    }

    /* training: same seed -> same model; loss falls; resume == uninterrupted */
    ih_model *r1 = train_run(&d, 4, 0, tmp_path("ck1"), 5, 1 << 20, 0.0);
    ih_model *r2 = train_run(&d, 4, 0, tmp_path("ck2"), 5, 1 << 20, 0.0);
    CHECK(params_equal(r1, r2));
    ih_model *r3 = train_run(&d, 4, 2, tmp_path("ck3"), 5, 1 << 20, 0.0);
    CHECK_MSG(params_equal(r1, r3), "resumed run differs from the uninterrupted one");
    ih_model *r4 = train_run(&d, 4, 0, tmp_path("ck4"), 6, 1 << 20, 0.0);
    CHECK(!params_equal(r1, r4));
    /* --jitter: the displacements change the model, and are a function of the seed alone, so
     * a rerun and a resumed run repeat it */
    {
        ih_model *j1 = train_run(&d, 4, 0, tmp_path("cj1"), 5, 1 << 20, 0.05);
        ih_model *j2 = train_run(&d, 4, 0, tmp_path("cj2"), 5, 1 << 20, 0.05);
        ih_model *j3 = train_run(&d, 4, 2, tmp_path("cj3"), 5, 1 << 20, 0.05);
        CHECK(!params_equal(j1, r1));
        CHECK(params_equal(j1, j2));
        CHECK_MSG(params_equal(j1, j3), "resumed jitter run differs from the uninterrupted one");
        ih_model_free(j1), ih_model_free(j2), ih_model_free(j3);
    }
    /* the best-validation model file exists and loads */
    ih_model *best = ih_model_load(tmp_path("best.ionhop"), NULL);
    CHECK(best != NULL);
    ih_model_free(best);
    /* a checkpoint from another schedule is refused: an interrupted 4-epoch run's, resumed as 9 */
    ih_train_opts o;
    ih_train_opts_default(&o);
    o.epochs = 4;
    o.batch = 3;
    o.quiet = 1;
    o.stop_after = 2;
    o.checkpoint = tmp_path("ck5");
    int tr[6] = {0, 1, 2, 3, 4, 5};
    ih_task_scaling sc = {"em", 0.0, 9.0, 0};
    ih_train_result res;
    CHECK(ih_train(r4, &d, tr, 6, NULL, 0, &sc, &o, &res) == 0);
    o.stop_after = 0;
    o.epochs = 9;
    o.resume = 1;
    CHECK(ih_train(r4, &d, tr, 6, NULL, 0, &sc, &o, &res) == -1);
    CHECK_MSG(strstr(ih_last_error(), "schedule") != NULL, "%s", ih_last_error());
    /* nor from another weight decay, learning rate or train/validation split (another --seed) */
    o.epochs = 4;
    o.weight_decay = 0.5;
    CHECK(ih_train(r4, &d, tr, 6, NULL, 0, &sc, &o, &res) == -1);
    CHECK_MSG(strstr(ih_last_error(), "ck5.state: checkpoint was made with other settings") != NULL, "%s", ih_last_error());
    ih_train_opts_default(&o);
    o.epochs = 4, o.batch = 3, o.quiet = 1, o.resume = 1, o.checkpoint = tmp_path("ck5");
    int va5[1] = {5};
    CHECK_MSG(ih_train(r4, &d, tr, 5, va5, 1, &sc, &o, &res) == -1, "%s", ih_last_error());
    CHECK(strstr(ih_last_error(), "other settings") != NULL);
    o.max_lr *= 2;
    CHECK(ih_train(r4, &d, tr, 6, NULL, 0, &sc, &o, &res) == -1);
    CHECK(strstr(ih_last_error(), "other settings") != NULL);
    ih_model_free(r1), ih_model_free(r2), ih_model_free(r3), ih_model_free(r4);
    ih_dataset_free(&d);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0);
    return test_summary("test_train");
}
