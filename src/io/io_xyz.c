/* Extended XYZ (one frame): line 1 the atom count; line 2 key=value pairs with a required
 * Lattice="ax ay az bx by bz cx cy cz" (rows are lattice vectors, Å) and an optional
 * Properties=name:type:ncols:... giving the column layout (species:S:1 and pos:R:3 are needed;
 * without Properties the columns are species then x y z); then one line per atom with Cartesian
 * positions (Å), kept in s->cart. pbc and every other key are ignored. Keys are case-insensitive;
 * values may be bare, "double-quoted" or {braced}. */
#include "io/io_text.h"

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

/* More columns than any real extended-XYZ file carries (ASE writes tens). */
#define IH_MAX_XYZ_COLUMNS 10000

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
            /* a line holds at most IH_MAX_XYZ_COLUMNS tokens; checked before adding so the
             * running total can never wrap */
            if (nc > IH_MAX_XYZ_COLUMNS - col)
                return ih_set_error("%s: line 2: Properties declares more than %d columns in all", name,
                                    IH_MAX_XYZ_COLUMNS);
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

/* One frame: count line, comment line (its key=value pairs), atom lines. */
typedef struct {
    const char *name;
    ih_lines L;
    int first; /* line index of the atom count */
    long n_atoms;
    kv *pairs;
    const ih_span *lattice, *props;
    double cell[9];
    int species_col, pos_col, n_cols;
} xyz;

static int parse_count_line(xyz *x) {
    const ih_lines *L = &x->L;
    while (x->first < L->n && ih_span_blank(L->line[x->first])) x->first++;
    if (x->first >= L->n) return ih_set_error("%s: empty file", x->name);
    ih_span t[2];
    int nt = ih_tokens(L->line[x->first], t, 2);
    if (nt != 1 || ih_parse_count(t[0], IH_MAX_ATOMS, &x->n_atoms) != 0 || x->n_atoms == 0)
        return ih_set_error("%s: line %d: expected the atom count (a positive integer), found %s", x->name,
                            x->first + 1, ih_excerpt(L->line[x->first]));
    return 0;
}

/* the comment line: Lattice= (required, 9 numbers) and Properties= (optional) */
static int parse_comment(xyz *x) {
    const char *name = x->name;
    int cl = x->first + 1;
    if (cl >= x->L.n) return ih_set_error("%s: truncated XYZ: no comment line with Lattice= after the atom count", name);
    int max_pairs = x->L.line[cl].len / 2 + 2;
    x->pairs = malloc((size_t)max_pairs * sizeof *x->pairs);
    if (!x->pairs) return ih_set_error("%s: out of memory", name);
    int np = parse_kv(x->L.line[cl], x->pairs, max_pairs);
    if (np < 0) return ih_set_error("%s: line %d: unterminated quoted value", name, cl + 1);
    for (int k = 0; k < np; k++) {
        if (span_is(x->pairs[k].key, "Lattice")) x->lattice = &x->pairs[k].val;
        if (span_is(x->pairs[k].key, "Properties")) x->props = &x->pairs[k].val;
    }
    if (!x->lattice)
        return ih_set_error("%s: line %d: no Lattice=\"ax ay az bx by bz cx cy cz\" (ionhop needs a "
                            "periodic extended XYZ file)",
                            name, cl + 1);
    ih_span t[10];
    int nt = ih_tokens(*x->lattice, t, 10);
    if (nt != 9) return ih_set_error("%s: line %d: Lattice= holds %d numbers, expected 9", name, cl + 1, nt);
    for (int k = 0; k < 9; k++) {
        int r = ih_parse_real(t[k], &x->cell[k]);
        if (r != 0)
            return ih_set_error("%s: line %d: Lattice=: %s is not a %snumber", name, cl + 1, ih_excerpt(t[k]),
                                r == -2 ? "finite " : "");
    }
    if (x->L.n - cl - 1 < x->n_atoms)
        return ih_set_error("%s: truncated XYZ: line 1 declares %ld atoms but only %d lines follow", name,
                            x->n_atoms, x->L.n - cl - 1);
    x->species_col = 0, x->pos_col = 1, x->n_cols = 4;
    if (x->props && parse_properties(*x->props, name, &x->species_col, &x->pos_col, &x->n_cols) != 0) return -1;
    return 0;
}

