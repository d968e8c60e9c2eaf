/* Model files: the network's parameters and BatchNorm buffers as safetensors, with the
 * configuration and the caller's description (tasks, target scaling, training summary) in the
 * metadata. Loading rebuilds the model from the stored configuration and checks every tensor. */
#include "ionhop_modelfile.h"
#include "core/util.h"
#include "io/io_text.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IH_MODEL_FORMAT "ionhop-model"

static cJSON *config_to_json(const ih_config *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "hidden", c->hidden);
    cJSON_AddNumberToObject(j, "alignn_layers", c->alignn_layers);
    cJSON_AddNumberToObject(j, "gcn_layers", c->gcn_layers);
    cJSON_AddNumberToObject(j, "embed", c->embed);
    cJSON_AddNumberToObject(j, "head_width", c->head_width);
    cJSON_AddNumberToObject(j, "head_hidden", c->head_hidden);
    cJSON_AddNumberToObject(j, "n_outputs", c->n_outputs);
    cJSON_AddNumberToObject(j, "neighbors", c->neighbors);
    cJSON_AddNumberToObject(j, "cutoff", c->cutoff);
    cJSON_AddStringToObject(j, "edges", c->canonical ? "canonical" : "full");
    cJSON_AddStringToObject(j, "arch", ih_arch_name(c->arch));
    /* written only when set, so files of the published method's graph stay as they were */
    if (c->path_apart) cJSON_AddStringToObject(j, "path_bonds", ih_path_bonds_name(c->path_apart));
    if (c->tie_tol != 0) cJSON_AddNumberToObject(j, "tie_tol", c->tie_tol);
    if (c->path_desc) cJSON_AddBoolToObject(j, "path_desc", 1);
    return j;
}

static int json_int(const cJSON *o, const char *key, int *out, const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return ih_set_error("%s: model configuration lacks an integer \"%s\"", path, key);
    /* the range check comes before the cast: converting an out-of-range double is undefined */
    if (!(fabs(v->valuedouble) <= 1e6))
        return ih_set_error("%s: model configuration: \"%s\" = %g is out of range", path, key, v->valuedouble);
    *out = (int)v->valuedouble;
    return 0;
}

static int config_from_json(const cJSON *j, ih_config *c, const char *path) {
    ih_config_default(c);
    if (!cJSON_IsObject(j)) return ih_set_error("%s: model metadata has no \"config\"", path);
    if (json_int(j, "hidden", &c->hidden, path) || json_int(j, "alignn_layers", &c->alignn_layers, path) ||
        json_int(j, "gcn_layers", &c->gcn_layers, path) || json_int(j, "embed", &c->embed, path) ||
        json_int(j, "head_width", &c->head_width, path) ||
        json_int(j, "head_hidden", &c->head_hidden, path) ||
        json_int(j, "n_outputs", &c->n_outputs, path) || json_int(j, "neighbors", &c->neighbors, path))
        return -1;
    const cJSON *cut = cJSON_GetObjectItemCaseSensitive(j, "cutoff");
    const cJSON *edges = cJSON_GetObjectItemCaseSensitive(j, "edges");
    if (!cJSON_IsNumber(cut)) return ih_set_error("%s: model configuration lacks \"cutoff\"", path);
    c->cutoff = cut->valuedouble;
    if (!cJSON_IsString(edges) ||
        (strcmp(edges->valuestring, "full") && strcmp(edges->valuestring, "canonical")))
        return ih_set_error("%s: model configuration: \"edges\" must be \"full\" or \"canonical\"", path);
    c->canonical = !strcmp(edges->valuestring, "canonical");
    /* files from before the variants have no "arch": they are one-graph (model3) networks */
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(j, "arch");
    /* parsed into ints first: the enum types may be unsigned, and -1 means "unknown" */
    int arch_id = arch && cJSON_IsString(arch) ? ih_arch_parse(arch->valuestring) : arch ? -1 : IH_ARCH_MODEL3;
    if (arch_id < 0)
        return ih_set_error("%s: model configuration: unknown \"arch\" %s", path,
                            cJSON_IsString(arch) ? arch->valuestring : "(not a string)");
    c->arch = (ih_arch)arch_id;
    const cJSON *pb = cJSON_GetObjectItemCaseSensitive(j, "path_bonds");
    int bonds = !pb ? 0 : !cJSON_IsString(pb) ? -1 : ih_path_bonds_parse(pb->valuestring);
    if (bonds < 0)
        return ih_set_error("%s: model configuration: \"path_bonds\" must be \"all\", \"apart\" or \"chain\"", path);
    c->path_apart = (ih_path_bonds)bonds;
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(j, "tie_tol");
    if (tt && !cJSON_IsNumber(tt)) return ih_set_error("%s: model configuration: \"tie_tol\" must be a number", path);
    c->tie_tol = tt ? tt->valuedouble : 0;
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(j, "path_desc");
    if (pd && !cJSON_IsBool(pd)) return ih_set_error("%s: model configuration: \"path_desc\" must be true or false", path);
    c->path_desc = pd && cJSON_IsTrue(pd);
    if (ih_config_check(c) != 0) return ih_set_error("%s: %s", path, ih_last_error());
    return 0;
}

