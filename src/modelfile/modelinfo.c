/* Human-readable description of a safetensors model file for `ionhop info`. The model's metadata
 * keys are not fixed, so metadata is printed generically: values holding a JSON object or array
 * are pretty-printed, anything else is shown as is. */
#include "ionhop_modelfile.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void indent(FILE *out, int level) {
    for (int i = 0; i < level; i++) fputs("  ", out);
}

/* Names and values come from an arbitrary file: keep control characters off the terminal. */
static void put_clean(FILE *out, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p < 32 || *p == 127 ? ' ' : *p, out);
}

static void print_scalar(FILE *out, const cJSON *v) {
    char *s = cJSON_PrintUnformatted(v);
    fputs(s ? s : "?", out);
    free(s);
}

static int is_flat_array(const cJSON *v) {
    if (!cJSON_IsArray(v)) return 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        if (cJSON_IsArray(it) || cJSON_IsObject(it)) return 0;
    }
    return 1;
}

/* Two-space indentation; arrays of scalars (shapes, per-property lists) stay on one line. */
static void print_json(FILE *out, const cJSON *v, int level) {
    if (cJSON_IsObject(v) || (cJSON_IsArray(v) && !is_flat_array(v))) {
        int obj = cJSON_IsObject(v);
        if (!v->child) {
            fputs(obj ? "{}" : "[]", out);
            return;
        }
        fputs(obj ? "{\n" : "[\n", out);
        for (const cJSON *it = v->child; it; it = it->next) {
            indent(out, level + 1);
            if (obj) {
                cJSON *key = cJSON_CreateString(it->string);
                print_scalar(out, key);
                cJSON_Delete(key);
                fputs(": ", out);
            }
            print_json(out, it, level + 1);
            fputs(it->next ? ",\n" : "\n", out);
        }
        indent(out, level);
        fputs(obj ? "}" : "]", out);
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 24) {
        /* long lists (calibration scores) are summarised: the first three, the count, the last */
        fputc('[', out);
        int k = 0;
        for (const cJSON *it = v->child; it && k < 3; it = it->next, k++) print_scalar(out, it), fputs(", ", out);
        fprintf(out, "… %d values …, ", cJSON_GetArraySize(v) - 4);
        const cJSON *last = v->child;
        while (last->next) last = last->next;
        print_scalar(out, last);
        fputc(']', out);
    } else if (cJSON_IsArray(v)) {
        fputc('[', out);
        for (const cJSON *it = v->child; it; it = it->next) {
            print_scalar(out, it);
            if (it->next) fputs(", ", out);
        }
        fputc(']', out);
    } else {
        print_scalar(out, v);
    }
}

static void print_meta_value(FILE *out, const char *key, const char *value) {
    cJSON *doc = cJSON_Parse(value);
    fputs("  ", out);
    put_clean(out, key);
    fputs(": ", out);
    if (doc && (cJSON_IsObject(doc) || cJSON_IsArray(doc)))
        print_json(out, doc, 1);
    else
        put_clean(out, value); /* a plain string stays on one line */
    fputc('\n', out);
    cJSON_Delete(doc);
}

int ih_st_describe(FILE *out, const char *path, int list_tensors) {
    ih_st_file f;
    if (ih_st_read(path, &f) != 0) return -1;
    size_t n_param = 0, n_buf = 0, n_dom = 0;
    int t_param = 0, t_buf = 0, t_dom = 0;
    for (int i = 0; i < f.n; i++) {
        if (!strncmp(f.tensors[i].name, IH_DOMAIN_TENSOR_PREFIX, strlen(IH_DOMAIN_TENSOR_PREFIX))) {
            n_dom += f.tensors[i].count;
            t_dom++;
        } else if (ih_st_is_buffer_name(f.tensors[i].name)) {
            n_buf += f.tensors[i].count;
            t_buf++;
        } else {
            n_param += f.tensors[i].count;
            t_param++;
        }
    }
    fprintf(out, "file: %s\n", path);
    const char *format = ih_st_meta_get(&f, "format");
    fputs("format: ", out);
    put_clean(out, format ? format : "(not given)");
    fputc('\n', out);
    fprintf(out, "tensors: %d\n", f.n);
    fprintf(out, "parameters: %zu (in %d tensor%s)\n", n_param, t_param, t_param == 1 ? "" : "s");
    fprintf(out, "buffers: %zu (in %d tensor%s: BatchNorm running statistics)\n", n_buf, t_buf,
            t_buf == 1 ? "" : "s");
    if (t_dom)
        fprintf(out, "training domain: %zu values (in %d tensor%s: the training records in the model's representation)\n",
                n_dom, t_dom, t_dom == 1 ? "" : "s");
    int shown = 0;
    for (int i = 0; i < f.n_meta; i++) {
        if (!strcmp(f.meta[i].key, "format")) continue;
        if (!shown++) fputs("metadata:\n", out);
        print_meta_value(out, f.meta[i].key, f.meta[i].value);
    }
    if (!shown) fputs("metadata: (none)\n", out);
    if (list_tensors) {
        fputs("tensor list (name, shape, values):\n", out);
        for (int i = 0; i < f.n; i++) {
            const ih_st_entry *t = &f.tensors[i];
            fputs("  ", out);
            put_clean(out, t->name);
            fputs(" [", out);
            for (int d = 0; d < t->ndim; d++)
                fprintf(out, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
            fprintf(out, "] %zu%s\n", t->count, ih_st_is_buffer_name(t->name) ? " (buffer)" : "");
        }
    }
    ih_st_free(&f);
    return ferror(out) ? ih_set_error("%s: cannot write the description", path) : 0;
}
