/* Screening: many structures through one loaded model. Every structure gets its hop network, a
 * barrier per hop class, its 1D/2D/3D percolation barriers and a verdict, or an error row saying
 * why not; one bad file never stops the run. Finished structures are appended (and flushed to
 * disk) to OUT.partial as they complete, so an interrupted run resumes without redoing them; the
 * final JSON list (and CSV summary) replace their files atomically at the end.
 *
 * On several MPI ranks (docs/mpi.md) rank 0 hands the structures out one at a time as ranks ask
 * (a rank that finishes early takes more), screens structures itself between requests, and alone
 * keeps the progress file and writes the results: the same files as one process. */
#include "ionhop.h"
#include "core/dist.h"
#include "core/util.h"
#include "io/io_text.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the inputs: files, directories of files, and the structures each file holds ---- */

static int has_structure_suffix(const char *name) {
    static const char *const ext[] = {".cif", ".vasp", ".poscar", ".xyz", ".extxyz", ".json", ".mcif"};
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (!strncmp(base, "POSCAR", 6) || !strncmp(base, "CONTCAR", 7)) return 1;
    size_t n = strlen(base);
    if (n > 3 && !strcasecmp(base + n - 3, ".gz")) n -= 3; /* named by what it holds: x.cif.gz */
    for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++) {
        size_t e = strlen(ext[k]);
        if (n > e && !strncasecmp(base + n - e, ext[k], e)) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct str_list {
    char **v;
    int n, cap;
} str_list;

static int push_str(str_list *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->v, (size_t)cap * sizeof *grown);
        if (!grown) return ih_set_error("out of memory");
        l->v = grown, l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return ih_set_error("out of memory");
    l->n++;
    return 0;
}

/* a directory's structure files (by name), sorted, not recursing */
static int expand_dir(const char *dir, str_list *out) {
    DIR *d = opendir(dir);
    if (!d) return ih_set_error("%s: cannot open directory: %s", dir, strerror(errno));
    str_list names = {0};
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !has_structure_suffix(e->d_name)) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) rc = push_str(&names, path);
    }
    closedir(d);
    if (names.n) qsort(names.v, (size_t)names.n, sizeof *names.v, cmp_str);
    for (int k = 0; k < names.n; k++) {
        if (rc == 0) rc = push_str(out, names.v[k]);
        free(names.v[k]);
    }
    free(names.v);
    return rc;
}

/* ---- one structure ---- */

static cJSON *matrix_json(const double (*m)[3], int rows) {
    cJSON *a = cJSON_CreateArray();
    for (int r = 0; r < rows; r++) {
        cJSON *row = cJSON_CreateArray();
        for (int c = 0; c < 3; c++) cJSON_AddItemToArray(row, cJSON_CreateNumber(round(m[r][c] * 1e6) / 1e6));
        cJSON_AddItemToArray(a, row);
    }
    return a;
}

static cJSON *barrier_json(double em) { return isnan(em) ? cJSON_CreateNull() : cJSON_CreateNumber(round(em * 1e4) / 1e4); }

/* The verdict of a percolation result: the network's best dimension below the good-conductor line. */
static void verdict(const ih_percolation *pc, char *buf, size_t cap) {
    int best = 0;
    for (int d = 0; d < 3; d++)
        if (!isnan(pc->barrier[d]) && pc->barrier[d] < IH_GOOD_CONDUCTOR_EV) best = d + 1;
    if (best) snprintf(buf, cap, "good (%dD network below %.2f eV)", best, IH_GOOD_CONDUCTOR_EV);
    else if (!isnan(pc->barrier[0])) snprintf(buf, cap, "poor (no network below %.2f eV)", IH_GOOD_CONDUCTOR_EV);
    else snprintf(buf, cap, "no percolating network within the hop length");
}

