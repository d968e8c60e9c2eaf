/* Training data held as graphs: records are parsed one file at a time, their crystal graphs built
 * in parallel (without line graphs, which are rebuilt per micro-batch: the line graphs of the
 * pre-training set would need ~6 GB), and the parsed structures dropped unless asked for. */
#include "ionhop_train.h"
#include "core/util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ih_host_group(const char *sys_name, const char *fallback, char *out, size_t cap) {
    const char *s = sys_name && sys_name[0] ? sys_name : fallback;
    snprintf(out, cap, "%s", s ? s : "");
    /* "LiFePO4_2" -> "LiFePO4": sister pathways of one host share a group */
    size_t n = strlen(out);
    size_t k = n;
    while (k > 0 && isdigit((unsigned char)out[k - 1])) k--;
    if (k < n && k > 1 && out[k - 1] == '_') out[k - 1] = '\0';
}

void ih_dataset_group_by_record(ih_dataset *d) {
    for (int i = 0; i < d->n; i++) snprintf(d->group[i], sizeof d->group[i], "#%d", i);
}

void ih_dataset_free(ih_dataset *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) ih_graph_free(&d->graphs[i]);
    free(d->graphs);
    if (d->graphs2)
        for (int i = 0; i < d->n; i++) ih_graph_free(&d->graphs2[i]);
    free(d->graphs2);
    free(d->n_triplets2);
    if (d->structures) {
        for (int i = 0; i < d->n; i++) ih_structure_free(&d->structures[i]);
        free(d->structures);
    }
    free(d->targets);
    free(d->mask);
    free(d->jid);
    free(d->group);
    free(d->n_triplets);
    free(d->five_image);
    memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------------------------------- */
/* graph cache: the graphs of one data file under a key of (file content, graph settings)    */

#define DS_CACHE_MAGIC "IHDSET1"

static int cache_path(const char *data_path, const ih_graph_opts *go, int input,
                      const char *cache_dir, char *out, size_t cap, uint64_t *key) {
    size_t len;
    char *text = ih_read_file(data_path, &len);
    if (!text) return -1;
    uint64_t h = ih_fnv1a(IH_FNV1A_START, text, len);
    free(text);
    int settings[3] = {go->k, go->canonical, input};
    h = ih_fnv1a(h, settings, sizeof settings);
    /* hashed only when set, so caches of the published method's graphs keep their keys */
    if (go->n_apart) h = ih_fnv1a(h, &go->n_apart, sizeof go->n_apart);
    if (go->path_chain) h = ih_fnv1a(h, &go->path_chain, sizeof go->path_chain);
    if (go->tie_tol != 0) h = ih_fnv1a(h, &go->tie_tol, sizeof go->tie_tol);
    h = ih_fnv1a(h, &go->cutoff, sizeof go->cutoff);
    const char *base = strrchr(data_path, '/');
    base = base ? base + 1 : data_path;
    snprintf(out, cap, "%s/%s.%016llx.ihgc", cache_dir, base, (unsigned long long)h);
    *key = h;
    return 0;
}

/* 1: graphs read from the cache; 0: no usable cache (missing or stale: rebuild). The n second
 * graphs (graphs2 not NULL) follow the n first ones. */
static int cache_load(const char *cpath, uint64_t key, int n, ih_graph *graphs, ih_graph *graphs2) {
    FILE *f = fopen(cpath, "rb");
    if (!f) return 0;
    char magic[8];
    uint64_t k;
    int32_t count;
    int ok = fread(magic, 8, 1, f) == 1 && memcmp(magic, DS_CACHE_MAGIC, 8) == 0 &&
             fread(&k, sizeof k, 1, f) == 1 && k == key && fread(&count, sizeof count, 1, f) == 1 &&
             count == n;
    int i = 0, total = graphs2 ? 2 * n : n;
    for (; ok && i < total; i++) ok = ih_graph_read(f, cpath, i < n ? &graphs[i] : &graphs2[i - n]) == 0;
    fclose(f);
    if (!ok) {
        for (int j = 0; j < i; j++) ih_graph_free(j < n ? &graphs[j] : &graphs2[j - n]);
        memset(graphs, 0, (size_t)n * sizeof *graphs);
        if (graphs2) memset(graphs2, 0, (size_t)n * sizeof *graphs2);
        return 0;
    }
    return 1;
}

/* Best effort: a cache that cannot be written only costs the next run the rebuild. */
static void cache_store(const char *cpath, uint64_t key, int n, const ih_graph *graphs,
                        const ih_graph *graphs2) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", cpath, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return;
    int32_t count = n;
    int ok = fwrite(DS_CACHE_MAGIC, 8, 1, f) == 1 && fwrite(&key, sizeof key, 1, f) == 1 &&
             fwrite(&count, sizeof count, 1, f) == 1;
    for (int i = 0; ok && i < n; i++) ok = ih_graph_write(f, &graphs[i]) == 0;
    for (int i = 0; ok && graphs2 && i < n; i++) ok = ih_graph_write(f, &graphs2[i]) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, cpath) != 0) remove(tmp);
}

