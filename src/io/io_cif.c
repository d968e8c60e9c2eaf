/* CIF files as written by pymatgen, ASE, VESTA and the ICSD/COD databases (CIF 1.1 syntax, DDLm
 * dotted names such as _cell.length_a accepted too). Only the first data block is read.
 *
 * Cell: _cell_length_a/b/c and _cell_angle_alpha/beta/gamma (standard uncertainties such as
 * "5.4310(2)" dropped). The lattice is built exactly as pymatgen's Lattice.from_parameters does, so
 * that a CIF gives the same Cartesian frame in ionhop and pymatgen:
 *     c along z;  a in the xz plane:  a = (a sin β, 0, a cos β);
 *     b = (-b sin α cos γ*, b sin α sin γ*, b cos α)  with cos γ* = (cos α cos β - cos γ)/(sin α sin β).
 * (ASE's cellpar_to_cell instead puts a along x and b in the xy plane: the same cell rotated.)
 *
 * Sites: the _atom_site_ loop with fract_x/y/z; the element comes from _atom_site_type_symbol, or
 * from _atom_site_label when there is none ("Fe2+", "O2-", "Li1" give Fe, O, Li). Occupancy below
 * 0.99 is refused (ionhop handles ordered structures only). When there are symmetry operations
 * besides the identity, coordinates within a relative 1e-4 of 1/3 or 2/3 are set to them exactly,
 * as pymatgen does, so that hexagonal operations do not make near-duplicates (pymatgen does it in
 * P1 files too; ionhop keeps P1 coordinates as written, so that its own CIFs read back exactly).
 *
 * Symmetry: the operations of _symmetry_equiv_pos_as_xyz or _space_group_symop_operation_xyz
 * ("-x+1/2, y, -z+1/4", "x-y,x,z+1/2") are applied to every site, positions wrapped into [0,1),
 * and a generated position equal modulo 1 (within 1e-4 in each fractional coordinate) to one of the
 * same element already present is dropped, as pymatgen does. A file without operations is P1
 * unless it names another space group, which is refused rather than guessed. */
#include "io/io_text.h"

#include <ctype.h>
#include <math.h>
#include <spglib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SITE_TOL 1e-4
#define MAX_OPS 1536

enum { TK_PLAIN, TK_QUOTED, TK_TEXT };

typedef struct ctok {
    const char *p;
    int len, line, kind;
} ctok;

typedef struct cloop {
    int first_tag, n_tags; /* tag tokens first_tag .. first_tag+n_tags-1 */
    int first_val, n_vals;
} cloop;

typedef struct citem {
    int tag, val; /* token indices */
} citem;

typedef struct cif {
    const char *name;
    ctok *tok;
    int n_tok, cap_tok;
    cloop *loops;
    int n_loops, cap_loops;
    citem *items;
    int n_items, cap_items;
} cif;

static void cif_free(cif *c) {
    free(c->tok);
    free(c->loops);
    free(c->items);
}

static int grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static int starts_ci(const char *p, int len, const char *word) {
    int n = (int)strlen(word);
    if (len < n) return 0;
    for (int i = 0; i < n; i++)
        if (tolower((unsigned char)p[i]) != word[i]) return 0;
    return 1;
}

static int is_keyword(const ctok *t) {
    if (t->kind != TK_PLAIN) return 0;
    return (t->len == 5 && starts_ci(t->p, 5, "loop_")) || starts_ci(t->p, t->len, "data_") ||
           starts_ci(t->p, t->len, "save_") || (t->len == 7 && starts_ci(t->p, 7, "global_")) ||
           (t->len == 5 && starts_ci(t->p, 5, "stop_"));
}

static int is_tag(const ctok *t) { return t->kind == TK_PLAIN && t->len > 1 && t->p[0] == '_'; }

