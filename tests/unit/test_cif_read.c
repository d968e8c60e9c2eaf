/* CIF reading beyond the plain case, and compressed files of every format.
 *
 * 1. Magnetic CIFs: antiferromagnetic NiO's magnetic cell (rock salt doubled along [111], written
 *    with operations and centerings as MAGNDATA does) against rock salt placed in that cell
 *    independently, from the cubic lattice, and against the same crystal as a P1 CIF; every
 *    spelling of the tags; operations combined with centerings on a general position; time
 *    reversal ",-1" accepted; what cannot be expanded (a magnetic group named without operations,
 *    modulated structures, magnetic and ordinary operations that disagree) refused.
 * 2. Symmetry that must not be left unapplied: two ordinary operation lists, a space-group name
 *    against its number, fewer listed operations than the named group has (a warning).
 * 3. '?' (unknown) and '.' (inapplicable/default) values, and standard uncertainties.
 * 4. Data blocks: the first with atom sites and a warning when several hold some; a block chosen
 *    by name; a missing name listing the blocks.
 * 5. gzip: every format read compressed, the format told by the name without .gz. */
#include "check.h"
#include "tmpdir.h"
#include "core/util.h"

/* the data block `block` of a file (NULL: the default choice) */
static int read_block(const char *path, const char *block, ih_structure *s) {
    ih_read_opts o = {.block = block};
    return ih_read_structure_opts(path, IH_FMT_UNKNOWN, &o, s);
}

#include <unistd.h>
#include <zlib.h>

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static void write_gz(const char *path, const void *data, size_t len) {
    gzFile g = gzopen(path, "wb");
    CHECK(g != NULL && gzwrite(g, data, (unsigned)len) == (int)len);
    if (g) gzclose(g);
}

/* the error is one line holding every needle */
static int error_says(const char *a, const char *b) {
    const char *e = ih_last_error();
    int ok = strstr(e, a) && (!b || strstr(e, b)) && !strchr(e, '\n');
    if (!ok) fprintf(stderr, "error '%s' lacks '%s'%s%s\n", e, a, b ? " or " : "", b ? b : "");
    return ok;
}

static int parse_fails(const char *text, const char *name, const char *a, const char *b) {
    ih_structure s;
    if (ih_parse_cif(text, name, &s) == 0) {
        fprintf(stderr, "%s accepted: %.300s\n", name, text);
        ih_structure_free(&s);
        return 0;
    }
    return error_says(a, b);
}

/* every (element, fractional position modulo 1) of b matched by one of a, and as many */
static int same_sites(const ih_structure *a, int nb, const int *zb, const double *fb, double tol) {
    if (a->n_atoms != nb) return 0;
    char *used = calloc((size_t)nb, 1);
    int ok = 1;
    for (int i = 0; i < a->n_atoms && ok; i++) {
        int found = 0;
        for (int j = 0; j < nb && !found; j++) {
            if (used[j] || zb[j] != a->z[i]) continue;
            int same = 1;
            for (int k = 0; k < 3 && same; k++) {
                double d = a->frac[3 * i + k] - fb[3 * j + k];
                same = fabs(d - floor(d + 0.5)) < tol;
            }
            if (same) used[j] = 1, found = 1;
        }
        ok = found;
    }
    free(used);
    return ok;
}

/* warnings of one call, captured (and kept off stderr) */
static int n_warnings;
static char warning[1024];
static void ignore_warning(const char *message, void *user) { (void)message, (void)user; }
static void capture_begin(void) {
    ih_set_warning_handler(ignore_warning, NULL);
    ih_warnings_capture_begin();
}
static void capture_end(void) {
    char **msgs;
    n_warnings = ih_warnings_capture_end(&msgs);
    ih_set_warning_handler(NULL, NULL);
    warning[0] = '\0';
    for (int k = 0; k < n_warnings; k++) {
        if (k == 0) snprintf(warning, sizeof warning, "%s", msgs[k]);
        free(msgs[k]);
    }
    free(msgs);
}

/* ---- 1. magnetic CIFs ----------------------------------------------------------------------- */

#define A0 4.17 /* NiO, rock salt, Å */

/* NiO's type-II antiferromagnetic order (ferromagnetic (111) planes alternating) in hexagonal axes
 * with c doubled along [111]: a = a0/√2, c = 2√3 a0. The magnetic group: the rotations of -3m
 * (2-fold axes and mirrors primed, the moments taken along [111] for simplicity) and the R
 * centering, each translation also with the anti-translation (0,0,1/2)'. */
static const char *const NIO_OPS[] = {"x,y,z,+1",   "-y,x-y,z,+1",  "-x+y,-x,z,+1", "y,x,-z,-1",
                                      "x-y,-y,-z,-1", "-x,-x+y,-z,-1", "-x,-y,-z,+1",  "y,-x+y,-z,+1",
                                      "x-y,x,-z,+1",  "-y,-x,z,-1",    "-x+y,y,z,-1",  "x,x-y,z,-1"};