static cJSON *result_json(const ih_predictor *p, const char *item, const ih_structure *s, int z,
                          const ih_element_hops *h) {
    cJSON *j = cJSON_CreateObject();
    char formula[256];
    ih_structure_formula(s, formula, sizeof formula);
    cJSON_AddStringToObject(j, "file", item);
    cJSON_AddStringToObject(j, "formula", formula);
    cJSON_AddStringToObject(j, "ion", ih_element_symbol(z));
    cJSON_AddStringToObject(j, "status", "ok");
    cJSON_AddNullToObject(j, "error");
    cJSON_AddNumberToObject(j, "spacegroup", h->info.spacegroup);
    cJSON_AddStringToObject(j, "spacegroup_symbol", h->info.spacegroup ? h->info.spacegroup_symbol : "");
    cJSON_AddItemToObject(j, "lattice", matrix_json((const double(*)[3])s->lattice, 3));
    /* the ion's sites in structure order; hops refer to them by their number in this list */
    int *site_no = malloc((size_t)s->n_atoms * sizeof *site_no), n_sites = 0;
    cJSON *sites = cJSON_AddArrayToObject(j, "sites");
    for (int i = 0; i < s->n_atoms; i++) {
        site_no[i] = -1;
        if (s->z[i] != z) continue;
        site_no[i] = n_sites++;
        const double(*f)[3] = (const double(*)[3])(s->frac + 3 * i);
        cJSON *row = matrix_json(f, 1);
        cJSON_AddItemToArray(sites, cJSON_DetachItemFromArray(row, 0));
        cJSON_Delete(row);
    }
    cJSON *classes = cJSON_AddArrayToObject(j, "classes");
    for (int k = 0; k < h->n; k++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "class", k);
        cJSON_AddNumberToObject(c, "length", round(h->hops[k].length * 1e4) / 1e4);
        cJSON_AddNumberToObject(c, "count", h->hops[k].multiplicity);
        cJSON_AddNumberToObject(c, "em", round(h->result[k].em * 1e4) / 1e4);
        cJSON_AddNumberToObject(c, "spread", round(h->result[k].spread * 1e4) / 1e4);
        cJSON_AddNumberToObject(c, "closest_approach", round(h->result[k].closest_approach * 1e3) / 1e3);
        double low, high;
        if (ih_predictor_has_calibration(p) &&
            ih_predictor_interval(p, h->result[k].ion_z, h->result[k].em, h->result[k].spread, 0.9, &low, &high) == 0) {
            cJSON_AddNumberToObject(c, "low", round((low > 0 ? low : 0) * 1e4) / 1e4);
            cJSON_AddNumberToObject(c, "high", round(high * 1e4) / 1e4);
            cJSON_AddNumberToObject(c, "p_good", round(ih_predictor_p_good(p, h->result[k].ion_z, h->result[k].em, h->result[k].spread) * 1e3) / 1e3);
        }
        if (!isnan(h->result[k].rep_distance))
            cJSON_AddNumberToObject(c, "rep_distance", round(h->result[k].rep_distance * 1e3) / 1e3);
        ih_hop_result at = h->result[k]; /* the class's ion as an atom of s */
        at.ion = h->hops[k].from;
        char why[512];
        if (ih_predictor_domain_check(p, s, &at, why, sizeof why) > 0) cJSON_AddStringToObject(c, "outside_domain", why);
        cJSON_AddItemToArray(classes, c);
    }
    cJSON *hops = cJSON_AddArrayToObject(j, "hops");
    for (int k = 0; k < h->net.n_hops; k++) {
        const ih_hop *x = &h->net.hops[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "from", site_no[x->from]);
        cJSON_AddNumberToObject(o, "to", site_no[x->to]);
        cJSON *img = cJSON_AddArrayToObject(o, "image");
        for (int c = 0; c < 3; c++) cJSON_AddItemToArray(img, cJSON_CreateNumber(x->image[c]));
        cJSON_AddNumberToObject(o, "length", round(x->length * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "class", x->klass);
        cJSON_AddNumberToObject(o, "em", round(h->result[x->klass].em * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "spread", round(h->result[x->klass].spread * 1e4) / 1e4);
        cJSON_AddItemToArray(hops, o);
    }
    free(site_no);
    const ih_percolation *pc = &h->percolation;
    cJSON *perc = cJSON_AddObjectToObject(j, "percolation");
    static const char *const key[3] = {"1d", "2d", "3d"};
    for (int d = 0; d < 3; d++) cJSON_AddItemToObject(perc, key[d], barrier_json(pc->barrier[d]));
    cJSON *dirs = cJSON_AddObjectToObject(j, "percolation_directions");
    for (int d = 0; d < 3; d++) {
        if (isnan(pc->barrier[d])) {
            cJSON_AddNullToObject(dirs, key[d]);
            continue;
        }
        cJSON *v = cJSON_AddArrayToObject(dirs, key[d]);
        for (int r = 0; r <= d; r++) {
            cJSON *row = cJSON_CreateArray();
            for (int c = 0; c < 3; c++) cJSON_AddItemToArray(row, cJSON_CreateNumber(pc->direction[d][r][c]));
            cJSON_AddItemToArray(v, row);
        }
    }
    char v[96];
    verdict(pc, v, sizeof v);
    cJSON_AddStringToObject(j, "verdict", v);
    return j;
}

static cJSON *error_json(const char *item, int z, const char *message) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "file", item);
    cJSON_AddNullToObject(j, "formula");
    if (z > 0) cJSON_AddStringToObject(j, "ion", ih_element_symbol(z));
    else cJSON_AddNullToObject(j, "ion");
    cJSON_AddStringToObject(j, "status", "error");
    cJSON_AddStringToObject(j, "error", message);
    return j;
}