/* Tokenise up to the second data block. */
static int cif_tokenize(cif *c, const char *text) {
    const char *p = text;
    int line = 1, at_line_start = 1, blocks = 0;
    if (!strncmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    while (*p) {
        char ch = *p;
        if (ch == '\n' || ch == '\r') {
            if (ch == '\r' && p[1] == '\n') p++;
            p++;
            line++;
            at_line_start = 1;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\f' || ch == '\v') {
            p++;
            at_line_start = 0;
            continue;
        }
        ctok t = {p, 0, line, TK_PLAIN};
        if (ch == ';' && at_line_start) {
            /* text field: up to a line that starts with ';' */
            int start_line = line;
            const char *q = p + 1;
            const char *end = NULL;
            while (*q) {
                if (*q == '\n' || *q == '\r') {
                    if (*q == '\r' && q[1] == '\n') q++;
                    q++;
                    line++;
                    if (*q == ';') {
                        end = q;
                        break;
                    }
                    continue;
                }
                q++;
            }
            if (!end)
                return ih_set_error("%s: line %d: unterminated ';' text field (no closing ';' line)",
                                    c->name, start_line);
            t.p = p + 1;
            t.len = (int)(end - (p + 1));
            t.kind = TK_TEXT;
            p = end + 1;
        } else if (ch == '#') {
            while (*p && *p != '\n' && *p != '\r') p++;
            continue;
        } else if (ch == '\'' || ch == '"') {
            /* a quote closes only when followed by whitespace or the end of the line */
            const char *q = p + 1;
            for (;;) {
                if (!*q || *q == '\n' || *q == '\r')
                    return ih_set_error("%s: line %d: unterminated quoted string", c->name, line);
                if (*q == ch && (!q[1] || isspace((unsigned char)q[1]))) break;
                q++;
            }
            t.p = p + 1;
            t.len = (int)(q - (p + 1));
            t.kind = TK_QUOTED;
            p = q + 1;
        } else {
            const char *q = p;
            while (*q && !isspace((unsigned char)*q)) q++;
            t.len = (int)(q - p);
            p = q;
            if (starts_ci(t.p, t.len, "data_") && ++blocks > 1) break; /* first block only */
        }
        at_line_start = 0;
        if (grow((void **)&c->tok, &c->cap_tok, c->n_tok + 1, sizeof *c->tok) != 0)
            return ih_set_error("%s: out of memory", c->name);
        c->tok[c->n_tok++] = t;
    }
    return 0;
}

/* Group tokens into single items (tag value) and loops. */
static int cif_structure(cif *c) {
    int i = 0;
    while (i < c->n_tok) {
        const ctok *t = &c->tok[i];
        if (t->kind == TK_PLAIN && t->len == 5 && starts_ci(t->p, 5, "loop_")) {
            int line = t->line;
            cloop L = {++i, 0, 0, 0};
            while (i < c->n_tok && is_tag(&c->tok[i])) i++, L.n_tags++;
            L.first_val = i;
            while (i < c->n_tok && !is_tag(&c->tok[i]) && !is_keyword(&c->tok[i])) i++, L.n_vals++;
            if (L.n_tags == 0)
                return ih_set_error("%s: line %d: loop_ without column names", c->name, line);
            if (L.n_vals % L.n_tags != 0)
                return ih_set_error("%s: line %d: loop_ has %d values for %d columns (not a whole "
                                    "number of rows)",
                                    c->name, line, L.n_vals, L.n_tags);
            if (grow((void **)&c->loops, &c->cap_loops, c->n_loops + 1, sizeof *c->loops) != 0)
                return ih_set_error("%s: out of memory", c->name);
            c->loops[c->n_loops++] = L;
        } else if (is_tag(t)) {
            if (i + 1 >= c->n_tok || is_tag(&c->tok[i + 1]) || is_keyword(&c->tok[i + 1]))
                return ih_set_error("%s: line %d: %s has no value", c->name, t->line,
                                    ih_excerpt((ih_span){t->p, t->len}));
            if (grow((void **)&c->items, &c->cap_items, c->n_items + 1, sizeof *c->items) != 0)
                return ih_set_error("%s: out of memory", c->name);
            c->items[c->n_items++] = (citem){i, i + 1};
            i += 2;
        } else {
            /* data_/save_ headers, and stray words of unquoted multi-word values that some
             * writers emit (e.g. "_chemical_name_common Sodium chloride"): not needed */
            i++;
        }
    }
    return 0;
}

/* Tag equality with CIF's rules: case-insensitive, and DDLm '.' equivalent to '_'. */
static int tag_is(const ctok *t, const char *name) {
    int n = (int)strlen(name);
    if (t->len != n) return 0;
    for (int k = 0; k < n; k++) {
        char a = (char)tolower((unsigned char)t->p[k]), b = name[k];
        if (a == '.') a = '_';
        if (a != b) return 0;
    }
    return 1;
}

/* A column: values of one tag, from a loop (n_rows rows) or a single item (1 row). */
typedef struct ccol {
    int found, loop, col, item;
} ccol;

static ccol find_col(const cif *c, const char *tag) {
    ccol r = {0, -1, -1, -1};
    for (int k = 0; k < c->n_items; k++)
        if (tag_is(&c->tok[c->items[k].tag], tag)) {
            r.found = 1;
            r.item = k;
            return r;
        }
    for (int l = 0; l < c->n_loops; l++)
        for (int k = 0; k < c->loops[l].n_tags; k++)
            if (tag_is(&c->tok[c->loops[l].first_tag + k], tag)) {
                r.found = 1;
                r.loop = l;
                r.col = k;
                return r;
            }
    return r;
}

static int col_rows(const cif *c, ccol col) {
    if (!col.found) return 0;
    if (col.loop < 0) return 1;
    return c->loops[col.loop].n_vals / c->loops[col.loop].n_tags;
}

static const ctok *col_val(const cif *c, ccol col, int row) {
    if (col.loop < 0) return &c->tok[c->items[col.item].val];
    const cloop *L = &c->loops[col.loop];
    return &c->tok[L->first_val + row * L->n_tags + col.col];
}

/* '?' (unknown) and '.' (inapplicable) as bare values */
static int is_unknown(const ctok *t) {
    return t->kind == TK_PLAIN && t->len == 1 && (t->p[0] == '?' || t->p[0] == '.');
}

/* A CIF number: a real with an optional standard uncertainty in brackets, "5.4310(2)". */
static int cif_number(const ctok *t, double *out) {
    ih_span s = {t->p, t->len};
    if (s.len > 2 && s.p[s.len - 1] == ')') {
        int k = s.len - 2;
        while (k > 0 && isdigit((unsigned char)s.p[k])) k--;
        if (s.p[k] == '(' && k < s.len - 2) s.len = k;
    }
    return ih_parse_real(s, out);
}

static int cell_param(const cif *c, const char *tag, const char *shown, double *out) {
    ccol col = find_col(c, tag);
    if (!col.found) return ih_set_error("%s: no %s (the cell is needed)", c->name, shown);
    if (col_rows(c, col) != 1)
        return ih_set_error("%s: %s is given %d times", c->name, shown, col_rows(c, col));
    const ctok *t = col_val(c, col, 0);
    if (is_unknown(t))
        return ih_set_error("%s: line %d: %s is unknown (%.*s)", c->name, t->line, shown, t->len,
                            t->p);
    int r = cif_number(t, out);
    if (r != 0)
        return ih_set_error("%s: line %d: %s: %s is not a %snumber", c->name, t->line, shown,
                            ih_excerpt((ih_span){t->p, t->len}), r == -2 ? "finite " : "");
    return 0;
}

/* pymatgen's Lattice.from_parameters (see the file comment). */
static int lattice_from_parameters(const cif *c, const double p[6], double L[3][3]) {
    for (int k = 0; k < 3; k++)
        if (!(p[k] > 0))
            return ih_set_error("%s: cell length %c = %g is not positive", c->name, 'a' + k, p[k]);
    for (int k = 3; k < 6; k++)
        if (!(p[k] > 0 && p[k] < 180))
            return ih_set_error("%s: cell angle %s = %g is not between 0 and 180 degrees", c->name,
                                k == 3 ? "alpha" : k == 4 ? "beta" : "gamma", p[k]);
    const double deg = 3.14159265358979323846 / 180.0;
    double ca = cos(p[3] * deg), cb = cos(p[4] * deg), cg = cos(p[5] * deg);
    double sa = sin(p[3] * deg), sb = sin(p[4] * deg);
    double v2 = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg;
    if (!(v2 > 1e-10))
        return ih_set_error("%s: degenerate lattice: cell angles %g, %g, %g span no volume",
                            c->name, p[3], p[4], p[5]);
    double val = (ca * cb - cg) / (sa * sb);
    if (val > 1) val = 1;
    if (val < -1) val = -1;
    double gstar = acos(val);
    L[0][0] = p[0] * sb;
    L[0][1] = 0;
    L[0][2] = p[0] * cb;
    L[1][0] = -p[1] * sa * cos(gstar);
    L[1][1] = p[1] * sa * sin(gstar);
    L[1][2] = p[1] * ca;
    L[2][0] = 0;
    L[2][1] = 0;
    L[2][2] = p[2];
    return 0;
}

typedef struct symop {
    double r[3][3], t[3];
} symop;

/* One component of an operation ("-x+1/2", "x-y", "1/2+z", "2*x"): rotation row and translation.
 * Returns NULL on success, else what is wrong. */
static const char *parse_component(const char *p, const char *end, double row[3], double *t) {
    int any = 0;
    row[0] = row[1] = row[2] = *t = 0;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p >= end) break;
        double sign = 1;
        if (*p == '+' || *p == '-') {
            sign = *p == '-' ? -1 : 1;
            p++;
            while (p < end && (*p == ' ' || *p == '\t')) p++;
        } else if (any) {
            return "terms must be joined by + or -";
        }
        double value = 1;
        int has_num = 0;
        if (p < end && (isdigit((unsigned char)*p) || *p == '.')) {
            const char *s = p;
            while (p < end && (isdigit((unsigned char)*p) || *p == '.')) p++;
            if (ih_parse_real((ih_span){s, (int)(p - s)}, &value) != 0) return "bad number";
            if (p < end && *p == '/') {
                const char *d = ++p;
                while (p < end && isdigit((unsigned char)*p)) p++;
                double den;
                if (p == d || ih_parse_real((ih_span){d, (int)(p - d)}, &den) != 0 || den == 0)
                    return "bad fraction";
                value /= den;
            }
            has_num = 1;
            while (p < end && (*p == ' ' || *p == '\t')) p++;
            if (p < end && *p == '*') {
                p++;
                while (p < end && (*p == ' ' || *p == '\t')) p++;
                if (!(p < end && strchr("xyzXYZ", *p))) return "'*' not followed by x, y or z";
            }
        }
        if (p < end && strchr("xyzXYZ", *p)) {
            row[tolower((unsigned char)*p) - 'x'] += sign * value;
            p++;
        } else if (has_num) {
            *t += sign * value;
        } else {
            return "unexpected character";
        }
        any = 1;
    }
    return any ? NULL : "empty component";
}