static const char *const NIO_CENTERINGS[] = {"x,y,z,+1",         "x+1/3,y+2/3,z+1/3,+1", "x+2/3,y+1/3,z+2/3,+1",
                                             "x,y,z+1/2,-1",     "x+1/3,y+2/3,z+5/6,-1", "x+2/3,y+1/3,z+1/6,-1"};

/* the magCIF text; op_tag/cen_tag name the loops (NULL: leave that loop out), extra goes before the
 * atom sites */
static void nio_mcif(char *buf, size_t cap, const char *op_tag, const char *cen_tag, const char *extra) {
    size_t n = (size_t)snprintf(buf, cap,
                                "# NiO, type-II antiferromagnet\ndata_NiO_AFM\n_cell_length_a %.10f\n_cell_length_b %.10f\n"
                                "_cell_length_c %.10f\n_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 120\n"
                                "_space_group_magn.name_BNS \"R_I-3c\"\n",
                                A0 / sqrt(2.0), A0 / sqrt(2.0), 2 * sqrt(3.0) * A0);
    if (op_tag) {
        n += (size_t)snprintf(buf + n, cap - n, "loop_\n%s_id\n%s\n", op_tag, op_tag);
        for (int k = 0; k < 12; k++) n += (size_t)snprintf(buf + n, cap - n, "%d %s\n", k + 1, NIO_OPS[k]);
    }
    if (cen_tag) {
        n += (size_t)snprintf(buf + n, cap - n, "loop_\n%s_id\n%s\n", cen_tag, cen_tag);
        for (int k = 0; k < 6; k++) n += (size_t)snprintf(buf + n, cap - n, "%d %s\n", k + 1, NIO_CENTERINGS[k]);
    }
    snprintf(buf + n, cap - n,
             "%sloop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
             "_atom_site_fract_z\n_atom_site_occupancy\nNi1 Ni 0 0 0 1\nO1 O 0 0 0.25 1\n"
             "loop_\n_atom_site_moment.label\n_atom_site_moment.crystalaxis_x\n_atom_site_moment.crystalaxis_y\n"
             "_atom_site_moment.crystalaxis_z\nNi1 0 0 1.9\n",
             extra ? extra : "");
}

/* Rock salt in the same cell, from the cubic lattice: the cell's vectors in cubic axes
 * a = a0/2 (1,0,-1), b = a0/2 (-1,1,0), c = 2 a0 (1,1,1) (the obverse setting: the other choice of
 * a and b puts the same crystal at its mirror image); every Ni (i+j+k even) and O (odd) of
 * a0/2 (i,j,k) in fractional coordinates of that cell, each once. Returns the count. */
static int rock_salt_in_cell(int *z, double *frac, int cap) {
    const double M[3][3] = {{A0 / 2, 0, -A0 / 2}, {-A0 / 2, A0 / 2, 0}, {2 * A0, 2 * A0, 2 * A0}};
    double inv[3][3];
    if (ih_mat3_inverse(M, inv, NULL) != 0) return -1;
    int n = 0;
    for (int i = -12; i <= 12; i++)
        for (int j = -12; j <= 12; j++)
            for (int k = -12; k <= 12; k++) {
                double r[3] = {A0 / 2 * i, A0 / 2 * j, A0 / 2 * k}, f[3];
                for (int c = 0; c < 3; c++) {
                    f[c] = r[0] * inv[0][c] + r[1] * inv[1][c] + r[2] * inv[2][c];
                    f[c] -= floor(f[c] + 1e-9);
                    if (f[c] > 1 - 1e-9) f[c] = 0;
                }
                int el = (i + j + k) % 2 == 0 ? 28 : 8, dup = 0;
                for (int q = 0; q < n && !dup; q++) {
                    double d = 0;
                    for (int c = 0; c < 3; c++) d += fabs(frac[3 * q + c] - f[c]);
                    dup = z[q] == el && d < 1e-6;
                }
                if (dup) continue;
                if (n == cap) return -1;
                z[n] = el;
                memcpy(frac + 3 * n, f, sizeof f);
                n++;
            }
    return n;
}