/* ---- progress file: a header line, then one finished result per line ---- */

static uint64_t run_key(const ih_screen_opts *o, const char *model, const str_list *items) {
    char head[512];
    int len = snprintf(head, sizeof head, "model=%s z=%d max_hop=%.9g symprec=%.9g n=%d%s", model, o->z, o->max_hop,
                       o->symprec, items->n,
                       o->disorder == IH_DISORDER_SITES  ? ""
                       : o->disorder == IH_DISORDER_HALF ? " disorder=half"
                                                         : " disorder=refuse");
    if (o->block && len > 0 && (size_t)len < sizeof head) snprintf(head + len, sizeof head - (size_t)len, " block=%s", o->block);
    uint64_t h = ih_fnv1a(IH_FNV1A_START, head, strlen(head));
    for (int k = 0; k < items->n; k++) h = ih_fnv1a(h, items->v[k], strlen(items->v[k]) + 1);
    return h;
}

/* the finished results of an earlier run of the same screen, by item; 0 if none */
static int load_partial(const char *path, uint64_t key, const str_list *items, cJSON **done) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    int n_done = 0, rc = 0;
    ssize_t len = getline(&line, &cap, f);
    unsigned long long k = 0;
    if (len <= 0 || sscanf(line, "ionhop screen partial %llx", &k) != 1) {
        rc = ih_set_error("%s: not a screening progress file", path);
    } else if (k != key) {
        rc = ih_set_error("%s: written by a screen of other inputs or settings (remove it to start afresh)", path);
    }
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(j, "file");
        int at = -1;
        for (int q = 0; cJSON_IsString(file) && q < items->n && at < 0; q++)
            if (!strcmp(items->v[q], file->valuestring)) at = q;
        /* a last line cut by a kill is not a result: that structure is screened again */
        if (at < 0 || done[at]) {
            cJSON_Delete(j);
            continue;
        }
        done[at] = j;
        n_done++;
    }
    free(line);
    fclose(f);
    return rc != 0 ? -1 : n_done;
}