/* Parse "x-y, x, z+1/2" style operations. */
static int parse_symop(const cif *c, const ctok *tk, symop *op) {
    const char *p = tk->p, *end = tk->p + tk->len;
    const char *why = NULL;
    int comp = 0;
    while (!why) {
        const char *q = p;
        while (q < end && *q != ',') q++;
        if (comp == 3) {
            why = "more than three components";
            break;
        }
        why = parse_component(p, q, op->r[comp], &op->t[comp]);
        comp++;
        if (q >= end) break;
        p = q + 1;
    }
    if (!why && comp != 3) why = "fewer than three components";
    if (why)
        return ih_set_error("%s: line %d: symmetry operation %s is not understood (%s)", c->name,
                            tk->line, ih_excerpt((ih_span){tk->p, tk->len}), why);
    double(*r)[3] = op->r;
    double det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) -
                 r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0]) +
                 r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    if (fabs(fabs(det) - 1) > 1e-6)
        return ih_set_error("%s: line %d: %s is not a symmetry operation (determinant %g)", c->name,
                            tk->line, ih_excerpt((ih_span){tk->p, tk->len}), det);
    return 0;
}

static const char *const symop_tags[] = {"_symmetry_equiv_pos_as_xyz",
                                         "_space_group_symop_operation_xyz"};