/* Member k's name of tensor `name`: plain for a single model, "member.K.name" in an ensemble. */
static void member_name(char *buf, size_t cap, int n_members, int k, const char *name) {
    if (n_members == 1) snprintf(buf, cap, "%s", name);
    else snprintf(buf, cap, "member.%d.%s", k, name);
}

/* The members of one ensemble may differ in arch and size (a mixed ensemble) but not in what
 * they read: callers build one set of graphs of one input kind for all of them. */
static int same_input(const ih_config *a, const ih_config *b) {
    return a->n_outputs == b->n_outputs && a->neighbors == b->neighbors && a->cutoff == b->cutoff &&
           a->canonical == b->canonical && a->path_apart == b->path_apart && a->tie_tol == b->tie_tol &&
           a->path_desc == b->path_desc &&
           ih_arch_input(a->arch) == ih_arch_input(b->arch);
}

static int same_config(const ih_config *a, const ih_config *b) {
    cJSON *ja = config_to_json(a), *jb = config_to_json(b);
    int same = ja && jb && cJSON_Compare(ja, jb, 1);
    cJSON_Delete(ja), cJSON_Delete(jb);
    return same;
}

static const char *const INPUT_DIFFERS =
    "%s: ensemble member %d reads other graphs than member 1 (k, cutoff, edges, tie tolerance, path bonds, "
    "outputs or input kind differ)";

int ih_ensemble_save(const char *path, ih_model *const *ms, int n_members, const char *extra_json) {
    if (n_members < 1) return ih_set_error("%s: no models to save", path);
    const ih_config *c0 = ih_model_config(ms[0]);
    int mixed = 0, total = 0;
    for (int k = 0; k < n_members; k++) {
        const ih_config *ck = ih_model_config(ms[k]);
        if (!same_input(c0, ck)) return ih_set_error(INPUT_DIFFERS, path, k + 1);
        mixed |= !same_config(c0, ck);
        total += ih_model_n_tensors(ms[k]) + ih_model_n_buffer_tensors(ms[k]);
    }
    cJSON *meta = extra_json ? cJSON_Parse(extra_json) : cJSON_CreateObject();
    if (!cJSON_IsObject(meta)) {
        cJSON_Delete(meta);
        return ih_set_error("%s: model description is not a JSON object", path);
    }
    ih_model *m = ms[0];
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "config");
    cJSON_AddItemToObject(meta, "config", config_to_json(c0));
    /* a mixed ensemble lists every member's configuration; "config" stays member 1's, which is
     * what a reader of single models (or --init, which takes member 1) needs */
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "member_configs");
    if (mixed) {
        cJSON *mc = cJSON_AddArrayToObject(meta, "member_configs");
        for (int k = 0; k < n_members; k++) cJSON_AddItemToArray(mc, config_to_json(ih_model_config(ms[k])));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "n_params");
    cJSON_AddNumberToObject(meta, "n_params", (double)ih_model_n_params(m));
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "ensemble");
    cJSON_AddNumberToObject(meta, "ensemble", n_members);
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "ionhop_version");
    cJSON_AddStringToObject(meta, "ionhop_version", IH_VERSION);
    char *meta_text = cJSON_PrintUnformatted(meta);
    cJSON_Delete(meta);
    ih_st_tensor *ts = calloc((size_t)total, sizeof *ts);
    char(*names)[128] = calloc((size_t)total, sizeof *names);
    if (!meta_text || !ts || !names) {
        free(meta_text), free(ts), free(names);
        return ih_set_error("%s: out of memory", path);
    }
    int w = 0;
    for (int k = 0; k < n_members; k++) {
        const float *params = ih_model_params(ms[k]), *bufs = ih_model_buffers(ms[k]);
        int np = ih_model_n_tensors(ms[k]), per = np + ih_model_n_buffer_tensors(ms[k]);
        for (int i = 0; i < per; i++, w++) {
            const ih_tensor_info *t = i < np ? ih_model_tensor(ms[k], i) : ih_model_buffer_tensor(ms[k], i - np);
            ih_st_tensor *x = &ts[w];
            member_name(names[w], sizeof names[0], n_members, k, t->name);
            x->name = names[w];
            x->ndim = t->ndim;
            for (int d = 0; d < t->ndim; d++) x->shape[d] = t->shape[d];
            x->data = (i < np ? params : bufs) + t->offset;
        }
    }
    ih_st_kv kv[2] = {{"format", IH_MODEL_FORMAT}, {"ionhop", meta_text}};
    int rc = ih_st_write(path, ts, total, kv, 2);
    free(ts), free(names), free(meta_text);
    return rc;
}