static int read_atom(const xyz *x, ih_structure *out, long a, ih_span *tok) {
    const char *name = x->name;
    int ln = (int)(x->first + 2 + a);
    int nt = ih_tokens(x->L.line[ln], tok, x->n_cols + 1);
    if (nt < x->n_cols)
        return ih_set_error("%s: line %d: atom %ld of %ld has %d columns, expected %d%s", name, ln + 1, a + 1,
                            x->n_atoms, nt, x->n_cols, nt == 0 ? " (wrong atom count?)" : "");
    if (x->props && nt > x->n_cols)
        return ih_set_error("%s: line %d: atom %ld has %d columns but Properties declares %d", name, ln + 1,
                            a + 1, nt, x->n_cols);
    out->z[a] = ih_element_from_symbol(tok[x->species_col]);
    if (!out->z[a]) return ih_set_error("%s: line %d: unknown element %s", name, ln + 1, ih_excerpt(tok[x->species_col]));
    for (int c = 0; c < 3; c++) {
        int r = ih_parse_real(tok[x->pos_col + c], &out->cart[3 * a + c]);
        if (r != 0)
            return ih_set_error("%s: line %d: position of atom %ld: %s is not a %snumber", name, ln + 1, a + 1,
                                ih_excerpt(tok[x->pos_col + c]), r == -2 ? "finite " : "");
    }
    return 0;
}

static int read_atoms(const xyz *x, ih_structure *out) {
    if (ih_structure_init(out, (int)x->n_atoms) != 0) return -1;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) out->lattice[r][c] = x->cell[3 * r + c];
    out->cart = malloc(3 * (size_t)x->n_atoms * sizeof *out->cart);
    ih_span *tok = malloc((size_t)(x->n_cols + 1) * sizeof *tok);
    int rc = !out->cart || !tok ? ih_set_error("%s: out of memory", x->name) : 0;
    for (long a = 0; a < x->n_atoms && rc == 0; a++) rc = read_atom(x, out, a, tok);
    free(tok);
    return rc;
}

/* Anything after the frame must be blank: another atom line means the count is short, an
 * integer a second frame (not supported: ionhop reads one structure per XYZ file). */
static int check_after_frame(const xyz *x) {
    for (int ln = (int)(x->first + 2 + x->n_atoms); ln < x->L.n; ln++) {
        if (ih_span_blank(x->L.line[ln])) continue;
        ih_span t[2];
        long cnt;
        int nt = ih_tokens(x->L.line[ln], t, 2);
        if (nt == 1 && ih_parse_count(t[0], IH_MAX_ATOMS, &cnt) == 0)
            return ih_set_error("%s: line %d: a second frame follows; ionhop reads single-frame XYZ files "
                                "(split the trajectory)",
                                x->name, ln + 1);
        return ih_set_error("%s: line %d: more atom lines than the %ld declared on line %d", x->name, ln + 1,
                            x->n_atoms, x->first + 1);
    }
    return 0;
}

int ih_parse_xyz(const char *text, const char *name, ih_structure *out) {
    memset(out, 0, sizeof *out);
    xyz x = {.name = name ? name : "structure.xyz"};
    if (ih_lines_split(text, x.name, &x.L) != 0) return -1;
    int rc = parse_count_line(&x);
    if (rc == 0) rc = parse_comment(&x);
    if (rc == 0) rc = read_atoms(&x, out);
    if (rc == 0) rc = check_after_frame(&x);
    if (rc == 0) rc = ih_frac_from_cart(out, x.name);
    if (rc == 0) rc = ih_structure_validate(out, x.name, IH_MIN_SEPARATION, 0);
    if (rc != 0) ih_structure_free(out);
    free(x.pairs);
    ih_lines_free(&x.L);
    return rc != 0 ? -1 : 0;
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