static const char *const sg_name_tags[] = {"_symmetry_space_group_name_h-m",
                                           "_space_group_name_h-m_alt",
                                           "_symmetry_space_group_name_hall",
                                           "_space_group_name_hall"};
static const char *const sg_number_tags[] = {"_symmetry_int_tables_number",
                                             "_space_group_it_number"};

/* Is a space-group name P1 (any spelling: "P 1", "P1", "P 1 " or Hall "P 1")? */
static int name_is_p1(const ctok *t) {
    char buf[16];
    int n = 0;
    for (int k = 0; k < t->len && n < 15; k++)
        if (!isspace((unsigned char)t->p[k])) buf[n++] = (char)toupper((unsigned char)t->p[k]);
    buf[n] = '\0';
    return !strcmp(buf, "P1");
}

/* a space-group name without spaces, underscores or case ("F d -3 m :2" -> "fd-3m:2") */
static void squash(const char *p, int len, char *out, size_t cap) {
    size_t n = 0;
    for (int k = 0; k < len && n + 1 < cap; k++)
        if (!isspace((unsigned char)p[k]) && p[k] != '_' && p[k] != '\'' && p[k] != '"')
            out[n++] = (char)tolower((unsigned char)p[k]);
    out[n] = '\0';
}

/* The Hall number (spglib's 530 settings) a name or number gives: a Hermann-Mauguin symbol with or
 * without its setting (":1", ":2", ":H", ":R"), a Hall symbol, or an International Tables number.
 * Where the name leaves the setting open, rhombohedral groups take the hexagonal axes when the cell
 * is hexagonal (gamma 120°) and the rhombohedral ones otherwise; any other open choice (origin
 * choice 1 or 2, monoclinic unique axis) is refused rather than guessed. 0: no such group. */
static int hall_number_of(const cif *c, const char *name, int number, double gamma, char *why, size_t why_cap) {
    int found[16], n_found = 0;
    for (int h = 1; h <= 530; h++) {
        SpglibSpacegroupType st = spg_get_spacegroup_type(h);
        int match = 0;
        if (number > 0) {
            match = st.number == number;
        } else {
            char a[64], b[64], full[64], withc[80], hall[40];
            squash(st.international_short, (int)strlen(st.international_short), a, sizeof a);
            squash(st.international_full, (int)strlen(st.international_full), full, sizeof full);
            squash(st.international, (int)strlen(st.international), b, sizeof b);
            squash(st.hall_symbol, (int)strlen(st.hall_symbol), hall, sizeof hall);
            snprintf(withc, sizeof withc, "%s:%s", a, st.choice);
            for (char *q = withc; *q; q++) *q = (char)tolower((unsigned char)*q);
            match = !strcmp(name, a) || !strcmp(name, full) || !strcmp(name, b) || !strcmp(name, hall) ||
                    (st.choice[0] && !strcmp(name, withc));
        }
        if (match && n_found < 16) found[n_found++] = h;
    }
    if (n_found == 0) return 0;
    if (number > 0) {
        /* a number means the International Tables' standard setting (spglib lists it first): only
         * the origin or axes choices of that one symbol remain open */
        SpglibSpacegroupType first = spg_get_spacegroup_type(found[0]);
        int kept = 0;
        for (int k = 0; k < n_found; k++)
            if (!strcmp(spg_get_spacegroup_type(found[k]).international_short, first.international_short))
                found[kept++] = found[k];
        n_found = kept;
    }
    if (n_found == 1) return found[0];
    /* several settings: the rhombohedral pair is settled by the cell */
    if (n_found == 2) {
        SpglibSpacegroupType s0 = spg_get_spacegroup_type(found[0]), s1 = spg_get_spacegroup_type(found[1]);
        if (!strcmp(s0.choice, "H") && !strcmp(s1.choice, "R")) return fabs(gamma - 120) < 0.5 ? found[0] : found[1];
    }
    size_t len = 0;
    for (int k = 0; k < n_found && len + 24 < why_cap; k++) {
        SpglibSpacegroupType st = spg_get_spacegroup_type(found[k]);
        len += (size_t)snprintf(why + len, why_cap - len, "%s'%s%s%s'", k ? ", " : "", st.international_short,
                                st.choice[0] ? ":" : "", st.choice);
    }
    (void)c;
    return -1;
}

/* The operations of a Hall number from spglib's database. */
static int ops_from_hall(const cif *c, int hall, symop **ops_out, int *n_out) {
    int rot[192][3][3];
    double tra[192][3];
    int n = spg_get_symmetry_from_database(rot, tra, hall);
    if (n <= 0) return ih_set_error("%s: no symmetry operations for Hall number %d", c->name, hall);
    symop *ops = calloc((size_t)n, sizeof *ops);
    if (!ops) return ih_set_error("%s: out of memory", c->name);
    for (int k = 0; k < n; k++)
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) ops[k].r[i][j] = rot[k][i][j];
            ops[k].t[i] = tra[k][i];
        }
    *ops_out = ops;
    *n_out = n;
    return 0;
}

