/* VASP 5 POSCAR / CONTCAR files.
 *
 * Layout read: comment; scale (one positive factor, one negative target volume in Å^3, or three
 * positive per-axis factors); three lattice rows; species line (required: VASP 4 files without it
 * cannot name their atoms); counts; optional "Selective dynamics"; "Direct" or "Cartesian" (first
 * letter: D, or C/K, any case); one position per atom (trailing T/F flags or labels ignored).
 * Whatever follows the positions (velocities, predictor-corrector data) is ignored once a blank
 * line or a non-numeric line separates it. Species may be POTCAR names: "Fe_pv", "Li_sv", "Fe/ab12".
 * Cartesian positions are scaled like the lattice and kept in s->cart. */
#include "io/io_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Up to 3 reals from the start of a line (further tokens ignored); returns how many parsed.
 * *bad receives -2 if a token was nan/inf, the index of the bad token in *bad_tok. */
static int line_reals(ih_span line, double *v, int want, int *bad, ih_span *bad_tok) {
    ih_span tok[3];
    int nt = ih_tokens(line, tok, 3);
    int k = 0;
    *bad = 0;
    for (; k < want && k < nt; k++) {
        int rc = ih_parse_real(tok[k], &v[k]);
        if (rc != 0) {
            *bad = rc;
            *bad_tok = tok[k];
            break;
        }
    }
    return k;
}

static int real_error(const char *name, int line_no, const char *what, int bad, ih_span tok,
                      int got, int want) {
    if (bad == -2)
        return ih_set_error("%s: line %d: %s: %s is not a finite number", name, line_no, what,
                            ih_excerpt(tok));
    if (bad == -1)
        return ih_set_error("%s: line %d: %s: %s is not a number", name, line_no, what,
                            ih_excerpt(tok));
    return ih_set_error("%s: line %d: %s: expected %d numbers, found %d", name, line_no, what, want,
                        got);
}

/* What the header lines have told so far; one function per part of the file. */
typedef struct {
    const char *name;
    ih_lines L;
    double scale[3], target_volume, lat[3][3];
    ih_span *species;
    long *counts;
    int n_species;
    long n_atoms;
    int li; /* line index of the first position */
    int cartesian;
} poscar;

static int need_line(const poscar *p, int idx, const char *what) {
    if (idx < p->L.n) return 0;
    return ih_set_error("%s: truncated POSCAR: file ends before the %s (line %d)", p->name, what, idx + 1);
}

/* line 2: one factor (negative: the target volume) or three positive per-axis factors */
static int parse_scale(poscar *p) {
    if (need_line(p, 1, "scale factor") != 0) return -1;
    const char *name = p->name;
    double *scale = p->scale;
    ih_span tok[4];
    int nt = ih_tokens(p->L.line[1], tok, 4);
    int nscale = nt >= 3 ? 3 : 1;
    if (nt == 0) return ih_set_error("%s: line 2: missing scale factor", name);
    /* a comment after one factor is tolerated: only take three when all three are numbers */
    if (nscale == 3) {
        double t;
        for (int k = 0; k < 3; k++)
            if (ih_parse_real(tok[k], &t) != 0) nscale = 1;
    }
    for (int k = 0; k < nscale; k++) {
        int r = ih_parse_real(tok[k], &scale[k]);
        if (r != 0) return real_error(name, 2, "scale factor", r, tok[k], k, nscale);
    }
    if (nscale == 3) {
        if (!(scale[0] > 0 && scale[1] > 0 && scale[2] > 0))
            return ih_set_error("%s: line 2: three scale factors must all be positive", name);
        return 0;
    }
    if (scale[0] == 0) return ih_set_error("%s: line 2: scale factor is zero", name);
    if (scale[0] < 0) {
        p->target_volume = -scale[0];
        scale[0] = 1;
    }
    scale[1] = scale[2] = scale[0];
    return 0;
}

