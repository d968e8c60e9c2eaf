/* safetensors model files: writer (atomic) and a defensive reader. The reader validates
 * everything it will index with (header length, JSON, dtype, shape, offsets) before touching the
 * data, because users pass arbitrary files where a model is expected. */
#include "ionhop_modelfile.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this code assumes a little-endian host"
#endif

/* The safetensors reference implementation refuses larger headers; so do we, to bound memory. */
#define ST_MAX_HEADER (100u << 20)
/* Integers in JSON are doubles in cJSON; beyond 2^53 they are no longer exact. */
#define ST_MAX_JSON_INT 9007199254740992.0

/* ------------------------------------------------------------------------------------------ */
/* writing                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static int tensor_count(const ih_st_tensor *t, size_t *count) {
    size_t c = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0) return -1;
        size_t s = (size_t)t->shape[d];
        if (s != 0 && c > (SIZE_MAX / sizeof(float)) / s) return -1;
        c *= s;
    }
    *count = c;
    return 0;
}

static int check_write_args(const char *path, const ih_st_tensor *t, int n, const ih_st_kv *meta,
                            int n_meta) {
    if (n < 0 || n_meta < 0 || (n > 0 && !t) || (n_meta > 0 && !meta))
        return ih_set_error("%s: invalid tensor or metadata list", path);
    for (int i = 0; i < n; i++) {
        if (!t[i].name || !t[i].name[0]) return ih_set_error("%s: tensor %d has no name", path, i);
        if (!strcmp(t[i].name, "__metadata__"))
            return ih_set_error("%s: \"__metadata__\" is not a valid tensor name", path);
        if (t[i].ndim < 0 || t[i].ndim > IH_ST_MAX_DIM)
            return ih_set_error("%s: tensor '%s' has %d dimensions (at most %d)", path, t[i].name,
                                t[i].ndim, IH_ST_MAX_DIM);
        size_t c;
        if (tensor_count(&t[i], &c) != 0)
            return ih_set_error("%s: tensor '%s' has an invalid shape", path, t[i].name);
        if (c > 0 && !t[i].data) return ih_set_error("%s: tensor '%s' has no data", path, t[i].name);
        for (int j = 0; j < i; j++)
            if (!strcmp(t[i].name, t[j].name))
                return ih_set_error("%s: tensor name '%s' is used twice", path, t[i].name);
    }
    for (int i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value)
            return ih_set_error("%s: metadata entry %d lacks a key or value", path, i);
        for (int j = 0; j < i; j++)
            if (!strcmp(meta[i].key, meta[j].key))
                return ih_set_error("%s: metadata key '%s' is used twice", path, meta[i].key);
    }
    return 0;
}

/* Header JSON padded with spaces so that the data starts 8-byte aligned. */
static char *build_header(const char *path, const ih_st_tensor *t, int n, const ih_st_kv *meta,
                          int n_meta, size_t *hlen) {
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        ok = m != NULL;
        for (int i = 0; ok && i < n_meta; i++)
            ok = cJSON_AddStringToObject(m, meta[i].key, meta[i].value) != NULL;
    }
    size_t offset = 0;
    for (int i = 0; ok && i < n; i++) {
        size_t c = 0;
        tensor_count(&t[i], &c); /* validated by check_write_args */
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
        cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = NULL;
        ok = e && cJSON_AddStringToObject(e, "dtype", "F32") && shape;
        for (int d = 0; ok && d < t[i].ndim; d++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].shape[d]));
        if (ok) offs = cJSON_AddArrayToObject(e, "data_offsets");
        ok = ok && offs && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        offset += c * sizeof(float);
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        if (ok && (double)offset > ST_MAX_JSON_INT) ok = 0;
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json) {
        ih_set_error("%s: cannot build the file header (out of memory or data too large)", path);
        return NULL;
    }
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    if (padded > ST_MAX_HEADER) {
        free(json);
        ih_set_error("%s: header of %zu bytes is too large", path, padded);
        return NULL;
    }
    char *buf = realloc(json, padded + 1);
    if (!buf) {
        free(json);
        ih_set_error("%s: out of memory", path);
        return NULL;
    }
    memset(buf + len, ' ', padded - len);
    buf[padded] = '\0';
    *hlen = padded;
    return buf;
}