static void magnetic_nio(void) {
    int z[64];
    double frac[3 * 64];
    int n_ref = rock_salt_in_cell(z, frac, 64);
    CHECK_INT(n_ref, 12); /* 6 NiO: 3 per hexagonal cell of rock salt, c doubled */
    static char text[8192];
    static const char *const spellings[][2] = {
        {"_space_group_symop_magn_operation.xyz", "_space_group_symop_magn_centering.xyz"},  /* magCIF */
        {"_space_group_symop.magn_operation_xyz", "_space_group_symop.magn_centering_xyz"},  /* interim DDLm */
        {"_space_group_symop_magn_operation_xyz", "_space_group_symop_magn_centering_xyz"},  /* CIF 1 */
        {"_SPACE_GROUP_SYMOP_MAGN_OPERATION.XYZ", "_Space_Group_Symop_Magn_Centering.xyz"}, /* case */
    };
    ih_structure m = {0};
    for (int v = 0; v < 4; v++) {
        nio_mcif(text, sizeof text, spellings[v][0], spellings[v][1], NULL);
        ih_structure s;
        int rc = ih_parse_cif(text, "nio.mcif", &s);
        CHECK_MSG(rc == 0, "%s: %s", spellings[v][0], ih_last_error());
        if (rc != 0) continue;
        CHECK_MSG(s.n_atoms == 12, "%s: %d atoms", spellings[v][0], s.n_atoms);
        CHECK_MSG(same_sites(&s, n_ref, z, frac, 1e-6), "%s: not rock salt", spellings[v][0]);
        /* the cell: the metric of the cubic-axes vectors above */
        CHECK_NEAR(ih_structure_volume(&s), 12 * A0 * A0 * A0 / 8, 1e-6); /* 12 atoms of a0³/8 each */
        if (v == 0) m = s;
        else ih_structure_free(&s);
    }
    /* the same crystal as a plain P1 CIF gives the same atoms */
    if (m.z) {
        ih_structure p1;
        CHECK(ih_structure_init(&p1, n_ref) == 0);
        memcpy(p1.lattice, m.lattice, sizeof m.lattice);
        memcpy(p1.z, z, sizeof(int) * (size_t)n_ref);
        memcpy(p1.frac, frac, sizeof(double) * 3 * (size_t)n_ref);
        CHECK(ih_write_cif(tmp_path("nio_p1.cif"), &p1) == 0);
        ih_structure_free(&p1);
        CHECK(ih_read_structure(tmp_path("nio_p1.cif"), IH_FMT_UNKNOWN, &p1) == 0);
        if (p1.z) {
            CHECK(same_sites(&p1, m.n_atoms, m.z, m.frac, 1e-9));
            double dl = 0;
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) dl = fmax(dl, fabs(p1.lattice[i][j] - m.lattice[i][j]));
            CHECK(dl < 1e-9);
            ih_structure_free(&p1);
        }
        /* the file as .mcif, through the format guess */
        nio_mcif(text, sizeof text, spellings[0][0], spellings[0][1], NULL);
        write_text(tmp_path("NiO.mcif"), text);
        CHECK_INT(ih_guess_format(tmp_path("NiO.mcif")), IH_FMT_CIF);
        ih_structure f;
        CHECK(ih_read_structure(tmp_path("NiO.mcif"), IH_FMT_UNKNOWN, &f) == 0);
        if (f.z) {
            CHECK(f.n_atoms == 12 && same_sites(&f, m.n_atoms, m.z, m.frac, 1e-12));
            ih_structure_free(&f);
        }
        ih_structure_free(&m);
    }
    /* the centerings matter here: without them the operations alone give Ni 1 and O 2 */
    nio_mcif(text, sizeof text, spellings[0][0], NULL, NULL);
    ih_structure s;
    CHECK(ih_parse_cif(text, "nio_no_centering.mcif", &s) == 0);
    if (s.z) {
        CHECK_INT(s.n_atoms, 3);
        ih_structure_free(&s);
    }
    /* a magnetic group named without its operations cannot be expanded: refused, not read as P1 */
    nio_mcif(text, sizeof text, NULL, NULL, NULL);
    CHECK(parse_fails(text, "nio_name_only.mcif", "nio_name_only.mcif: magnetic space group 'R_I-3c'",
                      "without its operations"));
    nio_mcif(text, sizeof text, NULL, spellings[0][1], NULL);
    CHECK(parse_fails(text, "nio_centerings.mcif", "centerings", "without the operations"));
    /* ordinary operations beside magnetic ones: they must give the same crystal */
    nio_mcif(text, sizeof text, spellings[0][0], spellings[0][1], "loop_\n_symmetry_equiv_pos_as_xyz\n'x, y, z'\n");
    CHECK(parse_fails(text, "nio_both.mcif", "nio_both.mcif: its magnetic symmetry operations", "contradicts itself"));
    /* a modulated (incommensurate) magnetic structure */
    nio_mcif(text, sizeof text, NULL, NULL,
             "loop_\n_space_group_symop_magn_ssg_operation.id\n_space_group_symop_magn_ssg_operation.algebraic\n"
             "1 x1,x2,x3,x4,+1\n");
    CHECK(parse_fails(text, "nio_ssg.mcif", "nio_ssg.mcif", "modulated (superspace)"));
}

/* Operations combined with centerings on a general position: P-1 with the anti-centering
 * (1/2,1/2,0)' gives four Li from one. */