static int read_symops(const cif *c, double gamma, symop **ops_out, int *n_out) {
    *ops_out = NULL;
    *n_out = 0;
    ccol col = {0, -1, -1, -1};
    for (size_t k = 0; k < sizeof symop_tags / sizeof *symop_tags && !col.found; k++)
        col = find_col(c, symop_tags[k]);
    int n = col.found ? col_rows(c, col) : 0;
    if (n == 0) {
        /* No operations listed: the space group's own, from spglib's database, when the file names
         * it unambiguously (symbol with its setting, Hall symbol, or number); else P1. */
        char why[256] = "";
        for (size_t k = 0; k < sizeof sg_name_tags / sizeof *sg_name_tags; k++) {
            ccol nc = find_col(c, sg_name_tags[k]);
            if (!nc.found || col_rows(c, nc) != 1) continue;
            const ctok *t = col_val(c, nc, 0);
            if (is_unknown(t) || name_is_p1(t)) continue;
            char name[64];
            squash(t->p, t->len, name, sizeof name);
            int hall = hall_number_of(c, name, 0, gamma, why, sizeof why);
            if (hall > 0) return ops_from_hall(c, hall, ops_out, n_out);
            if (hall < 0)
                return ih_set_error("%s: space group %s has several settings (%s) and no operations are listed: "
                                    "name the setting or list the operations",
                                    c->name, ih_excerpt((ih_span){t->p, t->len}), why);
            return ih_set_error("%s: unknown space group %s and no symmetry operations (_symmetry_equiv_pos_as_xyz)",
                                c->name, ih_excerpt((ih_span){t->p, t->len}));
        }
        for (size_t k = 0; k < sizeof sg_number_tags / sizeof *sg_number_tags; k++) {
            ccol nc = find_col(c, sg_number_tags[k]);
            double num;
            if (!nc.found || col_rows(c, nc) != 1 || cif_number(col_val(c, nc, 0), &num) != 0 || num == 1) continue;
            int hall = num >= 1 && num <= 230 && num == floor(num) ? hall_number_of(c, "", (int)num, gamma, why, sizeof why) : 0;
            if (hall > 0) return ops_from_hall(c, hall, ops_out, n_out);
            if (hall < 0)
                return ih_set_error("%s: space group number %g has several settings (%s) and no operations are "
                                    "listed: name the setting or list the operations",
                                    c->name, num, why);
            return ih_set_error("%s: space group number %g is not one of 1..230", c->name, num);
        }
        symop *id = calloc(1, sizeof *id);
        if (!id) return ih_set_error("%s: out of memory", c->name);
        for (int k = 0; k < 3; k++) id->r[k][k] = 1;
        *ops_out = id;
        *n_out = 1;
        return 0;
    }
    if (n > MAX_OPS)
        return ih_set_error("%s: %d symmetry operations (at most %d expected)", c->name, n, MAX_OPS);
    symop *ops = malloc((size_t)n * sizeof *ops);
    if (!ops) return ih_set_error("%s: out of memory", c->name);
    for (int k = 0; k < n; k++) {
        if (parse_symop(c, col_val(c, col, k), &ops[k]) != 0) {
            free(ops);
            return -1;
        }
    }
    *ops_out = ops;
    *n_out = n;
    return 0;
}

/* pymatgen rounds coordinates within a relative 1e-4 of 1/3 or 2/3 to those values */
static double snap_third(double f) {
    if (fabs(1 - f / (1.0 / 3.0)) < 1e-4) return 1.0 / 3.0;
    if (fabs(1 - f / (2.0 / 3.0)) < 1e-4) return 2.0 / 3.0;
    return f;
}

static double wrap01(double x) {
    x -= floor(x);
    return x >= 1.0 ? 0.0 : x;
}

static void site_name(const cif *c, ccol label, int row, char *buf, size_t cap) {
    if (label.found) {
        const ctok *t = col_val(c, label, row);
        snprintf(buf, cap, "site %s", ih_excerpt((ih_span){t->p, t->len}));
    } else {
        snprintf(buf, cap, "site %d", row + 1);
    }
}

/* The atom-site loop's columns (type, label and occupancy only where they sit in the coordinates'
 * loop) and the expanded sites gathered so far. */
typedef struct {
    ccol fc[3], type, label, occ_col;
    int n_rows;
    double *pos; /* cap × 3 fractional, wrapped to [0, 1) */
    int *zs;
    double *occ;           /* cap: each site's occupancy */
    int *row;              /* cap: the atom-site row it came from */
    char (*row_name)[32];  /* n_rows: "site Li1" */
    size_t n, cap;
    /* the sites so far by bin of SITE_BINS per axis (bins at least SITE_TOL wide), so that a new
     * symmetry image is compared with the sites of its 27 bins only, not with every site */
    int *head;   /* table_cap slots: first site of a bin (index + 1), 0 = empty */
    int *next;   /* cap: the next site of the same slot chain */
    uint64_t *key;
    size_t table_cap;
} sites;