/* lines 3-5 */
static int parse_lattice(poscar *p) {
    for (int r = 0; r < 3; r++) {
        if (need_line(p, 2 + r, "lattice vectors") != 0) return -1;
        int bad;
        ih_span bt;
        int got = line_reals(p->L.line[2 + r], p->lat[r], 3, &bad, &bt);
        if (got < 3) {
            char what[32];
            snprintf(what, sizeof what, "lattice vector %d", r + 1);
            return real_error(p->name, 3 + r, what, bad, bt, got, 3);
        }
    }
    return 0;
}

/* line 6: species (VASP 5); a line of integers means VASP 4 */
static int parse_species(poscar *p) {
    if (need_line(p, 5, "species line") != 0) return -1;
    const char *name = p->name;
    ih_span first;
    int nt = ih_tokens(p->L.line[5], &first, 1);
    long dummy;
    if (nt == 0)
        return ih_set_error("%s: line 6: expected the species line (element names), found a blank line", name);
    if (ih_parse_count(first, 0x7fffffff, &dummy) == 0)
        return ih_set_error("%s: line 6: no species line (VASP 4 format); insert a line naming the "
                            "elements, e.g. \"Li Fe P O\", above the counts line",
                            name);
    p->species = malloc((size_t)nt * sizeof *p->species);
    p->counts = malloc((size_t)nt * sizeof *p->counts);
    if (!p->species || !p->counts) return ih_set_error("%s: out of memory", name);
    p->n_species = ih_tokens(p->L.line[5], p->species, nt);
    for (int k = 0; k < p->n_species; k++)
        if (!ih_element_from_label(p->species[k]))
            return ih_set_error("%s: line 6: unknown element %s in the species line", name,
                                ih_excerpt(p->species[k]));
    return 0;
}

/* line 7: one positive count per species; a comment may follow, a missing or extra count may not */
static int check_counts(const poscar *p, const ih_span *tok, int nt) {
    const char *name = p->name;
    int n_species = p->n_species;
    if (nt < n_species)
        return ih_set_error("%s: line 7: %d species named on line 6 but %d atom counts", name, n_species, nt);
    for (int k = 0; k < n_species; k++)
        if (ih_parse_count(tok[k], IH_MAX_ATOMS, &p->counts[k]) != 0 || p->counts[k] == 0)
            return ih_set_error("%s: line 7: atom count %s is not a positive integer (<= %d)", name,
                                ih_excerpt(tok[k]), IH_MAX_ATOMS);
    long extra;
    if (nt > n_species && ih_parse_count(tok[n_species], IH_MAX_ATOMS, &extra) == 0)
        return ih_set_error("%s: line 7: %d atom counts but %d species named on line 6", name, nt, n_species);
    return 0;
}

static int parse_counts(poscar *p) {
    if (need_line(p, 6, "atom counts line") != 0) return -1;
    ih_span *tok = malloc((size_t)(p->n_species + 1) * sizeof *tok);
    if (!tok) return ih_set_error("%s: out of memory", p->name);
    int nt = ih_tokens(p->L.line[6], tok, p->n_species + 1);
    int rc = check_counts(p, tok, nt);
    free(tok);
    if (rc != 0) return -1;
    p->n_atoms = 0;
    for (int k = 0; k < p->n_species; k++) p->n_atoms += p->counts[k];
    if (p->n_atoms > IH_MAX_ATOMS)
        return ih_set_error("%s: line 7: %ld atoms is more than ionhop handles (%d)", p->name, p->n_atoms,
                            IH_MAX_ATOMS);
    return 0;
}