static void magnetic_general(void) {
    const char *head = "data_g\n_cell_length_a 8\n_cell_length_b 8\n_cell_length_c 8\n_cell_angle_alpha 90\n"
                       "_cell_angle_beta 90\n_cell_angle_gamma 90\n";
    const char *site = "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
                       "Li1 0.1 0.2 0.3\n";
    const int zw[4] = {3, 3, 3, 3};
    const double want[12] = {0.1, 0.2, 0.3, 0.9, 0.8, 0.7, 0.6, 0.7, 0.3, 0.4, 0.3, 0.7};
    static const struct {
        const char *sym;
        int n;
    } cases[] = {
        /* time reversal given, spaces around it, or left out */
        {"loop_\n_space_group_symop_magn_operation.xyz\n'x,y,z,+1'\n'-x,-y,-z,-1'\n"
         "loop_\n_space_group_symop_magn_centering.xyz\n'x,y,z,+1'\n'x+1/2,y+1/2,z,-1'\n", 4},
        {"loop_\n_space_group_symop_magn_operation.xyz\n'x, y, z, +1'\n'-x, -y, -z, 1'\n"
         "loop_\n_space_group_symop_magn_centering.xyz\n'x, y, z, 1'\n'x+1/2, y+1/2, z, -1'\n", 4},
        {"loop_\n_space_group_symop_magn_operation.xyz\nx,y,z\n-x,-y,-z\n"
         "loop_\n_space_group_symop_magn_centering.xyz\nx,y,z\nx+1/2,y+1/2,z\n", 4},
        /* a grey group: every operation also primed ("x,y,z,-1"), the same atoms */
        {"loop_\n_space_group_symop_magn_operation.xyz\nx,y,z,+1\n-x,-y,-z,+1\n"
         "loop_\n_space_group_symop_magn_centering.xyz\nx,y,z,+1\nx,y,z,-1\nx+1/2,y+1/2,z,+1\nx+1/2,y+1/2,z,-1\n", 4},
        /* the ordinary operations listed too, the same group in another order and spelling */
        {"loop_\n_symmetry_equiv_pos_as_xyz\n'x,y,z'\n'1/2+x,1/2+y,z'\n'-x,-y,-z'\n'1/2-x,1/2-y,-z'\n"
         "loop_\n_space_group_symop_magn_operation.xyz\nx,y,z,+1\n-x,-y,-z,-1\n"
         "loop_\n_space_group_symop_magn_centering.xyz\nx,y,z,+1\nx+1/2,y+1/2,z,-1\n", 4},
        /* a magnetic group named, its operations listed as ordinary ones: those are used */
        {"_space_group_magn.name_BNS 'C_a-1'\nloop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n-x,-y,-z\n"
         "x+1/2,y+1/2,z\n-x+1/2,-y+1/2,-z\n", 4},
        /* centerings left out: the operations alone */
        {"loop_\n_space_group_symop_magn_operation.xyz\nx,y,z,+1\n-x,-y,-z,-1\n", 2},
    };
    char t[2048];
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        snprintf(t, sizeof t, "%s%s%s", head, cases[k].sym, site);
        ih_structure s;
        int rc = ih_parse_cif(t, "general.mcif", &s);
        CHECK_MSG(rc == 0, "case %zu: %s", k, ih_last_error());
        if (rc != 0) continue;
        CHECK_MSG(s.n_atoms == cases[k].n, "case %zu: %d atoms", k, s.n_atoms);
        if (cases[k].n == 4) CHECK_MSG(same_sites(&s, 4, zw, want, 1e-12), "case %zu: positions", k);
        ih_structure_free(&s);
    }
    static const struct {
        const char *sym, *a, *b;
    } bad[] = {
        {"loop_\n_space_group_symop_magn_operation.xyz\nx,y,z,+2\n", "'x,y,z,+2'", "time reversal, is not +1 or -1"},
        {"loop_\n_space_group_symop_magn_operation.xyz\n'x,y,z,+1,1'\n", "'x,y,z,+1,1'", "more than four components"},
        {"loop_\n_space_group_symop_magn_operation.xyz\n'x,y'\n", "'x,y'", "fewer than three components"},
        /* a time reversal in an ordinary operation is not one */
        {"loop_\n_symmetry_equiv_pos_as_xyz\n'x,y,z,-1'\n", "'x,y,z,-1'", "more than three components"},
        /* ordinary and magnetic operations that disagree */
        {"loop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n-x,-y,-z\nloop_\n_space_group_symop_magn_operation.xyz\nx,y,z,+1\n"
         "-x,-y,-z,-1\nloop_\n_space_group_symop_magn_centering.xyz\nx,y,z,+1\nx+1/2,y+1/2,z,-1\n",
         "give 4 atoms and its ordinary ones (_symmetry_equiv_pos_as_xyz) 2", "contradicts itself"},
        {"loop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\nx+1/2,y,z+1/2\nloop_\n_space_group_symop_magn_operation.xyz\nx,y,z,+1\n"
         "loop_\n_space_group_symop_magn_centering.xyz\nx,y,z,+1\nx+1/2,y+1/2,z,-1\n",
         "give 2 atoms and its ordinary ones (_symmetry_equiv_pos_as_xyz) 2 at other sites", "contradicts itself"},
        /* magnetic symmetry only named */
        {"_space_group_magn.number_BNS 2.7\n", "magnetic space group '2.7'", "without its operations"},
        {"_space_group.magn_name_BNS 'C_a-1'\n", "magnetic space group 'C_a-1'", NULL},
        {"_magnetic_space_group.transform_to_standard_Pp_abc 'a,b,c;0,0,0'\n",
         "magnetic symmetry ('_magnetic_space_group.tr", "without its operations"},
        /* modulated structures, magnetic or not */
        {"loop_\n_space_group_symop_ssg_operation_algebraic\n'x1,x2,x3,x4'\n", "modulated", NULL},
        {"_cell_modulation_dimension 1\nloop_\n_cell_wave_vector_seq_id\n_cell_wave_vector_x\n1 0.3\n", "modulated", NULL},
        {"_cell_modulation_dimension 1\n", "_cell_modulation_dimension 1", "modulated"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        snprintf(t, sizeof t, "%s%s%s", head, bad[k].sym, site);
        CHECK_MSG(parse_fails(t, "bad.mcif", bad[k].a, bad[k].b), "bad case %zu", k);
    }
    /* a modulation dimension of 0 is an ordinary crystal */
    snprintf(t, sizeof t, "%s_cell_modulation_dimension 0\n%s", head, site);
    ih_structure s;
    CHECK(ih_parse_cif(t, "dim0.cif", &s) == 0);
    if (s.z) ih_structure_free(&s);
}