static int site_columns(const cif *c, sites *S) {
    const char *name = c->name;
    static const char *const fract[3] = {"_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z"};
    for (int k = 0; k < 3; k++) S->fc[k] = find_col(c, fract[k]);
    const ccol fx = S->fc[0];
    if (!fx.found) {
        if (find_col(c, "_atom_site_cartn_x").found)
            return ih_set_error("%s: atom sites are given only as Cartesian _atom_site_Cartn_x/y/z; "
                                "fractional _atom_site_fract_x/y/z are needed",
                                name);
        return ih_set_error("%s: no atoms (no _atom_site_fract_x loop)", name);
    }
    if (!S->fc[1].found || !S->fc[2].found || S->fc[1].loop != fx.loop || S->fc[2].loop != fx.loop)
        return ih_set_error("%s: _atom_site_fract_x, _y and _z are not given together", name);
    S->n_rows = col_rows(c, fx);
    if (S->n_rows == 0) return ih_set_error("%s: no atoms (the _atom_site loop is empty)", name);
    S->type = find_col(c, "_atom_site_type_symbol");
    S->label = find_col(c, "_atom_site_label");
    S->occ_col = find_col(c, "_atom_site_occupancy");
    /* only columns of the same loop as the coordinates describe these sites */
    if (S->type.found && S->type.loop != fx.loop) S->type.found = 0;
    if (S->label.found && S->label.loop != fx.loop) S->label.found = 0;
    if (S->occ_col.found && S->occ_col.loop != fx.loop) S->occ_col.found = 0;
    if (!S->type.found && !S->label.found)
        return ih_set_error("%s: the atom sites have neither _atom_site_type_symbol nor _atom_site_label", name);
    return 0;
}

/* the element of a row: its type symbol, else its label ("Fe1", "O2-") */
static int site_element(const cif *c, const sites *S, int row, const char *sname, int *z) {
    const ctok *st = NULL;
    if (S->type.found && !is_unknown(col_val(c, S->type, row))) st = col_val(c, S->type, row);
    else if (S->label.found) st = col_val(c, S->label, row);
    *z = st ? ih_element_from_label((ih_span){st->p, st->len}) : 0;
    if (*z) return 0;
    return ih_set_error("%s: line %d: %s: unknown element %s", c->name, st ? st->line : 0, sname,
                        st ? ih_excerpt((ih_span){st->p, st->len}) : "'?'");
}

/* a row's occupancy: 1 when not given ('?' unknown, '.' inapplicable); partial ones are resolved
 * after the expansion (disorder.c) */
static int site_occupancy(const cif *c, const sites *S, int row, const char *sname, double *occ) {
    *occ = 1;
    if (!S->occ_col.found) return 0;
    const ctok *t = col_val(c, S->occ_col, row);
    if (is_unknown(t)) return 0;
    int r = cif_number(t, occ);
    if (r != 0)
        return ih_set_error("%s: line %d: %s: occupancy %s is not a %snumber", c->name, t->line, sname,
                            ih_excerpt((ih_span){t->p, t->len}), r == -2 ? "finite " : "");
    if (*occ < 0)
        return ih_set_error("%s: line %d: %s has a negative occupancy %g", c->name, t->line, sname, *occ);
    if (*occ > 1.01)
        return ih_set_error("%s: line %d: %s has occupancy %g, more than 1", c->name, t->line, sname, *occ);
    if (*occ > 1) *occ = 1;
    return 0;
}

static int site_coords(const cif *c, const sites *S, int row, const char *sname, int snap, double f[3]) {
    const char *name = c->name;
    for (int k = 0; k < 3; k++) {
        const ctok *t = col_val(c, S->fc[k], row);
        /* older ICSD exports write '.' for a zero coordinate */
        if (t->kind == TK_PLAIN && t->len == 1 && t->p[0] == '.') {
            f[k] = 0;
            continue;
        }
        if (is_unknown(t))
            return ih_set_error("%s: line %d: %s has an unknown coordinate (%.*s)", name, t->line, sname, t->len,
                                t->p);
        int r = cif_number(t, &f[k]);
        if (r != 0)
            return ih_set_error("%s: line %d: %s: coordinate %s is not a %snumber", name, t->line, sname,
                                ih_excerpt((ih_span){t->p, t->len}), r == -2 ? "finite " : "");
        if (fabs(f[k]) > 1e6)
            return ih_set_error("%s: line %d: %s: coordinate %g is absurd", name, t->line, sname, f[k]);
        if (snap) f[k] = snap_third(f[k]);
    }
    return 0;
}

/* the images of one site under the symmetry operations, each distinct one added once */
#define SITE_BINS 4096 /* per axis: 1/4096 > SITE_TOL */

static uint64_t bin_of(double x) {
    uint64_t b = (uint64_t)(x * SITE_BINS);
    return b >= SITE_BINS ? SITE_BINS - 1 : b;
}

static uint64_t slot_of(uint64_t key, size_t cap) { return (key * 0x9E3779B97F4A7C15ULL >> 17) & (cap - 1); }

/* a site of element z within SITE_TOL of g (periodically) among those already kept */
static int site_present(const sites *S, int z, const double g[3]) {
    if (!S->head) return 0; /* nothing kept yet */
    uint64_t b[3] = {bin_of(g[0]), bin_of(g[1]), bin_of(g[2])};
    for (int dx = -1; dx <= 1; dx++)
        for (int dy = -1; dy <= 1; dy++)
            for (int dz = -1; dz <= 1; dz++) {
                uint64_t c[3] = {(b[0] + SITE_BINS + dx) % SITE_BINS, (b[1] + SITE_BINS + dy) % SITE_BINS,
                                 (b[2] + SITE_BINS + dz) % SITE_BINS};
                uint64_t key = c[0] + SITE_BINS * (c[1] + SITE_BINS * c[2]);
                for (int j = S->head[slot_of(key, S->table_cap)] - 1; j >= 0; j = S->next[j] - 1) {
                    if (S->key[j] != key || S->zs[j] != z) continue;
                    int same = 1;
                    for (int k = 0; k < 3 && same; k++) {
                        double d = g[k] - S->pos[3 * j + k];
                        d -= floor(d + 0.5);
                        same = fabs(d) < SITE_TOL;
                    }
                    if (same) return 1;
                }
            }
    return 0;
}