static int append_line(FILE *f, const char *path, const char *text) {
    if (fputs(text, f) < 0 || fputc('\n', f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
        return ih_set_error("%s: cannot write: %s", path, strerror(errno));
    return 0;
}

static int write_csv(const char *path, cJSON *const *results, int n) {
    size_t cap = 256 + (size_t)n * 512, len = 0;
    char *csv = malloc(cap);
    if (!csv) return ih_set_error("out of memory");
    len += (size_t)snprintf(csv, cap, "file,formula,ion,status,sites,classes,lowest_em,em_1d,em_2d,em_3d,verdict,error\n");
    for (int k = 0; k < n; k++) {
        const cJSON *j = results[k];
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status"));
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "file"));
        const char *formula = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "formula"));
        const char *ion = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "ion"));
        const char *err = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error"));
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "verdict"));
        const cJSON *classes = cJSON_GetObjectItemCaseSensitive(j, "classes");
        const cJSON *perc = cJSON_GetObjectItemCaseSensitive(j, "percolation");
        double lowest = NAN;
        const cJSON *c;
        cJSON_ArrayForEach(c, classes) {
            double em = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "em"));
            if (isnan(lowest) || em < lowest) lowest = em;
        }
        char nums[4][32];
        nums[0][0] = '\0';
        if (!isnan(lowest)) snprintf(nums[0], sizeof nums[0], "%.4f", lowest);
        static const char *const key[3] = {"1d", "2d", "3d"};
        for (int d = 0; d < 3; d++) {
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(perc, key[d]);
            if (cJSON_IsNumber(b)) snprintf(nums[d + 1], sizeof nums[0], "%.4f", b->valuedouble);
            else nums[d + 1][0] = '\0';
        }
        /* commas and quotes in free text: quoted, quotes doubled */
        char qerr[600] = "", *w = qerr;
        if (err) {
            *w++ = '"';
            for (const char *p = err; *p && w < qerr + sizeof qerr - 3; p++) {
                if (*p == '"') *w++ = '"';
                *w++ = *p;
            }
            *w++ = '"';
            *w = '\0';
        }
        int sites = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "sites"));
        if (len + 1200 + strlen(file ? file : "") > cap) {
            cap = 2 * cap + 2048 + strlen(file ? file : "");
            char *grown = realloc(csv, cap);
            if (!grown) return free(csv), ih_set_error("out of memory");
            csv = grown;
        }
        len += (size_t)snprintf(csv + len, cap - len, "\"%s\",%s,%s,%s,%d,%d,%s,%s,%s,%s,%s%s%s,%s\n", file ? file : "",
                                formula ? formula : "", ion ? ion : "", st ? st : "", sites,
                                cJSON_GetArraySize(classes), nums[0], nums[1], nums[2], nums[3], v ? "\"" : "",
                                v ? v : "", v ? "\"" : "", qerr);
    }
    int rc = ih_write_file_atomic(path, csv, len);
    free(csv);
    return rc;
}

/* ---- one screening run: the items, their results, the progress file ---- */

typedef struct screen_run {
    ih_predictor *p;
    const ih_screen_opts *o;
    str_list files, items;
    int *n_in_file;        /* structures per file */
    int *file_of, *rec_of; /* per item: its file and its structure in the file */
    cJSON **results;       /* per item: its result, once done (rank 0) */
    FILE *pf;              /* the progress file, appended to (rank 0) */
    char partial[4200];
    uint64_t key;
    int already, done_now, to_do;
    double t0;
    /* the file whose structures are being screened: read once while its items come in a row */
    int cur_file, read_rc;
    ih_structure_set set;
    char read_err[1024];
    char **read_warn; /* what reading the file changed (disorder resolved, …) */
    int n_read_warn;
} screen_run;

static void release_file(screen_run *r) {
    if (r->cur_file >= 0 && r->read_rc == 0) ih_structure_set_free(&r->set);
    for (int k = 0; k < r->n_read_warn; k++) free(r->read_warn[k]);
    free(r->read_warn);
    r->read_warn = NULL, r->n_read_warn = 0, r->cur_file = -1;
}

static void screen_run_free(screen_run *r) {
    release_file(r);
    if (r->pf) fclose(r->pf);
    for (int k = 0; r->results && k < r->items.n; k++) cJSON_Delete(r->results[k]);
    free(r->results);
    for (int k = 0; k < r->files.n; k++) free(r->files.v[k]);
    for (int k = 0; k < r->items.n; k++) free(r->items.v[k]);
    free(r->files.v), free(r->items.v), free(r->n_in_file), free(r->file_of), free(r->rec_of);
}

/* The items: every structure of every input file (directories expanded; record files (JSON) one
 * item per record, named FILE#K with K from 1). */
