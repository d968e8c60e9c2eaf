/* The canonical cell of a crystal: the primitive cell that spglib finds (lattice not rotated, so
 * Cartesian geometry is kept), Niggli-reduced, atoms wrapped into it. Primitive, conventional and
 * super-cells of one crystal, with any origin or atom order, give the same canonical cell up to the
 * crystal's own symmetry, which is what makes a prediction independent of how the cell was
 * written. */
#include "core/util.h"

#include <math.h>
#include <spglib.h>
#include <stdlib.h>
#include <string.h>

static double norm3(const double x[3]) { return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]); }

/* The atom of element z in c at Cartesian x modulo c's lattice: its index and the lattice image
 * n with x = r_atom + n·L (within tol Å), or -1. */
static int find_site(const ih_structure *c, const double inv[3][3], int z, const double x[3], double tol,
                      int image[3]) {
    double f[3];
    for (int j = 0; j < 3; j++) f[j] = x[0] * inv[0][j] + x[1] * inv[1][j] + x[2] * inv[2][j];
    for (int a = 0; a < c->n_atoms; a++) {
        if (c->z[a] != z) continue;
        double d[3], w[3], y[3];
        for (int k = 0; k < 3; k++) d[k] = f[k] - c->frac[3 * a + k], w[k] = d[k] - nearbyint(d[k]);
        ih_frac_to_cart(c->lattice, w, y);
        if (norm3(y) < tol) {
            for (int k = 0; k < 3; k++) image[k] = (int)nearbyint(d[k]);
            return a;
        }
    }
    return -1;
}

/* Does every atom of s land on an atom of c after the Cartesian shift? */
static int shift_maps(const ih_structure *s, const ih_structure *c, const double inv[3][3], const double shift[3],
                      double tol) {
    for (int a = 0; a < s->n_atoms; a++) {
        double r[3], x[3];
        int image[3];
        ih_structure_cart(s, a, r);
        for (int k = 0; k < 3; k++) x[k] = r[k] + shift[k];
        if (find_site(c, inv, s->z[a], x, tol, image) < 0) return 0;
    }
    return 1;
}

int ih_canonical_cell(const ih_structure *s, double symprec, ih_structure *out, double shift[3]) {
    int n = s->n_atoms;
    double lat[3][3], (*pos)[3] = malloc((size_t)n * sizeof *pos);
    int *types = malloc((size_t)n * sizeof *types);
    if (!pos || !types) {
        free(pos), free(types);
        return ih_set_error("out of memory");
    }
    /* spglib takes lattice vectors as columns */
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) lat[c][r] = s->lattice[r][c];
    for (int i = 0; i < n; i++) {
        types[i] = s->z[i];
        for (int c = 0; c < 3; c++) pos[i][c] = s->frac[3 * i + c];
    }
    int m = spg_standardize_cell(lat, pos, types, n, 1, 1, symprec);
    if (m <= 0) { /* no symmetry found: the cell itself, reduced */
        m = n;
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) lat[c][r] = s->lattice[r][c];
        for (int i = 0; i < n; i++) {
            types[i] = s->z[i];
            for (int c = 0; c < 3; c++) pos[i][c] = s->frac[3 * i + c];
        }
    }
    double before[3][3];
    memcpy(before, lat, sizeof before);
    spg_niggli_reduce(lat, symprec);
    /* positions into the reduced basis: x = f·L_before (rows), f' = x·L_after⁻¹ */
    double Lb[3][3], La[3][3], inv[3][3];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) Lb[r][c] = before[c][r], La[r][c] = lat[c][r];
    if (ih_mat3_inverse(La, inv, NULL) != 0) {
        free(pos), free(types);
        return ih_set_error("canonical cell: degenerate lattice");
    }
    if (ih_structure_init(out, m) != 0) {
        free(pos), free(types);
        return -1;
    }
    memcpy(out->lattice, La, sizeof La);
    snprintf(out->jid, sizeof out->jid, "%s", s->jid);
    for (int i = 0; i < m; i++) {
        double x[3];
        ih_frac_to_cart(Lb, pos[i], x);
        out->z[i] = types[i];
        for (int j = 0; j < 3; j++) {
            double f = x[0] * inv[0][j] + x[1] * inv[1][j] + x[2] * inv[2][j];
            f -= floor(f);
            out->frac[3 * i + j] = f >= 1.0 ? 0.0 : f;
        }
    }
    free(pos), free(types);
    /* the origin shift: atom 0 of s onto each atom of its element in turn; unique modulo the
     * lattice, since the canonical cell is primitive */
    double r0[3];
    ih_structure_cart(s, 0, r0);
    double tol = symprec > 1e-3 ? 2 * symprec : 2e-3;
    for (int b = 0; b < m; b++) {
        if (out->z[b] != s->z[0]) continue;
        double rb[3];
        ih_structure_cart(out, b, rb);
        for (int k = 0; k < 3; k++) shift[k] = rb[k] - r0[k];
        if (shift_maps(s, out, inv, shift, tol)) return 0;
    }
    ih_structure_free(out);
    return ih_set_error("canonical cell: the primitive cell found does not map onto the structure (tolerance %g Å)",
                        symprec);
}

int ih_hop_to_cell(const ih_structure *s, const ih_hop *h, const ih_structure *c, const double shift[3],
                   double symprec, ih_hop *out) {
    double inv[3][3];
    if (ih_mat3_inverse(c->lattice, inv, NULL) != 0) return ih_set_error("canonical cell: degenerate lattice");
    double tol = symprec > 1e-3 ? 2 * symprec : 2e-3;
    double r[3], x[3], d[3];
    ih_structure_cart(s, h->from, r);
    ih_frac_to_cart(s->lattice, h->step, d);
    for (int k = 0; k < 3; k++) x[k] = r[k] + shift[k];
    int img_from[3], img_to[3];
    int a = find_site(c, inv, s->z[h->from], x, tol, img_from);
    for (int k = 0; k < 3; k++) x[k] += d[k];
    int b = a < 0 ? -1 : find_site(c, inv, s->z[h->to], x, tol, img_to);
    if (a < 0 || b < 0) return ih_set_error("hop from site %d: no matching site in the canonical cell", h->from + 1);
    *out = *h;
    out->from = a, out->to = b;
    for (int k = 0; k < 3; k++) {
        out->image[k] = img_to[k] - img_from[k];
        out->step[k] = c->frac[3 * b + k] + out->image[k] - c->frac[3 * a + k];
    }
    return 0;
}