/* optional "Selective dynamics", then the coordinate mode */
static int parse_mode(poscar *p) {
    const char *what = "coordinate mode line (Direct/Cartesian)";
    int li = 7;
    if (need_line(p, li, what) != 0) return -1;
    ih_span t;
    if (ih_tokens(p->L.line[li], &t, 1) > 0 && (t.p[0] == 'S' || t.p[0] == 's')) li++;
    if (need_line(p, li, what) != 0) return -1;
    if (ih_tokens(p->L.line[li], &t, 1) == 0)
        return ih_set_error("%s: line %d: expected \"Direct\" or \"Cartesian\", found a blank line", p->name,
                            li + 1);
    char c = t.p[0];
    if (c == 'D' || c == 'd')
        p->cartesian = 0;
    else if (c == 'C' || c == 'c' || c == 'K' || c == 'k')
        p->cartesian = 1;
    else
        return ih_set_error("%s: line %d: expected \"Direct\" or \"Cartesian\", found %s", p->name, li + 1,
                            ih_excerpt(t));
    p->li = li + 1;
    return 0;
}

/* the atoms: elements from the species blocks, one position line each */
static int read_positions(const poscar *p, ih_structure *out) {
    const char *name = p->name;
    long n_atoms = p->n_atoms;
    int li = p->li;
    if (p->L.n - li < n_atoms)
        return ih_set_error("%s: truncated POSCAR: the counts line declares %ld atoms but only %d "
                            "position lines follow",
                            name, n_atoms, p->L.n - li);
    if (ih_structure_init(out, (int)n_atoms) != 0)
        return ih_set_error("%s: out of memory for %ld atoms", name, n_atoms);
    double *pos = out->frac;
    if (p->cartesian) {
        out->cart = malloc(3 * (size_t)n_atoms * sizeof *out->cart);
        if (!out->cart) return ih_set_error("%s: out of memory", name);
        pos = out->cart;
    }
    int i = 0;
    for (int k = 0; k < p->n_species; k++) {
        int z = ih_element_from_label(p->species[k]);
        for (long c = 0; c < p->counts[k]; c++) out->z[i++] = z;
    }
    for (long a = 0; a < n_atoms; a++) {
        int bad;
        ih_span bt;
        int got = line_reals(p->L.line[li + a], pos + 3 * a, 3, &bad, &bt);
        if (got == 3) continue;
        if (got == 0 && bad == 0)
            return ih_set_error("%s: line %ld: expected the position of atom %ld of %ld, found a blank "
                                "line (wrong atom counts?)",
                                name, li + a + 1, a + 1, n_atoms);
        char what[48];
        snprintf(what, sizeof what, "position of atom %ld", a + 1);
        return real_error(name, (int)(li + a + 1), what, bad, bt, got, 3);
    }
    /* A further line of three numbers straight after the positions means the counts line is
     * short; CONTCAR velocities are separated by a blank line and are not caught here. */
    if (li + n_atoms < p->L.n) {
        double v[3];
        int bad;
        ih_span bt;
        if (line_reals(p->L.line[li + n_atoms], v, 3, &bad, &bt) == 3)
            return ih_set_error("%s: line %ld: more positions than the %ld atoms of the counts line", name,
                                li + n_atoms + 1, n_atoms);
    }
    return 0;
}

/* the scale applied to the lattice and to Cartesian positions, which then give the fractional ones */
static int apply_scale(poscar *p, ih_structure *out) {
    double *scale = p->scale;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) out->lattice[r][c] = p->lat[r][c] * scale[c];
    if (p->target_volume > 0) {
        /* VASP: a negative scale is the cell volume; the lattice and Cartesian positions are
         * scaled by (V_target / V_given)^(1/3) */
        double vol = fabs(ih_structure_volume(out));
        if (!(vol > 1e-12) || !isfinite(vol))
            return ih_set_error("%s: degenerate lattice (cell volume %.3g Å^3): zero-volume or flat cell",
                                p->name, vol);
        double f = cbrt(p->target_volume / vol);
        for (int c = 0; c < 3; c++) scale[c] = f;
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) out->lattice[r][c] = p->lat[r][c] * f;
    }
    if (!p->cartesian) return 0;
    for (long a = 0; a < p->n_atoms; a++)
        for (int c = 0; c < 3; c++) out->cart[3 * a + c] *= scale[c];
    return ih_frac_from_cart(out, p->name);
}

