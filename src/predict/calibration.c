/* Calibrated prediction intervals and P(Em < 0.65 eV) (docs/method.md §13).
 *
 * Split conformal prediction on cross-validated residuals: each calibration record i has a target
 * y_i, a prediction p_i made by models that never saw its host, and an ensemble spread s_i. Its
 * score is r_i = (y_i − p_i) / scale_i with scale = c_s · s + c_p · max(p, 0) + c_0. For a new
 * prediction (p, s) the central interval at level L is p ± q_L · scale, q_L the ceil((n+1)·L)-th
 * smallest |r_i|; P(Em < t) is the fraction of calibration records with p + scale · r_i < t. The
 * sorted signed scores travel in the model file's "calibration" metadata, so merged and
 * fine-tuned files keep them and any level can be asked for.
 *
 * The scores are also kept per mobile ion (Mondrian conformal prediction: the guarantee then
 * holds for each ion's hops, not only for the training mix of ions; docs/results.md §34). */
#include "ionhop_train.h"
#include "ionhop_modelfile.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ih_calibration_scale(const ih_calibration *c, double em, double spread) {
    return c->c_spread * spread * c->spread_factor + c->c_pred * (em > 0 ? em : 0) + c->c_const;
}

const ih_calibration_scores *ih_calibration_scores_for(const ih_calibration *c, int ion_z, int *group_z) {
    const ih_calibration_scores *other = NULL;
    for (int g = 0; ion_z > 0 && g < c->n_groups; g++) {
        if (c->groups[g].z == ion_z) {
            if (group_z) *group_z = ion_z;
            return &c->groups[g];
        }
        if (c->groups[g].z == 0) other = &c->groups[g];
    }
    if (group_z) *group_z = other ? 0 : -1;
    return other ? other : &c->all;
}

int ih_calibration_interval(const ih_calibration *c, int ion_z, double em, double spread, double level, double *low,
                            double *high) {
    if (!(level > 0 && level < 1)) return ih_set_error("interval level %g: give a fraction between 0 and 1", level);
    const ih_calibration_scores *sc = ih_calibration_scores_for(c, ion_z, NULL);
    int n = sc->n, k = (int)ceil((n + 1) * level);
    if (k > n) return ih_set_error("interval level %g needs more than the %d calibration records", level, n);
    double q = sc->abs_sorted[k - 1], scale = ih_calibration_scale(c, em, spread);
    *low = em - q * scale;
    *high = em + q * scale;
    return 0;
}

int ih_calibration_domain_check(const ih_calibration *c, const ih_structure *s, int ion, double closest,
                                double rep_distance, char *why, size_t cap) {
    if (cap) why[0] = 0;
    if (!c->has_domain) return 0;
    int n = 0;
    size_t len = 0;
#define REASON(...)                                                                                  \
    do {                                                                                             \
        if (len < cap) len += (size_t)snprintf(why + len, cap - len, "%s", n ? "; " : "");          \
        if (len < cap) len += (size_t)snprintf(why + len, cap - len, __VA_ARGS__);                   \
        n++;                                                                                         \
    } while (0)
    int zi = s->z[ion] & 127, count = c->ion_records[zi];
    if (count == 0)
        REASON("no %s hop among the %d training records", ih_element_symbol(s->z[ion]), c->domain_records);
    else if (count < IH_RARE_ION_RECORDS)
        REASON("%s hops are rare in training (%d of %d records)", ih_element_symbol(s->z[ion]), count,
               c->domain_records);
    int unseen[128] = {0};
    for (int i = 0; i < s->n_atoms; i++)
        if (i != ion && !c->host_seen[s->z[i] & 127] && !unseen[s->z[i] & 127]) {
            unseen[s->z[i] & 127] = 1;
            REASON("host element %s is in no training structure", ih_element_symbol(s->z[i]));
        }
    if (closest < c->closest_p01)
        REASON("the path passes %.2f Å from a host atom, closer than 99 %% of the training paths (%.2f Å)", closest,
               c->closest_p01);
    if (rep_distance > IH_REP_FLAG)
        REASON("the hop is far from every training record in the model's representation (%.1f times the "
               "training records' typical distance)",
               rep_distance);
#undef REASON
    return n;
}

