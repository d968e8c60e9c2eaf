/* JSON record files of ../shared/data: a list of records {jid, target, atoms{lattice_mat, coords,
 * elements, cartesian}, ...}, a single record, or a bare atoms object. Writing uses the same
 * layout (fractional coordinates). */
#include "core/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int get_vec3(const cJSON *arr, double out[3]) {
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != 3) return -1;
    for (int c = 0; c < 3; c++) {
        const cJSON *v = cJSON_GetArrayItem(arr, c);
        if (!cJSON_IsNumber(v)) return -1;
        out[c] = v->valuedouble;
    }
    return 0;
}

/* Parse one atoms object into s; `where` prefixes messages ("file.json: record 3 (jid 7)"). */
static int parse_atoms(const cJSON *atoms, const char *where, ih_structure *s) {
    if (!cJSON_IsObject(atoms)) return ih_set_error("%s: \"atoms\" is not an object", where);
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(atoms, "lattice_mat");
    const cJSON *coords = cJSON_GetObjectItemCaseSensitive(atoms, "coords");
    const cJSON *elems = cJSON_GetObjectItemCaseSensitive(atoms, "elements");
    const cJSON *cart = cJSON_GetObjectItemCaseSensitive(atoms, "cartesian");
    if (!lat) return ih_set_error("%s: atoms has no \"lattice_mat\"", where);
    if (!coords) return ih_set_error("%s: atoms has no \"coords\"", where);
    if (!elems) return ih_set_error("%s: atoms has no \"elements\"", where);
    if (!cJSON_IsArray(lat) || cJSON_GetArraySize(lat) != 3)
        return ih_set_error("%s: \"lattice_mat\" is not a 3x3 list", where);
    if (!cJSON_IsArray(coords) || !cJSON_IsArray(elems))
        return ih_set_error("%s: \"coords\" and \"elements\" must be lists", where);
    int n = cJSON_GetArraySize(elems);
    if (n == 0) return ih_set_error("%s: structure has no atoms", where);
    if (cJSON_GetArraySize(coords) != n)
        return ih_set_error("%s: %d coordinates but %d elements", where,
                            cJSON_GetArraySize(coords), n);
    int is_cart = 0;
    if (cart) {
        if (!cJSON_IsBool(cart)) return ih_set_error("%s: \"cartesian\" is not a boolean", where);
        is_cart = cJSON_IsTrue(cart);
    }
    if (ih_structure_init(s, n) != 0) return -1;
    for (int r = 0; r < 3; r++)
        if (get_vec3(cJSON_GetArrayItem(lat, r), s->lattice[r]) != 0) {
            ih_structure_free(s);
            return ih_set_error("%s: \"lattice_mat\" row %d is not 3 numbers", where, r + 1);
        }
    double *xyz = s->frac;
    if (is_cart) {
        s->cart = malloc(3 * (size_t)n * sizeof *s->cart);
        if (!s->cart) {
            ih_structure_free(s);
            return ih_set_error("%s: out of memory", where);
        }
        xyz = s->cart;
    }
    int i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, coords) {
        if (get_vec3(row, xyz + 3 * i) != 0) {
            ih_structure_free(s);
            return ih_set_error("%s: coordinate %d is not 3 numbers", where, i + 1);
        }
        i++;
    }
    i = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, elems) {
        if (!cJSON_IsString(el)) {
            ih_structure_free(s);
            return ih_set_error("%s: element %d is not a string", where, i + 1);
        }
        s->z[i] = ih_element_z(el->valuestring);
        if (!s->z[i]) {
            ih_set_error("%s: unknown element \"%.16s\" (atom %d)", where, el->valuestring, i + 1);
            ih_structure_free(s);
            return -1;
        }
        i++;
    }
    if (is_cart) {
        /* fractional = x · L^-1, kept alongside the given Cartesian positions (docs/method.md §1.1) */
        if (ih_frac_from_cart(s, where) != 0) {
            ih_structure_free(s);
            return -1;
        }
    }
    return 0;
}

static void copy_str(char *dst, size_t cap, const cJSON *v) {
    if (cJSON_IsString(v)) {
        snprintf(dst, cap, "%s", v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15)
            snprintf(dst, cap, "%.0f", v->valuedouble);
        else
            snprintf(dst, cap, "%.17g", v->valuedouble);
    }
}

