/* Prediction: a model file loaded once with its description (tasks, per-member target scaling,
 * input kind), the graphs each arch reads for a hop, ensemble mean / spread / member values, and
 * the user-level predictor (end points, ion + destination, record files, the hops of an element).
 *
 * Thread safety: a network's activation arenas live inside its ih_model, so two forward passes
 * on one model cannot overlap. The predictor serialises its calls with a mutex; every other part
 * (reading files, building graphs) is reentrant. The forward pass itself runs on all cores
 * through OpenMP and BLAS, so one predictor per process is the efficient use. */
#include "ionhop_train.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------- */
/* ensemble prediction over a dataset                                                        */
/* ---------------------------------------------------------------------------------------- */

void ih_model_set_graph_opts(const ih_config *c, ih_graph_opts *go) {
    ih_graph_opts_default(go);
    go->cutoff = c->cutoff;
    go->k = c->neighbors;
    go->canonical = c->canonical;
    go->line_graph = 0;
    go->n_apart = c->path_apart ? 5 : 0;
    go->path_chain = c->path_apart == 2;
    go->tie_tol = c->tie_tol;
    go->path_desc = c->path_desc;
}

/* The largest line graph one structure may bring: the activation arenas grow with it (peak memory
 * grows by about 0.6 kB per triplet with the default model: a 2,997-atom olivine supercell, 1.75 M
 * triplets, peaks at 1.08 GB, an 888-atom one at 0.34 GB), and a structure beyond it is refused
 * before its line graph or arenas are allocated. IONHOP_MAX_TRIPLETS overrides it. */
static long max_triplets(void) {
    const char *env = getenv("IONHOP_MAX_TRIPLETS");
    long v = env ? strtol(env, NULL, 10) : 0;
    return v > 0 ? v : IH_MAX_STRUCTURE_TRIPLETS;
}

static int check_size(const ih_dataset *d, const int *idx, int n) {
    long limit = max_triplets();
    for (int i = 0; i < n; i++)
        for (int g = 0; g < 2; g++) {
            const long *nt = g ? d->n_triplets2 : d->n_triplets;
            const ih_graph *gr = g ? d->graphs2 : d->graphs;
            if (!nt || nt[idx[i]] <= limit) continue;
            return ih_set_error("%s%s: %d atoms, %ld bond-angle triplets: over the limit of %ld (about %.1f GB of "
                                "memory); set IONHOP_MAX_TRIPLETS to allow it",
                                d->jid && d->jid[idx[i]][0] ? "" : "structure", d->jid ? d->jid[idx[i]] : "",
                                gr[idx[i]].n_atoms, nt[idx[i]], limit, nt[idx[i]] * 600.0 / 1e9);
        }
    return 0;
}

