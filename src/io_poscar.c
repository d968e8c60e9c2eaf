/* VASP 5 POSCAR / CONTCAR files.
 *
 * Layout read: comment; scale (one positive factor, one negative target volume in Å^3, or three
 * positive per-axis factors); three lattice rows; species line (required: VASP 4 files without it
 * cannot name their atoms); counts; optional "Selective dynamics"; "Direct" or "Cartesian" (first
 * letter: D, or C/K, any case); one position per atom (trailing T/F flags or labels ignored).
 * Whatever follows the positions (velocities, predictor-corrector data) is ignored once a blank
 * line or a non-numeric line separates it. Species may be POTCAR names: "Fe_pv", "Li_sv", "Fe/ab12".
 * Cartesian positions are scaled like the lattice and kept in s->cart. */
#include "io_text.h"

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

int ih_parse_poscar(const char *text, const char *name, ih_structure *out) {
    memset(out, 0, sizeof *out);
    if (!name) name = "POSCAR";
    ih_lines L;
    if (ih_lines_split(text, name, &L) != 0) return -1;
    int rc = -1;
    ih_span *species = NULL;
    long *counts = NULL;
    int n_species = 0;
    int nonblank = 0;
    for (int i = 0; i < L.n; i++) nonblank += !ih_span_blank(L.line[i]);
    if (nonblank == 0) {
        ih_set_error("%s: empty file", name);
        goto done;
    }
#define NEED_LINE(idx, what)                                                                   \
    do {                                                                                       \
        if ((idx) >= L.n) {                                                                    \
            ih_set_error("%s: truncated POSCAR: file ends before the %s (line %d)", name, what, \
                         (idx) + 1);                                                           \
            goto done;                                                                         \
        }                                                                                      \
    } while (0)

    /* line 2: scale */
    NEED_LINE(1, "scale factor");
    double scale[3] = {1, 1, 1}, target_volume = 0;
    {
        ih_span tok[4];
        int nt = ih_tokens(L.line[1], tok, 4);
        int nscale = nt >= 3 ? 3 : 1;
        if (nt == 0) {
            ih_set_error("%s: line 2: missing scale factor", name);
            goto done;
        }
        /* a comment after one factor is tolerated: only take three when all three are numbers */
        if (nscale == 3) {
            double t;
            for (int k = 0; k < 3; k++)
                if (ih_parse_real(tok[k], &t) != 0) nscale = 1;
        }
        for (int k = 0; k < nscale; k++) {
            int r = ih_parse_real(tok[k], &scale[k]);
            if (r != 0) {
                real_error(name, 2, "scale factor", r, tok[k], k, nscale);
                goto done;
            }
        }
        if (nscale == 1) {
            if (scale[0] == 0) {
                ih_set_error("%s: line 2: scale factor is zero", name);
                goto done;
            }
            if (scale[0] < 0) {
                target_volume = -scale[0];
                scale[0] = 1;
            }
            scale[1] = scale[2] = scale[0];
        } else if (!(scale[0] > 0 && scale[1] > 0 && scale[2] > 0)) {
            ih_set_error("%s: line 2: three scale factors must all be positive", name);
            goto done;
        }
    }
    /* lines 3-5: lattice */
    double lat[3][3];
    for (int r = 0; r < 3; r++) {
        NEED_LINE(2 + r, "lattice vectors");
        int bad;
        ih_span bt;
        int got = line_reals(L.line[2 + r], lat[r], 3, &bad, &bt);
        if (got < 3) {
            char what[32];
            snprintf(what, sizeof what, "lattice vector %d", r + 1);
            real_error(name, 3 + r, what, bad, bt, got, 3);
            goto done;
        }
    }
    /* line 6: species (VASP 5); a line of integers means VASP 4 */
    NEED_LINE(5, "species line");
    {
        ih_span first;
        int nt = ih_tokens(L.line[5], &first, 1);
        long dummy;
        if (nt == 0) {
            ih_set_error("%s: line 6: expected the species line (element names), found a blank line",
                         name);
            goto done;
        }
        if (ih_parse_count(first, 0x7fffffff, &dummy) == 0) {
            ih_set_error("%s: line 6: no species line (VASP 4 format); insert a line naming the "
                         "elements, e.g. \"Li Fe P O\", above the counts line",
                         name);
            goto done;
        }
        species = malloc((size_t)nt * sizeof *species);
        counts = malloc((size_t)nt * sizeof *counts);
        if (!species || !counts) {
            ih_set_error("%s: out of memory", name);
            goto done;
        }
        n_species = ih_tokens(L.line[5], species, nt);
        for (int k = 0; k < n_species; k++)
            if (!ih_element_from_label(species[k])) {
                ih_set_error("%s: line 6: unknown element %s in the species line", name,
                             ih_excerpt(species[k]));
                goto done;
            }
    }
    /* line 7: counts */
    NEED_LINE(6, "atom counts line");
    long n_atoms = 0;
    {
        ih_span *tok = malloc((size_t)(n_species + 1) * sizeof *tok);
        if (!tok) {
            ih_set_error("%s: out of memory", name);
            goto done;
        }
        int nt = ih_tokens(L.line[6], tok, n_species + 1);
        /* counts may be followed by a comment; only the first n_species tokens matter, but a
         * missing count is an error */
        int ok = nt >= n_species;
        int k = 0;
        for (; ok && k < n_species; k++)
            if (ih_parse_count(tok[k], IH_MAX_ATOMS, &counts[k]) != 0 || counts[k] == 0) ok = 0;
        if (!ok) {
            if (nt < n_species)
                ih_set_error("%s: line 7: %d species named on line 6 but %d atom counts", name,
                             n_species, nt);
            else
                ih_set_error("%s: line 7: atom count %s is not a positive integer (<= %d)", name,
                             ih_excerpt(tok[k]), IH_MAX_ATOMS);
            free(tok);
            goto done;
        }
        if (nt > n_species) {
            long extra;
            if (ih_parse_count(tok[n_species], IH_MAX_ATOMS, &extra) == 0) {
                ih_set_error("%s: line 7: %d atom counts but %d species named on line 6", name, nt,
                             n_species);
                free(tok);
                goto done;
            }
        }
        free(tok);
        for (k = 0; k < n_species; k++) n_atoms += counts[k];
        if (n_atoms > IH_MAX_ATOMS) {
            ih_set_error("%s: line 7: %ld atoms is more than ionhop handles (%d)", name, n_atoms,
                         IH_MAX_ATOMS);
            goto done;
        }
    }
    /* optional "Selective dynamics", then the coordinate mode */
    int li = 7;
    NEED_LINE(li, "coordinate mode line (Direct/Cartesian)");
    {
        ih_span t;
        if (ih_tokens(L.line[li], &t, 1) > 0 && (t.p[0] == 'S' || t.p[0] == 's')) li++;
    }
    NEED_LINE(li, "coordinate mode line (Direct/Cartesian)");
    int cartesian;
    {
        ih_span t;
        if (ih_tokens(L.line[li], &t, 1) == 0) {
            ih_set_error("%s: line %d: expected \"Direct\" or \"Cartesian\", found a blank line", name,
                         li + 1);
            goto done;
        }
        char c = t.p[0];
        if (c == 'D' || c == 'd')
            cartesian = 0;
        else if (c == 'C' || c == 'c' || c == 'K' || c == 'k')
            cartesian = 1;
        else {
            ih_set_error("%s: line %d: expected \"Direct\" or \"Cartesian\", found %s", name, li + 1,
                         ih_excerpt(t));
            goto done;
        }
    }
    li++;
    if (L.n - li < n_atoms) {
        ih_set_error("%s: truncated POSCAR: the counts line declares %ld atoms but only %d "
                     "position lines follow",
                     name, n_atoms, L.n - li);
        goto done;
    }
    if (ih_structure_init(out, (int)n_atoms) != 0) {
        ih_set_error("%s: out of memory for %ld atoms", name, n_atoms);
        goto done;
    }
    double *pos = out->frac;
    if (cartesian) {
        out->cart = malloc(3 * (size_t)n_atoms * sizeof *out->cart);
        if (!out->cart) {
            ih_set_error("%s: out of memory", name);
            goto done;
        }
        pos = out->cart;
    }
    {
        int a = 0;
        for (int k = 0; k < n_species; k++) {
            int z = ih_element_from_label(species[k]);
            for (long c = 0; c < counts[k]; c++) out->z[a++] = z;
        }
    }
    for (long a = 0; a < n_atoms; a++) {
        int bad;
        ih_span bt;
        int got = line_reals(L.line[li + a], pos + 3 * a, 3, &bad, &bt);
        if (got < 3) {
            char what[48];
            snprintf(what, sizeof what, "position of atom %ld", a + 1);
            if (got == 0 && bad == 0)
                ih_set_error("%s: line %ld: expected the position of atom %ld of %ld, found a blank "
                             "line (wrong atom counts?)",
                             name, li + a + 1, a + 1, n_atoms);
            else
                real_error(name, (int)(li + a + 1), what, bad, bt, got, 3);
            goto done;
        }
    }
    /* A further line of three numbers straight after the positions means the counts line is
     * short; CONTCAR velocities are separated by a blank line and are not caught here. */
    if (li + n_atoms < L.n) {
        double v[3];
        int bad;
        ih_span bt;
        if (line_reals(L.line[li + n_atoms], v, 3, &bad, &bt) == 3) {
            ih_set_error("%s: line %ld: more positions than the %ld atoms of the counts line", name,
                         li + n_atoms + 1, n_atoms);
            goto done;
        }
    }
    double vol = 0;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) out->lattice[r][c] = lat[r][c] * scale[c];
    if (target_volume > 0) {
        /* VASP: a negative scale is the cell volume; the lattice and Cartesian positions are
         * scaled by (V_target / V_given)^(1/3) */
        vol = fabs(ih_structure_volume(out));
        if (!(vol > 1e-12) || !isfinite(vol)) {
            ih_set_error("%s: degenerate lattice (cell volume %.3g Å^3): zero-volume or flat cell",
                         name, vol);
            goto done;
        }
        double f = cbrt(target_volume / vol);
        for (int c = 0; c < 3; c++) scale[c] = f;
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) out->lattice[r][c] = lat[r][c] * f;
    }
    if (cartesian) {
        for (long a = 0; a < n_atoms; a++)
            for (int c = 0; c < 3; c++) out->cart[3 * a + c] *= scale[c];
        if (ih_frac_from_cart(out, name) != 0) goto done;
    }
    if (ih_structure_validate(out, name, IH_MIN_SEPARATION, 0) != 0) goto done;
    rc = 0;
done:
#undef NEED_LINE
    if (rc != 0) ih_structure_free(out);
    free(species);
    free(counts);
    ih_lines_free(&L);
    return rc;
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
