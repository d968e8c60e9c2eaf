/* Structure files of any supported format: format detection and the read-one / read-all entry
 * points that the CLI uses. */
#include "io/io_text.h"

#include <zlib.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static ih_format format_from_name(const char *path) {
    const char *slash = strrchr(path, '/');
    char base[1024];
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : path);
    /* a compressed file is named by what it holds: CONTCAR.gz, x.cif.gz */
    size_t bl = strlen(base);
    if (bl > 3 && !strcasecmp(base + bl - 3, ".gz")) base[bl - 3] = '\0';
    if (ends_with_ci(base, ".json")) return IH_FMT_JSON;
    if (ends_with_ci(base, ".cif") || ends_with_ci(base, ".mcif")) return IH_FMT_CIF;
    if (ends_with_ci(base, ".xyz") || ends_with_ci(base, ".extxyz")) return IH_FMT_XYZ;
    if (ends_with_ci(base, ".vasp") || ends_with_ci(base, ".poscar")) return IH_FMT_POSCAR;
    /* VASP names: POSCAR, CONTCAR, POSCAR_relaxed, CONTCAR.3, ... */
    if (!strncasecmp(base, "POSCAR", 6) || !strncasecmp(base, "CONTCAR", 7)) return IH_FMT_POSCAR;
    return IH_FMT_UNKNOWN;
}

/* Content sniffing on the first few kilobytes. */
static ih_format format_from_text(const char *text, size_t len) {
    if (memchr(text, '\0', len)) return IH_FMT_UNKNOWN;
    const char *p = text;
    if (!strncmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    while (*p && isspace((unsigned char)*p)) p++;
    if (*p == '[' || *p == '{') return IH_FMT_JSON;
    ih_lines L;
    if (ih_lines_split(p, "", &L) != 0) return IH_FMT_UNKNOWN;
    ih_format f = IH_FMT_UNKNOWN;
    /* CIF: a data_ block header or a _cell_ tag at the start of a line */
    for (int i = 0; i < L.n && f == IH_FMT_UNKNOWN; i++) {
        ih_span t;
        if (ih_tokens(L.line[i], &t, 1) < 1) continue;
        if ((t.len >= 5 && !strncasecmp(t.p, "data_", 5)) ||
            (t.len >= 6 && !strncasecmp(t.p, "_cell_", 6)))
            f = IH_FMT_CIF;
    }
    if (f == IH_FMT_UNKNOWN && L.n >= 5) {
        /* POSCAR: a number on line 2, then three lines of three numbers (checked before XYZ: a
         * POSCAR comment line may be a bare number) */
        ih_span t[4];
        double v;
        int ok = ih_tokens(L.line[1], t, 4) >= 1 && ih_parse_real(t[0], &v) == 0;
        for (int r = 2; ok && r < 5; r++) {
            ok = ih_tokens(L.line[r], t, 4) >= 3;
            for (int k = 0; ok && k < 3; k++) ok = ih_parse_real(t[k], &v) == 0;
        }
        if (ok) f = IH_FMT_POSCAR;
    }
    if (f == IH_FMT_UNKNOWN && L.n >= 2) {
        ih_span t[2];
        long n;
        /* (extended) XYZ: an atom count alone on line 1 */
        if (ih_tokens(L.line[0], t, 2) == 1 && ih_parse_count(t[0], IH_MAX_ATOMS, &n) == 0)
            f = IH_FMT_XYZ;
    }
    ih_lines_free(&L);
    return f;
}

ih_format ih_guess_format(const char *path) {
    ih_format f = format_from_name(path);
    if (f != IH_FMT_UNKNOWN) return f;
    gzFile fp = gzopen(path, "rb"); /* plain or gzip-compressed */
    if (!fp) return IH_FMT_UNKNOWN;
    char buf[8193];
    int got = gzread(fp, buf, sizeof buf - 1);
    gzclose(fp);
    size_t n = got > 0 ? (size_t)got : 0;
    buf[n] = '\0';
    /* the last line may be cut: sniffing only needs the first few */
    return format_from_text(buf, n);
}

int ih_disorder_from_name(const char *name, ih_disorder *out) {
    static const char *const names[] = {"sites", "half", "refuse"};
    for (int k = 0; k < 3; k++)
        if (!strcmp(name, names[k])) {
            *out = (ih_disorder)k;
            return 0;
        }
    return -1;
}

int ih_read_structures(const char *path, ih_format fmt, ih_structure_set *out) {
    return ih_read_structures_opts(path, fmt, NULL, out);
}

int ih_read_structures_opts(const char *path, ih_format fmt, const ih_read_opts *o, ih_structure_set *out) {
    static const ih_read_opts defaults;
    if (!o) o = &defaults;
    out->n = 0;
    out->items = NULL;
    if (fmt == IH_FMT_UNKNOWN) {
        fmt = ih_guess_format(path);
        if (fmt == IH_FMT_UNKNOWN) {
            /* say why: unreadable, binary, or just not recognised */
            size_t len;
            char *text = ih_read_file(path, &len);
            if (!text) return -1;
            int rc = ih_check_text(text, len, path);
            free(text);
            if (rc != 0) return -1;
            return ih_set_error("%s: unknown structure file format (expected a .json record file, "
                                ".cif, .xyz/.extxyz, or a POSCAR/CONTCAR/.vasp file)",
                                path);
        }
    }
    if (o->block && fmt != IH_FMT_CIF)
        return ih_set_error("%s: not a CIF file, so it has no data block '%s' to choose", path, o->block);
    if (fmt == IH_FMT_JSON) return ih_read_json(path, out);
    out->items = calloc(1, sizeof *out->items);
    if (!out->items) return ih_set_error("%s: out of memory", path);
    int rc;
    switch (fmt) {
    case IH_FMT_POSCAR: rc = ih_read_poscar(path, &out->items[0]); break;
    case IH_FMT_CIF: rc = ih_read_cif_with(path, o, &out->items[0]); break;
    case IH_FMT_XYZ: rc = ih_read_xyz(path, &out->items[0]); break;
    default: rc = ih_set_error("%s: unsupported format code %d", path, (int)fmt); break;
    }
    if (rc != 0) {
        free(out->items);
        out->items = NULL;
        return -1;
    }
    out->n = 1;
    return 0;
}

int ih_read_structure(const char *path, ih_format fmt, ih_structure *out) {
    return ih_read_structure_opts(path, fmt, NULL, out);
}

int ih_read_structure_opts(const char *path, ih_format fmt, const ih_read_opts *o, ih_structure *out) {
    memset(out, 0, sizeof *out);
    ih_structure_set set;
    if (ih_read_structures_opts(path, fmt, o, &set) != 0) return -1;
    if (set.n != 1) {
        int n = set.n;
        ih_structure_set_free(&set);
        return ih_set_error("%s: holds %d structures (records); expected exactly one", path, n);
    }
    *out = set.items[0];
    free(set.items);
    return 0;
}