int ih_model_set_predict(ih_model_set *ms, const ih_dataset *d, const int *idx, int n, double *mean, double *spread,
                         double *members, float *rep) {
    int P = ms->n_tasks, M = ms->n_members, H = ih_model_config(ms->members[0])->hidden;
    long budget = IH_PREDICT_TRIPLETS;
    if (check_size(d, idx, n) != 0) return -1;
    for (int k = 1; rep && k < M; k++)
        if (ih_model_config(ms->members[k])->hidden != H)
            return ih_set_error("the ensemble's members differ in width: no common representation");
    float *out = malloc((size_t)(n > 0 ? n : 1) * P * sizeof *out);
    float *pooled = rep ? malloc((size_t)(n > 0 ? n : 1) * H * sizeof *pooled) : NULL;
    if (!out || (rep && !pooled)) {
        free(out), free(pooled);
        return ih_set_error("out of memory");
    }
    for (size_t q = 0; q < (size_t)n * P; q++) mean[q] = spread[q] = 0;
    /* mean and (population) standard deviation over the ensemble, in original units */
    for (int k = 0; k < M; k++) {
        if (ih_dataset_reserve_eval(ms->members[k], d, IH_PREDICT_BATCH, budget) != 0 ||
            ih_predict_dataset_pooled(ms->members[k], d, idx, n, IH_PREDICT_BATCH, budget, out, pooled) != 0) {
            free(out), free(pooled);
            return -1;
        }
        for (int i = 0; rep && i < n; i++) /* record-major: rep[(i·M + k)·H + j] */
            memcpy(rep + ((size_t)i * M + k) * H, pooled + (size_t)i * H, (size_t)H * sizeof *rep);
        ih_task_scaling sk = ms->sc[0];
        if (ms->member_lo_hi) sk.lo = ms->member_lo_hi[2 * k], sk.hi = ms->member_lo_hi[2 * k + 1];
        for (int i = 0; i < n; i++)
            for (int p = 0; p < P; p++) {
                size_t q = (size_t)i * P + p;
                double y = ih_unscale(ms->member_lo_hi ? &sk : &ms->sc[p], out[q]);
                mean[q] += y;
                spread[q] += y * y;
                if (members) members[q * M + k] = y;
            }
    }
    for (size_t q = 0; q < (size_t)n * P; q++) {
        mean[q] /= M;
        double var = spread[q] / M - mean[q] * mean[q];
        spread[q] = var > 0 ? sqrt(var) : 0;
    }
    free(out), free(pooled);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* record files                                                                              */
/* ---------------------------------------------------------------------------------------- */

void ih_record_predictions_free(ih_record_predictions *p) {
    free(p->jid), free(p->target), free(p->mean), free(p->spread), free(p->members), free(p->rep_distance), free(p->ion_z);
    memset(p, 0, sizeof *p);
}

/* Graphs are built and predicted IH_PREDICT_CHUNK records at a time, so memory does not grow
 * with the file. With cal (may be NULL) holding a representation, each record's distance from the
 * training records; with rep_all (may be NULL), every record's representation (n × M × hidden). */
static int predict_set(ih_model_set *ms, const ih_structure_set *set, const char *what, ih_record_predictions *out,
                       const ih_calibration *cal, float *rep_all) {
    memset(out, 0, sizeof *out);
    int n = set->n, P = ms->n_tasks, M = ms->n_members, rc = 0;
    int H = ih_model_config(ms->members[0])->hidden, want_rep = rep_all || (cal && cal->rep);
    size_t n1 = (size_t)(n ? n : 1);
    out->n = n, out->n_tasks = P, out->n_members = M;
    out->jid = malloc(n1 * sizeof *out->jid);
    out->target = malloc(n1 * sizeof *out->target);
    out->mean = malloc(n1 * P * sizeof *out->mean);
    out->spread = malloc(n1 * P * sizeof *out->spread);
    out->members = malloc(n1 * P * M * sizeof *out->members);
    out->rep_distance = malloc(n1 * sizeof *out->rep_distance);
    out->ion_z = calloc(n1, sizeof *out->ion_z);
    int *idx = malloc(IH_PREDICT_CHUNK * sizeof *idx);
    float *rep = want_rep ? malloc((size_t)IH_PREDICT_CHUNK * M * H * sizeof *rep) : NULL;
    if (!out->jid || !out->target || !out->mean || !out->spread || !out->members || !out->rep_distance || !out->ion_z || !idx ||
        (want_rep && !rep))
        rc = ih_set_error("%s: out of memory", what);
    for (int q = 0; q < IH_PREDICT_CHUNK && idx; q++) idx[q] = q;
    for (int i = 0; rc == 0 && i < n; i++) {
        out->rep_distance[i] = NAN;
        if (ms->five_image && set->items[i].n_atoms > 0) out->ion_z[i] = set->items[i].z[0];
    }
    /* a barrier model reads hops: a host structure would be "predicted" as if it were a path */
    for (int i = 0; rc == 0 && ms->five_image && i < n; i++)
        if (!ih_structure_is_5image(&set->items[i]))
            rc = ih_set_error("%s: record %d%s%s%s is not a 5-image path structure (sites 1-5: one ion at five "
                              "points of its hop); for a host structure use predict STRUCTURE --ion",
                              what, i + 1, set->items[i].jid[0] ? " (jid " : "", set->items[i].jid,
                              set->items[i].jid[0] ? ")" : "");
    ih_graph_opts go;
    const ih_config *cfg = ih_model_config(ms->members[0]);
    ih_model_set_graph_opts(cfg, &go);
    int input = ih_arch_input(cfg->arch);
    for (int first = 0; rc == 0 && first < n; first += IH_PREDICT_CHUNK) {
        int cnt = n - first < IH_PREDICT_CHUNK ? n - first : IH_PREDICT_CHUNK;
        ih_dataset d;
        rc = ih_dataset_from_structures(&d, set, first, cnt, &go, input, what);
        if (rc != 0) break;
        rc = ih_model_set_predict(ms, &d, idx, cnt, out->mean + (size_t)first * P, out->spread + (size_t)first * P,
                                  out->members + (size_t)first * P * M, rep);
        for (int i = 0; i < cnt; i++) {
            snprintf(out->jid[first + i], sizeof out->jid[0], "%s", d.jid[i]);
            out->target[first + i] = d.mask[i] != 0.0f ? d.targets[i] : NAN;
            if (rc == 0 && cal && cal->rep)
                out->rep_distance[first + i] = ih_calibration_rep_distance(cal, rep + (size_t)i * M * H);
        }
        if (rc == 0 && rep_all) memcpy(rep_all + (size_t)first * M * H, rep, (size_t)cnt * M * H * sizeof *rep);
        ih_dataset_free(&d);
    }
    free(idx), free(rep);
    if (rc != 0) ih_record_predictions_free(out);
    return rc;
}

int ih_model_set_predict_set(ih_model_set *ms, const ih_structure_set *set, const char *what,
                             ih_record_predictions *out) {
    return predict_set(ms, set, what, out, NULL, NULL);
}

int ih_model_set_representation(ih_model_set *ms, const ih_structure_set *set, const char *what, float *rep) {
    ih_record_predictions out;
    int rc = predict_set(ms, set, what, &out, NULL, rep);
    if (rc == 0) ih_record_predictions_free(&out);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* hops                                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* A copy of s with atom `ion` at fractional position `to`: the final state of a hop. */
static int moved_copy(const ih_structure *s, int ion, const double to[3], ih_structure *out) {
    if (ih_structure_copy(out, s) != 0) return -1;
    memcpy(out->frac + 3 * ion, to, 3 * sizeof(double));
    if (out->cart) ih_structure_cart(out, ion, out->cart + 3 * ion);
    return 0;
}

/* The graphs of one hop for the model's arch: the 5-image structure (MODEL-3), with its local
 * sub-graph (MODEL-4), or the end points themselves (MODEL-1/2): the user's final structure if
 * given (the physically meaningful input: its host may be relaxed differently), else the initial
 * structure with the ion moved to `to`. */
static int hop_graphs(const ih_config *cfg, const ih_structure *ini, const ih_structure *fin, int ion,
                      const double to[3], ih_graph g[2]) {
    ih_graph_opts go;
    ih_model_set_graph_opts(cfg, &go);
    memset(g, 0, 2 * sizeof *g);
    int input = ih_arch_input(cfg->arch), rc;
    if (input == IH_INPUT_ENDPOINTS) {
        ih_structure moved;
        if (!fin && moved_copy(ini, ion, to, &moved) != 0) return -1;
        rc = ih_graph_build(ini, &go, &g[0]);
        if (rc == 0) rc = ih_graph_build(fin ? fin : &moved, &go, &g[1]);
        if (!fin) ih_structure_free(&moved);
    } else {
        ih_structure five;
        if (ih_path_5image(ini, ion, to, &five) != 0) return -1;
        rc = ih_graph_build(&five, &go, &g[0]);
        if (rc == 0 && input == IH_INPUT_LOCAL) {
            ih_graph_opts lo;
            ih_graph_opts_local(&lo);
            lo.line_graph = 0;
            lo.tie_tol = go.tie_tol;
            rc = ih_graph_build_local(&five, &lo, 5, &g[1], NULL);
        }
        ih_structure_free(&five);
    }
    if (rc != 0) ih_graph_free(&g[0]), ih_graph_free(&g[1]);
    return rc;
}

/* Hops as one dataset through every ensemble member: hop k starts from structure ini[k] with atom
 * ion[k] moving to to[k]; fin (NULL, or the user's final structure) only with n == 1. */
static int predict_hop_graphs(ih_model_set *ms, int n, const ih_structure *ini, const ih_structure *fin,
                              const int *ion, const double (*to)[3], const char *what, const ih_calibration *cal,
                              double *em, double *spread, double *rep_dist, double *members) {
    const ih_config *cfg = ih_model_config(ms->members[0]);
    int P = ms->n_tasks, M = ms->n_members, H = cfg->hidden;
    float *rep = cal && cal->rep ? malloc((size_t)n * M * H * sizeof *rep) : NULL;
    ih_graph *g = calloc(2 * (size_t)n, sizeof *g);
    long *n_trip = calloc(2 * (size_t)n, sizeof *n_trip);
    float *zero = calloc((size_t)n * P, sizeof *zero);
    int *idx = malloc((size_t)n * sizeof *idx);
    double *mean = malloc((size_t)n * P * sizeof *mean), *sd = malloc((size_t)n * P * sizeof *sd);
    double *mem = malloc((size_t)n * P * M * sizeof *mem);
    char(*names)[64] = calloc((size_t)n, sizeof *names); /* for messages about a hop */
    int rc = g && n_trip && zero && idx && mean && sd && mem && names && (rep || !(cal && cal->rep))
                 ? 0
                 : ih_set_error("out of memory"),
        built = 0;
    for (int k = 0; names && k < n; k++)
        if (n == 1) snprintf(names[k], sizeof names[k], "%.63s", what);
        else snprintf(names[k], sizeof names[k], "%.40s hop %d", what, k + 1);
    ih_dataset d;
    memset(&d, 0, sizeof d);
    d.input = ih_arch_input(cfg->arch);
    /* graphs2 holds the second graph of each hop (the hop's end point or local sub-graph) */
    /* the hops' graphs are independent: built on all threads (a screen's classes are many) */
    int failed = -1;
    char why[1024] = "";
    if (rc == 0) {
#pragma omp parallel for schedule(dynamic) if (n > 1)
        for (int k = 0; k < n; k++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop >= 0) continue;
            ih_graph pair[2];
            if (hop_graphs(cfg, &ini[k], fin, ion[k], to[k], pair) != 0) {
#pragma omp critical(hop_graph_error)
                if (failed < 0 || k < failed) failed = k, snprintf(why, sizeof why, "%s", ih_last_error());
                continue;
            }
            g[k] = pair[0], g[n + k] = pair[1];
            n_trip[k] = ih_graph_count_triplets(&pair[0]);
            n_trip[n + k] = ih_graph_count_triplets(&pair[1]);
            idx[k] = k;
        }
        built = n; /* unbuilt graphs are zeroed: freeing them is a no-op */
        if (failed >= 0) rc = ih_set_error("%s", why);
    }
    if (rc == 0) {
        d.n = n, d.n_tasks = P, d.graphs = g, d.n_triplets = n_trip;
        if (d.input != IH_INPUT_SINGLE) d.graphs2 = g + n, d.n_triplets2 = n_trip + n;
        d.targets = d.mask = zero;
        d.jid = names;
        rc = ih_model_set_predict(ms, &d, idx, n, mean, sd, mem, rep);
    }
    for (int k = 0; k < built; k++) ih_graph_free(&g[k]), ih_graph_free(&g[n + k]);
    for (int k = 0; rc == 0 && k < n; k++) {
        em[k] = mean[(size_t)k * P], spread[k] = sd[(size_t)k * P];
        rep_dist[k] = rep ? ih_calibration_rep_distance(cal, rep + (size_t)k * M * H) : NAN;
        if (members) memcpy(members + (size_t)k * M, mem + (size_t)k * P * M, (size_t)M * sizeof *members);
    }
    free(g), free(n_trip), free(zero), free(idx), free(mean), free(sd), free(mem), free(names), free(rep);
    return rc;
}

/* Hop length and the straight path's closest approach to a host atom (index in s). */
static int hop_geometry(const ih_structure *s, int ion, const double to[3], ih_hop_result *r) {
    ih_structure five;
    r->closest_approach = NAN, r->nearest_atom = -1, r->length = NAN, r->rep_distance = NAN;
    if (ih_path_5image(s, ion, to, &five) != 0) return -1;
    double d[3], x[3];
    for (int c = 0; c < 3; c++) d[c] = five.frac[12 + c] - five.frac[c];
    ih_frac_to_cart(s->lattice, d, x);
    int site = -1;
    r->closest_approach = ih_path_closest_approach(&five, &site);
    /* the 5-image structure holds the other atoms from site 5 on, in order, without the ion */
    if (site >= 5) r->nearest_atom = site - 5 < ion ? site - 5 : site - 4;
    ih_structure_free(&five);
    r->length = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
    r->ion = ion;
    r->ion_z = s->z[ion];
    memcpy(r->from, s->frac + 3 * ion, sizeof r->from);
    memcpy(r->to, to, sizeof r->to);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* the predictor                                                                             */
/* ---------------------------------------------------------------------------------------- */

struct ih_predictor {
    ih_model_set set;
    ih_calibration cal;
    int has_cal;
    char *path;
    pthread_mutex_t lock;
};

static int exists(const char *path) { return access(path, R_OK) == 0; }

const char *ih_default_model_path(void) {
    static _Thread_local char buf[PATH_MAX + 64];
    const char *env = getenv("IONHOP_MODEL");
    if (env && *env) return env;
    /* next to the executable: <prefix>/bin/ionhop finds <prefix>/share/ionhop/models/, and a
     * build tree's build/ionhop finds the repository's models/ */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = {"/../share/ionhop/models/default.ionhop", "/../models/default.ionhop",
                                              "/models/default.ionhop"};
            for (size_t k = 0; k < sizeof rel / sizeof rel[0]; k++) {
                char joined[PATH_MAX + 64];
                snprintf(joined, sizeof joined, "%s%s", exe, rel[k]);
                if (exists(joined) && realpath(joined, buf)) return buf;
            }
        }
    }
#ifdef IH_DATADIR
    snprintf(buf, sizeof buf, "%s/models/default.ionhop", IH_DATADIR);
    if (exists(buf)) return buf;
#endif
    return "models/default.ionhop";
}