static int parse_record(const cJSON *rec, const char *name, int index, ih_structure *s) {
    char where[1200];
    char jid[64] = "";
    copy_str(jid, sizeof jid, cJSON_GetObjectItemCaseSensitive(rec, "jid"));
    if (jid[0])
        snprintf(where, sizeof where, "%s: record %d (jid %s)", name, index + 1, jid);
    else
        snprintf(where, sizeof where, "%s: record %d", name, index + 1);
    if (!cJSON_IsObject(rec)) return ih_set_error("%s: not a JSON object", where);
    const cJSON *atoms = cJSON_GetObjectItemCaseSensitive(rec, "atoms");
    if (!atoms) {
        if (cJSON_GetObjectItemCaseSensitive(rec, "lattice_mat")) atoms = rec; /* bare atoms */
        else return ih_set_error("%s: no \"atoms\" structure", where);
    }
    if (parse_atoms(atoms, where, s) != 0) return -1;
    snprintf(s->jid, sizeof s->jid, "%s", jid);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "target");
    if (cJSON_IsNumber(t)) {
        if (!isfinite(t->valuedouble)) {
            ih_structure_free(s);
            return ih_set_error("%s: target is not finite", where);
        }
        s->has_target = 1;
        s->target = t->valuedouble;
    } else if (t && !cJSON_IsNull(t) && !cJSON_IsString(t)) {
        ih_structure_free(s);
        return ih_set_error("%s: target is not a number", where);
    }
    copy_str(s->sys_name, sizeof s->sys_name, cJSON_GetObjectItemCaseSensitive(rec, "sys_name"));
    copy_str(s->klass, sizeof s->klass, cJSON_GetObjectItemCaseSensitive(rec, "class"));
    if (ih_structure_validate(s, where, IH_MIN_SEPARATION_RECORDS,
                              ih_structure_is_5image(s) ? 5 : 0) != 0) {
        ih_structure_free(s);
        return -1;
    }
    return 0;
}

int ih_parse_json(const char *text, const char *name, ih_structure_set *out) {
    out->n = 0;
    out->items = NULL;
    if (!text || !*text) return ih_set_error("%s: empty file", name);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        /* report the line of the syntax error */
        const char *err = cJSON_GetErrorPtr();
        int line = 1;
        if (err)
            for (const char *p = text; p < err && *p; p++) line += *p == '\n';
        return ih_set_error("%s: malformed JSON near line %d", name, line);
    }
    int n = cJSON_IsArray(root) ? cJSON_GetArraySize(root) : 1;
    if (n == 0) {
        cJSON_Delete(root);
        return ih_set_error("%s: the JSON list holds no records", name);
    }
    out->items = calloc((size_t)n, sizeof *out->items);
    if (!out->items) {
        cJSON_Delete(root);
        return ih_set_error("%s: out of memory", name);
    }
    int rc = 0;
    if (cJSON_IsArray(root)) {
        const cJSON *rec;
        int i = 0;
        cJSON_ArrayForEach(rec, root) {
            if (parse_record(rec, name, i, &out->items[i]) != 0) {
                rc = -1;
                break;
            }
            out->n = ++i;
        }
    } else {
        rc = parse_record(root, name, 0, &out->items[0]);
        if (rc == 0) out->n = 1;
    }
    cJSON_Delete(root);
    if (rc != 0) ih_structure_set_free(out);
    return rc;
}

int ih_read_json(const char *path, ih_structure_set *out) {
    size_t len;
    char *text = ih_read_file(path, &len);
    if (!text) return -1;
    int rc = ih_parse_json(text, path, out);
    free(text);
    return rc;
}

/* cJSON prints doubles with a relative tolerance of DBL_EPSILON, which can lose the last bit;
 * graphs depend on exact coordinates (tie-breaking at the k-th shell), so print %.17g. */
static cJSON *exact_vec3(const double *v) {
    cJSON *arr = cJSON_CreateArray();
    for (int c = 0; c < 3 && arr; c++) {
        char buf[40];
        snprintf(buf, sizeof buf, "%.17g", v[c]);
        cJSON_AddItemToArray(arr, cJSON_CreateRaw(buf));
    }
    return arr;
}

int ih_write_json(const char *path, const ih_structure *items, int n) {
    cJSON *root = cJSON_CreateArray();
    if (!root) return ih_set_error("%s: out of memory", path);
    for (int k = 0; k < n; k++) {
        const ih_structure *s = &items[k];
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddItemToArray(root, rec);
        if (s->jid[0]) cJSON_AddStringToObject(rec, "jid", s->jid);
        if (s->has_target) cJSON_AddNumberToObject(rec, "target", s->target);
        if (s->sys_name[0]) cJSON_AddStringToObject(rec, "sys_name", s->sys_name);
        if (s->klass[0]) cJSON_AddStringToObject(rec, "class", s->klass);
        cJSON *atoms = cJSON_AddObjectToObject(rec, "atoms");
        cJSON *lat = cJSON_AddArrayToObject(atoms, "lattice_mat");
        for (int r = 0; r < 3; r++)
            cJSON_AddItemToArray(lat, exact_vec3(s->lattice[r]));
        cJSON *coords = cJSON_AddArrayToObject(atoms, "coords");
        cJSON *elems = cJSON_AddArrayToObject(atoms, "elements");
        for (int i = 0; i < s->n_atoms; i++) {
            cJSON_AddItemToArray(coords, exact_vec3(s->frac + 3 * i));
            cJSON_AddItemToArray(elems, cJSON_CreateString(ih_element_symbol(s->z[i])));
        }
        cJSON_AddBoolToObject(atoms, "cartesian", 0);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return ih_set_error("%s: out of memory", path);
    int rc = ih_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}