int ih_model_save(const char *path, ih_model *m, const char *extra_json) {
    return ih_ensemble_save(path, &m, 1, extra_json);
}

ih_model **ih_ensemble_load(const char *path, int *n_members, char **meta_json) {
    if (meta_json) *meta_json = NULL;
    *n_members = 0;
    ih_st_file f;
    if (ih_st_read(path, &f) != 0) return NULL;
    const char *fmt = ih_st_meta_get(&f, "format");
    const char *text = ih_st_meta_get(&f, "ionhop");
    if (!fmt || strcmp(fmt, IH_MODEL_FORMAT) != 0 || !text) {
        /* the message quotes the file's metadata, which ih_st_free releases: build it first */
        if (fmt && strcmp(fmt, IH_MODEL_FORMAT) == 0)
            ih_set_error("%s: ionhop model file without its \"ionhop\" metadata", path);
        else
            ih_set_error("%s: not an ionhop model file (format %s)", path,
                         fmt ? ih_excerpt((ih_span){fmt, (int)strnlen(fmt, 64)}) : "none");
        ih_st_free(&f);
        return NULL;
    }
    cJSON *meta = cJSON_Parse(text);
    ih_config cfg;
    if (!meta || config_from_json(cJSON_GetObjectItemCaseSensitive(meta, "config"), &cfg, path) != 0) {
        if (!meta) ih_set_error("%s: model metadata is not valid JSON", path);
        cJSON_Delete(meta);
        ih_st_free(&f);
        return NULL;
    }
    const cJSON *ens = cJSON_GetObjectItemCaseSensitive(meta, "ensemble");
    double n_stored = cJSON_IsNumber(ens) ? ens->valuedouble : 1;
    if (!(n_stored >= 1 && n_stored <= 1000) || n_stored != floor(n_stored)) {
        ih_set_error("%s: ensemble size %g is out of range 1..1000", path, n_stored);
        cJSON_Delete(meta);
        ih_st_free(&f);
        return NULL;
    }
    int n = (int)n_stored;
    ih_model **ms = calloc((size_t)n, sizeof *ms);
    ih_config *cfgs = malloc((size_t)n * sizeof *cfgs);
    if (!ms || !cfgs) {
        free(ms), free(cfgs);
        cJSON_Delete(meta);
        ih_st_free(&f);
        ih_set_error("%s: out of memory", path);
        return NULL;
    }
    const cJSON *mc = cJSON_GetObjectItemCaseSensitive(meta, "member_configs");
    int bad = mc && (!cJSON_IsArray(mc) || cJSON_GetArraySize(mc) != n);
    if (bad) ih_set_error("%s: \"member_configs\" does not list the %d members", path, n);
    for (int k = 0; k < n && !bad; k++) {
        cfgs[k] = cfg;
        if (mc && (bad = config_from_json(cJSON_GetArrayItem(mc, k), &cfgs[k], path)) == 0 &&
            (bad = !same_input(&cfg, &cfgs[k])))
            ih_set_error(INPUT_DIFFERS, path, k + 1);
    }
    cJSON_Delete(meta);
    if (bad) {
        free(ms), free(cfgs);
        ih_st_free(&f);
        return NULL;
    }
    /* The file must hold at least the edge-gated convolutions' weights (five H×H Linears each)
     * before any model is built: a small file claiming a huge configuration would otherwise
     * allocate gigabytes first and fail afterwards. */
    double have = 0, need = 0;
    for (int q = 0; q < f.n; q++) have += (double)f.tensors[q].count;
    for (int k = 0; k < n; k++)
        need += (2.0 * cfgs[k].alignn_layers + cfgs[k].gcn_layers) * 5.0 * cfgs[k].hidden * cfgs[k].hidden;
    if (have < need) {
        ih_set_error("%s: the file holds %.0f weights, but its configuration needs at least %.0f: not a model of "
                     "this configuration", path, have, need);
        free(ms), free(cfgs);
        ih_st_free(&f);
        return NULL;
    }
    int used = 0;
    for (int k = 0; k < n; k++) {
        ih_model *m = ms[k] = ih_model_create(&cfgs[k], 0);
        if (!m) {
            ih_set_error("%s: %s", path, ih_last_error());
            goto fail;
        }
        int np = ih_model_n_tensors(m), nb = ih_model_n_buffer_tensors(m);
        for (int i = 0; i < np + nb; i++) {
            const ih_tensor_info *t = i < np ? ih_model_tensor(m, i) : ih_model_buffer_tensor(m, i - np);
            char name[128];
            member_name(name, sizeof name, n, k, t->name);
            const ih_st_entry *e = ih_st_find(&f, name);
            int ok = e && e->ndim == t->ndim && e->count == t->numel;
            for (int d = 0; ok && d < t->ndim; d++) ok = e->shape[d] == t->shape[d];
            if (!ok) {
                ih_set_error("%s: tensor \"%s\" is %s for this model's configuration", path, name,
                             e ? "the wrong shape" : "missing");
                goto fail;
            }
            for (size_t q = 0; q < e->count; q++)
                if (!isfinite(e->data[q])) {
                    ih_set_error("%s: tensor \"%s\" holds a non-finite value", path, name);
                    goto fail;
                }
            memcpy((i < np ? ih_model_params(m) : ih_model_buffers(m)) + t->offset, e->data,
                   t->numel * sizeof(float));
            used++;
        }
    }
    for (int q = 0; q < f.n; q++) /* the training domain's tensors (calibration.c) are not weights */
        used += !strncmp(f.tensors[q].name, IH_DOMAIN_TENSOR_PREFIX, strlen(IH_DOMAIN_TENSOR_PREFIX));
    if (used != f.n) {
        ih_set_error("%s: file holds %d tensors, the model %d: not a model of this configuration",
                     path, f.n, used);
        goto fail;
    }
    if (meta_json) *meta_json = strdup(text);
    ih_st_free(&f);
    free(cfgs);
    *n_members = n;
    return ms;
fail:
    for (int k = 0; k < n; k++) ih_model_free(ms[k]);
    free(ms), free(cfgs);
    ih_st_free(&f);
    return NULL;
}

