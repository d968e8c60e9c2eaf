/* Calibrated intervals (docs/method.md §13): quantiles and probabilities against hand-computed
 * values, coverage on synthetic residuals, the model-file round trip, and bad calibration data. */
#include "check.h"
#include "tmpdir.h"
#include "ionhop.h"
#include "ionhop_train.h"
#include "ionhop_modelfile.h"

#include <math.h>
#include <string.h>

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* mean distance from q to the k nearest rows of rep (member m), row `skip` left out: written
 * again here, independently of calibration.c, by sorting all distances */
static double knn_brute(const float *rep, int n, int M, int H, int m, const float *q, int skip, int k) {
    double d[64];
    int c = 0;
    for (int r = 0; r < n; r++) {
        if (r == skip) continue;
        double s2 = 0;
        for (int j = 0; j < H; j++) {
            double x = (double)q[j] - rep[((size_t)r * M + m) * H + j];
            s2 += x * x;
        }
        d[c++] = sqrt(s2);
    }
    qsort(d, (size_t)c, sizeof *d, cmp_dbl);
    double sum = 0;
    for (int j = 0; j < k; j++) sum += d[j];
    return sum / k;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

int main(void) {
    CHECK(tmpdir_make("calibration") == 0);
    /* 19 records, no spread term (members 1), scale = 0.1 + 0.5·max(p, 0): prediction 0.2 for
     * all, so scale 0.2 and the scores are (y - 0.2) / 0.2 = -0.9, -0.8, …, +0.9 */
    char csv[4096] = "jid,fold,target,prediction,spread\n";
    for (int i = 0; i < 19; i++) {
        char row[64];
        snprintf(row, sizeof row, "%d,%d,%.3f,0.2,0\n", i, i % 5 + 1, 0.2 + 0.2 * (i - 9) / 10.0);
        strcat(csv, row);
    }
    const char *cv = tmp_path("cv.csv"), *model = tmp_path("m.ionhop");
    write_text(cv, csv);
    /* a real model file to carry the calibration: the bundled one, copied */
    size_t len;
    FILE *in = fopen("models/default.ionhop", "rb");
    CHECK(in != NULL);
    fseek(in, 0, SEEK_END);
    len = (size_t)ftell(in);
    rewind(in);
    char *buf = malloc(len);
    CHECK(fread(buf, 1, len, in) == len);
    fclose(in);
    FILE *out = fopen(model, "wb");
    CHECK(fwrite(buf, 1, len, out) == len);
    fclose(out);
    free(buf);

    /* a model without a calibration (the pre-trained trunk) answers no interval */
    ih_predictor *p = ih_predictor_load("models/mpt.ionhop");
    CHECK(p != NULL);
    CHECK(!ih_predictor_has_calibration(p));
    double low, high;
    CHECK(ih_predictor_interval(p, 3, 0.3, 0.0, 0.9, &low, &high) == -1);
    CHECK(isnan(ih_predictor_p_good(p, 3, 0.3, 0.0)));
    ih_predictor_free(p);

    CHECK(ih_calibrate_model(model, cv, 1, 0.5, 0.1, NULL, model) == 0);
    p = ih_predictor_load(model);
    CHECK(p != NULL && ih_predictor_has_calibration(p));
    /* level 0.9: the ceil(20 · 0.9) = 18th smallest |score| of {0, 0.1, 0.1, …, 0.9, 0.9} is 0.9 */
    CHECK(ih_predictor_interval(p, 3, 0.4, 0.0, 0.9, &low, &high) == 0);
    double scale = 0.1 + 0.5 * 0.4;
    CHECK_NEAR(low, 0.4 - 0.9 * scale, 1e-9);
    CHECK_NEAR(high, 0.4 + 0.9 * scale, 1e-9);
    /* level 0.5: the 10th smallest is 0.5 */
    CHECK(ih_predictor_interval(p, 3, 0.4, 0.0, 0.5, &low, &high) == 0);
    CHECK_NEAR(high - 0.4, 0.5 * scale, 1e-9);
    /* level 0.96 needs the 20th of 19: refused */
    CHECK(ih_predictor_interval(p, 3, 0.4, 0.0, 0.96, &low, &high) == -1);
    CHECK(strstr(ih_last_error(), "more than the 19 calibration records") != NULL);
    /* P(Em < 0.65) at prediction 0.5 (scale 0.35): scores below (0.65 - 0.5) / 0.35 = 0.4286 are
     * -0.9 … 0.4: 14 of 19 */
    CHECK_NEAR(ih_predictor_p_good(p, 3, 0.5, 0.0), 14.0 / 19.0, 1e-12);
    /* a prediction far below or above the line */
    CHECK_NEAR(ih_predictor_p_good(p, 3, -5, 0.0), 1.0, 0);
    CHECK_NEAR(ih_predictor_p_good(p, 3, 10, 0.0), 0.0, 0);
    ih_predictor_free(p);

    /* coverage on synthetic residuals: Gaussian noise of sd 0.2 around the prediction, calibrated
     * on 2000 draws, covers about 90 % of 2000 fresh draws at level 0.9 */
    uint64_t state = 88172645463325252ULL;
    FILE *f = fopen(cv, "w");
    fprintf(f, "jid,fold,target,prediction,spread\n");
    double fresh[2000];
    for (int i = 0; i < 4000; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        double u1 = ((state >> 11) + 0.5) / 9007199254740992.0;
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        double u2 = ((state >> 11) + 0.5) / 9007199254740992.0;
        double e = 0.2 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        if (i < 2000)
            fprintf(f, "%d,1,%.6f,0,0\n", i, e);
        else
            fresh[i - 2000] = e;
    }
    fclose(f);
    CHECK(ih_calibrate_model(model, cv, 1, 0.0, 1.0, NULL, model) == 0);
    p = ih_predictor_load(model);
    CHECK(p != NULL);
    for (int k = 0; k < 3; k++) {
        double level = k == 0 ? 0.68 : k == 1 ? 0.9 : 0.95;
        CHECK(ih_predictor_interval(p, 0, 0.0, 0.0, level, &low, &high) == 0);
        int in_interval = 0;
        for (int i = 0; i < 2000; i++) in_interval += fresh[i] >= low && fresh[i] <= high;
        CHECK_MSG(fabs(in_interval / 2000.0 - level) < 0.03, "level %.2f covers %.3f", level, in_interval / 2000.0);
        /* the Gaussian's own quantiles: 0.994, 1.645, 1.960 sd */
        double z = k == 0 ? 0.994 : k == 1 ? 1.645 : 1.960;
        CHECK_MSG(fabs(high - 0.2 * z) < 0.02, "level %.2f half-width %.3f against %.3f", level, high, 0.2 * z);
    }
    ih_predictor_free(p);

    /* the training domain of a record file (one Na record with V, P, O hosts): a Li hop is outside
     * it, a Na hop in a V/P/O host is rare (1 record < IH_RARE_ION_RECORDS), a Ti host unseen */
    CHECK(ih_calibrate_model(model, cv, 1, 0.0, 1.0, "tests/fixtures/em_jid7.json", model) == 0);
    p = ih_predictor_load(model);
    CHECK(p != NULL);
    {
        ih_structure s;
        CHECK(ih_structure_init(&s, 3) == 0);
        s.lattice[0][0] = s.lattice[1][1] = s.lattice[2][2] = 8;
        int zs[3] = {3, 22, 8};
        for (int i = 0; i < 3; i++) s.z[i] = zs[i], s.frac[3 * i] = 0.3 * i;
        ih_hop_result r = {.ion = 0, .closest_approach = 1.5};
        char why[512];
        CHECK_INT(ih_predictor_domain_check(p, &s, &r, why, sizeof why), 2);
        CHECK(strstr(why, "no Li hop among the 1 training records") != NULL);
        CHECK(strstr(why, "host element Ti is in no training structure") != NULL);
        s.z[0] = 11, s.z[1] = 23;
        CHECK_INT(ih_predictor_domain_check(p, &s, &r, why, sizeof why), 1);
        CHECK(strstr(why, "Na hops are rare in training (1 of 1 records)") != NULL);
        r.closest_approach = 0.01; /* closer than the record's own path */
        CHECK_INT(ih_predictor_domain_check(p, &s, &r, why, sizeof why), 2);
        CHECK(strstr(why, "the path passes 0.01 Å from a host atom") != NULL);
        ih_structure_free(&s);
    }
    ih_predictor_free(p);
    /* one record is too few for a distance in the representation: none is stored */
    {
        ih_record_predictions fp;
        p = ih_predictor_load(model);
        CHECK(p != NULL && ih_predict_file(p, "tests/fixtures/em_jid7.json", &fp) == 0);
        CHECK(fp.n == 1 && isnan(fp.rep_distance[0]));
        ih_record_predictions_free(&fp);
        ih_predictor_free(p);
    }

    /* The training domain in the model's representation: eight records (the fixture's cell
     * stretched by 0-21 %), each member's head input stored; a record's distance is its mean
     * distance to the 5 nearest training records over the median of the records' own such
     * distances (themselves left out), averaged over the members. Checked against a brute force. */
    {
        ih_structure_set one, eight = {0, NULL};
        CHECK(ih_read_structures("tests/fixtures/em_jid7.json", IH_FMT_JSON, &one) == 0 && one.n == 1);
        eight.items = calloc(8, sizeof *eight.items);
        eight.n = 8;
        for (int k = 0; k < 8; k++) {
            CHECK(ih_structure_copy(&eight.items[k], &one.items[0]) == 0);
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) eight.items[k].lattice[a][b] *= 1.0 + 0.03 * k;
            free(eight.items[k].cart), eight.items[k].cart = NULL;
            snprintf(eight.items[k].jid, sizeof eight.items[k].jid, "stretch%d", k);
        }
        const char *eight_path = tmp_path("eight.json");
        CHECK(ih_write_json(eight_path, eight.items, 8) == 0);
        CHECK(ih_calibrate_model(model, cv, 1, 0.0, 1.0, eight_path, model) == 0);
        ih_model_set ms;
        CHECK(ih_model_set_load(model, &ms) == 0); /* the extra tensor does not stop a model loading */
        int M = ms.n_members, H = ih_model_config(ms.members[0])->hidden;
        float *rep = malloc((size_t)8 * M * H * sizeof *rep);
        CHECK(ih_model_set_representation(&ms, &eight, "eight", rep) == 0);
        double expect[8] = {0};
        for (int m = 0; m < M; m++) {
            double own[8];
            for (int r = 0; r < 8; r++) own[r] = knn_brute(rep, 8, M, H, m, rep + ((size_t)r * M + m) * H, r, 5);
            qsort(own, 8, sizeof *own, cmp_dbl);
            double median = 0.5 * (own[3] + own[4]);
            CHECK(median > 0);
            for (int r = 0; r < 8; r++)
                expect[r] += knn_brute(rep, 8, M, H, m, rep + ((size_t)r * M + m) * H, -1, 5) / median / M;
        }
        p = ih_predictor_load(model);
        CHECK(p != NULL);
        ih_record_predictions fp;
        CHECK(ih_predict_file(p, eight_path, &fp) == 0 && fp.n == 8);
        for (int r = 0; r < 8; r++)
            CHECK_MSG(fabs(fp.rep_distance[r] - expect[r]) < 1e-5 * (1 + expect[r]), "record %d: %.6f against %.6f", r,
                      fp.rep_distance[r], expect[r]);
        ih_record_predictions_free(&fp);
        /* the flag: above IH_REP_FLAG the reason is given, below it not */
        ih_structure s;
        CHECK(ih_structure_init(&s, 2) == 0);
        s.lattice[0][0] = s.lattice[1][1] = s.lattice[2][2] = 8;
        s.z[0] = 11, s.z[1] = 8, s.frac[3] = 0.5;
        char why[512];
        ih_hop_result r = {.ion = 0, .closest_approach = 3.0, .rep_distance = IH_REP_FLAG + 0.5};
        CHECK_INT(ih_predictor_domain_check(p, &s, &r, why, sizeof why), 2); /* rare Na and far */
        CHECK(strstr(why, "far from every training record in the model's representation (2.5 times") != NULL);
        r.rep_distance = IH_REP_FLAG - 0.5;
        CHECK_INT(ih_predictor_domain_check(p, &s, &r, why, sizeof why), 1);
        CHECK(strstr(why, "representation") == NULL);
        ih_structure_free(&s);
        ih_predictor_free(p);
        /* a stored representation holding a NaN is refused when the model loads */
        ih_st_file f;
        CHECK(ih_st_read(model, &f) == 0);
        ih_st_tensor *t = calloc((size_t)f.n, sizeof *t);
        ih_st_kv *kv = calloc((size_t)f.n_meta, sizeof *kv);
        float *bad = NULL;
        for (int k = 0; k < f.n; k++) {
            const ih_st_entry *e = &f.tensors[k];
            t[k] = (ih_st_tensor){.name = e->name, .ndim = e->ndim, .data = e->data};
            memcpy(t[k].shape, e->shape, sizeof t[k].shape);
            if (!strcmp(e->name, IH_REP_TENSOR)) {
                bad = malloc(e->count * sizeof *bad);
                memcpy(bad, e->data, e->count * sizeof *bad);
                bad[7] = NAN;
                t[k].data = bad;
            }
        }
        CHECK(bad != NULL);
        for (int k = 0; k < f.n_meta; k++) kv[k] = (ih_st_kv){f.meta[k].key, f.meta[k].value};
        const char *tampered = tmp_path("nan_rep.ionhop");
        CHECK(ih_st_write(tampered, t, f.n, kv, f.n_meta) == 0);
        CHECK(ih_predictor_load(tampered) == NULL);
        CHECK(strstr(ih_last_error(), "the stored representation holds a non-finite value") != NULL);
        free(bad), free(t), free(kv);
        ih_st_free(&f);
        free(rep);
        ih_model_set_free(&ms);
        ih_structure_set_free(&one);
        ih_structure_set_free(&eight);
    }
    /* a record file that is not path records is refused */
    CHECK(ih_calibrate_model(model, cv, 1, 0.0, 1.0, "tests/fixtures/disordered/llzo_cubic.cif", model) == -1);

    /* Per-ion scores (Mondrian): 42 Li records (scores 0.01 … 0.42) and 24 Na records (1.0 … 3.3),
     * no spread, scale 1. Li has IH_CAL_GROUP_RECORDS records, a group of its own; Na has fewer and
     * makes the group of the other ions (IH_CAL_GROUP_MIN or more). */
    {
        ih_structure_set one, recs = {0, NULL};
        CHECK(ih_read_structures("tests/fixtures/em_jid7.json", IH_FMT_JSON, &one) == 0 && one.n == 1);
        recs.items = calloc(66, sizeof *recs.items);
        recs.n = 66;
        FILE *g = fopen(cv, "w");
        fprintf(g, "jid,fold,target,prediction,spread\n");
        for (int k = 0; k < 66; k++) {
            CHECK(ih_structure_copy(&recs.items[k], &one.items[0]) == 0);
            for (int a = 0; a < 5; a++) recs.items[k].z[a] = k < 42 ? 3 : 11;
            for (int a = 0; a < 3; a++) /* distinct records, so that distances between them are not zero */
                for (int b = 0; b < 3; b++) recs.items[k].lattice[a][b] *= 1.0 + 0.004 * k;
            free(recs.items[k].cart), recs.items[k].cart = NULL;
            snprintf(recs.items[k].jid, sizeof recs.items[k].jid, "r%d", k);
            fprintf(g, "r%d,%d,%.4f,0.2,0\n", 65 - k, k % 5 + 1, /* rows in another order than the records */
                    0.2 + (65 - k < 42 ? 0.01 * (65 - k + 1) : 1.0 + 0.1 * (65 - k - 42)));
        }
        fclose(g);
        char recs_path[256]; /* tmp_path's buffers rotate; cv and model stay valid */
        snprintf(recs_path, sizeof recs_path, "%s/ions.json", tmpdir);
        CHECK(ih_write_json(recs_path, recs.items, 66) == 0);
        CHECK_MSG(ih_calibrate_model(model, cv, 1, 0.0, 1.0, recs_path, model) == 0, "%s", ih_last_error());
        p = ih_predictor_load(model);
        CHECK(p != NULL);
        /* 90 %: Li the ceil(43 · 0.9) = 39th of its 42 scores, 0.39; Na (and K, in no group) the
         * 23rd of the other ions' 24, 3.2; all ions the 61st of 66, 2.8 */
        CHECK(ih_predictor_interval(p, 3, 0.2, 0.0, 0.9, &low, &high) == 0);
        CHECK_NEAR(high - 0.2, 0.39, 1e-4);
        CHECK(ih_predictor_interval(p, 11, 0.2, 0.0, 0.9, &low, &high) == 0);
        CHECK_NEAR(high - 0.2, 3.2, 1e-4);
        CHECK(ih_predictor_interval(p, 19, 0.2, 0.0, 0.9, &low, &high) == 0);
        CHECK_NEAR(high - 0.2, 3.2, 1e-4);
        CHECK(ih_predictor_interval(p, 0, 0.2, 0.0, 0.9, &low, &high) == 0);
        CHECK_NEAR(high - 0.2, 2.8, 1e-4);
        /* P(Em < 0.65) at 0.25: scores below 0.40 are 39 of Li's 42, none of Na's, 39 of all 66 */
        CHECK_NEAR(ih_predictor_p_good(p, 3, 0.25, 0.0), 39.0 / 42.0, 1e-12);
        CHECK_NEAR(ih_predictor_p_good(p, 11, 0.25, 0.0), 0.0, 0);
        CHECK_NEAR(ih_predictor_p_good(p, 0, 0.25, 0.0), 39.0 / 66.0, 1e-12);
        /* the CLI's batch output uses each record's own ion */
        ih_record_predictions fp;
        CHECK(ih_predict_file(p, recs_path, &fp) == 0 && fp.n == 66);
        CHECK(fp.ion_z[0] == 3 && fp.ion_z[65] == 11);
        ih_record_predictions_free(&fp);
        ih_predictor_free(p);
        ih_structure_set_free(&one);
        ih_structure_set_free(&recs);
    }
    /* the lookup: an ion's own group, else the other ions' group, else all records */
    {
        char json[8192], *w = json;
        w += sprintf(w, "{\"calibration\": {\"scale\": {\"spread\": 0, \"pred\": 0, \"const\": 1}, \"spread_members\": 1, "
                        "\"scores\": [");
        for (int i = 0; i < 30; i++) w += sprintf(w, "%s%g", i ? ", " : "", 0.1 * i);
        w += sprintf(w, "], \"groups\": [{\"ion\": \"Li\", \"scores\": [");
        for (int i = 0; i < 20; i++) w += sprintf(w, "%s%g", i ? ", " : "", 0.01 * i);
        sprintf(w, "]}]}}");
        ih_calibration c;
        CHECK(ih_calibration_from_json(json, "x", 1, &c) == 0);
        int gz = 99;
        CHECK(ih_calibration_scores_for(&c, 3, &gz)->n == 20 && gz == 3);
        CHECK(ih_calibration_scores_for(&c, 11, &gz)->n == 30 && gz == -1);
        CHECK(ih_calibration_scores_for(&c, 0, &gz)->n == 30 && gz == -1);
        ih_calibration_free(&c);
        /* malformed groups are refused: too few scores, a NaN, no element, one ion twice */
        const char *bad_groups[] = {"[{\"ion\": \"Li\", \"scores\": [0.1, 0.2]}]", "[{\"ion\": \"Xx\", \"scores\": []}]",
                                    "{\"ion\": \"Li\"}", "[{\"scores\": []}]"};
        for (int b = 0; b < 4; b++) {
            char j2[512];
            snprintf(j2, sizeof j2,
                     "{\"calibration\": {\"scale\": {\"spread\": 0, \"pred\": 0, \"const\": 1}, \"spread_members\": 1, "
                     "\"scores\": [0,1,2,3,4,5,6,7,8,9], \"groups\": %s}}",
                     bad_groups[b]);
            CHECK_MSG(ih_calibration_from_json(j2, "x", 1, &c) == -1, "groups %s accepted", bad_groups[b]);
        }
        w = json;
        w += sprintf(w, "{\"calibration\": {\"scale\": {\"spread\": 0, \"pred\": 0, \"const\": 1}, \"spread_members\": 1, "
                        "\"scores\": [0,1,2,3,4,5,6,7,8,9], \"groups\": [{\"ion\": \"Na\", \"scores\": [");
        for (int i = 0; i < 20; i++) w += sprintf(w, "%s%g", i ? ", " : "", i == 7 ? 0.1 : 0.5);
        sprintf(w, "]}]}}");
        CHECK(ih_calibration_from_json(json, "x", 1, &c) == -1);
        CHECK(strstr(ih_last_error(), "calibration score 8 (Na) is not a finite number in ascending order") != NULL);
        w = json;
        w += sprintf(w, "{\"calibration\": {\"scale\": {\"spread\": 0, \"pred\": 0, \"const\": 1}, \"spread_members\": 1, "
                        "\"scores\": [0,1,2,3,4,5,6,7,8,9], \"groups\": [");
        for (int g = 0; g < 2; g++) {
            w += sprintf(w, "%s{\"ion\": \"Na\", \"scores\": [", g ? ", " : "");
            for (int i = 0; i < 20; i++) w += sprintf(w, "%s%d", i ? ", " : "", i);
            w += sprintf(w, "]}");
        }
        sprintf(w, "]}}");
        CHECK(ih_calibration_from_json(json, "x", 1, &c) == -1);
        CHECK(strstr(ih_last_error(), "two calibration groups for Na") != NULL);
    }

    /* bad calibration data: header only, a NaN, a wrong header, a negative spread */
    write_text(cv, "jid,fold,target,prediction,spread\n");
    CHECK(ih_calibrate_model(model, cv, 3, 0.5, 0.02, NULL, model) == -1);
    CHECK(strstr(ih_last_error(), "0 cross-validated predictions: at least 10") != NULL);
    write_text(cv, "jid,fold,target,prediction,spread\n1,1,0.3,nan,0.1\n");
    CHECK(ih_calibrate_model(model, cv, 3, 0.5, 0.02, NULL, model) == -1);
    CHECK(strstr(ih_last_error(), "line 2: not five finite fields") != NULL);
    write_text(cv, "a,b\n1,2\n");
    CHECK(ih_calibrate_model(model, cv, 3, 0.5, 0.02, NULL, model) == -1);
    CHECK(strstr(ih_last_error(), "expected the header") != NULL);
    write_text(cv, "jid,fold,target,prediction,spread\n1,1,0.3,0.2,-1\n");
    CHECK(ih_calibrate_model(model, cv, 3, 0.5, 0.02, NULL, model) == -1);
    CHECK(ih_calibrate_model(model, cv, 3, 0.5, 0.0, NULL, model) == -1);
    /* the file is unchanged by the refused calls: still the Gaussian calibration */
    p = ih_predictor_load(model);
    CHECK(p != NULL && ih_predictor_has_calibration(p));
    ih_predictor_free(p);
    /* a malformed calibration in the metadata is refused when the model loads */
    ih_calibration c;
    CHECK(ih_calibration_from_json("{\"calibration\": {\"scale\": {}, \"scores\": []}}", "x", 5, &c) == -1);
    CHECK(strstr(ih_last_error(), "malformed") != NULL);
    CHECK(ih_calibration_from_json("{}", "x", 5, &c) == 1);
    return test_summary("test_calibration");
}