static int keep_site(const char *name, sites *S, int z, double occ, int row, const double g[3]) {
    if (S->n >= S->cap) return ih_set_error("%s: symmetry expansion gives more than %zu atoms", name, S->cap);
    if (2 * (S->n + 1) > S->table_cap) { /* grow the table, keeping the load under a half */
        size_t cap = S->table_cap ? 2 * S->table_cap : 1024;
        int *head = calloc(cap, sizeof *head);
        if (!head) return ih_set_error("%s: out of memory", name);
        for (size_t j = 0; j < S->n; j++) {
            uint64_t sl = slot_of(S->key[j], cap);
            S->next[j] = head[sl];
            head[sl] = (int)j + 1;
        }
        free(S->head);
        S->head = head, S->table_cap = cap;
    }
    size_t j = S->n++;
    memcpy(S->pos + 3 * j, g, 3 * sizeof *g);
    S->zs[j] = z;
    S->occ[j] = occ;
    S->row[j] = row;
    S->key[j] = bin_of(g[0]) + SITE_BINS * (bin_of(g[1]) + SITE_BINS * bin_of(g[2]));
    uint64_t sl = slot_of(S->key[j], S->table_cap);
    S->next[j] = S->head[sl];
    S->head[sl] = (int)j + 1;
    return 0;
}

static int expand_site(const char *name, sites *S, const symop *ops, int n_ops, int z, double occ, int row,
                       const double f[3]) {
    for (int o = 0; o < n_ops; o++) {
        double g[3];
        for (int k = 0; k < 3; k++)
            g[k] = wrap01(ops[o].r[k][0] * f[0] + ops[o].r[k][1] * f[1] + ops[o].r[k][2] * f[2] + ops[o].t[k]);
        if (site_present(S, z, g)) continue;
        if (keep_site(name, S, z, occ, row, g) != 0) return -1;
    }
    return 0;
}

static int all_blank(const char *p) {
    while (*p && isspace((unsigned char)*p)) p++;
    return !*p;
}

static int read_sites(const cif *c, sites *S, const symop *ops, int n_ops) {
    S->cap = (size_t)S->n_rows * (size_t)n_ops;
    if (S->cap > IH_MAX_ATOMS) S->cap = IH_MAX_ATOMS;
    S->pos = malloc(3 * S->cap * sizeof *S->pos);
    S->zs = malloc(S->cap * sizeof *S->zs);
    S->next = malloc(S->cap * sizeof *S->next);
    S->key = malloc(S->cap * sizeof *S->key);
    S->occ = malloc(S->cap * sizeof *S->occ);
    S->row = malloc(S->cap * sizeof *S->row);
    S->row_name = malloc((size_t)S->n_rows * sizeof *S->row_name);
    if (!S->pos || !S->zs || !S->next || !S->key || !S->occ || !S->row || !S->row_name)
        return ih_set_error("%s: out of memory", c->name);
    for (int row = 0; row < S->n_rows; row++) {
        char *sname = S->row_name[row];
        site_name(c, S->label, row, sname, sizeof *S->row_name);
        int z;
        double f[3], occ;
        if (site_element(c, S, row, sname, &z) != 0 || site_occupancy(c, S, row, sname, &occ) != 0 ||
            site_coords(c, S, row, sname, n_ops > 1, f) != 0)
            return -1;
        if (occ < 1e-3) { /* an empty site: listed, not occupied */
            ih_warn("%s: %s has occupancy %g: left out", c->name, sname, occ);
            continue;
        }
        if (expand_site(c->name, S, ops, n_ops, z, occ, row, f) != 0) return -1;
    }
    return 0;
}

/* The start of the data block after the one that begins at or after p (a line "data_…"), or NULL. */
static const char *next_block(const char *p) {
    int seen = 0;
    for (const char *q = p; *q; q++) {
        int line_start = q == p || q[-1] == '\n' || q[-1] == '\r';
        if (line_start && starts_ci(q, 5, "data_")) {
            if (seen) return q;
            seen = 1;
        }
    }
    return NULL;
}

int ih_parse_cif(const char *text, const char *name, ih_structure *out) {
    return ih_parse_cif_with(text, name, NULL, out);
}