ih_predictor *ih_predictor_load(const char *path) {
    if (!path) path = ih_default_model_path();
    ih_predictor *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) {
        free(p);
        ih_set_error("%s: out of memory", path);
        return NULL;
    }
    if (ih_model_set_load(path, &p->set) != 0) {
        free(p->path), free(p);
        return NULL;
    }
    int cal = ih_calibration_from_json(p->set.meta, path, p->set.n_members, &p->cal);
    if (cal < 0) {
        ih_model_set_free(&p->set);
        free(p->path), free(p);
        return NULL;
    }
    p->has_cal = cal == 0;
    if (p->has_cal && ih_calibration_load_representation(&p->cal, path, p->set.meta, p->set.n_members,
                                                         ih_model_config(p->set.members[0])->hidden) < 0) {
        ih_calibration_free(&p->cal);
        ih_model_set_free(&p->set);
        free(p->path), free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void ih_predictor_free(ih_predictor *p) {
    if (!p) return;
    ih_model_set_free(&p->set);
    if (p->has_cal) ih_calibration_free(&p->cal);
    pthread_mutex_destroy(&p->lock);
    free(p->path);
    free(p);
}

const char *ih_predictor_path(const ih_predictor *p) { return p->path; }
int ih_predictor_n_members(const ih_predictor *p) { return p->set.n_members; }
int ih_predictor_n_tasks(const ih_predictor *p) { return p->set.n_tasks; }
const char *ih_predictor_task_name(const ih_predictor *p, int task) {
    return task >= 0 && task < p->set.n_tasks ? p->set.sc[task].name : NULL;
}
int ih_predictor_reads_hops(const ih_predictor *p) { return p->set.five_image; }
const char *ih_predictor_metadata(const ih_predictor *p) { return p->set.meta; }
int ih_predictor_has_calibration(const ih_predictor *p) { return p->has_cal; }
int ih_predictor_interval(const ih_predictor *p, int ion_z, double em, double spread, double level, double *low,
                          double *high) {
    if (!p->has_cal) return ih_set_error("%s: the model carries no calibration (ionhop calibrate)", p->path);
    return ih_calibration_interval(&p->cal, ion_z, em, spread, level, low, high);
}
int ih_predictor_trained_on(const ih_predictor *p, const char *jid) {
    return p->has_cal ? ih_calibration_trained_on(&p->cal, jid) : -1;
}

int ih_predictor_domain_check(const ih_predictor *p, const ih_structure *ini, const ih_hop_result *r, char *why,
                              size_t cap) {
    if (cap) why[0] = 0;
    if (!p->has_cal || r->ion < 0 || r->ion >= ini->n_atoms) return 0;
    return ih_calibration_domain_check(&p->cal, ini, r->ion, r->closest_approach, r->rep_distance, why, cap);
}

double ih_predictor_p_good(const ih_predictor *p, int ion_z, double em, double spread) {
    return p->has_cal ? ih_calibration_p_below(&p->cal, ion_z, em, spread, IH_GOOD_CONDUCTOR_EV) : NAN;
}
ih_model_set *ih_predictor_model_set(ih_predictor *p) { return &p->set; }

static int need_hop_model(const ih_predictor *p) {
    if (p->set.five_image) return 0;
    return ih_set_error("%s: not a migration-barrier model (it was not trained on 5-image path structures); "
                        "predict record files with it",
                        p->path);
}

int ih_predict_moves(ih_predictor *p, int n, const ih_structure *ini, const char *what, const int *ion,
                     const double (*to)[3], ih_hop_result *out, double *members) {
    if (need_hop_model(p) != 0) return -1;
    if (n <= 0) return 0;
    for (int k = 0; k < n; k++) {
        if (ion[k] < 0 || ion[k] >= ini[k].n_atoms)
            return ih_set_error("hop %d: atom %d is not in the structure (atoms 1..%d)", k + 1, ion[k] + 1,
                                ini[k].n_atoms);
        if (hop_geometry(&ini[k], ion[k], to[k], &out[k]) != 0) return -1;
    }
    double *em = malloc((size_t)n * sizeof *em), *sd = malloc((size_t)n * sizeof *sd);
    double *rd = malloc((size_t)n * sizeof *rd);
    int rc = em && sd && rd ? 0 : ih_set_error("out of memory");
    pthread_mutex_lock(&p->lock);
    if (rc == 0)
        rc = predict_hop_graphs(&p->set, n, ini, NULL, ion, to, what ? what : "structure", p->has_cal ? &p->cal : NULL,
                                em, sd, rd, members);
    pthread_mutex_unlock(&p->lock);
    for (int k = 0; rc == 0 && k < n; k++) out[k].em = em[k], out[k].spread = sd[k], out[k].rep_distance = rd[k];
    free(em), free(sd), free(rd);
    return rc;
}

/* A destination closer than this to the ion's own position or one of its periodic images is that
 * site (the hop would be shorter than any hop between sites). */
#define IH_SAME_SITE 0.3

/* Does the model read both end points as given (MODEL-1/2), or the hop in the initial host only? */
static int reads_both_endpoints(const ih_predictor *p) {
    return ih_arch_input(ih_model_config(p->set.members[0])->arch) == IH_INPUT_ENDPOINTS;
}

static double cart_length(const double L[3][3], const double f[3]) {
    double x[3];
    ih_frac_to_cart(L, f, x);
    return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
}

/* The periodic image of the ion's own site nearest to `to`: the lattice vector `image` from the
 * site to it, and the distance from `to` to it (Å). */
static double own_image(const double L[3][3], const double from[3], const double to[3], int image[3]) {
    double best = INFINITY;
    int n0[3];
    for (int c = 0; c < 3; c++) n0[c] = (int)nearbyint(fmax(-1e6, fmin(1e6, to[c] - from[c])));
    for (int a = -1; a <= 1; a++)
        for (int b = -1; b <= 1; b++)
            for (int c = -1; c <= 1; c++) {
                int n[3] = {n0[0] + a, n0[1] + b, n0[2] + c};
                double f[3];
                for (int k = 0; k < 3; k++) f[k] = to[k] - from[k] - n[k];
                double r = cart_length(L, f);
                if (r < best) best = r, memcpy(image, n, sizeof n);
            }
    return best;
}

/* A destination on a periodic image of the ion itself: in this cell the two sites are one, so the
 * hop is the vacancy hop into that image in the supercell of ih_hop_cell, where the image is a
 * distinct site and is emptied (as the element's hop listing predicts such hops). The result is
 * given in s's terms: its atom numbers and the positions as asked. */
static int predict_own_image(ih_predictor *p, const ih_structure *s, const char *name, int ion, const double to[3],
                             const int image[3], ih_hop_result *out, double *members) {
    ih_hop h = {.from = ion, .to = ion, .multiplicity = 1};
    memcpy(h.image, image, sizeof h.image);
    for (int c = 0; c < 3; c++) h.step[c] = to[c] - s->frac[3 * ion + c];
    h.length = cart_length(s->lattice, h.step);
    int n[3], cell_ion = -1;
    double cell_to[3];
    ih_structure cell;
    if (ih_hop_supercell_size(s, &h, IH_HOP_MIN_SPACING, n) != 0 ||
        ih_hop_cell(s, &h, IH_HOP_MIN_SPACING, &cell, &cell_ion, cell_to) != 0)
        return ih_set_error("%s: the destination of atom %d is its own periodic image [%d %d %d] (%.2f Å away), a "
                            "hop this cell cannot hold: %s",
                            name, ion + 1, image[0], image[1], image[2], h.length, ih_last_error());
    ih_warn("%s: the destination of atom %d (%s) is its own periodic image [%d %d %d], %.2f Å away: this cell is too "
            "small to hold that hop between two distinct sites, so it is predicted as the vacancy hop into that image "
            "in a %dx%dx%d supercell of the cell (the image's site emptied)",
            name, ion + 1, ih_element_symbol(s->z[ion]), image[0], image[1], image[2], h.length, n[0], n[1], n[2]);
    ih_hop_result r;
    int rc = hop_geometry(&cell, cell_ion, cell_to, &r);
    if (rc == 0) {
        const double(*one)[3] = (const double(*)[3])cell_to;
        pthread_mutex_lock(&p->lock);
        rc = predict_hop_graphs(&p->set, 1, &cell, NULL, &cell_ion, one, name, p->has_cal ? &p->cal : NULL, &r.em,
                            &r.spread, &r.rep_distance, members);
        pthread_mutex_unlock(&p->lock);
    }
    if (rc == 0) {
        /* the supercell's atom nearest to the path, as the atom of s it repeats */
        int m = r.nearest_atom;
        r.nearest_atom = -1;
        for (int a = 0; m >= 0 && a < s->n_atoms && r.nearest_atom < 0; a++) {
            int same = s->z[a] == cell.z[m];
            for (int c = 0; c < 3 && same; c++) {
                double d = cell.frac[3 * m + c] * n[c] - s->frac[3 * a + c];
                same = fabs(d - nearbyint(d)) < 1e-6;
            }
            if (same) r.nearest_atom = a;
        }
        r.ion = ion;
        memcpy(r.from, s->frac + 3 * ion, sizeof r.from);
        memcpy(r.to, to, sizeof r.to);
        *out = r;
    }
    ih_structure_free(&cell);
    return rc;
}

int ih_predict_move(ih_predictor *p, const ih_structure *s, const char *name, int ion, const double to[3],
                    ih_hop_result *out, double *members) {
    if (need_hop_model(p) != 0) return -1;
    if (!name) name = "structure";
    if (ion < 0 || ion >= s->n_atoms) return ih_set_error("%s: atom %d is not in it (atoms 1..%d)", name, ion + 1, s->n_atoms);
    if (!isfinite(to[0]) || !isfinite(to[1]) || !isfinite(to[2]))
        return ih_set_error("%s: the destination of atom %d is not a finite point", name, ion + 1);
    /* the final state must not put the ion onto another atom (the usual slip: a neighbouring site
     * given as the destination without emptying it first) */
    ih_structure moved;
    if (moved_copy(s, ion, to, &moved) != 0) return -1;
    char what[512];
    snprintf(what, sizeof what, "%s with atom %d moved to (%g %g %g)", name, ion + 1, to[0], to[1], to[2]);
    int rc = ih_structure_validate(&moved, what, IH_MIN_SEPARATION, 0);
    ih_structure_free(&moved);
    if (rc != 0) return -1;
    /* a destination no site is at: the end sites of the training hops lie 1.57 Å or more from their
     * nearest host atom, but for one record's duplicated site (docs/results.md, "Checked hops") */
    int near = -1;
    double gap = ih_nearest_atom(s, to, ion, &near);
    if (near >= 0 && gap < IH_DEST_MIN_HOST)
        return ih_set_error("%s: the destination of atom %d (%g %g %g) is %.2f Å from atom %d (%s): no site is that "
                            "close to another atom (refused below %.1f Å; the sites of the training hops are 1.57 Å or "
                            "more from their nearest atom)",
                            name, ion + 1, to[0], to[1], to[2], gap, near + 1, ih_element_symbol(s->z[near]),
                            IH_DEST_MIN_HOST);
    int image[3];
    if (own_image(s->lattice, s->frac + 3 * ion, to, image) < IH_SAME_SITE) {
        if (image[0] == 0 && image[1] == 0 && image[2] == 0)
            return ih_set_error("%s: the destination is where atom %d already is", name, ion + 1);
        return predict_own_image(p, s, name, ion, to, image, out, members);
    }
    if (near >= 0 && gap < IH_DEST_WARN_HOST)
        ih_warn("%s: the destination of atom %d is %.2f Å from atom %d (%s), closer than the sites of the "
                "training hops (1.57 Å or more): the prediction is an extrapolation",
                name, ion + 1, gap, near + 1, ih_element_symbol(s->z[near]));
    ih_hop_result r;
    if (hop_geometry(s, ion, to, &r) != 0) return -1;
    const double(*one)[3] = (const double(*)[3])to;
    /* the geometry is known: straight to the network, as for end points */
    pthread_mutex_lock(&p->lock);
    int rc2 = predict_hop_graphs(&p->set, 1, s, NULL, &ion, one, name, p->has_cal ? &p->cal : NULL, &r.em,
                            &r.spread, &r.rep_distance, members);
    pthread_mutex_unlock(&p->lock);
    if (rc2 != 0) return -1;
    *out = r;
    return 0;
}

/* End points that differ by more than the moving ion, in warnings: what differs and by how much,
 * and whether the model reads it. */
static void warn_endpoint_diff(const ih_predictor *p, const ih_structure *ini, const char *ini_name,
                               const char *fin_name, const ih_endpoint_diff *d) {
    int both = reads_both_endpoints(p);
    if (d->cell_change > IH_CELL_CHANGE_WARN) {
        static const char *const abc[3] = {"a", "b", "c"}, *const greek[3] = {"alpha", "beta", "gamma"};
        char what[512] = "";
        size_t len = 0;
        for (int k = 0; k < 3; k++) {
            double a = cart_length(ini->lattice, (const double[3]){k == 0, k == 1, k == 2});
            if (fabs(d->length_change[k]) > IH_CELL_CHANGE_WARN && len < sizeof what)
                len += (size_t)snprintf(what + len, sizeof what - len, "%s%s %+.2f %% (%.3f to %.3f Å)",
                                        len ? ", " : "", abc[k], 100 * d->length_change[k], a,
                                        a * (1 + d->length_change[k]));
        }
        for (int k = 0; k < 3; k++)
            if (fabs(d->angle_change[k]) * M_PI / 180 > IH_CELL_CHANGE_WARN && len < sizeof what)
                len += (size_t)snprintf(what + len, sizeof what - len, "%s%s %+.2f°", len ? ", " : "", greek[k],
                                        d->angle_change[k]);
        ih_warn("%s, %s: the end points' cells differ by more than %.1f %%: %s; %s", ini_name, fin_name,
                100 * IH_CELL_CHANGE_WARN, what,
                both ? "the model reads each end point in its own cell"
                     : "the hop is predicted in the initial cell (of the final structure only the ion's fractional "
                       "position is used)");
    }
    if (d->n_moved > 0) {
        int i = d->most_moved, others = d->n_moved - 1;
        char more[96] = "";
        if (others > 0)
            snprintf(more, sizeof more, ", and %d other atom%s more than %.1f Å", others, others > 1 ? "s" : "",
                     IH_HOST_MOVE_WARN);
        ih_warn("%s, %s: besides the hopping %s (atom %d), atom %d (%s) moves %.2f Å between the end points%s; %s",
                ini_name, fin_name, ih_element_symbol(ini->z[d->ion]), d->ion + 1, i + 1,
                ih_element_symbol(ini->z[i]), d->most_moved_by, more,
                both ? "the model reads both end points as given, these displacements included"
                     : "the model reads the hop in the initial structure's host only, so these displacements are "
                       "not used");
    }
}

int ih_predict_endpoints(ih_predictor *p, const ih_structure *ini, const ih_structure *fin, const char *ini_name,
                         const char *fin_name, ih_hop_result *out, double *members) {
    if (need_hop_model(p) != 0) return -1;
    if (!ini_name) ini_name = "initial structure";
    if (!fin_name) fin_name = "final structure";
    ih_endpoint_diff diff;
    if (ih_path_compare_endpoints(ini, fin, ini_name, fin_name, IH_HOST_MOVE_WARN, &diff) != 0) return -1;
    int ion = diff.ion;
    double to[3];
    memcpy(to, diff.final_frac, sizeof to);
    ih_hop_result r;
    if (hop_geometry(ini, ion, to, &r) != 0) return -1;
    if (!(r.length > IH_SAME_SITE))
        return ih_set_error("%s: the destination is where atom %d already is", ini_name, ion + 1);
    warn_endpoint_diff(p, ini, ini_name, fin_name, &diff);
    const double(*one)[3] = (const double(*)[3])to;
    pthread_mutex_lock(&p->lock);
    int rc = predict_hop_graphs(&p->set, 1, ini, fin, &ion, one, ini_name, p->has_cal ? &p->cal : NULL, &r.em,
                            &r.spread, &r.rep_distance, members);
    pthread_mutex_unlock(&p->lock);
    if (rc == 0) *out = r;
    return rc;
}

int ih_predict_set(ih_predictor *p, const ih_structure_set *set, const char *what, ih_record_predictions *out) {
    pthread_mutex_lock(&p->lock);
    int rc = predict_set(&p->set, set, what ? what : "records", out, p->has_cal ? &p->cal : NULL, NULL);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int ih_predict_file(ih_predictor *p, const char *path, ih_record_predictions *out) {
    memset(out, 0, sizeof *out);
    ih_structure_set set;
    if (ih_read_structures(path, IH_FMT_UNKNOWN, &set) != 0) return -1;
    int rc = ih_predict_set(p, &set, path, out);
    ih_structure_set_free(&set);
    return rc;
}

static int by_barrier(const void *a, const void *b, void *ctx) {
    const ih_hop_result *r = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    if (r[i].em != r[j].em) return r[i].em < r[j].em ? -1 : 1;
    return (i > j) - (i < j);
}

void ih_element_hops_free(ih_element_hops *h) {
    ih_hop_network_free(&h->net);
    free(h->result), free(h->order);
    memset(h, 0, sizeof *h);
}

/* The percolation barriers of the network: every hop a connection, open at the larger barrier of
 * its two directions (the reverse of hop (i, j, n) is (j, i, −n), in the network by construction). */
static int network_percolation(ih_element_hops *h) {
    const ih_hop_network *net = &h->net;
    int N = net->n_hops, n_sites = 0, rc = 0;
    /* sites numbered 0..n_sites-1 in order of appearance */
    int max_index = 0, *site_of;
    for (int k = 0; k < N; k++) {
        if (net->hops[k].from > max_index) max_index = net->hops[k].from;
        if (net->hops[k].to > max_index) max_index = net->hops[k].to;
    }
    site_of = malloc((size_t)(max_index + 1) * sizeof *site_of);
    int *from = malloc((size_t)(N ? N : 1) * sizeof *from), *to = malloc((size_t)(N ? N : 1) * sizeof *to);
    int(*image)[3] = malloc((size_t)(N ? N : 1) * sizeof *image);
    double *em = malloc((size_t)(N ? N : 1) * sizeof *em);
    if (!site_of || !from || !to || !image || !em) rc = ih_set_error("out of memory");
    for (int i = 0; rc == 0 && i <= max_index; i++) site_of[i] = -1;
    for (int k = 0; rc == 0 && k < N; k++) {
        const ih_hop *x = &net->hops[k];
        if (site_of[x->from] < 0) site_of[x->from] = n_sites++;
        if (site_of[x->to] < 0) site_of[x->to] = n_sites++;
    }
    for (int k = 0; rc == 0 && k < N; k++) {
        const ih_hop *x = &net->hops[k];
        from[k] = site_of[x->from], to[k] = site_of[x->to];
        memcpy(image[k], x->image, sizeof image[k]);
        double e = h->result[x->klass].em;
        /* the reverse hop (j, i, −n) has the same length: the list is sorted by length, so it is
         * among the hops of (nearly) equal length next to this one */
        int found = 0;
        for (int dir = -1; dir <= 1 && !found; dir += 2)
            for (int q = k; q >= 0 && q < N && fabs(net->hops[q].length - x->length) < 1e-6; q += dir) {
                const ih_hop *y = &net->hops[q];
                if (y->from == x->to && y->to == x->from && y->image[0] == -x->image[0] &&
                    y->image[1] == -x->image[1] && y->image[2] == -x->image[2]) {
                    double r = h->result[y->klass].em;
                    if (r > e) e = r;
                    found = 1;
                    break;
                }
            }
        em[k] = e;
    }
    if (rc == 0) rc = ih_percolation_compute(n_sites > 0 ? n_sites : 1, N, from, to, (const int(*)[3])image, em,
                                             &h->percolation);
    free(site_of), free(from), free(to), free(image), free(em);
    return rc;
}

int ih_predict_element_hops(ih_predictor *p, const ih_structure *s, const char *name, int z, double max_hop,
                            double symprec, ih_element_hops *out) {
    memset(out, 0, sizeof *out);
    if (need_hop_model(p) != 0) return -1;
    if (!name) name = "structure";
    if (ih_hop_network_build(s, z, max_hop, symprec, &out->net) != 0)
        return ih_set_error("%s: %s", name, ih_last_error());
    out->n = out->net.n_classes, out->hops = out->net.classes, out->info = out->net.info;
    int n = out->n, rc = 0;
    if (n == 0) {
        rc = ih_set_error("%s: no %s-%s hop up to %.1f Å (raise --max-hop)", name, ih_element_symbol(z),
                          ih_element_symbol(z), max_hop);
        ih_element_hops_free(out);
        return rc;
    }
    /* each class's cell (destination site emptied), then one batch through the model */
    ih_structure *ini = calloc((size_t)n, sizeof *ini);
    int *ion = malloc((size_t)n * sizeof *ion), made = 0;
    double(*to)[3] = malloc((size_t)n * sizeof *to);
    out->result = malloc((size_t)n * sizeof *out->result);
    out->order = malloc((size_t)n * sizeof *out->order);
    if (!ini || !ion || !to || !out->result || !out->order) rc = ih_set_error("%s: out of memory", name);
    /* each class is predicted as the same hop of the crystal's canonical cell, so that the cell the
     * user wrote (primitive, conventional, supercell, origin, atom order) does not change Em */
    ih_structure canon = {0};
    double shift[3];
    if (rc == 0 && ih_canonical_cell(s, symprec, &canon, shift) != 0) rc = ih_set_error("%s: %s", name, ih_last_error());
    while (rc == 0 && made < n) {
        ih_hop hc;
        rc = ih_hop_to_cell(s, &out->hops[made], &canon, shift, symprec, &hc);
        if (rc == 0) rc = ih_hop_cell(&canon, &hc, IH_HOP_MIN_SPACING, &ini[made], &ion[made], to[made]);
        if (rc == 0) made++;
        else rc = ih_set_error("%s: hop class %d: %s", name, made + 1, ih_last_error());
    }
    if (canon.z) ih_structure_free(&canon);
    if (rc == 0) rc = ih_predict_moves(p, n, ini, name, ion, (const double(*)[3])to, out->result, NULL);
    for (int k = 0; k < made; k++) ih_structure_free(&ini[k]);
    free(ini), free(ion), free(to);
    if (rc == 0) rc = network_percolation(out);
    if (rc != 0) {
        ih_element_hops_free(out);
        return -1;
    }
    /* lowest barrier first; equal barriers keep the enumeration's (length) order */
    const ih_hop_result *res = out->result;
    for (int k = 0; k < n; k++) out->order[k] = k;
    qsort_r(out->order, (size_t)n, sizeof *out->order, by_barrier, (void *)res);
    return 0;
}
