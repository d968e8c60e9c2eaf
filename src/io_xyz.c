/* Extended XYZ (one frame): line 1 the atom count; line 2 key=value pairs with a required
 * Lattice="ax ay az bx by bz cx cy cz" (rows are lattice vectors, Å) and an optional
 * Properties=name:type:ncols:... giving the column layout (species:S:1 and pos:R:3 are needed;
 * without Properties the columns are species then x y z); then one line per atom with Cartesian
 * positions (Å), kept in s->cart. pbc and every other key are ignored. Keys are case-insensitive;
 * values may be bare, "double-quoted" or {braced}. */
#include "io_text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct kv {
    ih_span key, val;
} kv;

/* Split the comment line into key=value pairs (a bare key counts as key=T). Returns the count,
 * -1 on an unterminated quote. */
static int parse_kv(ih_span line, kv *out, int max) {
    int n = 0, i = 0;
    const char *p = line.p;
    while (i < line.len) {
        while (i < line.len && isspace((unsigned char)p[i])) i++;
        if (i >= line.len) break;
        int ks = i;
        while (i < line.len && !isspace((unsigned char)p[i]) && p[i] != '=') i++;
        ih_span key = {p + ks, i - ks}, val = {p + i, 0};
        while (i < line.len && (p[i] == ' ' || p[i] == '\t')) i++;
        if (i < line.len && p[i] == '=') {
            i++;
            while (i < line.len && (p[i] == ' ' || p[i] == '\t')) i++;
            if (i < line.len && (p[i] == '"' || p[i] == '{')) {
                char close = p[i] == '"' ? '"' : '}';
                int vs = ++i;
                while (i < line.len && p[i] != close) i++;
                if (i >= line.len) return -1;
                val.p = p + vs;
                val.len = i - vs;
                i++;
            } else {
                int vs = i;
                while (i < line.len && !isspace((unsigned char)p[i])) i++;
                val.p = p + vs;
                val.len = i - vs;
            }
        }
        /* a key without '=' is a flag (value empty): none is needed here, but keep counting */
        if (key.len > 0 && n < max) {
            out[n].key = key;
            out[n].val = val;
            n++;
        }
    }
    return n;
}

static int span_is(ih_span s, const char *word) {
    return (size_t)s.len == strlen(word) && strncasecmp(s.p, word, (size_t)s.len) == 0;
}

/* Column layout from Properties: 0 ok (species_col, pos_col set, n_cols = total), -1 error. */
static int parse_properties(ih_span v, const char *name, int *species_col, int *pos_col,
                            int *n_cols) {
    *species_col = *pos_col = -1;
    int col = 0, field = 0;
    ih_span prop = {0, 0}, type = {0, 0};
    int i = 0;
    while (i <= v.len) {
        int s = i;
        while (i < v.len && v.p[i] != ':') i++;
        ih_span f = {v.p + s, i - s};
        i++;
        if (field == 0) prop = f;
        else if (field == 1) type = f;
        else {
            long nc;
            if (ih_parse_count(f, 1000, &nc) != 0 || nc == 0)
                return ih_set_error("%s: line 2: Properties: column count %s of %s is not a "
                                    "positive integer",
                                    name, ih_excerpt(f), ih_excerpt(prop));
            if (type.len != 1 || !strchr("SRIL", toupper((unsigned char)type.p[0])))
                return ih_set_error("%s: line 2: Properties: type %s of %s is not S, R, I or L",
                                    name, ih_excerpt(type), ih_excerpt(prop));
            char t = (char)toupper((unsigned char)type.p[0]);
            if (span_is(prop, "species")) {
                if (t != 'S' || nc != 1)
                    return ih_set_error("%s: line 2: Properties: species must be species:S:1", name);
                *species_col = col;
            } else if (span_is(prop, "pos")) {
                if (t != 'R' || nc != 3)
                    return ih_set_error("%s: line 2: Properties: pos must be pos:R:3", name);
                *pos_col = col;
            }
            col += (int)nc;
        }
        field = (field + 1) % 3;
    }
    if (field != 0)
        return ih_set_error("%s: line 2: Properties is not a list of name:type:columns triples",
                            name);
    if (*species_col < 0 || *pos_col < 0)
        return ih_set_error("%s: line 2: Properties lacks %s", name,
                            *species_col < 0 ? "species:S:1" : "pos:R:3");
    *n_cols = col;
    return 0;
}