double ih_calibration_p_below(const ih_calibration *c, int ion_z, double em, double spread, double threshold) {
    double scale = ih_calibration_scale(c, em, spread);
    if (!(scale > 0)) return NAN;
    const ih_calibration_scores *sc = ih_calibration_scores_for(c, ion_z, NULL);
    /* p + scale · r < t  ⇔  r < (t − p) / scale: count the sorted scores below */
    double r = (threshold - em) / scale;
    int lo = 0, hi = sc->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (sc->signed_sorted[mid] < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (double)lo / sc->n;
}

int ih_calibration_trained_on(const ih_calibration *c, const char *jid) {
    if (!c->jids) return -1;
    char key[64];
    snprintf(key, sizeof key, "%s", jid);
    return bsearch(key, c->jids, (size_t)c->n_jids, sizeof *c->jids, (int (*)(const void *, const void *))strcmp) != NULL;
}

/* a small sorted list of the k smallest values seen */
static void keep_smallest(double *best, int k, double v) {
    if (v >= best[k - 1]) return;
    int i = k - 1;
    while (i > 0 && best[i - 1] > v) best[i] = best[i - 1], i--;
    best[i] = v;
}

double ih_rep_knn_distance(const float *rep, int n, int M, int dim, int m, const float *query, int exclude, int k) {
    double best[16];
    if (k > 16) k = 16;
    for (int j = 0; j < k; j++) best[j] = INFINITY;
    for (int r = 0; r < n; r++) {
        if (r == exclude) continue;
        const float *v = rep + ((size_t)r * M + m) * dim;
        double d2 = 0;
        for (int j = 0; j < dim; j++) d2 += ((double)query[j] - v[j]) * ((double)query[j] - v[j]);
        keep_smallest(best, k, d2);
    }
    double sum = 0;
    int got = 0;
    for (int j = 0; j < k && isfinite(best[j]); j++) sum += sqrt(best[j]), got++;
    return got ? sum / got : NAN;
}

double ih_calibration_rep_distance(const ih_calibration *c, const float *query) {
    if (!c->rep) return NAN;
    double sum = 0;
    for (int m = 0; m < c->rep_members; m++)
        sum += ih_rep_knn_distance(c->rep, c->rep_records, c->rep_members, c->rep_dim, m, query + (size_t)m * c->rep_dim,
                                   -1, IH_REP_NEIGHBORS) /
               c->rep_median[m];
    return sum / c->rep_members;
}

/* per member, the median over the records of their mean distance to their k nearest others */
static int rep_medians(const float *rep, int n, int M, int dim, double *median) {
    double *d = malloc((size_t)n * sizeof *d);
    if (!d) return ih_set_error("out of memory");
    for (int m = 0; m < M; m++) {
        for (int r = 0; r < n; r++)
            d[r] = ih_rep_knn_distance(rep, n, M, dim, m, rep + ((size_t)r * M + m) * dim, r, IH_REP_NEIGHBORS);
        qsort(d, (size_t)n, sizeof *d, cmp_double);
        median[m] = n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
    }
    free(d);
    return 0;
}

int ih_calibration_load_representation(ih_calibration *c, const char *path, const char *meta_json, int n_members,
                                       int dim) {
    cJSON *root = cJSON_Parse(meta_json ? meta_json : "{}");
    cJSON *dom = root ? cJSON_GetObjectItemCaseSensitive(root, "domain") : NULL;
    cJSON *rep = dom ? cJSON_GetObjectItemCaseSensitive(dom, "representation") : NULL;
    int rc = 1;
    if (rep) {
        cJSON *med = cJSON_GetObjectItemCaseSensitive(rep, "median_distance");
        ih_st_file f;
        if (!cJSON_IsArray(med) || cJSON_GetArraySize(med) != n_members) {
            /* a merged file keeps the first part's description but not its representation */
            rc = 1;
        } else if (ih_st_read(path, &f) != 0) {
            rc = -1;
        } else {
            const ih_st_entry *e = ih_st_find(&f, IH_REP_TENSOR);
            rc = 1;
            if (e && e->ndim == 3 && e->shape[1] == n_members && e->shape[2] == dim && e->shape[0] >= IH_REP_NEIGHBORS + 1) {
                int n = (int)e->shape[0];
                c->rep = malloc(e->count * sizeof *c->rep);
                c->rep_median = malloc((size_t)n_members * sizeof *c->rep_median);
                rc = c->rep && c->rep_median ? 0 : ih_set_error("%s: out of memory", path);
                for (size_t q = 0; rc == 0 && q < e->count; q++)
                    if (!isfinite(e->data[q])) rc = ih_set_error("%s: the stored representation holds a non-finite value", path);
                for (int m = 0; rc == 0 && m < n_members; m++) {
                    cJSON *v = cJSON_GetArrayItem(med, m);
                    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || !isfinite(v->valuedouble))
                        rc = ih_set_error("%s: the representation's median distance %d is not a positive number", path,
                                          m + 1);
                    else
                        c->rep_median[m] = v->valuedouble;
                }
                if (rc == 0) {
                    memcpy(c->rep, e->data, e->count * sizeof *c->rep);
                    c->rep_records = n, c->rep_members = n_members, c->rep_dim = dim;
                } else {
                    free(c->rep), free(c->rep_median);
                    c->rep = NULL, c->rep_median = NULL;
                }
            }
            ih_st_free(&f);
        }
    }
    cJSON_Delete(root);
    return rc;
}

