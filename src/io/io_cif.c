/* CIF files as written by pymatgen, ASE, VESTA and the ICSD/COD databases (CIF 1.1 syntax, DDLm
 * dotted names such as _cell.length_a accepted too), magnetic CIFs (magCIF, .mcif) included.
 *
 * Data blocks: the block named by the caller (ih_read_opts.block), else the first block with atom
 * sites (a first block of metadata only, as journals write, is passed over); when several blocks
 * hold atom sites, a warning says which was read.
 *
 * Cell: _cell_length_a/b/c and _cell_angle_alpha/beta/gamma (standard uncertainties such as
 * "5.4310(2)" dropped; an angle given as '.' takes the dictionary's default, 90°). The lattice is
 * built exactly as pymatgen's Lattice.from_parameters does, so that a CIF gives the same Cartesian
 * frame in ionhop and pymatgen:
 *     c along z;  a in the xz plane:  a = (a sin β, 0, a cos β);
 *     b = (-b sin α cos γ*, b sin α sin γ*, b cos α)  with cos γ* = (cos α cos β - cos γ)/(sin α sin β).
 * (ASE's cellpar_to_cell instead puts a along x and b in the xy plane: the same cell rotated.)
 *
 * Sites: the _atom_site_ loop with fract_x/y/z; the element comes from _atom_site_type_symbol, or
 * from _atom_site_label when there is none or it is '?' ("Fe2+", "O2-", "Li1" give Fe, O, Li).
 * Occupancy below 0.99 is refused (ionhop handles ordered structures only); '?' or '.' means 1.
 * A coordinate '.' is 0 (older ICSD exports), '?' an error. When there are symmetry operations
 * besides the identity, coordinates within a relative 1e-4 of 1/3 or 2/3 are set to them exactly,
 * as pymatgen does, so that hexagonal operations do not make near-duplicates (pymatgen does it in
 * P1 files too; ionhop keeps P1 coordinates as written, so that its own CIFs read back exactly).
 *
 * Symmetry: the operations of _symmetry_equiv_pos_as_xyz or _space_group_symop_operation_xyz
 * ("-x+1/2, y, -z+1/4", "x-y,x,z+1/2"), or of a magnetic CIF every operation of
 * _space_group_symop_magn_operation.xyz combined with every _space_group_symop_magn_centering.xyz
 * (the time reversal, ",+1" or ",-1", dropped: moments are not used), are applied to every site,
 * positions wrapped into [0,1), and a generated position equal modulo 1 (within 1e-4 in each
 * fractional coordinate) to one of the same element already present is dropped, as pymatgen does.
 * A file without operations is P1 unless it names another space group, whose operations come
 * from spglib's database. Whatever could leave symmetry unapplied is refused instead: a named group
 * with an open setting, a magnetic group named without its operations, modulated (superspace)
 * structures, two operation lists that disagree. */
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
    const char *block; /* the block's name (after "data_"), NULL before the first header */
    int block_len;
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

/* Where tokenising stands: the start of the next data block and its line. */
typedef struct cif_cursor {
    const char *p;
    int line;
} cif_cursor;

/* Tokenise one data block, from the cursor up to the next data_ header (its own header included),
 * and move the cursor there. Text before the first header forms a block without a name. */
static int cif_tokenize(cif *c, cif_cursor *cur) {
    const char *p = cur->p;
    int line = cur->line, at_line_start = 1;
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
            if (starts_ci(t.p, t.len, "data_")) {
                if (c->n_tok > 0) {
                    p = t.p; /* the next block's header */
                    break;
                }
                c->block = t.p + 5;
                c->block_len = t.len - 5;
            }
        }
        at_line_start = 0;
        if (grow((void **)&c->tok, &c->cap_tok, c->n_tok + 1, sizeof *c->tok) != 0)
            return ih_set_error("%s: out of memory", c->name);
        c->tok[c->n_tok++] = t;
    }
    cur->p = p;
    cur->line = line;
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