/* The graphs of one record for `input` (IH_INPUT_*): G1, and G2 for the two-graph inputs. */
static int build_record(const ih_structure *s, const ih_graph_opts *go, int input, ih_graph *g1,
                        ih_graph *g2) {
    if (input == IH_INPUT_SINGLE) return ih_graph_build(s, go, g1);
    if (!ih_structure_is_5image(s))
        return ih_set_error("not a 5-image path structure (needed to derive the %s)",
                            input == IH_INPUT_ENDPOINTS ? "initial and final structures"
                                                        : "local sub-graph");
    if (input == IH_INPUT_ENDPOINTS) {
        ih_structure ini, fin;
        ih_graph_opts eo = *go;
        eo.n_apart = 0; /* the end points hold the ion once: nothing to keep apart */
        if (ih_path_endpoints(s, &ini, &fin) != 0) return -1;
        int rc = ih_graph_build(&ini, &eo, g1);
        if (rc == 0) rc = ih_graph_build(&fin, &eo, g2);
        ih_structure_free(&ini);
        ih_structure_free(&fin);
        return rc;
    }
    ih_graph_opts lo;
    ih_graph_opts_local(&lo);
    lo.line_graph = go->line_graph;
    lo.tie_tol = go->tie_tol;
    if (ih_graph_build(s, go, g1) != 0) return -1;
    return ih_graph_build_local(s, &lo, 5, g2, NULL);
}

/* Append records items[first .. first+n) of `path` (named so in errors) as task `task`; their
 * graphs come from the cache file cpath (NULL: none) when it holds them under key. */
static int append_records(ih_dataset *d, const char *path, const ih_structure *items, int first, int n,
                          int task, const ih_graph_opts *go, const char *cpath, uint64_t key) {
    int two = d->input != IH_INPUT_SINGLE;
    int n0 = d->n, n1 = d->n + n, P = d->n_tasks;
    ih_graph *graphs = realloc(d->graphs, (size_t)n1 * sizeof *graphs);
    if (graphs) d->graphs = graphs;
    float *targets = realloc(d->targets, (size_t)n1 * P * sizeof *targets);
    if (targets) d->targets = targets;
    float *mask = realloc(d->mask, (size_t)n1 * P * sizeof *mask);
    if (mask) d->mask = mask;
    char(*jid)[64] = realloc(d->jid, (size_t)n1 * sizeof *jid);
    if (jid) d->jid = jid;
    char(*group)[128] = realloc(d->group, (size_t)n1 * sizeof *group);
    if (group) d->group = group;
    long *ntrip = realloc(d->n_triplets, (size_t)n1 * sizeof *ntrip);
    if (ntrip) d->n_triplets = ntrip;
    unsigned char *five = realloc(d->five_image, (size_t)n1);
    if (five) d->five_image = five;
    ih_graph *graphs2 = NULL;
    long *ntrip2 = NULL;
    if (two) {
        graphs2 = realloc(d->graphs2, (size_t)n1 * sizeof *graphs2);
        if (graphs2) d->graphs2 = graphs2;
        ntrip2 = realloc(d->n_triplets2, (size_t)n1 * sizeof *ntrip2);
        if (ntrip2) d->n_triplets2 = ntrip2;
    }
    if (!graphs || !targets || !mask || !jid || !group || !ntrip || !five || (two && (!graphs2 || !ntrip2)))
        return ih_set_error("%s: out of memory", path);
    memset(d->graphs + n0, 0, (size_t)n * sizeof *d->graphs);
    ih_graph *g2s = two ? d->graphs2 + n0 : NULL;
    if (two) memset(g2s, 0, (size_t)n * sizeof *g2s);
    int cached = cpath ? cache_load(cpath, key, n, d->graphs + n0, g2s) : 0;
    d->from_cache += cached;
    int failed = -1;
    char err[1024] = "";
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        if (failed >= 0) continue;
        if (!cached && build_record(&items[first + i], go, d->input, &d->graphs[n0 + i], two ? &g2s[i] : NULL) != 0) {
#pragma omp critical(ih_dataset_err)
            if (failed < 0) {
                failed = i;
                snprintf(err, sizeof err, "%s", ih_last_error());
            }
            continue;
        }
        d->n_triplets[n0 + i] = ih_graph_count_triplets(&d->graphs[n0 + i]);
        if (two) d->n_triplets2[n0 + i] = ih_graph_count_triplets(&g2s[i]);
    }
    if (failed >= 0) {
        for (int i = 0; i < n; i++) ih_graph_free(&d->graphs[n0 + i]);
        for (int i = 0; two && i < n; i++) ih_graph_free(&g2s[i]);
        return ih_set_error("%s: record %d (jid %s): %s", path, first + failed + 1, items[first + failed].jid, err);
    }
    if (cpath && !cached) cache_store(cpath, key, n, d->graphs + n0, g2s);
    for (int i = 0; i < n; i++) {
        const ih_structure *s = &items[first + i];
        int r = n0 + i;
        for (int p = 0; p < P; p++) {
            d->targets[(size_t)r * P + p] = 0.0f;
            d->mask[(size_t)r * P + p] = 0.0f;
        }
        if (s->has_target) {
            d->targets[(size_t)r * P + task] = (float)s->target;
            d->mask[(size_t)r * P + task] = 1.0f;
        }
        snprintf(d->jid[r], sizeof d->jid[r], "%s", s->jid);
        d->five_image[r] = (unsigned char)ih_structure_is_5image(s);
        ih_host_group(s->sys_name, s->jid, d->group[r], sizeof d->group[r]);
    }
    d->n = n1;
    return 0;
}