void ih_calibration_free(ih_calibration *c) {
    free(c->all.signed_sorted), free(c->all.abs_sorted);
    for (int g = 0; g < c->n_groups; g++) free(c->groups[g].signed_sorted), free(c->groups[g].abs_sorted);
    free(c->groups), free(c->jids), free(c->rep), free(c->rep_median);
    memset(c, 0, sizeof *c);
}

/* A JSON array of at least min_n finite scores in ascending order into sc, with the sorted
 * absolute values beside them. */
static int read_scores(const cJSON *arr, int min_n, const char *name, const char *what, ih_calibration_scores *sc) {
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    if (n < min_n)
        return ih_set_error("%s: the model's \"calibration\" is malformed (%s: at least %d scores are needed)", name,
                            what, min_n);
    sc->signed_sorted = malloc((size_t)n * sizeof *sc->signed_sorted);
    sc->abs_sorted = malloc((size_t)n * sizeof *sc->abs_sorted);
    if (!sc->signed_sorted || !sc->abs_sorted) return ih_set_error("%s: out of memory", name);
    sc->n = n;
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || (i && v->valuedouble < sc->signed_sorted[i - 1]))
            return ih_set_error("%s: calibration score %d (%s) is not a finite number in ascending order", name, i + 1,
                                what);
        sc->signed_sorted[i] = v->valuedouble;
        sc->abs_sorted[i++] = fabs(v->valuedouble);
    }
    qsort(sc->abs_sorted, (size_t)n, sizeof *sc->abs_sorted, cmp_double);
    return 0;
}

/* "groups": [{"ion": "Li", "scores": [...]}, ..., {"ion": "other", "scores": [...]}] */
static int read_groups(const cJSON *groups, const char *name, ih_calibration *c) {
    if (!groups) return 0;
    int n = cJSON_IsArray(groups) ? cJSON_GetArraySize(groups) : -1;
    if (n < 0 || n > 128) return ih_set_error("%s: the model's calibration \"groups\" is malformed", name);
    c->groups = calloc((size_t)(n ? n : 1), sizeof *c->groups);
    if (!c->groups) return ih_set_error("%s: out of memory", name);
    const cJSON *g;
    cJSON_ArrayForEach(g, groups) {
        const cJSON *ion = cJSON_GetObjectItemCaseSensitive(g, "ion");
        int other = cJSON_IsString(ion) && !strcmp(ion->valuestring, "other");
        int z = other ? 0 : cJSON_IsString(ion) ? ih_element_z(ion->valuestring) : -1;
        if (!other && (z <= 0 || z >= 128))
            return ih_set_error("%s: a calibration group names no mobile ion (\"ion\": an element or \"other\")", name);
        for (int k = 0; k < c->n_groups; k++)
            if (c->groups[k].z == z)
                return ih_set_error("%s: two calibration groups for %s", name, ion->valuestring);
        ih_calibration_scores *sc = &c->groups[c->n_groups++];
        sc->z = z;
        if (read_scores(cJSON_GetObjectItemCaseSensitive(g, "scores"), IH_CAL_GROUP_MIN, name, ion->valuestring, sc) !=
            0)
            return -1;
    }
    return 0;
}