static int list_items(screen_run *r, const char *const *inputs, int n_inputs) {
    const ih_screen_opts *o = r->o;
    int rc = 0;
    for (int k = 0; rc == 0 && k < n_inputs; k++) {
        struct stat st;
        if (stat(inputs[k], &st) == 0 && S_ISDIR(st.st_mode)) rc = expand_dir(inputs[k], &r->files);
        else rc = push_str(&r->files, inputs[k]);
    }
    r->n_in_file = calloc((size_t)(r->files.n ? r->files.n : 1), sizeof *r->n_in_file);
    if (rc == 0 && !r->n_in_file) rc = ih_set_error("out of memory");
    for (int f = 0; rc == 0 && f < r->files.n; f++) {
        r->n_in_file[f] = 1;
        if (!o->block && ih_guess_format(r->files.v[f]) == IH_FMT_JSON) {
            ih_structure_set set;
            if (ih_read_structures(r->files.v[f], IH_FMT_JSON, &set) == 0) {
                r->n_in_file[f] = set.n > 0 ? set.n : 1;
                ih_structure_set_free(&set);
            }
        }
        for (int q = 0; rc == 0 && q < r->n_in_file[f]; q++) {
            char name[4200];
            if (r->n_in_file[f] > 1) snprintf(name, sizeof name, "%s#%d", r->files.v[f], q + 1);
            else snprintf(name, sizeof name, "%s", r->files.v[f]);
            rc = push_str(&r->items, name);
        }
    }
    if (rc == 0 && r->items.n == 0) rc = ih_set_error("screen: no structure files among the inputs");
    if (rc != 0) return -1;
    int n = r->items.n;
    r->file_of = malloc((size_t)n * sizeof *r->file_of);
    r->rec_of = malloc((size_t)n * sizeof *r->rec_of);
    r->results = calloc((size_t)n, sizeof *r->results);
    if (!r->file_of || !r->rec_of || !r->results) return ih_set_error("out of memory");
    for (int f = 0, it = 0; f < r->files.n; f++)
        for (int q = 0; q < r->n_in_file[f]; q++, it++) r->file_of[it] = f, r->rec_of[it] = q;
    return 0;
}

/* The result of item `it` (an error row when it cannot be screened); NULL only when out of
 * memory. Reads its file unless it is the one read last. */
static cJSON *work_item(screen_run *r, int it) {
    const ih_screen_opts *o = r->o;
    int f = r->file_of[it], q = r->rec_of[it];
    const char *item = r->items.v[it];
    if (r->cur_file != f) {
        release_file(r);
        ih_read_opts ro = {.disorder = o->disorder, .block = o->block};
        ih_warnings_capture_begin();
        r->read_rc = ih_read_structures_opts(r->files.v[f], IH_FMT_UNKNOWN, &ro, &r->set);
        r->n_read_warn = ih_warnings_capture_end(&r->read_warn);
        if (r->read_rc != 0) snprintf(r->read_err, sizeof r->read_err, "%s", ih_last_error());
        r->cur_file = f;
    }
    ih_warnings_capture_begin();
    cJSON *j = NULL;
    if (r->read_rc != 0) {
        j = error_json(item, o->z, r->read_err);
    } else if (q >= r->set.n) {
        j = error_json(item, o->z, "the file holds no structure");
    } else {
        const ih_structure *s = &r->set.items[q];
        ih_structure crystal = {0};
        int path = ih_structure_is_5image(s) && (s->has_target || s->sys_name[0]);
        /* z 0: the mobile ion of each path record */
        int z = o->z ? o->z : path ? s->z[0] : 0;
        ih_element_hops h;
        if (!z) {
            char msg[4400];
            snprintf(msg, sizeof msg, "%s: not a path record, so the ion must be given (--ion)", item);
            j = error_json(item, z, msg);
        } else if (path && ih_path_crystal(s, &crystal) != 0) {
            j = error_json(item, z, ih_last_error());
        } else if (ih_predict_element_hops(r->p, path ? &crystal : s, item, z, o->max_hop, o->symprec, &h) == 0) {
            j = result_json(r->p, item, path ? &crystal : s, z, &h);
            ih_element_hops_free(&h);
        } else {
            j = error_json(item, z, ih_last_error());
        }
        if (crystal.z) ih_structure_free(&crystal);
    }
    char **warn;
    int n_warn = ih_warnings_capture_end(&warn);
    if (j && r->read_rc == 0 && r->n_read_warn + n_warn > 0) {
        cJSON *list = cJSON_AddArrayToObject(j, "warnings");
        for (int k = 0; list && k < r->n_read_warn; k++) cJSON_AddItemToArray(list, cJSON_CreateString(r->read_warn[k]));
        for (int k = 0; list && k < n_warn; k++) cJSON_AddItemToArray(list, cJSON_CreateString(warn[k]));
    }
    for (int k = 0; k < n_warn; k++) free(warn[k]);
    free(warn);
    if (!j) ih_set_error("out of memory");
    return j;
}