/* ---- 2. ordinary symmetry not left unapplied ----------------------------------------------- */

static const char *CUBIC = "data_c\n_cell_length_a 5.64\n_cell_length_b 5.64\n_cell_length_c 5.64\n"
                           "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n";
static const char *NACL = "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
                          "_atom_site_fract_z\nNa1 Na 0 0 0\nCl1 Cl 0.5 0.5 0.5\n";

static void symmetry_checks(void) {
    char t[4096];
    ih_structure s;
    /* both ordinary lists: the same group in any order is fine, different groups are refused */
    snprintf(t, sizeof t, "%sloop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n-x,-y,-z\nloop_\n"
                          "_space_group_symop_operation_xyz\n'-x, -y, -z'\n'x, y, z'\n%s", CUBIC, NACL);
    CHECK_MSG(ih_parse_cif(t, "two_lists.cif", &s) == 0, "%s", ih_last_error());
    if (s.z) ih_structure_free(&s);
    snprintf(t, sizeof t, "%sloop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n-x,-y,-z\nloop_\n"
                          "_space_group_symop_operation_xyz\nx,y,z\nx+1/2,y+1/2,z\n%s", CUBIC, NACL);
    CHECK(parse_fails(t, "two_lists.cif", "_symmetry_equiv_pos_as_xyz and _space_group_symop_operation_xyz",
                      "list different symmetry operations"));
    /* a name and a number that disagree, without operations: refused rather than one of them picked */
    snprintf(t, sizeof t, "%s_symmetry_space_group_name_H-M 'F m -3 m'\n_symmetry_Int_Tables_number 221\n%s", CUBIC, NACL);
    CHECK(parse_fails(t, "mismatch.cif", "space group 'F m -3 m' is number 225", "gives 221"));
    snprintf(t, sizeof t, "%s_symmetry_space_group_name_H-M 'P 1'\n_space_group_IT_number 225\n%s", CUBIC, NACL);
    CHECK(parse_fails(t, "mismatch.cif", "space group 'P 1' is number 1", "gives 225"));
    snprintf(t, sizeof t, "%s_symmetry_space_group_name_H-M 'F m -3 m'\n_symmetry_Int_Tables_number 225\n%s", CUBIC, NACL);
    CHECK(ih_parse_cif(t, "agree.cif", &s) == 0 && s.n_atoms == 8);
    if (s.z) ih_structure_free(&s);
    /* listed operations fewer than the named group's: read with a warning */
    snprintf(t, sizeof t, "%s_symmetry_space_group_name_H-M 'F m -3 m'\nloop_\n_symmetry_equiv_pos_as_xyz\n'x, y, z'\n%s",
             CUBIC, NACL);
    capture_begin();
    int rc = ih_parse_cif(t, "short.cif", &s);
    capture_end();
    CHECK(rc == 0 && s.n_atoms == 2);
    if (rc == 0) ih_structure_free(&s);
    CHECK_INT(n_warnings, 1);
    CHECK_MSG(strstr(warning, "short.cif: lists 1 distinct symmetry operation (_symmetry_equiv_pos_as_xyz)") &&
                  strstr(warning, "fewer than the 192 of space group 'F m -3 m'"),
              "%s", warning);
    /* as many as the group: no warning (duplicates and lattice translations are not counted) */
    snprintf(t, sizeof t, "%s_symmetry_space_group_name_H-M 'P -1'\nloop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n-x,-y,-z\n"
                          "x+1,y,z\n%s", CUBIC, NACL);
    capture_begin();
    rc = ih_parse_cif(t, "full.cif", &s);
    capture_end();
    CHECK(rc == 0 && n_warnings == 0);
    if (rc == 0) ih_structure_free(&s);
}

/* ---- 3. '?' and '.' ------------------------------------------------------------------------- */