int ih_calibration_from_json(const char *meta_json, const char *name, int n_members, ih_calibration *c) {
    memset(c, 0, sizeof *c);
    cJSON *root = cJSON_Parse(meta_json ? meta_json : "{}");
    cJSON *cal = root ? cJSON_GetObjectItemCaseSensitive(root, "calibration") : NULL;
    if (!cal) {
        cJSON_Delete(root);
        return 1; /* none */
    }
    cJSON *scale = cJSON_GetObjectItemCaseSensitive(cal, "scale");
    cJSON *scores = cJSON_GetObjectItemCaseSensitive(cal, "scores");
    cJSON *cs = cJSON_GetObjectItemCaseSensitive(scale, "spread"), *cp = cJSON_GetObjectItemCaseSensitive(scale, "pred"),
          *c0 = cJSON_GetObjectItemCaseSensitive(scale, "const");
    cJSON *members = cJSON_GetObjectItemCaseSensitive(cal, "spread_members");
    int rc = 0;
    c->all.z = -1;
    if (!cJSON_IsNumber(cs) || !cJSON_IsNumber(cp) || !cJSON_IsNumber(c0) || !cJSON_IsNumber(members))
        rc = ih_set_error("%s: the model's \"calibration\" is malformed (scale and spread_members are needed)", name);
    if (rc == 0) {
        c->c_spread = cs->valuedouble, c->c_pred = cp->valuedouble, c->c_const = c0->valuedouble;
        c->spread_members = members->valueint;
        rc = read_scores(scores, 10, name, "all records", &c->all);
    }
    if (rc == 0) rc = read_groups(cJSON_GetObjectItemCaseSensitive(cal, "groups"), name, c);
    if (rc == 0 && !(c->c_spread >= 0 && c->c_pred >= 0 && c->c_const > 0))
        rc = ih_set_error("%s: calibration scale coefficients must be >= 0 with a positive constant", name);
    /* the population standard deviation of m members estimates sqrt((m-1)/m) of the members'
     * scatter: a spread of n_members is put on the calibration's footing */
    if (rc == 0) {
        int m = c->spread_members, M = n_members;
        c->spread_factor = m > 1 && M > 1 ? sqrt(((m - 1.0) / m) / ((M - 1.0) / M)) : M > 1 || c->c_spread == 0 ? 1 : 0;
        if (M <= 1 && c->c_spread > 0)
            ih_warn("%s: calibrated for a %d-member ensemble spread, but the model has one member: its interval "
                    "uses the prediction term only and is too narrow",
                    name, m);
    }
    cJSON *dom = root ? cJSON_GetObjectItemCaseSensitive(root, "domain") : NULL;
    if (rc == 0 && dom) {
        cJSON *n_rec = cJSON_GetObjectItemCaseSensitive(dom, "n"), *ions = cJSON_GetObjectItemCaseSensitive(dom, "ions"),
              *host = cJSON_GetObjectItemCaseSensitive(dom, "host_elements"),
              *p01 = cJSON_GetObjectItemCaseSensitive(dom, "closest_approach_p01");
        if (!cJSON_IsNumber(n_rec) || !cJSON_IsObject(ions) || !cJSON_IsArray(host) || !cJSON_IsNumber(p01)) {
            rc = ih_set_error("%s: the model's \"domain\" is malformed", name);
        } else {
            c->has_domain = 1;
            cJSON *jids = cJSON_GetObjectItemCaseSensitive(dom, "jids");
            int nj = cJSON_IsArray(jids) ? cJSON_GetArraySize(jids) : 0;
            c->jids = nj ? calloc((size_t)nj, sizeof *c->jids) : NULL;
            for (int k = 0; c->jids && k < nj; k++) {
                cJSON *v = cJSON_GetArrayItem(jids, k);
                snprintf(c->jids[c->n_jids++], sizeof *c->jids, "%s", cJSON_IsString(v) ? v->valuestring : "");
            }
            if (c->jids) qsort(c->jids, (size_t)c->n_jids, sizeof *c->jids, (int (*)(const void *, const void *))strcmp);
            c->domain_records = n_rec->valueint;
            c->closest_p01 = p01->valuedouble;
            const cJSON *it;
            cJSON_ArrayForEach(it, ions) {
                int z = ih_element_z(it->string);
                if (z > 0 && z < 128 && cJSON_IsNumber(it)) c->ion_records[z] = it->valueint;
            }
            cJSON_ArrayForEach(it, host) {
                int z = cJSON_IsString(it) ? ih_element_z(it->valuestring) : 0;
                if (z > 0 && z < 128) c->host_seen[z] = 1;
            }
        }
    }
    if (rc == 0) {
        cJSON *src = cJSON_GetObjectItemCaseSensitive(cal, "source");
        snprintf(c->source, sizeof c->source, "%s", cJSON_IsString(src) ? src->valuestring : "");
    }
    if (rc != 0) ih_calibration_free(c);
    cJSON_Delete(root);
    return rc;
}