/* Item `it` finished (j, taking it; it took `seconds`): appended to the progress file, kept, and
 * a progress line. */
static int done_item(screen_run *r, int it, cJSON *j, double seconds) {
    char *t = cJSON_PrintUnformatted(j);
    if (!t) {
        cJSON_Delete(j);
        return ih_set_error("out of memory");
    }
    int rc = append_line(r->pf, r->partial, t);
    free(t);
    r->results[it] = j;
    r->done_now++;
    if (r->o->progress) {
        double el = ih_now() - r->t0, rate = r->done_now / (el > 0 ? el : 1e-9);
        long eta = (long)((r->to_do - r->done_now) / rate);
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status"));
        fprintf(r->o->progress, "screen: %d/%d %s: %s (%.1f s); %.2f structures/s, ETA %ld:%02ld\n",
                r->already + r->done_now, r->items.n, r->items.v[it], st && !strcmp(st, "ok") ? "ok" : "error",
                seconds, rate, eta / 60, eta % 60);
    }
    return rc;
}

/* The progress file rewritten with the results it holds (an earlier run's), so a cut last line
 * never stays in the middle of the file, and kept open for appending. */
static int open_partial(screen_run *r) {
    char *tmp = NULL;
    int rc = 0;
    r->pf = ih_open_temp(r->partial, &tmp);
    if (!r->pf) return -1;
    char head[64];
    snprintf(head, sizeof head, "ionhop screen partial %016llx", (unsigned long long)r->key);
    rc = append_line(r->pf, tmp, head);
    for (int k = 0; rc == 0 && k < r->items.n; k++)
        if (r->results[k]) {
            char *t = cJSON_PrintUnformatted(r->results[k]);
            rc = t ? append_line(r->pf, tmp, t) : ih_set_error("out of memory");
            free(t);
        }
    if (rc == 0 && rename(tmp, r->partial) != 0) rc = ih_set_error("%s: cannot rename: %s", r->partial, strerror(errno));
    if (rc != 0) fclose(r->pf), r->pf = NULL, remove(tmp);
    free(tmp);
    return rc;
}

/* All done: the list in input order, then the CSV; the progress file goes last. */
static int write_outputs(screen_run *r, ih_screen_summary *sum) {
    const ih_screen_opts *o = r->o;
    cJSON *list = cJSON_CreateArray();
    for (int k = 0; k < r->items.n; k++) {
        cJSON_AddItemReferenceToArray(list, r->results[k]);
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->results[k], "status"));
        if (st && !strcmp(st, "ok")) sum->n_ok++;
        else sum->n_error++;
    }
    char *text = cJSON_Print(list);
    cJSON_Delete(list);
    int rc = text ? ih_write_file_atomic(o->out_json, text, strlen(text)) : ih_set_error("out of memory");
    free(text);
    if (rc == 0 && o->out_csv) rc = write_csv(o->out_csv, r->results, r->items.n);
    if (rc == 0) remove(r->partial);
    return rc;
}

/* ---- several ranks: rank 0 deals the items on request and writes; every rank screens ---- */

/* a worker's message to rank 0: a result (item >= 0, its JSON text after this header) or a
 * request only (item -1); rank 0 answers each with an item to do or -1 (none left) */
enum { TAG_RESULT = 11, TAG_ITEM = 12 };
typedef struct result_head {
    int item, pad;
    double seconds;
} result_head;

/* A worker: two requests in flight, so that the next item is there when one is done, however
 * long rank 0 takes to answer (it screens too); until every request is answered and no item is
 * left. */