static void unknown_values(void) {
    const char *cell = "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n"
                       "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n";
    const char *cols = "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
                       "_atom_site_fract_z\n_atom_site_occupancy\n";
    char t[2048];
    ih_structure s, ref;
    snprintf(t, sizeof t, "%s%sCs1 Cs 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 1\n", cell, cols);
    CHECK(ih_parse_cif(t, "ref.cif", &ref) == 0);
    /* '?' coordinate: an error naming the site (by its label, or its row when the label is '?') */
    snprintf(t, sizeof t, "%s%sCs1 Cs 0 0 0 1\nCl1 Cl 0.5 ? 0.5 1\n", cell, cols);
    CHECK(parse_fails(t, "q.cif", "q.cif: line 16: site 'Cl1' has an unknown coordinate", NULL));
    snprintf(t, sizeof t, "%s%sCs1 Cs 0 0 0 1\n? Cl ? 0.5 0.5 1\n", cell, cols);
    CHECK(parse_fails(t, "q.cif", "site 2 has an unknown coordinate", NULL));
    /* '.' coordinate: 0 */
    snprintf(t, sizeof t, "%s%sCs1 Cs . . . 1\nCl1 Cl 0.5 0.5 0.5 1\n", cell, cols);
    CHECK(ih_parse_cif(t, "dot.cif", &s) == 0 && s.n_atoms == 2 && !memcmp(s.frac, ref.frac, 6 * sizeof(double)));
    if (s.z) ih_structure_free(&s);
    /* '?' and '.' occupancy: 1 */
    snprintf(t, sizeof t, "%s%sCs1 Cs 0 0 0 ?\nCl1 Cl 0.5 0.5 0.5 .\n", cell, cols);
    CHECK(ih_parse_cif(t, "occ.cif", &s) == 0 && s.n_atoms == 2 && s.z[0] == 55 && s.z[1] == 17);
    if (s.z) ih_structure_free(&s);
    /* '?' or '.' type symbol: the element from the label */
    snprintf(t, sizeof t, "%s%sCs1 ? 0 0 0 1\nCl1 . 0.5 0.5 0.5 1\n", cell, cols);
    CHECK(ih_parse_cif(t, "type.cif", &s) == 0 && s.n_atoms == 2 && s.z[0] == 55 && s.z[1] == 17);
    if (s.z) ih_structure_free(&s);
    snprintf(t, sizeof t, "%s%sCs1 Cs 0 0 0 1\n? ? 0.5 0.5 0.5 1\n", cell, cols);
    CHECK(parse_fails(t, "type.cif", "site 2: unknown element", NULL));
    /* cell: '?' length or angle an error naming the item, '.' length an error, '.' angle 90° */
    const char *sites = "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
                        "Cs1 0 0 0\nCl1 0.5 0.5 0.5\n";
    snprintf(t, sizeof t, "data_x\n_cell_length_a 4\n_cell_length_b ?\n_cell_length_c 4\n%s", sites);
    CHECK(parse_fails(t, "cell.cif", "line 3: _cell_length_b is unknown", NULL));
    snprintf(t, sizeof t, "data_x\n_cell_length_a 4\n_cell_length_b .\n_cell_length_c 4\n%s", sites);
    CHECK(parse_fails(t, "cell.cif", "_cell_length_b is not given", NULL));
    snprintf(t, sizeof t, "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n_cell_angle_alpha 90\n"
                          "_cell_angle_beta ?\n_cell_angle_gamma 90\n%s", sites);
    CHECK(parse_fails(t, "cell.cif", "_cell_angle_beta is unknown", NULL));
    snprintf(t, sizeof t, "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n_cell_angle_alpha .\n"
                          "_cell_angle_beta .\n_cell_angle_gamma .\n%s", sites);
    CHECK(ih_parse_cif(t, "angles.cif", &s) == 0);
    if (s.z) {
        CHECK(!memcmp(s.lattice, ref.lattice, sizeof s.lattice));
        ih_structure_free(&s);
    }
    /* standard uncertainties: cell, coordinates, occupancy */
    snprintf(t, sizeof t, "data_x\n_cell_length_a 4.0000(5)\n_cell_length_b 4(1)\n_cell_length_c 4.000(12)\n"
                          "_cell_angle_alpha 90.00(3)\n_cell_angle_beta 90\n_cell_angle_gamma 90.0(1)\n%s"
                          "Cs1 Cs 0 0 0 1.00(2)\nCl1 Cl 0.5000(3) 0.50(1) 0.5(2) 1\n", cols);
    CHECK(ih_parse_cif(t, "su.cif", &s) == 0);
    if (s.z) {
        CHECK(!memcmp(s.lattice, ref.lattice, sizeof s.lattice) && !memcmp(s.frac, ref.frac, 6 * sizeof(double)));
        ih_structure_free(&s);
    }
    snprintf(t, sizeof t, "%sloop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
                          "Cs1 -0.1250(3) 0 0\n", cell);
    CHECK(ih_parse_cif(t, "neg.cif", &s) == 0 && s.frac[0] == 0.875); /* wrapped into [0, 1) */
    if (s.z) ih_structure_free(&s);
    snprintf(t, sizeof t, "%s%sCs1 Cs 0 0 0 1\nCl1 Cl 0.5(3 0.5 0.5 1\n", cell, cols);
    CHECK(parse_fails(t, "su.cif", "site 'Cl1': coordinate '0.5(3' is not a number", NULL));
    ih_structure_free(&ref);
}