/* jid,fold,target,prediction,spread rows (a header line first): the scores in file order and
 * the rows' jids */
static int read_cv(const char *path, double **score_out, char (**jid_out)[64], int *n_out, double cs, double cp,
                   double c0) {
    size_t len;
    char *text = ih_read_file(path, &len);
    if (!text) return -1;
    int cap = 1024, n = 0, line = 0, rc = 0;
    double *score = malloc((size_t)cap * sizeof *score);
    char(*jids)[64] = malloc((size_t)cap * sizeof *jids);
    if (!score || !jids) rc = ih_set_error("%s: out of memory", path);
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); rc == 0 && l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        if (line == 1) {
            if (strncmp(l, "jid,fold,target,prediction,spread", 33) != 0)
                rc = ih_set_error("%s: line 1: expected the header jid,fold,target,prediction,spread "
                                  "(cross-validated predictions, e.g. finetune --cv-out)",
                                  path);
            continue;
        }
        if (!*l || *l == '\r') continue;
        char jid[128];
        int fold;
        double y, p, s;
        if (sscanf(l, "%127[^,],%d,%lf,%lf,%lf", jid, &fold, &y, &p, &s) != 5 || !isfinite(y) || !isfinite(p) ||
            !isfinite(s) || s < 0) {
            rc = ih_set_error("%s: line %d: not five finite fields jid,fold,target,prediction,spread (spread >= 0)",
                              path, line);
            break;
        }
        double scale = cs * s + cp * (p > 0 ? p : 0) + c0;
        if (n == cap) {
            cap *= 2;
            double *g = realloc(score, (size_t)cap * sizeof *g);
            if (g) score = g;
            char(*h)[64] = g ? realloc(jids, (size_t)cap * sizeof *h) : NULL;
            if (h) jids = h;
            if (!g || !h) {
                rc = ih_set_error("%s: out of memory", path);
                break;
            }
        }
        snprintf(jids[n], sizeof jids[n], "%.63s", jid);
        score[n++] = (y - p) / scale;
    }
    free(text);
    if (rc == 0 && n < 10)
        rc = ih_set_error("%s: %d cross-validated predictions: at least 10 are needed to calibrate", path, n);
    if (rc != 0) {
        free(score), free(jids);
        return -1;
    }
    *score_out = score, *jid_out = jids, *n_out = n;
    return 0;
}

typedef struct {
    char jid[64];
    int z;
} jid_ion;

static int cmp_jid_ion(const void *a, const void *b) { return strcmp(((const jid_ion *)a)->jid, ((const jid_ion *)b)->jid); }

/* Each cross-validated prediction's mobile ion, from the record of the training records (set,
 * read from train_data) with its jid (the first site of a 5-image record). 1 (with a warning) if
 * some jid is not there: no per-ion scores. */