static int worker(screen_run *r) {
    result_head req = {-1, 0, 0};
    int queue[2], qlen = 0, outstanding = 2;
    if (ih_dist_send(0, TAG_RESULT, &req, sizeof req) != 0 || ih_dist_send(0, TAG_RESULT, &req, sizeof req) != 0)
        return -1;
    for (;;) {
        while (outstanding > 0 && (qlen == 0 || ih_dist_probe(0, TAG_ITEM))) {
            void *msg;
            size_t len;
            if (ih_dist_recv(0, TAG_ITEM, &msg, &len, NULL, NULL) != 0) return -1;
            int it = -1;
            if (len == sizeof it) memcpy(&it, msg, sizeof it);
            free(msg);
            outstanding--;
            if (it >= 0 && it < r->items.n) queue[qlen++] = it;
        }
        if (qlen == 0) return 0;
        int it = queue[0];
        queue[0] = queue[1], qlen--;
        double ts = ih_now();
        cJSON *j = work_item(r, it);
        char *t = j ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!t) return ih_set_error("out of memory");
        size_t tl = strlen(t);
        char *buf = malloc(sizeof(result_head) + tl);
        if (!buf) return free(t), ih_set_error("out of memory");
        result_head h = {it, 0, ih_now() - ts};
        memcpy(buf, &h, sizeof h);
        memcpy(buf + sizeof h, t, tl);
        free(t);
        int rc = ih_dist_send(0, TAG_RESULT, buf, sizeof h + tl);
        free(buf);
        if (rc != 0) return -1;
        outstanding++;
    }
}

/* Rank 0: screens items itself and, between them, takes in the workers' results and hands out
 * the next items in input order; until every item is done and every message answered. */
static int dealer(screen_run *r) {
    int N = ih_dist_size(), next = 0, rc = 0;
    long *expect = calloc((size_t)N, sizeof *expect), *got = calloc((size_t)N, sizeof *got);
    char *taken = calloc((size_t)r->items.n, 1); /* handed out or screened here */
    if (!expect || !got || !taken) {
        free(expect), free(got), free(taken);
        return ih_set_error("out of memory");
    }
    for (int w = 1; w < N; w++) expect[w] = 2; /* each worker's two first requests */
    for (;;) {
        while (next < r->items.n && (r->results[next] || taken[next])) next++;
        int pending = 0;
        for (int w = 1; w < N; w++) pending |= got[w] < expect[w];
        if (next == r->items.n && !pending && r->already + r->done_now == r->items.n) break;
        /* a message waiting, or nothing left to screen here: serve the workers */
        if (ih_dist_probe(IH_DIST_ANY, TAG_RESULT) || next == r->items.n) {
            void *msg;
            size_t len;
            int w;
            if ((rc = ih_dist_recv(IH_DIST_ANY, TAG_RESULT, &msg, &len, &w, NULL)) != 0) break;
            result_head h = {-1, 0, 0};
            if (len >= sizeof h) memcpy(&h, msg, sizeof h);
            got[w]++;
            if (h.item >= 0 && h.item < r->items.n && taken[h.item] && !r->results[h.item]) {
                cJSON *j = cJSON_Parse((char *)msg + sizeof h);
                rc = j ? done_item(r, h.item, j, h.seconds)
                       : ih_set_error("screen: rank %d sent an unreadable result for %s", w, r->items.v[h.item]);
            }
            free(msg);
            if (rc != 0) break;
            /* answer: the next item not done and not handed out, or -1 */
            int give = -1;
            while (next < r->items.n && (r->results[next] || taken[next])) next++;
            if (next < r->items.n) {
                give = next;
                taken[next++] = 1;
                expect[w]++;
            }
            if ((rc = ih_dist_send(w, TAG_ITEM, &give, sizeof give)) != 0) break;
            continue;
        }
        /* screen one here */
        int it = next++;
        taken[it] = 1;
        double ts = ih_now();
        cJSON *j = work_item(r, it);
        if (!j || (rc = done_item(r, it, j, ih_now() - ts)) != 0) {
            rc = -1;
            break;
        }
    }
    free(expect), free(got), free(taken);
    return rc;
}

void ih_screen_opts_default(ih_screen_opts *o) {
    memset(o, 0, sizeof *o);
    o->z = 3;
    o->max_hop = 5.0;
    o->symprec = IH_DEFAULT_SYMPREC;
    o->out_json = "screen.json";
}