/* Make the rename itself durable; best effort (some filesystems refuse fsync on directories). */
static void sync_parent_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

int ih_st_write(const char *path, const ih_st_tensor *tensors, int n, const ih_st_kv *meta,
                int n_meta) {
    if (!path || !path[0]) return ih_set_error("safetensors: no output file name");
    if (check_write_args(path, tensors, n, meta, n_meta) != 0) return -1;
    size_t hlen;
    char *header = build_header(path, tensors, n, meta, n_meta, &hlen);
    if (!header) return -1;

    char *tmp;
    FILE *fp = ih_open_temp(path, &tmp);
    if (!fp) {
        free(header);
        return -1;
    }
    unsigned char len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (unsigned char)((uint64_t)hlen >> (8 * b));
    int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(header, 1, hlen, fp) == hlen;
    for (int i = 0; ok && i < n; i++) {
        size_t c = 0;
        tensor_count(&tensors[i], &c); /* validated by check_write_args */
        ok = c == 0 || fwrite(tensors[i].data, sizeof(float), c, fp) == c;
    }
    int saved_errno = errno;
    ok = (fflush(fp) == 0) && ok;
    ok = (fsync(fileno(fp)) == 0 || errno == EINVAL) && ok;
    ok = (fclose(fp) == 0) && ok;
    if (!ok) saved_errno = errno ? errno : saved_errno;
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        saved_errno = errno;
    }
    if (!ok) {
        ih_set_error("%s: write failed: %s", path, strerror(saved_errno ? saved_errno : EIO));
        remove(tmp);
    } else {
        sync_parent_dir(path);
    }
    free(tmp);
    free(header);
    return ok ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* reading                                                                                    */
/* ------------------------------------------------------------------------------------------ */