static int cv_ions(const ih_structure_set *set, const char *train_data, char (*jids)[64], int n, int *z) {
    jid_ion *map = malloc((size_t)(set->n ? set->n : 1) * sizeof *map);
    int rc = map ? 0 : ih_set_error("%s: out of memory", train_data), missing = 0;
    for (int r = 0; rc == 0 && r < set->n; r++) {
        snprintf(map[r].jid, sizeof map[r].jid, "%s", set->items[r].jid);
        map[r].z = set->items[r].n_atoms > 0 ? set->items[r].z[0] : 0;
    }
    if (rc == 0) qsort(map, (size_t)set->n, sizeof *map, cmp_jid_ion);
    for (int i = 0; rc == 0 && i < n; i++) {
        jid_ion key;
        snprintf(key.jid, sizeof key.jid, "%s", jids[i]);
        const jid_ion *hit = bsearch(&key, map, (size_t)set->n, sizeof *map, cmp_jid_ion);
        z[i] = hit ? hit->z : 0;
        if (!hit && missing++ == 0)
            ih_warn("%s: the cross-validated prediction of jid %s has no record here: the calibration is kept over all "
                    "records only, not per mobile ion",
                    train_data, jids[i]);
    }
    free(map);
    return rc != 0 ? -1 : missing ? 1 : 0;
}

static void add_scores(cJSON *obj, const double *score, int n) {
    cJSON *arr = cJSON_AddArrayToObject(obj, "scores");
    for (int i = 0; i < n; i++) {
        char num[32];
        snprintf(num, sizeof num, "%.6g", score[i]);
        cJSON_AddItemToArray(arr, cJSON_CreateRaw(num));
    }
}

/* Per-ion scores (Mondrian conformal): an ion with IH_CAL_GROUP_RECORDS records or more has its
 * own sorted scores; the others' records together form the group "other" if there are
 * IH_CAL_GROUP_MIN of them. */
static int add_groups(cJSON *cal, const double *score, const int *z, int n, const char *name) {
    int count[128] = {0}, n_other = 0;
    for (int i = 0; i < n; i++) count[z[i] & 127]++;
    for (int e = 1; e < 128; e++)
        if (count[e] < IH_CAL_GROUP_RECORDS) n_other += count[e];
    double *buf = malloc((size_t)n * sizeof *buf);
    if (!buf) return ih_set_error("%s: out of memory", name);
    cJSON *groups = cJSON_AddArrayToObject(cal, "groups");
    for (int e = 1; e <= 128; e++) {
        int other = e == 128; /* last: the ions without a group of their own */
        if (other ? n_other < IH_CAL_GROUP_MIN : count[e] < IH_CAL_GROUP_RECORDS) continue;
        int m = 0;
        for (int i = 0; i < n; i++)
            if (other ? count[z[i] & 127] < IH_CAL_GROUP_RECORDS : (z[i] & 127) == e) buf[m++] = score[i];
        qsort(buf, (size_t)m, sizeof *buf, cmp_double);
        cJSON *g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "ion", other ? "other" : ih_element_symbol(e));
        cJSON_AddNumberToObject(g, "n", m);
        add_scores(g, buf, m);
        cJSON_AddItemToArray(groups, g);
    }
    free(buf);
    return 0;
}

/* The training domain of a record file: records per mobile ion, the host elements seen, and the
 * 1st percentile of the straight paths' closest approach to a host atom (docs/method.md §13). */
static cJSON *domain_json(const ih_structure_set *set, const char *data) {
    int ions[128] = {0}, host[128] = {0}, n = 0;
    double *closest = malloc((size_t)(set->n ? set->n : 1) * sizeof *closest);
    cJSON *d = NULL, *jids = cJSON_CreateArray(); /* the training records, so evaluate can tell them */
    if (!closest) {
        ih_set_error("%s: out of memory", data);
        goto done;
    }
    for (int r = 0; r < set->n; r++) {
        const ih_structure *s = &set->items[r];
        if (!ih_structure_is_5image(s)) {
            ih_set_error("%s: record %d is not a 5-image path record: the training domain is built from path "
                         "records",
                         data, r + 1);
            goto done;
        }
        ions[s->z[0] & 127]++;
        if (jids) cJSON_AddItemToArray(jids, cJSON_CreateString(s->jid));
        for (int i = 5; i < s->n_atoms; i++) host[s->z[i] & 127] = 1;
        closest[n++] = ih_path_closest_approach(s, NULL);
    }
    if (n == 0) {
        ih_set_error("%s: no records", data);
        goto done;
    }
    qsort(closest, (size_t)n, sizeof *closest, cmp_double);
    d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "source", data);
    cJSON_AddNumberToObject(d, "n", n);
    cJSON *io = cJSON_AddObjectToObject(d, "ions"), *el = cJSON_AddArrayToObject(d, "host_elements");
    for (int z = 1; z < 128; z++) {
        if (ions[z]) cJSON_AddNumberToObject(io, ih_element_symbol(z), ions[z]);
        if (host[z]) cJSON_AddItemToArray(el, cJSON_CreateString(ih_element_symbol(z)));
    }
    cJSON_AddNumberToObject(d, "closest_approach_p01", closest[(int)floor(0.01 * (n - 1))]);
    cJSON_AddItemToObject(d, "jids", jids);
    jids = NULL;