ih_model *ih_model_load(const char *path, char **meta_json) {
    int n;
    ih_model **ms = ih_ensemble_load(path, &n, meta_json);
    if (!ms) return NULL;
    ih_model *m = ms[0];
    for (int k = 1; k < n; k++) ih_model_free(ms[k]);
    free(ms);
    return m;
}

/* Copy every tensor whose name and shape match from src (e.g. the trunk of a pre-trained model,
 * docs/method.md §6 transfer: heads are re-initialised). Returns the number of tensors copied. */
int ih_model_copy_matching(ih_model *dst, ih_model *src, const char *const *prefixes, int n_prefixes) {
    int copied = 0;
    for (int pass = 0; pass < 2; pass++) {
        int n = pass ? ih_model_n_buffer_tensors(dst) : ih_model_n_tensors(dst);
        for (int i = 0; i < n; i++) {
            const ih_tensor_info *t = pass ? ih_model_buffer_tensor(dst, i) : ih_model_tensor(dst, i);
            int want = n_prefixes == 0;
            for (int p = 0; p < n_prefixes && !want; p++)
                want = strncmp(t->name, prefixes[p], strlen(prefixes[p])) == 0;
            if (!want) continue;
            int j = pass ? ih_model_find_buffer(src, t->name) : ih_model_find_tensor(src, t->name);
            if (j < 0) continue;
            const ih_tensor_info *s = pass ? ih_model_buffer_tensor(src, j) : ih_model_tensor(src, j);
            if (s->numel != t->numel || s->ndim != t->ndim) continue;
            float *d = (pass ? ih_model_buffers(dst) : ih_model_params(dst)) + t->offset;
            const float *from = (pass ? ih_model_buffers(src) : ih_model_params(src)) + s->offset;
            memcpy(d, from, t->numel * sizeof(float));
            copied++;
        }
    }
    return copied;
}