void ih_st_free(ih_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free((char *)f->meta[i].key);
        free((char *)f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    free(f->block);
    memset(f, 0, sizeof *f);
}

const ih_st_entry *ih_st_find(const ih_st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *ih_st_meta_get(const ih_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}

int ih_st_is_buffer_name(const char *name) {
    static const char *suffixes[] = {"running_mean", "running_var", "num_batches_tracked"};
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (len >= sl && !strcmp(name + len - sl, suffixes[i])) return 1;
    }
    return 0;
}

/* A JSON number that is an exact non-negative integer. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= ST_MAX_JSON_INT) || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

/* Explain why a file is not ours; text files (CIF, POSCAR, JSON) are the common mistake. */
static int not_safetensors(const char *name, const unsigned char *buf, size_t len, uint64_t hlen) {
    size_t k = 0;
    while (k < len && k < 24 && ((buf[k] >= 32 && buf[k] < 127) || buf[k] == '\t')) k++;
    if (k >= 8 || (k == len && len > 0)) {
        while (k > 0 && buf[k - 1] == ' ') k--;
        return ih_set_error("%s: not a safetensors model file (it is text, starting \"%.*s\")", name,
                            (int)k, (const char *)buf);
    }
    return ih_set_error("%s: not a safetensors model file (header length %llu exceeds the %zu-byte "
                        "file)",
                        name, (unsigned long long)hlen, len);
}

typedef struct {
    uint64_t begin, end;
    int index;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->index - y->index;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_metadata(const cJSON *m, const char *name, ih_st_file *f) {
    if (!cJSON_IsObject(m)) return ih_set_error("%s: \"__metadata__\" is not an object", name);
    int k = cJSON_GetArraySize(m);
    f->meta = calloc(k > 0 ? (size_t)k : 1, sizeof *f->meta);
    if (!f->meta) return ih_set_error("%s: out of memory", name);
    const cJSON *it;
    cJSON_ArrayForEach(it, m) {
        if (!cJSON_IsString(it))
            return ih_set_error("%s: metadata value of \"%s\" is not a string", name, it->string);
        if (ih_st_meta_get(f, it->string))
            return ih_set_error("%s: metadata key \"%s\" appears twice", name, it->string);
        char *key = strdup(it->string), *val = strdup(it->valuestring);
        if (!key || !val) {
            free(key);
            free(val);
            return ih_set_error("%s: out of memory", name);
        }
        f->meta[f->n_meta].key = key;
        f->meta[f->n_meta].value = val;
        f->n_meta++;
    }
    return 0;
}

/* Header entry -> tensor (name, shape, count) and its byte span. */
static int parse_tensor(const cJSON *e, const char *name, ih_st_entry *t, span *sp) {
    const char *tn = e->string;
    if (!tn[0]) return ih_set_error("%s: a tensor has an empty name", name);
    if (!cJSON_IsObject(e)) return ih_set_error("%s: header entry '%s' is not an object", name, tn);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dtype)) return ih_set_error("%s: tensor '%s' has no dtype", name, tn);
    if (strcmp(dtype->valuestring, "F32") != 0)
        return ih_set_error("%s: tensor '%s' has dtype %.16s; only F32 is supported", name, tn,
                            dtype->valuestring);
    if (!cJSON_IsArray(shape)) return ih_set_error("%s: tensor '%s' has no shape list", name, tn);
    int nd = cJSON_GetArraySize(shape);
    if (nd > IH_ST_MAX_DIM)
        return ih_set_error("%s: tensor '%s' has %d dimensions (at most %d)", name, tn, nd,
                            IH_ST_MAX_DIM);
    uint64_t count = 1, overflow = 0;
    t->ndim = nd;
    for (int d = 0; d < nd; d++) {
        uint64_t s;
        if (json_uint(cJSON_GetArrayItem(shape, d), &s) != 0)
            return ih_set_error("%s: tensor '%s': shape entries must be non-negative integers", name,
                                tn);
        t->shape[d] = (int64_t)s;
        if (s != 0 && count > (UINT64_MAX / 4) / s) overflow = 1;
        else count *= s;
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        json_uint(cJSON_GetArrayItem(offs, 0), &sp->begin) != 0 ||
        json_uint(cJSON_GetArrayItem(offs, 1), &sp->end) != 0 || sp->end < sp->begin)
        return ih_set_error("%s: tensor '%s': data_offsets must be two increasing non-negative "
                            "integers",
                            name, tn);
    /* a product that overflowed is still 0 if another dimension is 0; otherwise no span fits */
    for (int d = 0; d < nd; d++)
        if (t->shape[d] == 0) {
            overflow = 0;
            count = 0;
        }
    if (overflow || sp->end - sp->begin != count * 4)
        return ih_set_error("%s: tensor '%s': data_offsets [%llu, %llu] do not match its shape "
                            "(%s%llu floats)",
                            name, tn, (unsigned long long)sp->begin, (unsigned long long)sp->end,
                            overflow ? "more than " : "", (unsigned long long)count);
    t->count = (size_t)count;
    t->name = strdup(tn);
    if (!t->name) return ih_set_error("%s: out of memory", name);
    return 0;
}

