/* Reader of the "IHFX" fixtures written by tests/fixtures/gen/make_model_fixtures.py: named little-endian
 * arrays (f32, i32, f64, u8). */
#ifndef IH_TEST_FIXTURE_H
#define IH_TEST_FIXTURE_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

enum { FX_F32 = 0, FX_I32 = 1, FX_F64 = 2, FX_U8 = 3 };

typedef struct fx_entry {
    char name[128];
    int dtype, ndim;
    uint32_t dims[4];
    size_t count;
    const void *data;
} fx_entry;

typedef struct fx_file {
    char *buf;
    int n;
    fx_entry *e;
} fx_file;

static inline void fx_close(fx_file *f) {
    free(f->buf);
    free(f->e);
    memset(f, 0, sizeof *f);
}

static inline int fx_open(fx_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    size_t len = 0;
    f->buf = ih_read_file(path, &len);
    if (!f->buf) return -1;
    if (len < 8 || memcmp(f->buf, "IHFX", 4)) {
        fx_close(f);
        return ih_set_error("%s: not an IHFX fixture", path);
    }
    uint32_t n;
    memcpy(&n, f->buf + 4, 4);
    f->e = calloc(n ? n : 1, sizeof *f->e);
    size_t pos = 8;
    for (uint32_t i = 0; i < n; i++) {
        fx_entry *e = &f->e[i];
        uint16_t nl;
        if (pos + 2 > len) goto bad;
        memcpy(&nl, f->buf + pos, 2);
        pos += 2;
        if (nl >= sizeof e->name || pos + nl + 2 > len) goto bad;
        memcpy(e->name, f->buf + pos, nl);
        e->name[nl] = 0;
        pos += nl;
        e->dtype = (unsigned char)f->buf[pos];
        e->ndim = (unsigned char)f->buf[pos + 1];
        pos += 2;
        if (e->ndim > 4 || pos + 4 * (size_t)e->ndim > len) goto bad;
        e->count = 1;
        for (int d = 0; d < e->ndim; d++) {
            memcpy(&e->dims[d], f->buf + pos, 4);
            pos += 4;
            e->count *= e->dims[d];
        }
        size_t esz = e->dtype == FX_F64 ? 8 : e->dtype == FX_U8 ? 1 : 4;
        if (pos + esz * e->count > len) goto bad;
        e->data = f->buf + pos;
        pos += esz * e->count;
        f->n++;
    }
    return 0;
bad:
    fx_close(f);
    return ih_set_error("%s: truncated IHFX fixture", path);
}

/* Entry by name with the given dtype, or NULL; *count gets the element count. The data may be
 * unaligned: copy it out (fx_copy_*). */
static inline const fx_entry *fx_find(const fx_file *f, const char *name, int dtype) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->e[i].name, name) && f->e[i].dtype == dtype) return &f->e[i];
    return NULL;
}

static inline float *fx_f32(const fx_file *f, const char *name, size_t *count) {
    const fx_entry *e = fx_find(f, name, FX_F32);
    if (!e) return NULL;
    float *p = malloc(sizeof(float) * (e->count ? e->count : 1));
    memcpy(p, e->data, sizeof(float) * e->count);
    if (count) *count = e->count;
    return p;
}

static inline int *fx_i32(const fx_file *f, const char *name, size_t *count) {
    const fx_entry *e = fx_find(f, name, FX_I32);
    if (!e) return NULL;
    int *p = malloc(sizeof(int) * (e->count ? e->count : 1));
    memcpy(p, e->data, sizeof(int) * e->count);
    if (count) *count = e->count;
    return p;
}

static inline double *fx_f64(const fx_file *f, const char *name, size_t *count) {
    const fx_entry *e = fx_find(f, name, FX_F64);
    if (!e) return NULL;
    double *p = malloc(sizeof(double) * (e->count ? e->count : 1));
    memcpy(p, e->data, sizeof(double) * e->count);
    if (count) *count = e->count;
    return p;
}

/* NUL-terminated copy of a u8 entry (strings). */
static inline char *fx_str(const fx_file *f, const char *name) {
    const fx_entry *e = fx_find(f, name, FX_U8);
    if (!e) return NULL;
    char *p = malloc(e->count + 1);
    memcpy(p, e->data, e->count);
    p[e->count] = 0;
    return p;
}
#endif