done:
    cJSON_Delete(jids);
    free(closest);
    return d;
}

/* The training records (set, read from train_data) in the model's representation: each member's
 * head input for each record (n × M × dim), and in domain's "representation" the per-member median
 * of the records' mean distance to their IH_REP_NEIGHBORS nearest others. */
static int representation(const char *model_path, const ih_structure_set *set, const char *train_data, cJSON *domain,
                          float **rep_out, int *n_out, int *m_out, int *dim_out) {
    ih_model_set ms;
    if (ih_model_set_load(model_path, &ms) != 0) return -1;
    int n = set->n, M = ms.n_members, dim = ih_model_config(ms.members[0])->hidden, rc = 0;
    float *rep = malloc((size_t)(n ? n : 1) * M * dim * sizeof *rep);
    double *median = malloc((size_t)M * sizeof *median);
    if (!rep || !median) rc = ih_set_error("%s: out of memory", train_data);
    int too_few = n < IH_REP_NEIGHBORS + 1;
    if (rc == 0 && too_few)
        ih_warn("%s: %d record%s: the distance in the model's representation needs at least %d, so it is not stored",
                train_data, n, n == 1 ? "" : "s", IH_REP_NEIGHBORS + 1);
    if (rc == 0 && !too_few) rc = ih_model_set_representation(&ms, set, train_data, rep);
    if (rc == 0 && !too_few) rc = rep_medians(rep, n, M, dim, median);
    for (int m = 0; rc == 0 && !too_few && m < M; m++)
        if (!(median[m] > 0))
            rc = ih_set_error("%s: member %d maps the training records to one point: no distance can be measured",
                              model_path, m + 1);
    if (rc == 0 && !too_few) {
        cJSON *r = cJSON_AddObjectToObject(domain, "representation");
        cJSON_AddStringToObject(r, "tensor", IH_REP_TENSOR);
        cJSON_AddStringToObject(r, "what", "each member's head input for each training record");
        cJSON_AddNumberToObject(r, "neighbors", IH_REP_NEIGHBORS);
        cJSON *med = cJSON_AddArrayToObject(r, "median_distance");
        for (int m = 0; m < M; m++) cJSON_AddItemToArray(med, cJSON_CreateNumber(median[m]));
        *rep_out = rep, *n_out = n, *m_out = M, *dim_out = dim;
        rep = NULL;
    }
    free(rep), free(median);
    ih_model_set_free(&ms);
    return rc;
}