static int parse_header(const cJSON *root, const char *name, const unsigned char *data,
                        uint64_t data_len, ih_st_file *f) {
    if (!cJSON_IsObject(root))
        return ih_set_error("%s: safetensors header is not a JSON object", name);
    int k = cJSON_GetArraySize(root);
    ih_st_entry *tmp = calloc(k > 0 ? (size_t)k : 1, sizeof *tmp);
    span *spans = calloc(k > 0 ? (size_t)k : 1, sizeof *spans);
    char **names = calloc(k > 0 ? (size_t)k : 1, sizeof *names);
    int rc = -1, nt = 0;
    if (!tmp || !spans || !names) {
        ih_set_error("%s: out of memory", name);
        goto done;
    }
    const cJSON *it;
    int seen_meta = 0;
    cJSON_ArrayForEach(it, root) {
        if (!strcmp(it->string, "__metadata__")) {
            if (seen_meta++) {
                ih_set_error("%s: \"__metadata__\" appears twice", name);
                goto done;
            }
            if (parse_metadata(it, name, f) != 0) goto done;
            continue;
        }
        spans[nt].index = nt;
        if (parse_tensor(it, name, &tmp[nt], &spans[nt]) != 0) goto done;
        names[nt] = tmp[nt].name;
        nt++;
    }
    qsort(names, (size_t)nt, sizeof *names, name_cmp);
    for (int i = 1; i < nt; i++)
        if (!strcmp(names[i], names[i - 1])) {
            ih_set_error("%s: tensor name '%s' appears twice", name, names[i]);
            goto done;
        }
    /* The data section must be exactly the tensors back to back: anything else is a truncated,
     * padded or corrupted file (the safetensors reference applies the same rule). */
    qsort(spans, (size_t)nt, sizeof *spans, span_cmp);
    uint64_t pos = 0;
    for (int i = 0; i < nt; i++) {
        const char *tn = tmp[spans[i].index].name;
        if (spans[i].end > data_len) {
            ih_set_error("%s: tensor '%s' ends at byte %llu of a %llu-byte data section (truncated "
                         "file?)",
                         name, tn, (unsigned long long)spans[i].end, (unsigned long long)data_len);
            goto done;
        }
        if (spans[i].begin < pos) {
            ih_set_error("%s: tensor '%s' overlaps the preceding tensor's data", name, tn);
            goto done;
        }
        if (spans[i].begin > pos) {
            ih_set_error("%s: unused bytes before tensor '%s' in the data section", name, tn);
            goto done;
        }
        pos = spans[i].end;
    }
    if (pos != data_len) {
        ih_set_error("%s: data section has %llu bytes but the tensors cover %llu", name,
                     (unsigned long long)data_len, (unsigned long long)pos);
        goto done;
    }
    /* everything is validated: lay the tensors out in data order in one block */
    f->tensors = calloc(nt > 0 ? (size_t)nt : 1, sizeof *f->tensors);
    f->block = malloc(pos > 0 ? (size_t)pos : 1);
    if (!f->tensors || !f->block) {
        ih_set_error("%s: out of memory for %llu bytes of tensors", name, (unsigned long long)pos);
        goto done;
    }
    if (pos > 0) memcpy(f->block, data, (size_t)pos);
    for (int i = 0; i < nt; i++) {
        ih_st_entry *src = &tmp[spans[i].index];
        f->tensors[i] = *src;
        f->tensors[i].data = f->block + spans[i].begin / sizeof(float);
        src->name = NULL; /* now owned by f */
    }
    f->n = nt;
    rc = 0;
done:
    if (tmp)
        for (int i = 0; i < nt; i++) free(tmp[i].name);
    free(tmp);
    free(spans);
    free(names);
    return rc;
}

int ih_st_parse(const void *buf, size_t len, const char *name, ih_st_file *f) {
    memset(f, 0, sizeof *f);
    const unsigned char *b = buf;
    if (len == 0) return ih_set_error("%s: empty file, not a safetensors model file", name);
    if (len < 8) {
        if (b[0] >= 32 && b[0] < 127) return not_safetensors(name, b, len, 0);
        return ih_set_error("%s: not a safetensors model file (only %zu bytes)", name, len);
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)b[i] << (8 * i);
    if (hlen > len - 8) return not_safetensors(name, b, len, hlen);
    if (hlen < 2 || b[8] != '{')
        return ih_set_error("%s: not a safetensors model file (header does not start with '{')",
                            name);
    if (hlen > ST_MAX_HEADER)
        return ih_set_error("%s: safetensors header of %llu bytes is too large", name,
                            (unsigned long long)hlen);
    const char *hdr = (const char *)b + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root) return ih_set_error("%s: malformed safetensors header (invalid JSON)", name);
    /* only whitespace padding may follow the JSON object inside the header */
    for (const char *p = end; p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return ih_set_error("%s: malformed safetensors header (bytes after the JSON object)",
                                name);
        }
    const unsigned char *data = b + 8 + hlen;
    int rc = parse_header(root, name, data, (uint64_t)(len - 8 - hlen), f);
    cJSON_Delete(root);
    if (rc != 0) ih_st_free(f);
    return rc;
}

int ih_st_read(const char *path, ih_st_file *f) {
    memset(f, 0, sizeof *f);
    size_t len;
    char *buf = ih_read_file(path, &len);
    if (!buf) return -1;
    int rc = ih_st_parse(buf, len, path, f);
    free(buf);
    return rc;
}