int ih_screen(ih_predictor *p, const char *const *inputs, int n_inputs, const ih_screen_opts *o, ih_screen_summary *sum) {
    memset(sum, 0, sizeof *sum);
    if (!ih_predictor_reads_hops(p))
        return ih_set_error("%s: not a migration-barrier model: screening needs one", ih_predictor_path(p));
    screen_run r = {.p = p, .o = o, .cur_file = -1};
    int rank = ih_dist_rank(), size = ih_dist_size();
    int rc = list_items(&r, inputs, n_inputs);
    snprintf(r.partial, sizeof r.partial, "%s.partial", o->out_json);
    if (rc == 0) r.key = run_key(o, ih_predictor_path(p), &r.items);
    if (rc == 0 && size > 1) {
        /* every rank listed the items itself: they must be rank 0's */
        uint64_t key0 = r.key;
        rc = ih_dist_bcast(&key0, sizeof key0, 0);
        if (rc == 0 && key0 != r.key)
            rc = ih_set_error("screen: rank %d sees other inputs than rank 0 (%d items): every rank must see the "
                              "same files", rank, r.items.n);
    }
    /* rank 0 keeps the progress file and the results */
    if (rc == 0 && rank == 0) {
        r.already = load_partial(r.partial, r.key, &r.items, r.results);
        if (r.already < 0) rc = -1;
        if (rc == 0) rc = open_partial(&r);
        if (rc == 0 && r.already && o->progress)
            fprintf(o->progress, "screen: resuming, %d of %d structures already done (%s)\n", r.already, r.items.n,
                    r.partial);
    }
    r.t0 = ih_now();
    r.to_do = r.items.n - r.already;
    if (rc == 0 && size > 1) {
        rc = rank == 0 ? dealer(&r) : worker(&r);
    } else {
        for (int it = 0; rc == 0 && it < r.items.n; it++) {
            if (r.results[it]) continue;
            double ts = ih_now();
            cJSON *j = work_item(&r, it);
            rc = j ? done_item(&r, it, j, ih_now() - ts) : -1;
        }
    }
    if (r.pf) fclose(r.pf), r.pf = NULL;
    release_file(&r);
    if (rc == 0 && rank == 0) rc = write_outputs(&r, sum);
    if (rc == 0) {
        sum->n = r.items.n, sum->n_resumed = r.already;
        sum->seconds = ih_now() - r.t0;
    }
    screen_run_free(&r);
    return rc;
}

int ih_write_hop_network(const char *path, const ih_structure *s, const ih_element_hops *h) {
    /* which hops to draw: those open at the highest finite percolation barrier, else all */
    double limit = NAN;
    for (int d = 0; d < 3; d++)
        if (!isnan(h->percolation.barrier[d])) limit = h->percolation.barrier[d];
    int n_mark = 0;
    for (int k = 0; k < h->net.n_hops; k++)
        n_mark += isnan(limit) || h->result[h->net.hops[k].klass].em <= limit + 1e-12;
    size_t cap = 512 + ((size_t)s->n_atoms + 3 * (size_t)n_mark) * 96, len = 0;
    char *t = malloc(cap);
    if (!t) return ih_set_error("%s: out of memory", path);
    len += (size_t)snprintf(t + len, cap - len, "%d\nLattice=\"", s->n_atoms + 3 * n_mark);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) len += (size_t)snprintf(t + len, cap - len, "%s%.8f", r + c ? " " : "", s->lattice[r][c]);
    len += (size_t)snprintf(t + len, cap - len,
                            "\" Properties=species:S:1:pos:R:3:hop_class:I:1 pbc=\"T T T\" "
                            "comment=\"hops as X markers at 1/4 1/2 3/4 of their path; hop_class -1 for atoms\"\n");
    for (int i = 0; i < s->n_atoms; i++) {
        double x[3];
        ih_structure_cart(s, i, x);
        len += (size_t)snprintf(t + len, cap - len, "%-2s %14.8f %14.8f %14.8f -1\n", ih_element_symbol(s->z[i]), x[0],
                                x[1], x[2]);
    }
    for (int k = 0; k < h->net.n_hops; k++) {
        const ih_hop *x = &h->net.hops[k];
        if (!(isnan(limit) || h->result[x->klass].em <= limit + 1e-12)) continue;
        for (int q = 1; q <= 3; q++) {
            double f[3], r[3];
            for (int c = 0; c < 3; c++) f[c] = s->frac[3 * x->from + c] + x->step[c] * q / 4.0;
            ih_frac_to_cart(s->lattice, f, r);
            len += (size_t)snprintf(t + len, cap - len, "X  %14.8f %14.8f %14.8f %d\n", r[0], r[1], r[2], x->klass);
        }
    }
    int rc = ih_write_file_atomic(path, t, len);
    free(t);
    return rc;
}