/* ---- 4. data blocks ------------------------------------------------------------------------- */

static void data_blocks(void) {
    const char *meta = "data_meta\n_journal_name_full 'J. Solid State Chem.'\n";
    const char *a = "data_A\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n_cell_angle_alpha 90\n"
                    "_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n_atom_site_label\n_atom_site_fract_x\n"
                    "_atom_site_fract_y\n_atom_site_fract_z\nCs1 0 0 0\nCl1 0.5 0.5 0.5\n";
    const char *b = "data_B\n_cell_length_a 3\n_cell_length_b 3\n_cell_length_c 3\n_cell_angle_alpha 90\n"
                    "_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n_atom_site_label\n_atom_site_fract_x\n"
                    "_atom_site_fract_y\n_atom_site_fract_z\nLi1 0 0 0\n";
    char t[4096];
    ih_structure s;
    /* several blocks with atoms: the first, and a warning naming how many and which */
    snprintf(t, sizeof t, "# comment\n%s%s%s", meta, a, b);
    capture_begin();
    int rc = ih_parse_cif(t, "multi.cif", &s);
    capture_end();
    CHECK(rc == 0 && s.n_atoms == 2 && s.z[0] == 55);
    if (rc == 0) ih_structure_free(&s);
    CHECK_INT(n_warnings, 1);
    CHECK_MSG(strstr(warning, "multi.cif: 2 data blocks hold atom sites; read the first, data_A"), "%s", warning);
    /* one block with atoms after metadata: no warning */
    snprintf(t, sizeof t, "%s%s", meta, b);
    capture_begin();
    rc = ih_parse_cif(t, "one.cif", &s);
    capture_end();
    CHECK(rc == 0 && s.n_atoms == 1 && n_warnings == 0);
    if (rc == 0) ih_structure_free(&s);
    /* a block chosen by name (case-insensitive, with or without data_), from a file */
    snprintf(t, sizeof t, "%s%s%s", meta, a, b);
    write_text(tmp_path("multi.cif"), t);
    static const char *const names_b[] = {"B", "b", "data_B", "DATA_b"};
    for (int k = 0; k < 4; k++) {
        capture_begin();
        rc = read_block(tmp_path("multi.cif"), names_b[k], &s);
        capture_end();
        CHECK_MSG(rc == 0 && s.n_atoms == 1 && s.z[0] == 3 && n_warnings == 0, "block %s: %s", names_b[k], ih_last_error());
        if (rc == 0) ih_structure_free(&s);
    }
    CHECK(read_block(tmp_path("multi.cif"), "A", &s) == 0 && s.n_atoms == 2);
    if (s.z) ih_structure_free(&s);
    /* NULL: the default choice, as ih_read_cif */
    capture_begin();
    CHECK(read_block(tmp_path("multi.cif"), NULL, &s) == 0 && s.n_atoms == 2);
    capture_end();
    CHECK(n_warnings == 1 && strstr(warning, "multi.cif: 2 data blocks hold atom sites"));
    if (s.z) ih_structure_free(&s);
    /* a block named is only one of that whole name */
    CHECK(read_block(tmp_path("multi.cif"), "A2", &s) == -1 && s.z == NULL);
    CHECK(error_says("multi.cif: no data block 'A2'; the file has data_meta, data_A, data_B (3 blocks)", NULL));
    /* a block without a structure: what it lacks */
    CHECK(read_block(tmp_path("multi.cif"), "meta", &s) == -1);
    CHECK(error_says("no _cell_length_a", NULL));
    /* many blocks: the first few listed */
    size_t n = 0;
    for (int k = 0; k < 7; k++) n += (size_t)snprintf(t + n, sizeof t - n, "data_b%d\n_cell_length_a %d\n", k, k + 3);
    write_text(tmp_path("seven.cif"), t);
    CHECK(read_block(tmp_path("seven.cif"), "x", &s) == -1);
    CHECK(error_says("the file has data_b0, data_b1, data_b2, data_b3, data_b4, … (7 blocks)", NULL));
    CHECK(read_block(tmp_path("seven.cif"), "b6", &s) == -1 && error_says("_cell_length_b", NULL));
    /* long block names (the list of names is cut at its buffer; found by the fuzzer) */
    n = 0;
    for (int k = 0; k < 6; k++)
        n += (size_t)snprintf(t + n, sizeof t - n, "data_%c%044d\n_cell_length_a 3\n", 'a' + k, k);
    write_text(tmp_path("long.cif"), t);
    CHECK(read_block(tmp_path("long.cif"), "x", &s) == -1 && error_says("no data block 'x'", NULL));
    CHECK(strlen(ih_last_error()) < 400);
    /* no data_ header at all */
    write_text(tmp_path("bare.cif"), a + strlen("data_A\n"));
    CHECK(read_block(tmp_path("bare.cif"), NULL, &s) == 0 && s.n_atoms == 2);
    if (s.z) ih_structure_free(&s);
    CHECK(read_block(tmp_path("bare.cif"), "A", &s) == -1 && error_says("the file has no data_ blocks", NULL));
    /* a block name for a file of another format */
    ih_structure p;
    CHECK(ih_parse_cif(a, "a.cif", &p) == 0);
    CHECK(ih_write_poscar(tmp_path("POSCAR"), &p) == 0);
    ih_structure_free(&p);
    CHECK(read_block(tmp_path("POSCAR"), "A", &s) == -1);
    CHECK(error_says("POSCAR: not a CIF file", "no data block 'A'"));
    CHECK(read_block(tmp_path("multi.cif"), "", &s) == -1 && error_says("empty data block name", NULL));
    /* a syntax error in a later block refuses the file */
    snprintf(t, sizeof t, "%s%s_title 'never closed\n", a, b);
    CHECK(parse_fails(t, "late.cif", "late.cif: line 28: unterminated quoted string", NULL));
}