int ih_parse_xyz(const char *text, const char *name, ih_structure *out) {
    memset(out, 0, sizeof *out);
    if (!name) name = "structure.xyz";
    ih_lines L;
    if (ih_lines_split(text, name, &L) != 0) return -1;
    int rc = -1;
    kv *pairs = NULL;
    ih_span *tok = NULL;
    int first = 0;
    while (first < L.n && ih_span_blank(L.line[first])) first++;
    if (first >= L.n) {
        ih_set_error("%s: empty file", name);
        goto done;
    }
    long n_atoms;
    {
        ih_span t[2];
        int nt = ih_tokens(L.line[first], t, 2);
        if (nt != 1 || ih_parse_count(t[0], IH_MAX_ATOMS, &n_atoms) != 0 || n_atoms == 0) {
            ih_set_error("%s: line %d: expected the atom count (a positive integer), found %s", name,
                         first + 1, ih_excerpt(L.line[first]));
            goto done;
        }
    }
    int cl = first + 1; /* comment line index */
    if (cl >= L.n) {
        ih_set_error("%s: truncated XYZ: no comment line with Lattice= after the atom count", name);
        goto done;
    }
    int max_pairs = L.line[cl].len / 2 + 2;
    pairs = malloc((size_t)max_pairs * sizeof *pairs);
    if (!pairs) {
        ih_set_error("%s: out of memory", name);
        goto done;
    }
    int np = parse_kv(L.line[cl], pairs, max_pairs);
    if (np < 0) {
        ih_set_error("%s: line %d: unterminated quoted value", name, cl + 1);
        goto done;
    }
    const ih_span *lattice = NULL, *props = NULL;
    for (int k = 0; k < np; k++) {
        if (span_is(pairs[k].key, "Lattice")) lattice = &pairs[k].val;
        if (span_is(pairs[k].key, "Properties")) props = &pairs[k].val;
    }
    if (!lattice) {
        ih_set_error("%s: line %d: no Lattice=\"ax ay az bx by bz cx cy cz\" (ionhop needs a "
                     "periodic extended XYZ file)",
                     name, cl + 1);
        goto done;
    }
    {
        ih_span t[10];
        int nt = ih_tokens(*lattice, t, 10);
        if (nt != 9) {
            ih_set_error("%s: line %d: Lattice= holds %d numbers, expected 9", name, cl + 1, nt);
            goto done;
        }
        double v[9];
        for (int k = 0; k < 9; k++) {
            int r = ih_parse_real(t[k], &v[k]);
            if (r != 0) {
                ih_set_error("%s: line %d: Lattice=: %s is not a %snumber", name, cl + 1,
                             ih_excerpt(t[k]), r == -2 ? "finite " : "");
                goto done;
            }
        }
        if (L.n - cl - 1 < n_atoms) {
            ih_set_error("%s: truncated XYZ: line 1 declares %ld atoms but only %d lines follow",
                         name, n_atoms, L.n - cl - 1);
            goto done;
        }
        if (ih_structure_init(out, (int)n_atoms) != 0) goto done;
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) out->lattice[r][c] = v[3 * r + c];
    }
    int species_col = 0, pos_col = 1, n_cols = 4;
    if (props && parse_properties(*props, name, &species_col, &pos_col, &n_cols) != 0) goto done;
    out->cart = malloc(3 * (size_t)n_atoms * sizeof *out->cart);
    tok = malloc((size_t)(n_cols + 1) * sizeof *tok);
    if (!out->cart || !tok) {
        ih_set_error("%s: out of memory", name);
        goto done;
    }
    for (long a = 0; a < n_atoms; a++) {
        int ln = (int)(cl + 1 + a);
        int nt = ih_tokens(L.line[ln], tok, n_cols + 1);
        if (nt < n_cols) {
            ih_set_error("%s: line %d: atom %ld of %ld has %d columns, expected %d%s", name, ln + 1,
                         a + 1, n_atoms, nt, n_cols, nt == 0 ? " (wrong atom count?)" : "");
            goto done;
        }
        if (props && nt > n_cols) {
            ih_set_error("%s: line %d: atom %ld has %d columns but Properties declares %d", name,
                         ln + 1, a + 1, nt, n_cols);
            goto done;
        }
        out->z[a] = ih_element_from_symbol(tok[species_col]);
        if (!out->z[a]) {
            ih_set_error("%s: line %d: unknown element %s", name, ln + 1,
                         ih_excerpt(tok[species_col]));
            goto done;
        }
        for (int c = 0; c < 3; c++) {
            int r = ih_parse_real(tok[pos_col + c], &out->cart[3 * a + c]);
            if (r != 0) {
                ih_set_error("%s: line %d: position of atom %ld: %s is not a %snumber", name, ln + 1,
                             a + 1, ih_excerpt(tok[pos_col + c]), r == -2 ? "finite " : "");
                goto done;
            }
        }
    }
    /* Anything after the frame must be blank: another atom line means the count is short, an
     * integer a second frame (not supported: ionhop reads one structure per XYZ file). */
    for (int ln = (int)(cl + 1 + n_atoms); ln < L.n; ln++) {
        if (ih_span_blank(L.line[ln])) continue;
        ih_span t[2];
        long cnt;
        int nt = ih_tokens(L.line[ln], t, 2);
        if (nt == 1 && ih_parse_count(t[0], IH_MAX_ATOMS, &cnt) == 0)
            ih_set_error("%s: line %d: a second frame follows; ionhop reads single-frame XYZ files "
                         "(split the trajectory)",
                         name, ln + 1);
        else
            ih_set_error("%s: line %d: more atom lines than the %ld declared on line %d", name,
                         ln + 1, n_atoms, first + 1);
        goto done;
    }
    if (ih_frac_from_cart(out, name) != 0) goto done;
    if (ih_structure_validate(out, name, IH_MIN_SEPARATION, 0) != 0) goto done;
    rc = 0;