static int cell_param(const cif *c, const char *tag, const char *shown, int is_angle, double *out) {
    ccol col = find_col(c, tag);
    if (!col.found) return ih_set_error("%s: no %s (the cell is needed)", c->name, shown);
    if (col_rows(c, col) != 1)
        return ih_set_error("%s: %s is given %d times", c->name, shown, col_rows(c, col));
    const ctok *t = col_val(c, col, 0);
    /* '.' asks for the dictionary's default, which the angles have (90°) and the lengths do not */
    if (is_angle && is_unknown(t) && t->p[0] == '.') {
        *out = 90;
        return 0;
    }
    if (is_unknown(t))
        return ih_set_error("%s: line %d: %s is %s (%.*s)", c->name, t->line, shown,
                            t->p[0] == '?' ? "unknown" : "not given", t->len, t->p);
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

/* The time reversal of a magnetic operation ("+1", "-1"): it turns moments, not atoms. */
static const char *time_reversal(const char *p, const char *end) {
    while (p < end && isspace((unsigned char)*p)) p++;
    while (end > p && isspace((unsigned char)end[-1])) end--;
    if (p < end && (*p == '+' || *p == '-')) p++;
    return end - p == 1 && *p == '1' ? NULL : "the fourth component, the time reversal, is not +1 or -1";
}

/* Parse "x-y, x, z+1/2" style operations; a magnetic one ("x,-y,z+1/2,-1") may add its time
 * reversal, which is checked and dropped. */
static int parse_symop(const cif *c, const ctok *tk, int magnetic, symop *op) {
    const char *p = tk->p, *end = tk->p + tk->len;
    const char *why = NULL;
    int comp = 0;
    while (!why) {
        const char *q = p;
        while (q < end && *q != ',') q++;
        if (comp == 3 + magnetic) {
            why = magnetic ? "more than four components" : "more than three components";
            break;
        }
        why = comp == 3 ? time_reversal(p, q) : parse_component(p, q, op->r[comp], &op->t[comp]);
        comp++;
        if (q >= end) break;
        p = q + 1;
    }
    if (!why && comp < 3) why = "fewer than three components";
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

/* Magnetic CIFs (magCIF): the group is every operation combined with every centering. */
static const char *const magn_op_tag = "_space_group_symop_magn_operation_xyz";
static const char *const magn_centering_tag = "_space_group_symop_magn_centering_xyz";
/* tags of magnetic symmetry, whose atom sites are the magnetic group's asymmetric unit */
static const char *const magn_prefixes[] = {"_space_group_magn", "_space_group_symop_magn", "_magnetic_space_group"};
/* tags of modulated (superspace) structures: their atoms are not a periodic crystal's */
static const char *const superspace_prefixes[] = {"_space_group_symop_ssg", "_space_group_symop_magn_ssg",
                                                  "_space_group_ssg", "_space_group_magn_ssg", "_cell_wave_vector",
                                                  "_atom_site_fourier_wave_vector"};
static const char *const magn_group_tags[] = {"_space_group_magn_name_bns", "_space_group_magn_number_bns",
                                              "_space_group_magn_name_og", "_space_group_magn_number_og"};
#define MAX_MAGN_OPS 65536 /* operations × centerings */

/* The first tag of the block that starts with prefix (DDLm '.' read as '_'), or NULL. */
static const ctok *tag_starting(const cif *c, const char *prefix) {
    int n = (int)strlen(prefix);
    for (int k = 0; k < c->n_tok; k++) {
        const ctok *t = &c->tok[k];
        if (!is_tag(t) || t->len < n) continue;
        int same = 1;
        for (int q = 0; q < n && same; q++) {
            char a = (char)tolower((unsigned char)t->p[q]);
            same = (a == '.' ? '_' : a) == prefix[q];
        }
        if (same) return t;
    }
    return NULL;
}

/* The operations listed in a column; magnetic ones may carry a time reversal. */
static int listed_ops(const cif *c, ccol col, int magnetic, symop **ops_out, int *n_out) {
    int n = col_rows(c, col);
    *ops_out = NULL;
    *n_out = 0;
    if (n > MAX_OPS) return ih_set_error("%s: %d symmetry operations (at most %d expected)", c->name, n, MAX_OPS);
    symop *ops = malloc((size_t)n * sizeof *ops);
    if (!ops) return ih_set_error("%s: out of memory", c->name);
    for (int k = 0; k < n; k++) {
        if (parse_symop(c, col_val(c, col, k), magnetic, &ops[k]) != 0) {
            free(ops);
            return -1;
        }
    }
    *ops_out = ops;
    *n_out = n;
    return 0;
}

/* the same operation, translations taken modulo lattice vectors */
static int same_op(const symop *a, const symop *b) {
    for (int i = 0; i < 3; i++) {
        double d = a->t[i] - b->t[i];
        if (fabs(d - floor(d + 0.5)) > 1e-6) return 0;
        for (int j = 0; j < 3; j++)
            if (fabs(a->r[i][j] - b->r[i][j]) > 1e-9) return 0;
    }
    return 1;
}

static int op_in(const symop *op, const symop *ops, int n) {
    for (int k = 0; k < n; k++)
        if (same_op(op, &ops[k])) return 1;
    return 0;
}

static int n_distinct_ops(const symop *ops, int n) {
    int d = 0;
    for (int k = 0; k < n; k++) d += !op_in(&ops[k], ops, k);
    return d;
}

static int same_op_sets(const symop *a, int na, const symop *b, int nb) {
    for (int k = 0; k < na; k++)
        if (!op_in(&a[k], b, nb)) return 0;
    for (int k = 0; k < nb; k++)
        if (!op_in(&b[k], a, na)) return 0;
    return 1;
}

/* The Hall number of the space group the block names by symbol, Hall symbol or number; 0 for none
 * (or P1). `strict` (no operations listed, so the name decides): a name that cannot be resolved, or
 * a number that contradicts it, is an error (-1); otherwise such a name counts as none. `shown`
 * receives the name as written. */
static int named_group(const cif *c, double gamma, int strict, char *shown, size_t shown_cap) {
    char why[256] = "";
    double num = 0;
    const char *num_tag = NULL;
    for (size_t k = 0; k < sizeof sg_number_tags / sizeof *sg_number_tags && !num_tag; k++) {
        ccol nc = find_col(c, sg_number_tags[k]);
        if (nc.found && col_rows(c, nc) == 1 && cif_number(col_val(c, nc, 0), &num) == 0) num_tag = sg_number_tags[k];
    }
    for (size_t k = 0; k < sizeof sg_name_tags / sizeof *sg_name_tags; k++) {
        ccol nc = find_col(c, sg_name_tags[k]);
        if (!nc.found || col_rows(c, nc) != 1) continue;
        const ctok *t = col_val(c, nc, 0);
        if (is_unknown(t)) continue;
        snprintf(shown, shown_cap, "%s", ih_excerpt((ih_span){t->p, t->len}));
        int hall = 0, number = 1;
        if (!name_is_p1(t)) {
            char name[64];
            squash(t->p, t->len, name, sizeof name);
            hall = hall_number_of(c, name, 0, gamma, why, sizeof why);
            if (hall <= 0) {
                if (!strict) return 0;
                if (hall < 0)
                    return ih_set_error("%s: space group %s has several settings (%s) and no operations are listed: "
                                        "name the setting or list the operations",
                                        c->name, shown, why);
                return ih_set_error("%s: unknown space group %s and no symmetry operations (_symmetry_equiv_pos_as_xyz)",
                                    c->name, shown);
            }
            number = spg_get_spacegroup_type(hall).number;
        }
        /* a number beside the name must agree with it */
        if (num_tag && num != number) {
            if (!strict) return 0;
            return ih_set_error("%s: space group %s is number %d, but %s gives %g", c->name, shown, number, num_tag,
                                num);
        }
        return hall;
    }
    if (!num_tag || num == 1) return 0;
    snprintf(shown, shown_cap, "number %g", num);
    int hall = num >= 1 && num <= 230 && num == floor(num) ? hall_number_of(c, "", (int)num, gamma, why, sizeof why) : 0;
    if (hall > 0 || !strict) return hall > 0 ? hall : 0;
    if (hall < 0)
        return ih_set_error("%s: space group number %g has several settings (%s) and no operations are "
                            "listed: name the setting or list the operations",
                            c->name, num, why);
    return ih_set_error("%s: space group number %g is not one of 1..230", c->name, num);
}

/* The operations the sites are expanded with. A file that lists both ordinary and magnetic
 * operations expands with the magnetic ones and keeps the ordinary ones to check that they give
 * the same crystal. */
typedef struct symmetry {
    symop *ops, *check;
    int n, n_check;
    const char *check_tag;
} symmetry;

static int identity_op(const cif *c, symmetry *sym) {
    symop *id = calloc(1, sizeof *id);
    if (!id) return ih_set_error("%s: out of memory", c->name);
    for (int k = 0; k < 3; k++) id->r[k][k] = 1;
    sym->ops = id;
    sym->n = 1;
    return 0;
}

/* every magnetic operation g combined with every centering t: x -> t(g(x)) */
static int magnetic_ops(const cif *c, ccol op_col, ccol centering_col, symmetry *sym) {
    symop *g = NULL, *ce = NULL;
    int ng = 0, nce = 0;
    if (listed_ops(c, op_col, 1, &g, &ng) != 0) return -1;
    if (centering_col.found && col_rows(c, centering_col) > 0) {
        if (listed_ops(c, centering_col, 1, &ce, &nce) != 0) return free(g), -1;
    } else {
        symmetry id = {0};
        if (identity_op(c, &id) != 0) return free(g), -1;
        ce = id.ops, nce = 1;
    }
    int rc = 0;
    if ((long)ng * nce > MAX_MAGN_OPS)
        rc = ih_set_error("%s: %d magnetic operations with %d centerings (at most %d combinations expected)", c->name,
                          ng, nce, MAX_MAGN_OPS);
    symop *ops = rc == 0 ? malloc((size_t)ng * (size_t)nce * sizeof *ops) : NULL;
    if (rc == 0 && !ops) rc = ih_set_error("%s: out of memory", c->name);
    for (int a = 0; rc == 0 && a < nce; a++)
        for (int b = 0; b < ng; b++) {
            symop *o = &ops[a * ng + b];
            for (int i = 0; i < 3; i++) {
                o->t[i] = ce[a].t[i];
                for (int j = 0; j < 3; j++) {
                    o->r[i][j] = 0;
                    for (int k = 0; k < 3; k++) o->r[i][j] += ce[a].r[i][k] * g[b].r[k][j];
                    o->t[i] += ce[a].r[i][j] * g[b].t[j];
                }
            }
        }
    free(g);
    free(ce);
    if (rc != 0) return -1;
    sym->ops = ops;
    sym->n = ng * nce;
    return 0;
}

static int read_symops(const cif *c, double gamma, symmetry *sym) {
    memset(sym, 0, sizeof *sym);
    const ctok *t;
    for (size_t k = 0; k < sizeof superspace_prefixes / sizeof *superspace_prefixes; k++)
        if ((t = tag_starting(c, superspace_prefixes[k])))
            return ih_set_error("%s: line %d: %s: a modulated (superspace) structure, which is not a periodic crystal "
                                "(not supported)",
                                c->name, t->line, ih_excerpt((ih_span){t->p, t->len}));
    ccol md = find_col(c, "_cell_modulation_dimension");
    double dim;
    if (md.found && col_rows(c, md) == 1 && cif_number(col_val(c, md, 0), &dim) == 0 && dim > 0)
        return ih_set_error("%s: _cell_modulation_dimension %g: a modulated (superspace) structure, which is not a "
                            "periodic crystal (not supported)",
                            c->name, dim);

    /* ordinary operations, under either name: two lists must agree */
    symop *ord = NULL;
    int n_ord = 0;
    const char *ord_tag = NULL;
    for (size_t k = 0; k < sizeof symop_tags / sizeof *symop_tags; k++) {
        ccol col = find_col(c, symop_tags[k]);
        if (!col.found || col_rows(c, col) == 0) continue;
        symop *o;
        int n;
        if (listed_ops(c, col, 0, &o, &n) != 0) return free(ord), -1;
        if (!ord) {
            ord = o, n_ord = n, ord_tag = symop_tags[k];
            continue;
        }
        int same = same_op_sets(ord, n_ord, o, n);
        free(o);
        if (!same) {
            free(ord);
            return ih_set_error("%s: %s and %s list different symmetry operations", c->name, ord_tag, symop_tags[k]);
        }
    }

    ccol mo = find_col(c, magn_op_tag), mc = find_col(c, magn_centering_tag);
    if (mo.found && col_rows(c, mo) > 0) {
        if (magnetic_ops(c, mo, mc, sym) != 0) return free(ord), -1;
        sym->check = ord, sym->n_check = n_ord, sym->check_tag = ord_tag;
        return 0;
    }
    if (!ord) {
        if (mc.found && col_rows(c, mc) > 0)
            return ih_set_error("%s: magnetic centerings (_space_group_symop_magn_centering.xyz) without the "
                                "operations (_space_group_symop_magn_operation.xyz)",
                                c->name);
        /* magnetic symmetry without operations: its name alone (BNS/OG) cannot be expanded here */
        for (size_t k = 0; k < sizeof magn_prefixes / sizeof *magn_prefixes; k++) {
            if (!(t = tag_starting(c, magn_prefixes[k]))) continue;
            char what[160];
            snprintf(what, sizeof what, "magnetic symmetry (%s)", ih_excerpt((ih_span){t->p, t->len}));
            for (size_t q = 0; q < sizeof magn_group_tags / sizeof *magn_group_tags; q++) {
                ccol gc = find_col(c, magn_group_tags[q]);
                if (!gc.found || col_rows(c, gc) != 1 || is_unknown(col_val(c, gc, 0))) continue;
                const ctok *v = col_val(c, gc, 0);
                snprintf(what, sizeof what, "magnetic space group %s", ih_excerpt((ih_span){v->p, v->len}));
                break;
            }
            return ih_set_error("%s: %s without its operations (_space_group_symop_magn_operation.xyz): the atom "
                                "sites cannot be expanded",
                                c->name, what);
        }
        /* No operations listed: the space group's own, from spglib's database, when the file names
         * it unambiguously (symbol with its setting, Hall symbol, or number); else P1. */
        char shown[160];
        int hall = named_group(c, gamma, 1, shown, sizeof shown);
        if (hall < 0) return -1;
        return hall > 0 ? ops_from_hall(c, hall, &sym->ops, &sym->n) : identity_op(c, sym);
    }
    /* listed operations fewer than those of the group the file names: a list cut short (e.g. the
     * centring translations left out) would lose atoms */
    char shown[160];
    int hall = named_group(c, gamma, 0, shown, sizeof shown);
    if (hall > 0) {
        int rot[192][3][3];
        double tra[192][3];
        int n_group = spg_get_symmetry_from_database(rot, tra, hall), n_listed = n_distinct_ops(ord, n_ord);
        if (n_listed < n_group)
            ih_warn("%s: lists %d distinct symmetry operation%s (%s), fewer than the %d of space group %s that it "
                    "names; the listed ones are used",
                    c->name, n_listed, n_listed == 1 ? "" : "s", ord_tag, n_group, shown);
    }
    sym->ops = ord, sym->n = n_ord;
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
    const ctok *t = label.found ? col_val(c, label, row) : NULL;
    if (t && !is_unknown(t)) {
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

static void sites_free(sites *S) {
    free(S->pos), free(S->zs), free(S->next), free(S->key), free(S->head);
    free(S->occ), free(S->row), free(S->row_name);
}

/* The ordinary operations listed beside magnetic ones must give the same crystal. */
static int check_same_sites(const cif *c, const sites *S, const symmetry *sym) {
    sites T = {0};
    memcpy(T.fc, S->fc, sizeof T.fc);
    T.type = S->type, T.label = S->label, T.occ_col = S->occ_col, T.n_rows = S->n_rows;
    int rc = read_sites(c, &T, sym->check, sym->n_check);
    int same = rc == 0 && T.n == S->n;
    for (size_t j = 0; same && j < T.n; j++) same = site_present(S, T.zs[j], T.pos + 3 * j);
    if (rc == 0 && !same)
        rc = ih_set_error("%s: its magnetic symmetry operations (_space_group_symop_magn_operation.xyz) give %zu atoms "
                          "and its ordinary ones (%s) %zu%s: the file contradicts itself",
                          c->name, S->n, sym->check_tag, T.n, T.n == S->n ? " at other sites" : "");
    sites_free(&T);
    return rc;
}

/* "data_NAME" for messages (printable, cut short), or "the unnamed block" before any header */
static void block_label(const cif *c, char *buf, size_t cap) {
    if (!c->block) {
        snprintf(buf, cap, "the unnamed block");
        return;
    }
    size_t n = (size_t)snprintf(buf, cap, "data_");
    for (int k = 0; k < c->block_len && n + 4 < cap; k++)
        buf[n++] = isprint((unsigned char)c->block[k]) ? c->block[k] : '?';
    if ((int)n - 5 < c->block_len) buf[n - 1] = '~'; /* cut short */
    buf[n] = '\0';
}

static int block_has_sites(const cif *c) {
    return find_col(c, "_atom_site_fract_x").found || find_col(c, "_atom_site_cartn_x").found;
}

/* Is the block data_NAME? (block names are case-insensitive; "data_NAME" is accepted for NAME) */
static int block_is(const cif *c, const char *want) {
    if (!c->block) return 0;
    size_t n = strlen(want), len = (size_t)c->block_len;
    if (len == n && !strncasecmp(c->block, want, n)) return 1;
    return n > 5 && starts_ci(want, 5, "data_") && len == n - 5 && !strncasecmp(c->block, want + 5, len);
}

/* The data block to read, into *c: the one named `want`, or without a name the first with atom
 * sites (failing that the first with a cell, then the first at all, so that the message says
 * what is missing). *n_sites counts the blocks with atom sites. A syntax error anywhere in the
 * blocks looked at refuses the file. The caller frees *c, also after an error. */
static int choose_block(const char *text, const char *name, const char *want, cif *c, int *n_sites) {
    cif_cursor cur = {text, 1};
    if (!strncmp(cur.p, "\xEF\xBB\xBF", 3)) cur.p += 3;
    int rank_chosen = 0, n_named = 0;
    char names[160] = "";
    size_t names_len = 0;
    *n_sites = 0;
    memset(c, 0, sizeof *c);
    c->name = name;
    while (*cur.p) {
        cif b = {0};
        b.name = name;
        if (cif_tokenize(&b, &cur) != 0 || cif_structure(&b) != 0) {
            cif_free(&b);
            return -1;
        }
        int sites = block_has_sites(&b);
        *n_sites += sites;
        int rank = want ? (block_is(&b, want) ? 3 : 0) : sites ? 3 : find_col(&b, "_cell_length_a").found ? 2 : b.n_tok > 0;
        if (b.block && n_named++ < 5 && names_len < sizeof names) {
            char label[48];
            block_label(&b, label, sizeof label);
            int w = snprintf(names + names_len, sizeof names - names_len, "%s%s", n_named > 1 ? ", " : "", label);
            /* snprintf reports what it would have written: keep the length inside the buffer */
            names_len = w < 0 ? sizeof names : names_len + (size_t)w;
            if (names_len >= sizeof names) names_len = sizeof names - 1;
        }
        if (rank > rank_chosen) {
            cif_free(c);
            *c = b;
            rank_chosen = rank;
        } else {
            cif_free(&b);
        }
        if (want && rank_chosen) return 0;
    }
    if (want) {
        if (!n_named) return ih_set_error("%s: no data block '%s': the file has no data_ blocks", name, want);
        return ih_set_error("%s: no data block '%s'; the file has %s%s (%d block%s)", name, want, names,
                            n_named > 5 ? ", …" : "", n_named, n_named > 1 ? "s" : "");
    }
    return 0;
}

static int parse_cif(const char *text, const char *name, const ih_read_opts *o, ih_structure *out) {
    static const ih_read_opts defaults;
    if (!o) o = &defaults;
    const char *want = o->block;
    memset(out, 0, sizeof *out);
    cif c = {0};
    name = name ? name : "structure.cif";
    c.name = name;
    sites S = {0};
    symmetry sym = {0};
    double prm[6], lattice[3][3];
    int n_site_blocks = 0;
    static const char *const cell_tags[6] = {"_cell_length_a",    "_cell_length_b",   "_cell_length_c",
                                             "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"};
    int rc = all_blank(text) ? ih_set_error("%s: empty file", name) : 0;
    if (rc == 0) rc = choose_block(text, name, want, &c, &n_site_blocks);
    for (int k = 0; k < 6 && rc == 0; k++) rc = cell_param(&c, cell_tags[k], cell_tags[k], k >= 3, &prm[k]);
    if (rc == 0) rc = lattice_from_parameters(&c, prm, lattice);
    if (rc == 0) rc = site_columns(&c, &S);
    if (rc == 0) rc = read_symops(&c, prm[5], &sym);
    if (rc == 0) rc = read_sites(&c, &S, sym.ops, sym.n);
    if (rc == 0 && sym.n_check) rc = check_same_sites(&c, &S, &sym);
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
    if (rc == 0 && !want && n_site_blocks > 1) {
        char label[48];
        block_label(&c, label, sizeof label);
        ih_warn("%s: %d data blocks hold atom sites; read the first, %s (name another to read it: --block, or "
                "block= in Python)",
                name, n_site_blocks, label);
    }
    if (rc != 0) ih_structure_free(out);
    free(sym.ops);
    free(sym.check);
    sites_free(&S);
    cif_free(&c);
    return rc != 0 ? -1 : 0;
}

int ih_parse_cif(const char *text, const char *name, ih_structure *out) { return parse_cif(text, name, NULL, out); }

int ih_parse_cif_with(const char *text, const char *name, const ih_read_opts *o, ih_structure *out) {
    return parse_cif(text, name, o, out);
}

int ih_read_cif_with(const char *path, const ih_read_opts *o, ih_structure *out) {
    const char *block = o ? o->block : NULL;
    memset(out, 0, sizeof *out);
    if (block) {
        /* a block name only means something in a CIF: refused for other formats, not ignored */
        ih_format f = ih_guess_format(path);
        if (f != IH_FMT_CIF && f != IH_FMT_UNKNOWN)
            return ih_set_error("%s: not a CIF file, so it has no data block '%s' to choose", path, block);
        if (!*block) return ih_set_error("%s: an empty data block name", path);
    }
    size_t len;
    char *text = ih_read_file(path, &len);
    if (!text) return -1;
    int rc = ih_check_text(text, len, path);
    if (rc == 0) rc = parse_cif(text, path, o, out);
    free(text);
    return rc;
}

int ih_read_cif(const char *path, ih_structure *out) { return ih_read_cif_with(path, NULL, out); }

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