int ih_parse_cif_with(const char *text, const char *name, const ih_read_opts *o, ih_structure *out) {
    static const ih_read_opts defaults;
    if (!o) o = &defaults;
    memset(out, 0, sizeof *out);
    cif c = {0};
    c.name = name ? name : "structure.cif";
    name = c.name;
    sites S = {0};
    symop *ops = NULL;
    int n_ops = 0;
    double prm[6], lattice[3][3];
    static const char *const cell_tags[6] = {"_cell_length_a",    "_cell_length_b",   "_cell_length_c",
                                             "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"};
    int rc = all_blank(text) ? ih_set_error("%s: empty file", name) : 0;
    if (rc == 0 && (cif_tokenize(&c, text) != 0 || cif_structure(&c) != 0)) rc = -1;
    /* a first block of metadata only (SpringerMaterials, journal CIFs): the first block with a cell */
    for (const char *block = text; rc == 0 && !find_col(&c, "_cell_length_a").found;) {
        block = next_block(block);
        if (!block) break;
        cif_free(&c);
        memset(&c, 0, sizeof c);
        c.name = name;
        if (cif_tokenize(&c, block) != 0 || cif_structure(&c) != 0) rc = -1;
    }
    for (int k = 0; k < 6 && rc == 0; k++) rc = cell_param(&c, cell_tags[k], cell_tags[k], &prm[k]);
    if (rc == 0) rc = lattice_from_parameters(&c, prm, lattice);
    if (rc == 0) rc = site_columns(&c, &S);
    if (rc == 0) rc = read_symops(&c, prm[5], &ops, &n_ops);
    if (rc == 0) rc = read_sites(&c, &S, ops, n_ops);
    if (rc == 0 && S.n == 0) rc = ih_set_error("%s: no occupied atom site", name);
    if (rc == 0)
        rc = ih_resolve_disorder(name, lattice, o->disorder, &S.n, S.pos, S.zs, S.occ, S.row,
                                 (const char(*)[32])S.row_name);
    if (rc == 0) rc = ih_structure_init(out, (int)S.n);
    if (rc == 0) {
        memcpy(out->lattice, lattice, sizeof lattice);
        memcpy(out->frac, S.pos, 3 * S.n * sizeof *S.pos);
        memcpy(out->z, S.zs, S.n * sizeof *S.zs);
        rc = ih_structure_validate(out, name, IH_MIN_SEPARATION, 0);
    }
    if (rc != 0) ih_structure_free(out);
    free(ops);
    free(S.pos);
    free(S.zs);
    free(S.next), free(S.key), free(S.head);
    free(S.occ), free(S.row), free(S.row_name);
    cif_free(&c);
    return rc != 0 ? -1 : 0;
}

int ih_read_cif(const char *path, ih_structure *out) { return ih_read_cif_with(path, NULL, out); }

int ih_read_cif_with(const char *path, const ih_read_opts *o, ih_structure *out) {
    size_t len;
    memset(out, 0, sizeof *out);
    char *text = ih_read_file(path, &len);
    if (!text) return -1;
    int rc = ih_check_text(text, len, path);
    if (rc == 0) rc = ih_parse_cif_with(text, path, o, out);
    free(text);
    return rc;
}

/* P1 CIF in pymatgen's CifWriter layout (more digits: the file is an exchange format here). */
int ih_write_cif(const char *path, const ih_structure *s) {
    if (s->n_atoms <= 0) return ih_set_error("%s: cannot write a structure with no atoms", path);
    for (int i = 0; i < s->n_atoms; i++)
        if (!ih_element_symbol(s->z[i]))
            return ih_set_error("%s: atom %d has no element symbol (Z = %d)", path, i + 1, s->z[i]);
    double len[3], ang[3];
    for (int r = 0; r < 3; r++)
        len[r] = sqrt(s->lattice[r][0] * s->lattice[r][0] + s->lattice[r][1] * s->lattice[r][1] +
                      s->lattice[r][2] * s->lattice[r][2]);
    for (int k = 0; k < 3; k++) {
        int u = (k + 1) % 3, v = (k + 2) % 3; /* alpha = angle(b, c), beta = (c, a), gamma = (a, b) */
        double dot = s->lattice[u][0] * s->lattice[v][0] + s->lattice[u][1] * s->lattice[v][1] +
                     s->lattice[u][2] * s->lattice[v][2];
        double cs = dot / (len[u] * len[v]);
        if (cs > 1) cs = 1;
        if (cs < -1) cs = -1;
        ang[k] = acos(cs) * 180.0 / 3.14159265358979323846;
    }
    char formula[256];
    ih_structure_formula(s, formula, sizeof formula);
    ih_strbuf b = {0};
    ih_sb_printf(&b, "# generated by ionhop %s\n", IH_VERSION);
    ih_sb_printf(&b, "data_%s\n", formula);
    ih_sb_printf(&b, "_symmetry_space_group_name_H-M   'P 1'\n");
    static const char *const names[6] = {"_cell_length_a", "_cell_length_b",   "_cell_length_c",
                                         "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"};
    for (int k = 0; k < 6; k++)
        ih_sb_printf(&b, "%-19s %.14f\n", names[k], k < 3 ? len[k] : ang[k - 3]);
    ih_sb_printf(&b, "_symmetry_Int_Tables_number   1\n");
    ih_sb_printf(&b, "_chemical_formula_sum   '%s'\n", formula);
    ih_sb_printf(&b, "_cell_volume   %.10f\n", fabs(ih_structure_volume(s)));
    ih_sb_printf(&b, "_cell_formula_units_Z   1\n");
    ih_sb_printf(&b, "loop_\n _symmetry_equiv_pos_site_id\n _symmetry_equiv_pos_as_xyz\n"
                     "  1  'x, y, z'\n");
    ih_sb_printf(&b, "loop_\n _atom_site_type_symbol\n _atom_site_label\n"
                     " _atom_site_symmetry_multiplicity\n _atom_site_fract_x\n _atom_site_fract_y\n"
                     " _atom_site_fract_z\n _atom_site_occupancy\n");
    int count[104] = {0};
    for (int i = 0; i < s->n_atoms; i++) {
        const char *sym = ih_element_symbol(s->z[i]);
        ih_sb_printf(&b, "  %-2s  %s%d  1  %.14f  %.14f  %.14f  1\n", sym, sym, count[s->z[i]]++,
                     s->frac[3 * i], s->frac[3 * i + 1], s->frac[3 * i + 2]);
    }
    return ih_sb_write(&b, path);
}