done:
    if (rc != 0) ih_structure_free(out);
    free(pairs);
    free(tok);
    ih_lines_free(&L);
    return rc;
}

int ih_read_xyz(const char *path, ih_structure *out) {
    size_t len;
    memset(out, 0, sizeof *out);
    char *text = ih_read_file(path, &len);
    if (!text) return -1;
    int rc = ih_check_text(text, len, path);
    if (rc == 0) rc = ih_parse_xyz(text, path, out);
    free(text);
    return rc;
}

int ih_write_xyz(const char *path, const ih_structure *s) {
    if (s->n_atoms <= 0) return ih_set_error("%s: cannot write a structure with no atoms", path);
    for (int i = 0; i < s->n_atoms; i++)
        if (!ih_element_symbol(s->z[i]))
            return ih_set_error("%s: atom %d has no element symbol (Z = %d)", path, i + 1, s->z[i]);
    ih_strbuf b = {0};
    ih_sb_printf(&b, "%d\nLattice=\"", s->n_atoms);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            ih_sb_printf(&b, "%.16g%s", s->lattice[r][c], r == 2 && c == 2 ? "" : " ");
    ih_sb_printf(&b, "\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n");
    for (int i = 0; i < s->n_atoms; i++) {
        double x[3];
        if (s->cart)
            memcpy(x, s->cart + 3 * i, sizeof x);
        else
            ih_structure_cart(s, i, x);
        ih_sb_printf(&b, "%-2s %23.16g %23.16g %23.16g\n", ih_element_symbol(s->z[i]), x[0], x[1],
                     x[2]);
    }
    return ih_sb_write(&b, path);
}