int ih_parse_poscar(const char *text, const char *name, ih_structure *out) {
    memset(out, 0, sizeof *out);
    poscar p = {.name = name ? name : "POSCAR", .scale = {1, 1, 1}};
    if (ih_lines_split(text, p.name, &p.L) != 0) return -1;
    int nonblank = 0;
    for (int i = 0; i < p.L.n; i++) nonblank += !ih_span_blank(p.L.line[i]);
    int rc = nonblank == 0 ? ih_set_error("%s: empty file", p.name) : 0;
    if (rc == 0) rc = parse_scale(&p);
    if (rc == 0) rc = parse_lattice(&p);
    if (rc == 0) rc = parse_species(&p);
    if (rc == 0) rc = parse_counts(&p);
    if (rc == 0) rc = parse_mode(&p);
    if (rc == 0) rc = read_positions(&p, out);
    if (rc == 0) rc = apply_scale(&p, out);
    if (rc == 0) rc = ih_structure_validate(out, p.name, IH_MIN_SEPARATION, 0);
    if (rc != 0) ih_structure_free(out);
    free(p.species);
    free(p.counts);
    ih_lines_free(&p.L);
    return rc != 0 ? -1 : 0;
}

int ih_read_poscar(const char *path, ih_structure *out) {
    size_t len;
    memset(out, 0, sizeof *out);
    char *text = ih_read_file(path, &len);
    if (!text) return -1;
    int rc = ih_check_text(text, len, path);
    if (rc == 0) rc = ih_parse_poscar(text, path, out);
    free(text);
    return rc;
}

int ih_write_poscar(const char *path, const ih_structure *s) {
    if (s->n_atoms <= 0) return ih_set_error("%s: cannot write a structure with no atoms", path);
    for (int i = 0; i < s->n_atoms; i++)
        if (!ih_element_symbol(s->z[i]))
            return ih_set_error("%s: atom %d has no element symbol (Z = %d)", path, i + 1, s->z[i]);
    ih_strbuf b = {0};
    char formula[256];
    ih_structure_formula(s, formula, sizeof formula);
    /* the comment names the record where there is one (one line, whatever the metadata holds) */
    char comment[512];
    snprintf(comment, sizeof comment, "%s%s%s%s%s", formula, s->jid[0] ? " jid " : "", s->jid,
             s->sys_name[0] ? " " : "", s->sys_name);
    for (char *p = comment; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    ih_sb_printf(&b, "%s\n", comment);
    ih_sb_printf(&b, "1.0\n");
    for (int r = 0; r < 3; r++)
        ih_sb_printf(&b, " %23.16g %23.16g %23.16g\n", s->lattice[r][0], s->lattice[r][1],
                     s->lattice[r][2]);
    /* species blocks follow the site order: runs of one element, repeats allowed ("Li Fe P O Li") */
    for (int i = 0; i < s->n_atoms; i++)
        if (i == 0 || s->z[i] != s->z[i - 1]) ih_sb_printf(&b, " %s", ih_element_symbol(s->z[i]));
    ih_sb_printf(&b, "\n");
    for (int i = 0; i < s->n_atoms;) {
        int j = i;
        while (j < s->n_atoms && s->z[j] == s->z[i]) j++;
        ih_sb_printf(&b, " %d", j - i);
        i = j;
    }
    ih_sb_printf(&b, "\nDirect\n");
    for (int i = 0; i < s->n_atoms; i++)
        ih_sb_printf(&b, " %23.16g %23.16g %23.16g %s\n", s->frac[3 * i], s->frac[3 * i + 1],
                     s->frac[3 * i + 2], ih_element_symbol(s->z[i]));
    return ih_sb_write(&b, path);
}