int ih_calibrate_model(const char *model_path, const char *cv_csv, int spread_members, double c_pred, double c_const,
                       const char *train_data, const char *out_path) {
    if (spread_members < 1) return ih_set_error("--members %d: the cross-validation ensemble size", spread_members);
    if (!(c_pred >= 0) || !(c_const > 0))
        return ih_set_error("calibration scale: the prediction coefficient must be >= 0 and the constant > 0");
    double *score;
    char(*jids)[64];
    int n;
    double c_spread = spread_members > 1 ? 1.0 : 0.0;
    if (read_cv(cv_csv, &score, &jids, &n, c_spread, c_pred, c_const) != 0) return -1;
    /* the training records, read once: each prediction's ion, the domain and the representation */
    ih_structure_set train = {0, NULL};
    int *ion_z = NULL, per_ion = 0;
    if (train_data && ih_read_structures(train_data, IH_FMT_JSON, &train) != 0) {
        free(score), free(jids);
        return -1;
    }
    if (train_data && !(ion_z = malloc((size_t)n * sizeof *ion_z))) {
        free(score), free(jids), ih_structure_set_free(&train);
        return ih_set_error("%s: out of memory", cv_csv);
    }
    if (train_data) {
        int got = cv_ions(&train, train_data, jids, n, ion_z);
        if (got < 0) {
            free(score), free(jids), free(ion_z), ih_structure_set_free(&train);
            return -1;
        }
        per_ion = got == 0;
    }
    ih_st_file f;
    if (ih_st_read(model_path, &f) != 0) {
        free(score), free(jids), free(ion_z), ih_structure_set_free(&train);
        return -1;
    }
    int rc = 0;
    const char *meta = ih_st_meta_get(&f, "ionhop");
    cJSON *root = meta ? cJSON_Parse(meta) : NULL;
    if (!root) rc = ih_set_error("%s: not an ionhop model file (no \"ionhop\" metadata)", model_path);
    cJSON *domain = rc == 0 && train_data ? domain_json(&train, train_data) : NULL;
    if (rc == 0 && train_data && !domain) rc = -1;
    float *rep = NULL;
    int rep_n = 0, rep_m = 0, rep_dim = 0;
    if (rc == 0 && domain) rc = representation(model_path, &train, train_data, domain, &rep, &rep_n, &rep_m, &rep_dim);
    int new_domain = domain != NULL; /* its tensors replace the stored ones */
    if (rc == 0 && domain) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "domain");
        cJSON_AddItemToObject(root, "domain", domain);
    } else {
        cJSON_Delete(domain);
    }
    if (rc == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "calibration");
        cJSON *cal = cJSON_AddObjectToObject(root, "calibration");
        cJSON_AddStringToObject(cal, "method",
                                per_ion ? "split conformal on host-grouped cross-validation residuals, per mobile ion"
                                        : "split conformal on host-grouped cross-validation residuals");
        cJSON_AddStringToObject(cal, "source", cv_csv);
        cJSON_AddNumberToObject(cal, "n", n);
        cJSON_AddNumberToObject(cal, "spread_members", spread_members);
        cJSON *scale = cJSON_AddObjectToObject(cal, "scale");
        cJSON_AddNumberToObject(scale, "spread", c_spread);
        cJSON_AddNumberToObject(scale, "pred", c_pred);
        cJSON_AddNumberToObject(scale, "const", c_const);
        if (per_ion) rc = add_groups(cal, score, ion_z, n, out_path);
        qsort(score, (size_t)n, sizeof *score, cmp_double);
        add_scores(cal, score, n);
        char *text = rc == 0 ? cJSON_PrintUnformatted(root) : NULL;
        ih_st_tensor *t = malloc((size_t)(f.n + 1) * sizeof *t);
        ih_st_kv *kv = malloc((size_t)f.n_meta * sizeof *kv);
        if (rc == 0 && (!text || !t || !kv)) rc = ih_set_error("%s: out of memory", out_path);
        int nt = 0;
        for (int k = 0; rc == 0 && k < f.n; k++) {
            const ih_st_entry *e = &f.tensors[k];
            /* a new training domain replaces the stored one; without --data the stored one stays */
            if (new_domain && !strncmp(e->name, IH_DOMAIN_TENSOR_PREFIX, strlen(IH_DOMAIN_TENSOR_PREFIX))) continue;
            t[nt] = (ih_st_tensor){.name = e->name, .ndim = e->ndim, .data = e->data};
            memcpy(t[nt++].shape, e->shape, sizeof t[0].shape);
        }
        if (rc == 0 && rep)
            t[nt++] = (ih_st_tensor){.name = IH_REP_TENSOR, .ndim = 3, .shape = {rep_n, rep_m, rep_dim}, .data = rep};
        for (int k = 0; rc == 0 && k < f.n_meta; k++)
            kv[k] = (ih_st_kv){f.meta[k].key, strcmp(f.meta[k].key, "ionhop") ? f.meta[k].value : text};
        if (rc == 0) rc = ih_st_write(out_path, t, nt, kv, f.n_meta);
        free(text), free(t), free(kv);
    }
    cJSON_Delete(root);
    ih_st_free(&f);
    free(score), free(rep), free(jids), free(ion_z);
    ih_structure_set_free(&train);
    return rc;
}
