/* Shared pieces of the text structure readers and writers (see io_text.h). */
#include "io/io_text.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ih_lines_split(const char *text, const char *name, ih_lines *out) {
    out->n = 0;
    out->line = NULL;
    if (!strncmp(text, "\xEF\xBB\xBF", 3)) text += 3;
    size_t cap = 1;
    for (const char *p = text; *p; p++) cap += *p == '\n' || *p == '\r';
    out->line = malloc(cap * sizeof *out->line);
    if (!out->line) return ih_set_error("%s: out of memory", name);
    const char *p = text;
    while (*p) {
        const char *e = p;
        while (*e && *e != '\n' && *e != '\r') e++;
        /* a line longer than INT_MAX cannot be a structure file line; cut it (the parsers then
         * reject its content) rather than overflow the length */
        size_t len = (size_t)(e - p);
        out->line[out->n].p = p;
        out->line[out->n].len = len > 0x7fffffff ? 0x7fffffff : (int)len;
        out->n++;
        if (*e == '\r' && e[1] == '\n') e++;
        p = *e ? e + 1 : e;
    }
    return 0;
}

void ih_lines_free(ih_lines *l) {
    free(l->line);
    l->line = NULL;
    l->n = 0;
}

static int is_blank_char(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }

int ih_span_blank(ih_span s) {
    for (int i = 0; i < s.len; i++)
        if (!is_blank_char(s.p[i])) return 0;
    return 1;
}

int ih_tokens(ih_span s, ih_span *tok, int max) {
    int n = 0, i = 0;
    while (i < s.len) {
        while (i < s.len && is_blank_char(s.p[i])) i++;
        if (i >= s.len) break;
        int start = i;
        while (i < s.len && !is_blank_char(s.p[i])) i++;
        if (n < max) {
            tok[n].p = s.p + start;
            tok[n].len = i - start;
        }
        n++;
    }
    return n;
}

static int span_ieq(ih_span t, const char *word) {
    size_t n = strlen(word);
    if ((size_t)t.len != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)t.p[i]) != word[i]) return 0;
    return 1;
}

int ih_parse_real(ih_span t, double *out) {
    ih_span u = t;
    if (u.len > 0 && (u.p[0] == '+' || u.p[0] == '-')) {
        u.p++;
        u.len--;
    }
    if (span_ieq(u, "nan") || span_ieq(u, "inf") || span_ieq(u, "infinity")) return -2;
    /* the grammar is checked by hand: strtod would also take hex floats and stop early */
    int i = 0, digits = 0;
    while (i < u.len && isdigit((unsigned char)u.p[i])) i++, digits++;
    if (i < u.len && u.p[i] == '.') {
        i++;
        while (i < u.len && isdigit((unsigned char)u.p[i])) i++, digits++;
    }
    if (!digits) return -1;
    if (i < u.len && (u.p[i] == 'e' || u.p[i] == 'E')) {
        i++;
        if (i < u.len && (u.p[i] == '+' || u.p[i] == '-')) i++;
        int ed = 0;
        while (i < u.len && isdigit((unsigned char)u.p[i])) i++, ed++;
        if (!ed) return -1;
    }
    if (i != u.len) return -1;
    char buf[128];
    if (t.len >= (int)sizeof buf) {
        /* absurdly long mantissas: copy what fits is wrong; parse from a heap copy */
        char *h = malloc((size_t)t.len + 1);
        if (!h) return -1;
        memcpy(h, t.p, (size_t)t.len);
        h[t.len] = '\0';
        double v = strtod(h, NULL);
        free(h);
        if (!isfinite(v)) return -2;
        *out = v;
        return 0;
    }
    memcpy(buf, t.p, (size_t)t.len);
    buf[t.len] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v)) return -2;
    *out = v;
    return 0;
}

int ih_parse_count(ih_span t, long limit, long *out) {
    int i = 0;
    if (t.len > 0 && t.p[0] == '+') i++;
    if (i >= t.len) return -1;
    long v = 0;
    for (; i < t.len; i++) {
        if (!isdigit((unsigned char)t.p[i])) return -1;
        v = v * 10 + (t.p[i] - '0');
        if (v > limit) return -1;
    }
    *out = v;
    return 0;
}

/* z of a 1- or 2-letter symbol given in any case */
static int z_of_letters(const char *p, int n) {
    if (n < 1 || n > 2) return 0;
    /* deuterium, as neutron-diffraction CIFs write it: hydrogen to the network */
    if (n == 1 && (p[0] == 'D' || p[0] == 'd')) return 1;
    char sym[3] = {(char)toupper((unsigned char)p[0]), 0, 0};
    if (n == 2) sym[1] = (char)tolower((unsigned char)p[1]);
    return ih_element_z(sym);
}

int ih_element_from_symbol(ih_span t) {
    for (int i = 0; i < t.len; i++)
        if (!isalpha((unsigned char)t.p[i])) return 0;
    return z_of_letters(t.p, t.len);
}

int ih_element_from_label(ih_span t) {
    int n = 0;
    while (n < t.len && isalpha((unsigned char)t.p[n])) n++;
    if (n == 0) return 0;
    if (n >= 2) {
        int z = z_of_letters(t.p, 2);
        if (z) return n == 2 ? z : 0;
    }
    /* "Ob1", "OW": an element letter followed by a site tag; "Xyz" with no element prefix fails */
    if (n <= 2) return z_of_letters(t.p, 1);
    return 0;
}

const char *ih_excerpt(ih_span t) {
    static _Thread_local char ring[4][48];
    static _Thread_local int k;
    char *b = ring[k = (k + 1) % 4];
    int n = t.len < 24 ? t.len : 24, j = 0;
    b[j++] = '\'';
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t.p[i];
        b[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (t.len > n) {
        b[j++] = '.';
        b[j++] = '.';
        b[j++] = '.';
    }
    b[j++] = '\'';
    b[j] = '\0';
    return b;
}

int ih_check_text(const char *text, size_t len, const char *name) {
    if (memchr(text, '\0', len))
        return ih_set_error("%s: binary data (NUL bytes): not a text structure file", name);
    return 0;
}

void ih_structure_formula(const ih_structure *s, char *buf, size_t cap) {
    int count[104] = {0}, order[104], n_el = 0;
    for (int i = 0; i < s->n_atoms; i++) {
        int z = s->z[i];
        if (z < 1 || z > 103) continue;
        if (!count[z]++) order[n_el++] = z;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < n_el && len + 1 < cap; k++) {
        int w = count[order[k]] == 1
                    ? snprintf(buf + len, cap - len, "%s", ih_element_symbol(order[k]))
                    : snprintf(buf + len, cap - len, "%s%d", ih_element_symbol(order[k]),
                               count[order[k]]);
        if (w < 0) break;
        len += (size_t)w;
    }
}

void ih_sb_printf(ih_strbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)w < room) {
            b->len += (size_t)w;
            return;
        }
        size_t ncap = b->cap ? 2 * b->cap : 4096;
        while (ncap < b->len + (size_t)w + 1) ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

int ih_sb_write(ih_strbuf *b, const char *path) {
    int rc;
    if (b->oom)
        rc = ih_set_error("%s: out of memory while formatting", path);
    else
        rc = ih_write_file_atomic(path, b->p ? b->p : "", b->len);
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    return rc;
}