/* ---- 5. gzip -------------------------------------------------------------------------------- */

static void gzip_every_format(void) {
    ih_structure ref;
    CHECK(ih_read_structure("examples/LiFePO4_hop/initial.vasp", IH_FMT_UNKNOWN, &ref) == 0);
    if (!ref.z) return;
    /* each format written plainly, then compressed under the same name + .gz */
    static const struct {
        const char *name;
        ih_format f;
    } files[] = {{"x.cif", IH_FMT_CIF},   {"POSCAR", IH_FMT_POSCAR}, {"CONTCAR", IH_FMT_POSCAR},
                 {"x.vasp", IH_FMT_POSCAR}, {"x.xyz", IH_FMT_XYZ},   {"x.extxyz", IH_FMT_XYZ},
                 {"x.json", IH_FMT_JSON}};
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        const char *plain = tmp_path(files[k].name);
        int rc = files[k].f == IH_FMT_CIF      ? ih_write_cif(plain, &ref)
                 : files[k].f == IH_FMT_POSCAR ? ih_write_poscar(plain, &ref)
                 : files[k].f == IH_FMT_XYZ    ? ih_write_xyz(plain, &ref)
                                               : ih_write_json(plain, &ref, 1);
        CHECK(rc == 0);
        size_t len;
        char *text = ih_read_file(plain, &len);
        if (!text) continue;
        char gz[256];
        snprintf(gz, sizeof gz, "%s.gz", plain);
        write_gz(gz, text, len);
        free(text);
        CHECK_MSG(ih_guess_format(gz) == files[k].f, "%s.gz guessed as %d", files[k].name, ih_guess_format(gz));
        ih_structure a, b;
        rc = ih_read_structure(plain, IH_FMT_UNKNOWN, &a);
        CHECK_MSG(rc == 0, "%s", ih_last_error());
        int rc2 = ih_read_structure(gz, IH_FMT_UNKNOWN, &b);
        CHECK_MSG(rc2 == 0, "%s", ih_last_error());
        if (rc == 0 && rc2 == 0) {
            CHECK_MSG(a.n_atoms == ref.n_atoms && b.n_atoms == a.n_atoms && !memcmp(a.z, b.z, sizeof(int) * (size_t)a.n_atoms) &&
                          !memcmp(a.frac, b.frac, 3 * sizeof(double) * (size_t)a.n_atoms) &&
                          !memcmp(a.lattice, b.lattice, sizeof a.lattice),
                      "%s.gz differs from %s", files[k].name, files[k].name);
        }
        if (rc == 0) ih_structure_free(&a);
        if (rc2 == 0) ih_structure_free(&b);
    }
    /* a compressed magnetic CIF, a data block of a compressed CIF, and a name that tells nothing
     * (the content is sniffed through the compression) */
    static char text[8192];
    nio_mcif(text, sizeof text, "_space_group_symop_magn_operation.xyz", "_space_group_symop_magn_centering.xyz", NULL);
    write_gz(tmp_path("NiO.mcif.gz"), text, strlen(text));
    write_gz(tmp_path("structure.gz"), text, strlen(text));
    ih_structure s;
    CHECK(ih_read_structure(tmp_path("NiO.mcif.gz"), IH_FMT_UNKNOWN, &s) == 0 && s.n_atoms == 12);
    if (s.z) ih_structure_free(&s);
    CHECK(read_block(tmp_path("NiO.mcif.gz"), "NiO_AFM", &s) == 0 && s.n_atoms == 12);
    if (s.z) ih_structure_free(&s);
    CHECK_INT(ih_guess_format(tmp_path("structure.gz")), IH_FMT_CIF);
    CHECK(ih_read_structure(tmp_path("structure.gz"), IH_FMT_UNKNOWN, &s) == 0 && s.n_atoms == 12);
    if (s.z) ih_structure_free(&s);
    CHECK(read_block(tmp_path("x.json.gz"), "x", &s) == -1 && error_says("x.json.gz: not a CIF file", NULL));
    ih_structure_free(&ref);
}

int main(void) {
    if (tmpdir_make("cif") != 0) {
        perror("mkdtemp");
        return 2;
    }
    magnetic_nio();
    magnetic_general();
    symmetry_checks();
    unknown_values();
    data_blocks();
    gzip_every_format();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0);
    return test_summary("test_cif_read");
}