/* Append the records of one file as task `task`. */
static int append_file(ih_dataset *d, const char *path, int task, const ih_graph_opts *go,
                       int keep_structures, const char *cache_dir) {
    ih_structure_set set;
    if (ih_read_structures(path, IH_FMT_UNKNOWN, &set) != 0) return -1;
    char cpath[4096];
    uint64_t key = 0;
    /* the cache format holds no path descriptors; those graphs are cheap to rebuild */
    int use_cache = cache_dir && !go->line_graph && !go->path_desc &&
                    cache_path(path, go, d->input, cache_dir, cpath, sizeof cpath, &key) == 0;
    int n0 = d->n;
    int rc = append_records(d, path, set.items, 0, set.n, task, go, use_cache ? cpath : NULL, key);
    if (rc == 0 && keep_structures) {
        ih_structure *structs = realloc(d->structures, (size_t)d->n * sizeof *structs);
        if (!structs) {
            rc = ih_set_error("%s: out of memory", path);
        } else {
            d->structures = structs;
            memcpy(d->structures + n0, set.items, (size_t)set.n * sizeof *set.items);
            free(set.items); /* ownership of the atom arrays moved to the dataset */
            return 0;
        }
    }
    ih_structure_set_free(&set);
    return rc;
}

int ih_dataset_keep_task(ih_dataset *d, int task) {
    if (task < 0 || task >= d->n_tasks) return ih_set_error("task %d of %d", task, d->n_tasks);
    int P = d->n_tasks;
    for (int i = 0; i < d->n; i++) {
        d->targets[i] = d->targets[(size_t)i * P + task];
        d->mask[i] = d->mask[(size_t)i * P + task];
    }
    d->n_tasks = 1;
    return 0;
}

int ih_dataset_load(ih_dataset *d, const char *const *paths, int n_paths, const ih_graph_opts *go,
                    int keep_structures, const char *cache_dir) {
    return ih_dataset_load_input(d, paths, n_paths, go, IH_INPUT_SINGLE, keep_structures, cache_dir);
}

int ih_dataset_load_input(ih_dataset *d, const char *const *paths, int n_paths,
                          const ih_graph_opts *go, int input, int keep_structures,
                          const char *cache_dir) {
    memset(d, 0, sizeof *d);
    if (n_paths < 1) return ih_set_error("no data files given");
    if (input < IH_INPUT_SINGLE || input > IH_INPUT_LOCAL)
        return ih_set_error("unknown dataset input kind %d", input);
    d->n_tasks = n_paths;
    d->input = input;
    for (int t = 0; t < n_paths; t++)
        if (append_file(d, paths[t], t, go, keep_structures, cache_dir) != 0) {
            ih_dataset_free(d);
            return -1;
        }
    return 0;
}

int ih_dataset_from_structures(ih_dataset *d, const ih_structure_set *set, int first, int n,
                               const ih_graph_opts *go, int input, const char *what) {
    memset(d, 0, sizeof *d);
    if (first < 0 || n < 0 || first + n > set->n)
        return ih_set_error("%s: records %d..%d of %d requested", what, first + 1, first + n, set->n);
    if (input < IH_INPUT_SINGLE || input > IH_INPUT_LOCAL)
        return ih_set_error("unknown dataset input kind %d", input);
    d->n_tasks = 1;
    d->input = input;
    if (append_records(d, what, set->items, first, n, 0, go, NULL, 0) != 0) {
        ih_dataset_free(d);
        return -1;
    }
    return 0;
}
