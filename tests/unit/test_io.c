/* Structure readers and writers (POSCAR, CIF, extended XYZ) and format detection.
 *
 * 1. Cross-check: every file of tests/fixtures/io (written by pymatgen and ASE, or by hand) is
 *    read and compared with what pymatgen and ASE read from it (expected.json, made by
 *    tests/fixtures/gen/make_io_fixtures.py): lattice to 1e-6 Å (CIF read by ASE: lengths and metric only, ASE
 *    orients the cell differently) and the multiset of (element, wrapped fractional coordinate)
 *    to 1e-5.
 * 2. Round trips: read -> write POSCAR / CIF / XYZ / JSON -> read gives the same structure.
 * 3. The bundled example hop equals the Em record it was cut from.
 * 4. Bad input: one-line messages naming the file and the problem; truncations and byte
 *    mutations of valid files never crash (this program runs under ASan/UBSan). */
#include "check.h"
#include "tmpdir.h"
#include "ionhop_train.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <unistd.h>
#include <zlib.h>

#define FIX "tests/fixtures/io/"

static double mod1(double d) { return d - floor(d + 0.5); } /* signed distance modulo 1 */


static void write_text(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fwrite(data, 1, len, f);
    fclose(f);
}

/* A reference read-back from expected.json. */
typedef struct ref {
    double lattice[3][3];
    int n;
    int *z;
    double *frac;
} ref;

static int load_ref(const cJSON *o, ref *r) {
    memset(r, 0, sizeof *r);
    if (!cJSON_IsObject(o)) return -1;
    const cJSON *lat = cJSON_GetObjectItem(o, "lattice"), *sp = cJSON_GetObjectItem(o, "species"),
                *fr = cJSON_GetObjectItem(o, "frac");
    r->n = cJSON_GetArraySize(sp);
    r->z = calloc((size_t)r->n + 1, sizeof *r->z);
    r->frac = calloc(3 * (size_t)r->n + 1, sizeof *r->frac);
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < 3; c++)
            r->lattice[i][c] = cJSON_GetArrayItem(cJSON_GetArrayItem(lat, i), c)->valuedouble;
    for (int i = 0; i < r->n; i++) {
        r->z[i] = ih_element_z(cJSON_GetArrayItem(sp, i)->valuestring);
        for (int c = 0; c < 3; c++)
            r->frac[3 * i + c] = cJSON_GetArrayItem(cJSON_GetArrayItem(fr, i), c)->valuedouble;
    }
    return 0;
}

static void free_ref(ref *r) {
    free(r->z);
    free(r->frac);
}

static double lattice_maxdiff(const double a[3][3], const double b[3][3]) {
    double m = 0;
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < 3; c++) m = fmax(m, fabs(a[i][c] - b[i][c]));
    return m;
}

/* Rotation-invariant comparison: the metric tensors L L^T (Å^2). */
static double metric_maxdiff(const double a[3][3], const double b[3][3]) {
    double m = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double ga = 0, gb = 0;
            for (int c = 0; c < 3; c++) {
                ga += a[i][c] * a[j][c];
                gb += b[i][c] * b[j][c];
            }
            m = fmax(m, fabs(ga - gb));
        }
    return m;
}

/* Number of reference sites without a partner of the same element at the same wrapped
 * fractional position (tol per coordinate); each site of s is used once. */
static int unmatched_sites(const ih_structure *s, const int *z, const double *frac, int n,
                           double tol) {
    char *used = calloc((size_t)s->n_atoms + 1, 1);
    int missing = 0;
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < s->n_atoms && !found; j++) {
            if (used[j] || s->z[j] != z[i]) continue;
            int same = 1;
            for (int c = 0; c < 3 && same; c++)
                same = fabs(mod1(s->frac[3 * j + c] - frac[3 * i + c])) < tol;
            if (same) used[j] = found = 1;
        }
        missing += !found;
    }
    free(used);
    return missing;
}

/* Same atoms in the same order; lattice equal (exact) or with the same metric (rotated). */
static void check_same_structure(const ih_structure *a, const ih_structure *b, int rotated,
                                 double tol_lat, double tol_frac, const char *what) {
    CHECK_INT(a->n_atoms, b->n_atoms);
    if (a->n_atoms != b->n_atoms) return;
    double dl = rotated ? metric_maxdiff(a->lattice, b->lattice) : lattice_maxdiff(a->lattice, b->lattice);
    CHECK_MSG(dl < tol_lat, "%s: lattice differs by %g", what, dl);
    double df = 0;
    int dz = 0;
    for (int i = 0; i < a->n_atoms; i++) {
        dz += a->z[i] != b->z[i];
        for (int c = 0; c < 3; c++) df = fmax(df, fabs(mod1(a->frac[3 * i + c] - b->frac[3 * i + c])));
    }
    CHECK_MSG(dz == 0, "%s: %d elements differ", what, dz);
    CHECK_MSG(df < tol_frac, "%s: fractional coordinates differ by %g", what, df);
}

static int n_pmg = 0, n_ase = 0, n_files = 0, n_roundtrips = 0;
/* IONHOP_IO_FIXTURES points the cross-check at another directory of files with an
 * expected.json (e.g. a larger set made by the generator for a one-off check). */
static const char *cross_dir = FIX;

static void cross_check(const cJSON *entry) {
    const char *file = cJSON_GetObjectItem(entry, "file")->valuestring;
    const char *fmt = cJSON_GetObjectItem(entry, "format")->valuestring;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", cross_dir, file);
    ih_format want = !strcmp(fmt, "cif") ? IH_FMT_CIF : !strcmp(fmt, "poscar") ? IH_FMT_POSCAR : IH_FMT_XYZ;
    CHECK_MSG(ih_guess_format(path) == want, "%s: format guessed as %d", file, ih_guess_format(path));
    ih_structure s;
    int rc = ih_read_structure(path, IH_FMT_UNKNOWN, &s);
    CHECK_MSG(rc == 0, "%s: %s", file, ih_last_error());
    if (rc != 0) return;
    n_files++;
    for (int lib = 0; lib < 2; lib++) {
        const cJSON *o = cJSON_GetObjectItem(entry, lib == 0 ? "pymatgen" : "ase");
        if (!cJSON_IsObject(o)) continue;
        ref r;
        load_ref(o, &r);
        /* pymatgen builds CIF cells like ionhop (c along z); ASE puts a along x */
        int rotated = want == IH_FMT_CIF && lib == 1;
        CHECK_MSG(s.n_atoms == r.n, "%s vs %s: %d atoms, expected %d", file,
                  lib ? "ASE" : "pymatgen", s.n_atoms, r.n);
        if (rotated) {
            double dm = metric_maxdiff(s.lattice, r.lattice);
            CHECK_MSG(dm < 1e-5, "%s vs ASE: metric differs by %g Å^2", file, dm);
            for (int i = 0; i < 3; i++) {
                double la = sqrt(s.lattice[i][0] * s.lattice[i][0] + s.lattice[i][1] * s.lattice[i][1] +
                                 s.lattice[i][2] * s.lattice[i][2]);
                double lb = sqrt(r.lattice[i][0] * r.lattice[i][0] + r.lattice[i][1] * r.lattice[i][1] +
                                 r.lattice[i][2] * r.lattice[i][2]);
                CHECK_MSG(fabs(la - lb) < 1e-6, "%s vs ASE: |a%d| %.9f vs %.9f", file, i + 1, la, lb);
            }
        } else {
            double dl = lattice_maxdiff(s.lattice, r.lattice);
            CHECK_MSG(dl < 1e-6, "%s vs %s: lattice differs by %g Å", file, lib ? "ASE" : "pymatgen", dl);
        }
        int miss = unmatched_sites(&s, r.z, r.frac, r.n, 1e-5);
        CHECK_MSG(miss == 0, "%s vs %s: %d of %d sites unmatched", file, lib ? "ASE" : "pymatgen",
                  miss, r.n);
        if (lib == 0) n_pmg++;
        else n_ase++;
        free_ref(&r);
    }
    /* Cartesian input keeps the given positions, consistent with frac · L */
    if (s.cart) {
        double d = 0;
        for (int i = 0; i < s.n_atoms; i++) {
            double x[3];
            ih_structure_cart(&s, i, x);
            for (int c = 0; c < 3; c++) d = fmax(d, fabs(x[c] - s.cart[3 * i + c]));
        }
        CHECK_MSG(d < 1e-9, "%s: cart and frac·L differ by %g", file, d);
    }
    CHECK(want != IH_FMT_XYZ || s.cart != NULL);
    CHECK(want != IH_FMT_CIF || s.cart == NULL);

    /* round trips through each writer */
    static const struct {
        const char *name;
        int (*write)(const char *, const ih_structure *);
        int rotated;
        double tol_lat, tol_frac;
    } w[] = {{"rt.vasp", ih_write_poscar, 0, 1e-12, 1e-13},
             {"rt.cif", ih_write_cif, 1, 1e-9, 1e-12},
             {"rt.xyz", ih_write_xyz, 0, 1e-12, 1e-12}};
    for (size_t k = 0; k < sizeof w / sizeof *w; k++) {
        const char *out = tmp_path(w[k].name);
        CHECK_MSG(w[k].write(out, &s) == 0, "%s: write %s: %s", file, w[k].name, ih_last_error());
        ih_structure b;
        rc = ih_read_structure(out, IH_FMT_UNKNOWN, &b);
        CHECK_MSG(rc == 0, "%s: re-read %s: %s", file, w[k].name, ih_last_error());
        if (rc == 0) {
            char what[300];
            snprintf(what, sizeof what, "%s round trip via %s", file, w[k].name);
            check_same_structure(&s, &b, w[k].rotated, w[k].tol_lat, w[k].tol_frac, what);
            n_roundtrips++;
            ih_structure_free(&b);
        }
        unlink(out);
    }
    const char *jpath = tmp_path("rt.json");
    CHECK(ih_write_json(jpath, &s, 1) == 0);
    ih_structure_set set;
    if (ih_read_structures(jpath, IH_FMT_UNKNOWN, &set) == 0) {
        CHECK_INT(set.n, 1);
        /* cJSON prints 15 digits when they read back within an ulp: not bit-exact */
        check_same_structure(&s, &set.items[0], 0, 1e-12, 1e-14, "JSON round trip");
        ih_structure_set_free(&set);
    } else {
        CHECK_MSG(0, "%s: JSON round trip: %s", file, ih_last_error());
    }
    unlink(jpath);
    ih_structure_free(&s);
}

static void check_example_hop(void) {
    ih_structure_set em;
    if (ih_read_json(shared_path("data/em/train.json"), &em) != 0) {
        CHECK_MSG(0, "%s", ih_last_error());
        return;
    }
    const ih_structure *rec = NULL;
    for (int i = 0; i < em.n; i++)
        if (!strcmp(em.items[i].sys_name, "O-LiFePO4")) rec = &em.items[i];
    CHECK(rec != NULL);
    for (int end = 0; rec && end < 2; end++) {
        ih_structure s;
        const char *path = end ? "examples/LiFePO4_hop/final.vasp" : "examples/LiFePO4_hop/initial.vasp";
        CHECK_INT(ih_guess_format(path), IH_FMT_POSCAR);
        int rc = ih_read_structure(path, IH_FMT_UNKNOWN, &s);
        CHECK_MSG(rc == 0, "%s", ih_last_error());
        if (rc != 0) continue;
        CHECK_INT(s.n_atoms, rec->n_atoms - 4);
        if (s.n_atoms == rec->n_atoms - 4) {
            CHECK(lattice_maxdiff(s.lattice, rec->lattice) == 0);
            int site = end ? 4 : 0;
            double d = 0;
            int dz = s.z[0] != rec->z[site];
            for (int c = 0; c < 3; c++) d = fmax(d, fabs(s.frac[c] - rec->frac[3 * site + c]));
            for (int i = 1; i < s.n_atoms; i++) {
                dz += s.z[i] != rec->z[i + 4];
                for (int c = 0; c < 3; c++)
                    d = fmax(d, fabs(s.frac[3 * i + c] - rec->frac[3 * (i + 4) + c]));
            }
            CHECK_INT(dz, 0);
            CHECK_MSG(d < 1e-15, "example %s differs from the record by %g", path, d);
            CHECK(!strcmp(ih_element_symbol(s.z[0]), "Li"));
        }
        ih_structure_free(&s);
    }
    ih_structure_set_free(&em);
}

/* ---- bad input ------------------------------------------------------------------------- */

typedef int (*parse_fn)(const char *, const char *, ih_structure *);

static int message_ok(const char *name, const char *needle) {
    const char *e = ih_last_error();
    int ok = strstr(e, name) != NULL && (!needle || strstr(e, needle) != NULL);
    for (const char *p = e; *p; p++)
        if ((unsigned char)*p < 0x20) ok = 0;
    if (!ok) fprintf(stderr, "message '%s' lacks '%s' or is not one clean line\n", e, needle);
    return ok;
}

static int n_bad = 0;
static int fails(parse_fn parse, const char *name, const char *text, const char *needle) {
    ih_structure s;
    n_bad++;
    if (parse(text, name, &s) == 0) {
        ih_structure_free(&s);
        fprintf(stderr, "accepted bad input for %s: %.200s\n", name, text);
        return 0;
    }
    if (s.frac || s.z || s.cart) {
        fprintf(stderr, "%s: failed parse left arrays behind\n", name);
        return 0;
    }
    return message_ok(name, needle);
}

static int file_fails(const char *name, const void *data, size_t len, const char *needle) {
    const char *path = tmp_path(name);
    write_text(path, data, len);
    ih_structure s;
    n_bad++;
    int rc = ih_read_structure(path, IH_FMT_UNKNOWN, &s);
    unlink(path);
    if (rc == 0) {
        ih_structure_free(&s);
        fprintf(stderr, "accepted bad file %s\n", name);
        return 0;
    }
    return message_ok(name, needle);
}

static const char *POSCAR_OK =
    "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n";

static void bad_poscar(void) {
    parse_fn P = ih_parse_poscar;
    ih_structure s;
    CHECK(ih_parse_poscar(POSCAR_OK, "ok.vasp", &s) == 0);
    ih_structure_free(&s);
    CHECK(fails(P, "p.vasp", "", "empty"));
    CHECK(fails(P, "p.vasp", "\n  \n\n", "empty"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n", "truncated"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n", "truncated"));
    CHECK(fails(P, "p.vasp", "CsCl\nabc\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "line 2"));
    CHECK(fails(P, "p.vasp", "CsCl\n0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "scale factor is zero"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 x\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "line 3"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "expected 3 numbers"));
    /* VASP 4: counts straight after the lattice */
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "no species line"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Xq\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "unknown element"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "2 species"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "3 atom counts"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 -1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "not a positive integer"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 0\nDirect\n0 0 0\n", "positive"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 99999999999\nDirect\n0 0 0\n",
                "line 7"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 2\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "truncated"));
    CHECK(fails(P, "p.vasp",
                "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 2\nDirect\n0 0 0\n0.5 0.5 0.5\n\n0.1 0.1 0.1\n",
                "blank line"));
    CHECK(fails(P, "p.vasp",
                "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n0.2 0.2 0.2\n",
                "more positions"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nQuux\n0 0 0\n0.5 0.5 0.5\n",
                "Direct"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n8 0 0\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "degenerate"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n8 0 0\nCs Cl\n1 1\nCartesian\n0 0 0\n2 2 2\n",
                "degenerate"));
    CHECK(fails(P, "p.vasp", "CsCl\n-64\n4 0 0\n0 4 0\n8 0 0\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "degenerate"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.01 0 0\n",
                "overlap"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.999 0.001 1\n",
                "overlap"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\nnan 0.5 0.5\n",
                "not a finite number"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\ninf 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "not a finite number"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n1e999 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n",
                "not a finite number"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0x1p-1 0.5\n",
                "not a number"));
    CHECK(fails(P, "p.vasp", "CsCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n1e7 0.5 0.5\n",
                "absurd"));

    /* accepted variants: selective dynamics, Cartesian + scale, POTCAR names, velocities,
     * three scale factors, CRLF line ends, labels after positions */
    const char *variants[] = {
        "c\n2.0\n2 0 0\n0 2 0\n0 0 2\nCs_sv Cl\n1 1\nSelective dynamics\ncart\n0 0 0 T T F\n1 1 1 F F F\n"
        "\n 0.1 0.2 0.3\n 0 0 0\n",
        "c\r\n-64\r\n1 0 0\r\n0 1 0\r\n0 0 1\r\nCs Cl\r\n1 1\r\nd\r\n0 0 0\r\n0.5 0.5 0.5\r\n",
        "c\n4 2 1\n1 0 0\n0 2 0\n0 0 4\nCs/abc Cl\n1 1\nk\n0 0 0\n0.5 1 2 Cl\n",
        /* volume scale with Cartesian positions: both scaled by (64/8)^(1/3) = 2 */
        "c\n-64\n2 0 0\n0 2 0\n0 0 2\nCs Cl\n1 1\nC\n0 0 0\n1 1 1\n",
    };
    for (size_t k = 0; k < sizeof variants / sizeof *variants; k++) {
        int rc = ih_parse_poscar(variants[k], "v.vasp", &s);
        CHECK_MSG(rc == 0, "variant %zu: %s", k, ih_last_error());
        if (rc != 0) continue;
        CHECK_INT(s.n_atoms, 2);
        CHECK_INT(s.z[0], 55);
        CHECK_INT(s.z[1], 17);
        for (int r = 0; r < 3; r++) CHECK_NEAR(s.lattice[r][r], 4.0, 1e-12);
        for (int c = 0; c < 3; c++) CHECK_NEAR(s.frac[3 + c], 0.5, 1e-12);
        CHECK((s.cart != NULL) == (k != 1));
        if (s.cart)
            for (int c = 0; c < 3; c++) CHECK_NEAR(s.cart[3 + c], 2.0, 1e-12);
        ih_structure_free(&s);
    }
}

static const char *CIF_HEAD = "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n"
                              "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n";

static char cifbuf[8192];
static const char *cif(const char *tail) {
    snprintf(cifbuf, sizeof cifbuf, "%s%s", CIF_HEAD, tail);
    return cifbuf;
}

static void bad_cif(void) {
    parse_fn P = ih_parse_cif;
    const char *sites = "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n";
    char t[4096];
    ih_structure s;
    snprintf(t, sizeof t, "%sCs1 0 0 0\nCl1 0.5 0.5 0.5\n", sites);
    CHECK(ih_parse_cif(cif(t), "ok.cif", &s) == 0);
    CHECK_INT(s.n_atoms, 2);
    ih_structure_free(&s);

    CHECK(fails(P, "c.cif", "", "empty"));
    CHECK(fails(P, "c.cif", "data_x\n_cell_length_a 4\n", "_cell_length_b"));
    CHECK(fails(P, "c.cif", "data_x\n_cell_length_a 4\n_cell_length_b ?\n", "unknown"));
    CHECK(fails(P, "c.cif", "data_x\n_cell_length_a 4(\n", "not a number"));
    CHECK(fails(P, "c.cif", "data_x\n_cell_length_a abc\n", "not a number"));
    CHECK(fails(P, "c.cif", "data_x\n_cell_length_a nan\n", "finite"));
    CHECK(fails(P, "c.cif", "data_x\n_cell_length_a -4\n_cell_length_b 4\n_cell_length_c 4\n"
                            "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n",
                "not positive"));
    CHECK(fails(P, "c.cif", "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n"
                            "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 180\n",
                "between 0 and 180"));
    CHECK(fails(P, "c.cif", "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n"
                            "_cell_angle_alpha 120\n_cell_angle_beta 120\n_cell_angle_gamma 120\n",
                "degenerate"));
    CHECK(fails(P, "c.cif", cif(""), "no atoms"));
    CHECK(fails(P, "c.cif", cif(sites), "no atoms"));
    CHECK(fails(P, "c.cif", cif("loop_\n_atom_site_label\n_atom_site_Cartn_x\n_atom_site_Cartn_y\n"
                                "_atom_site_Cartn_z\nCs1 0 0 0\n"),
                "Cartesian"));
    snprintf(t, sizeof t, "%sCs1 0 0 0\nCl1 0.5 0.5\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "not a whole number of rows"));
    snprintf(t, sizeof t, "%sCs1 0 0 0\nQq1 0.5 0.5 0.5\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "unknown element"));
    snprintf(t, sizeof t, "%sCs1 0 0 0\nCl1 0.5 ? 0.5\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "unknown coordinate"));
    snprintf(t, sizeof t, "%sCs1 0 0 0\nCl1 0.5 inf 0.5\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "finite"));
    snprintf(t, sizeof t, "%sCs1 0 0 0\nCl1 0.5 0.5x 0.5\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "not a number"));
    snprintf(t, sizeof t, "%sCs1 0 0 0\nCl1 0.001 0 0\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "overlap"));
    /* a fractional occupancy is read by the disorder policy (test_disorder.c), not refused */
    {
        ih_structure part;
        CHECK(P(cif("loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
                    "_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n"
                    "Cs1 Cs+ 0 0 0 1.0\nLiA Li+ 0.5 0.5 0.5 0.5\n"),
                "c.cif", &part) == 0);
        CHECK_INT(part.n_atoms, 2);
        ih_structure_free(&part);
    }
    CHECK(fails(P, "c.cif", cif("loop_\n_atom_site_label\n_atom_site_fract_x\n"
                                "_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n"
                                "Cs1 0 0 0 1.5\n"),
                "more than 1"));
    /* symmetry */
    snprintf(t, sizeof t, "loop_\n_symmetry_equiv_pos_as_xyz\n'x,y,z'\n'-x,y+q,z'\n%sCs1 0 0 0\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "not understood"));
    snprintf(t, sizeof t, "loop_\n_symmetry_equiv_pos_as_xyz\n'x,y'\n%sCs1 0 0 0\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "three components"));
    snprintf(t, sizeof t, "loop_\n_symmetry_equiv_pos_as_xyz\n'x,y,z,x'\n%sCs1 0 0 0\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "three components"));
    snprintf(t, sizeof t, "loop_\n_symmetry_equiv_pos_as_xyz\n'x,x,z'\n%sCs1 0 0 0\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "determinant"));
    snprintf(t, sizeof t, "loop_\n_symmetry_equiv_pos_as_xyz\n'x,y,z+1/0'\n%sCs1 0 0 0\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "bad fraction"));
    /* a site 0.04 Å off a mirror: its image is not within the 1e-4 merge tolerance */
    snprintf(t, sizeof t, "loop_\n_symmetry_equiv_pos_as_xyz\n'x,y,z'\n'-x,y,z'\n%sCs1 0.005 0 0\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "overlap"));
    /* a named group without listed operations takes its operations from spglib's database:
     * the 4a orbit of Fm-3m, four atoms (cif_named_groups has the rest) */
    snprintf(t, sizeof t, "_symmetry_space_group_name_H-M 'F m -3 m'\n%sCs1 0 0 0\n", sites);
    CHECK(ih_parse_cif(cif(t), "c.cif", &s) == 0 && s.n_atoms == 4);
    ih_structure_free(&s);
    snprintf(t, sizeof t, "_space_group_IT_number 225\n%sCs1 0 0 0\n", sites);
    CHECK(ih_parse_cif(cif(t), "c.cif", &s) == 0 && s.n_atoms == 4);
    ih_structure_free(&s);
    /* syntax */
    snprintf(t, sizeof t, "_publ_section_title\n;\nnever closed\n%sCs1 0 0 0\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "unterminated ';' text field"));
    snprintf(t, sizeof t, "_chemical_name_common 'never closed\n%sCs1 0 0 0\n", sites);
    CHECK(fails(P, "c.cif", cif(t), "unterminated quoted string"));
    CHECK(fails(P, "c.cif", cif("_cell_volume\n"), "has no value"));
    CHECK(fails(P, "c.cif", cif("loop_\nloop_\n"), "without column names"));

    /* accepted: label-only elements, '.'/'?' occupancy, P1 by name without operations, DDLm
     * names, single-item sites, symmetry merge of a site on a mirror within 1e-4 */
    const char *ok[] = {
        "_symmetry_space_group_name_H-M 'P 1'\nloop_\n_atom_site_label\n_atom_site_fract_x\n"
        "_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\nCs1 0 0 0 ?\nCl2 0.5 0.5 0.5 .\n",
        "loop_\n_space_group_symop.operation_xyz\n'x, y, z'\n'-x, -y, -z'\nloop_\n_atom_site.label\n"
        "_atom_site.fract_x\n_atom_site.fract_y\n_atom_site.fract_z\nCs 0.00002 0 0\nCl 0.5 0.5 0.5\n",
        "_atom_site_label Cs\n_atom_site_fract_x 0\n_atom_site_fract_y 0\n_atom_site_fract_z 0\n"
        "loop_ _atom_type_symbol Cl\n",
    };
    int want_n[] = {2, 2, 1};
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        int rc = ih_parse_cif(cif(ok[k]), "ok.cif", &s);
        CHECK_MSG(rc == 0, "accepted CIF %zu: %s", k, ih_last_error());
        if (rc != 0) continue;
        CHECK_INT(s.n_atoms, want_n[k]);
        CHECK_INT(s.z[0], 55);
        ih_structure_free(&s);
    }
}

static void bad_xyz(void) {
    parse_fn P = ih_parse_xyz;
    const char *lat = "Lattice=\"4 0 0 0 4 0 0 0 4\"";
    char t[1024];
    ih_structure s;
    snprintf(t, sizeof t, "2\n%s\nCs 0 0 0\nCl 2 2 2\n", lat);
    CHECK(ih_parse_xyz(t, "ok.xyz", &s) == 0);
    CHECK(s.n_atoms == 2 && s.cart && fabs(s.frac[3] - 0.5) < 1e-15);
    ih_structure_free(&s);
    CHECK(fails(P, "x.xyz", "", "empty"));
    CHECK(fails(P, "x.xyz", "two\nLattice=\"4 0 0 0 4 0 0 0 4\"\n", "atom count"));
    CHECK(fails(P, "x.xyz", "2 3\nLattice=\"4 0 0 0 4 0 0 0 4\"\n", "atom count"));
    CHECK(fails(P, "x.xyz", "0\nLattice=\"4 0 0 0 4 0 0 0 4\"\n", "atom count"));
    CHECK(fails(P, "x.xyz", "2\n", "truncated"));
    CHECK(fails(P, "x.xyz", "2\nProperties=species:S:1:pos:R:3 pbc=\"T T T\"\nCs 0 0 0\nCl 2 2 2\n", "no Lattice="));
    CHECK(fails(P, "x.xyz", "2\nLattice=\"4 0 0 0 4 0 0 0\"\nCs 0 0 0\nCl 2 2 2\n", "holds 8 numbers"));
    CHECK(fails(P, "x.xyz", "2\nLattice=\"4 0 0 0 4 0 0 0 4\nCs 0 0 0\nCl 2 2 2\n", "unterminated"));
    CHECK(fails(P, "x.xyz", "2\nLattice=\"4 0 0 0 4 0 0 0 nan\"\nCs 0 0 0\nCl 2 2 2\n", "finite"));
    CHECK(fails(P, "x.xyz", "2\nLattice=\"4 0 0 0 4 0 8 0 0\"\nCs 0 0 0\nCl 2 2 2\n", "degenerate"));
    CHECK(fails(P, "x.xyz", "2\nLattice=\"1e308 0 0 0 4 0 0 0 4\"\nCs 0 0 0\nCl 1e307 2 2\n", "lattice vector 1 is 1e+308 Å long"));
    snprintf(t, sizeof t, "3\n%s\nCs 0 0 0\nCl 2 2 2\n", lat);
    CHECK(fails(P, "x.xyz", t, "truncated"));
    snprintf(t, sizeof t, "3\n%s\nCs 0 0 0\nCl 2 2 2\n\n", lat);
    CHECK(fails(P, "x.xyz", t, "wrong atom count"));
    snprintf(t, sizeof t, "1\n%s\nCs 0 0 0\nCl 2 2 2\n", lat);
    CHECK(fails(P, "x.xyz", t, "more atom lines"));
    snprintf(t, sizeof t, "1\n%s\nCs 0 0 0\n1\n%s\nCl 0 0 0\n", lat, lat);
    CHECK(fails(P, "x.xyz", t, "second frame"));
    snprintf(t, sizeof t, "2\n%s\nCs 0 0 0\nXx 2 2 2\n", lat);
    CHECK(fails(P, "x.xyz", t, "unknown element"));
    snprintf(t, sizeof t, "2\n%s\nCs 0 0 0\nCl 2 -inf 2\n", lat);
    CHECK(fails(P, "x.xyz", t, "finite"));
    snprintf(t, sizeof t, "2\n%s\nCs 0 0 0\nCl 2 two 2\n", lat);
    CHECK(fails(P, "x.xyz", t, "not a number"));
    snprintf(t, sizeof t, "2\n%s\nCs 0 0 0\nCl 2 2\n", lat);
    CHECK(fails(P, "x.xyz", t, "columns"));
    snprintf(t, sizeof t, "2\n%s\nCs 0 0 0\nCl 0.01 0 0\n", lat);
    CHECK(fails(P, "x.xyz", t, "overlap"));
    snprintf(t, sizeof t, "2\n%s Properties=species:S:1:forces:R:3\nCs 0 0 0\nCl 2 2 2\n", lat);
    CHECK(fails(P, "x.xyz", t, "lacks pos:R:3"));
    snprintf(t, sizeof t, "2\n%s Properties=species:S:1:pos:R\nCs 0 0 0\nCl 2 2 2\n", lat);
    CHECK(fails(P, "x.xyz", t, "triples"));
    snprintf(t, sizeof t, "2\n%s Properties=species:S:1:pos:R:x\nCs 0 0 0\nCl 2 2 2\n", lat);
    CHECK(fails(P, "x.xyz", t, "not a positive integer"));
    snprintf(t, sizeof t, "2\n%s Properties=species:S:1:pos:R:3:q:R:1\nCs 0 0 0\nCl 2 2 2\n", lat);
    CHECK(fails(P, "x.xyz", t, "columns"));
    /* column counts summing past any int: refused before the running total can wrap */
    {
        size_t cap = 64 + 3000 * 12;
        char *big = malloc(cap);
        int n = snprintf(big, cap, "2\n%s Properties=species:S:1:pos:R:3", lat);
        for (int k = 0; k < 3000; k++) n += snprintf(big + n, cap - (size_t)n, ":a%d:R:999", k % 10);
        snprintf(big + n, cap - (size_t)n, "\nCs 0 0 0\nCl 2 2 2\n");
        CHECK(fails(P, "wide.xyz", big, "more than 10000 columns"));
        free(big);
    }
    /* column order honoured */
    snprintf(t, sizeof t, "2\nlattice={4 0 0 0 4 0 0 0 4} properties=pos:R:3:Z:I:1:species:S:1\n"
                          "0 0 0 55 Cs\n2 2 2 17 Cl\n");
    CHECK(ih_parse_xyz(t, "cols.xyz", &s) == 0);
    CHECK(s.n_atoms == 2 && s.z[0] == 55 && s.z[1] == 17 && fabs(s.frac[5] - 0.5) < 1e-15);
    ih_structure_free(&s);
}

/* CIFs that name their space group (symbol with or without its setting, Hall symbol, or number)
 * instead of listing the operations; '.' for a zero coordinate; deuterium. */
static void cif_named_groups(void) {
    const char *cell_cubic = "data_x\n_cell_length_a 5.64\n_cell_length_b 5.64\n_cell_length_c 5.64\n"
                             "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n";
    const char *nacl_sites = "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
                             "_atom_site_fract_y\n_atom_site_fract_z\nNa1 Na 0 0 0\nCl1 Cl 0.5 0.5 0.5\n";
    char t[2048];
    ih_structure s;
    static const char *const names[] = {"_symmetry_space_group_name_H-M 'F m -3 m'\n",
                                        "_space_group_name_H-M_alt 'F m -3 m'\n",
                                        "_space_group_name_Hall '-F 4 2 3'\n", "_space_group_IT_number 225\n"};
    for (int k = 0; k < 4; k++) {
        snprintf(t, sizeof t, "%s%s%s", cell_cubic, names[k], nacl_sites);
        CHECK_MSG(ih_parse_cif(t, "nacl.cif", &s) == 0, "%s: %s", names[k], ih_last_error());
        if (s.z) {
            CHECK_INT(s.n_atoms, 8);
            ih_structure_free(&s);
        }
    }
    /* '.' for zero coordinates reads as 0 */
    snprintf(t, sizeof t, "%s_space_group_IT_number 225\nloop_\n_atom_site_label\n_atom_site_type_symbol\n"
             "_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\nNa1 Na . . .\nCl1 Cl 0.5 0.5 0.5\n", cell_cubic);
    CHECK(ih_parse_cif(t, "dots.cif", &s) == 0);
    if (s.z) {
        CHECK(s.n_atoms == 8 && s.z[0] == 11 && s.frac[0] == 0 && s.frac[1] == 0 && s.frac[2] == 0);
        ih_structure_free(&s);
    }
    /* origin choices are not guessed; a named choice is read */
    const char *si = "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
                     "_atom_site_fract_z\nSi1 Si 0.125 0.125 0.125\n";
    snprintf(t, sizeof t, "%s_symmetry_space_group_name_H-M 'F d -3 m'\n%s", cell_cubic, si);
    CHECK(fails(ih_parse_cif, "si.cif", t, "has several settings"));
    snprintf(t, sizeof t, "%s_symmetry_space_group_name_H-M 'F d -3 m :2'\n%s", cell_cubic, si);
    CHECK_MSG(ih_parse_cif(t, "si.cif", &s) == 0, "%s", ih_last_error());
    if (s.z) {
        CHECK_INT(s.n_atoms, 8);
        ih_structure_free(&s);
    }
    snprintf(t, sizeof t, "%s_symmetry_space_group_name_H-M 'Q 9'\n%s", cell_cubic, si);
    CHECK(fails(ih_parse_cif, "q.cif", t, "unknown space group"));
    snprintf(t, sizeof t, "%s_space_group_IT_number 231\n%s", cell_cubic, si);
    CHECK(fails(ih_parse_cif, "n.cif", t, "is not one of 1..230"));
    /* R-3m by name: hexagonal axes for a hexagonal cell (LiCoO2, 3 formula units) */
    snprintf(t, sizeof t, "data_lco\n_cell_length_a 2.8156\n_cell_length_b 2.8156\n_cell_length_c 14.0542\n"
             "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 120\n_symmetry_space_group_name_H-M 'R -3 m'\n"
             "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
             "_atom_site_fract_z\nLi1 Li 0 0 0\nCo1 Co 0 0 0.5\nO1 O 0 0 0.2396\n");
    CHECK_MSG(ih_parse_cif(t, "lco.cif", &s) == 0, "%s", ih_last_error());
    if (s.z) {
        CHECK_INT(s.n_atoms, 12);
        ih_structure_free(&s);
    }
    /* a first data block of metadata only: the structure is read from the first block with a cell */
    snprintf(t, sizeof t, "data_global\n_journal_name_full 'J. Solid State Chem.'\n_publ_section_title\n;\nLiCoO2\n;\n"
             "data_lco\n_cell_length_a 2.8156\n_cell_length_b 2.8156\n_cell_length_c 14.0542\n"
             "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 120\n_space_group_IT_number 166\n"
             "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
             "_atom_site_fract_z\nLi1 Li 0 0 0\nCo1 Co 0 0 0.5\nO1 O 0 0 0.2396\n");
    CHECK_MSG(ih_parse_cif(t, "two_blocks.cif", &s) == 0, "%s", ih_last_error());
    if (s.z) {
        CHECK_INT(s.n_atoms, 12);
        ih_structure_free(&s);
    }
    CHECK(fails(ih_parse_cif, "meta.cif", "data_global\n_journal_name_full 'J'\n", "_cell_length_a"));
    /* deuterium is hydrogen to the network */
    snprintf(t, sizeof t, "%sloop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
             "_atom_site_fract_y\n_atom_site_fract_z\nD1 D 0 0 0\nO1 O 0.2 0 0\n", cell_cubic);
    CHECK(ih_parse_cif(t, "d.cif", &s) == 0);
    if (s.z) {
        CHECK(s.n_atoms == 2 && s.z[0] == 1);
        ih_structure_free(&s);
    }
}

/* gzip-compressed files are read as what they hold, named with or without .gz */
static void gzip_files(void) {
    size_t len;
    char *plain = ih_read_file("examples/LiFePO4_hop/initial.vasp", &len);
    CHECK(plain != NULL);
    if (!plain) return;
    const char *names[2] = {"CONTCAR.gz", "initial.vasp.gz"};
    ih_structure ref, s;
    CHECK(ih_read_structure("examples/LiFePO4_hop/initial.vasp", IH_FMT_UNKNOWN, &ref) == 0);
    for (int k = 0; k < 2; k++) {
        gzFile g = gzopen(tmp_path(names[k]), "wb");
        CHECK(g != NULL && gzwrite(g, plain, (unsigned)len) == (int)len);
        gzclose(g);
        CHECK_MSG(ih_read_structure(tmp_path(names[k]), IH_FMT_UNKNOWN, &s) == 0, "%s", ih_last_error());
        if (s.z) {
            CHECK(s.n_atoms == ref.n_atoms && !memcmp(s.frac, ref.frac, 3 * sizeof(double) * (size_t)s.n_atoms));
            ih_structure_free(&s);
        }
    }
    /* a cut-off compressed file: a one-line read error naming it */
    char *gz = ih_read_file(tmp_path("CONTCAR.gz"), NULL);
    FILE *raw = fopen(tmp_path("CONTCAR.gz"), "rb");
    unsigned char head[4096];
    size_t got = raw ? fread(head, 1, sizeof head, raw) : 0;
    if (raw) fclose(raw);
    free(gz);
    FILE *cut = fopen(tmp_path("cut_CONTCAR.gz"), "wb");
    fwrite(head, 1, got / 2, cut);
    fclose(cut);
    CHECK(ih_read_structure(tmp_path("cut_CONTCAR.gz"), IH_FMT_UNKNOWN, &s) == -1);
    CHECK_MSG(strstr(ih_last_error(), "cut_CONTCAR.gz") != NULL, "%s", ih_last_error());
    ih_structure_free(&ref);
    free(plain);
}

static void bad_files(void) {
    static const unsigned char bin[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0x03, 0x00, 0x3e, 0x00, 0xff, 0xfe, 0x80, '\n', 0};
    const char *exts[] = {"garbage.vasp", "garbage.cif", "garbage.xyz", "POSCAR", "garbage.json"};
    for (size_t k = 0; k < sizeof exts / sizeof *exts; k++) {
        CHECK(file_fails(exts[k], bin, sizeof bin, NULL));
        char empty[64];
        snprintf(empty, sizeof empty, "empty_%s", exts[k]);
        /* "empty_POSCAR" is not a VASP name: content sniffing finds nothing */
        CHECK(file_fails(empty, "", 0, k == 3 ? "unknown structure file format" : "empty"));
    }
    CHECK(file_fails("garbage.vasp", bin, sizeof bin, "binary"));
    CHECK(file_fails("noext", bin, sizeof bin, "binary"));
    CHECK(file_fails("noext", "hello\nworld\n", 12, "unknown structure file format"));
    /* high bytes without NUL: a parse error with the bytes shown as '?' */
    static const char high[] = "\xff\xfe\x80\x81\n\x90\x91 \xa0\n\xc3\xa9\n\xe2\x82\xac\n\xf0\x9f\x98\x80\n\n\n\n";
    CHECK(file_fails("high.vasp", high, sizeof high - 1, NULL));
    CHECK(file_fails("high.cif", high, sizeof high - 1, NULL));
    CHECK(file_fails("high.xyz", high, sizeof high - 1, NULL));
    static const char two[] =
        "[{\"atoms\":{\"lattice_mat\":[[3,0,0],[0,3,0],[0,0,3]],\"coords\":[[0,0,0]],\"elements\":[\"H\"]}},"
        "{\"atoms\":{\"lattice_mat\":[[3,0,0],[0,3,0],[0,0,3]],\"coords\":[[0,0,0]],\"elements\":[\"H\"]}}]";
    CHECK(file_fails("two.json", two, sizeof two - 1, "expected exactly one"));
    ih_structure s;
    CHECK(ih_read_structure("/nonexistent/x.vasp", IH_FMT_UNKNOWN, &s) == -1);
    CHECK(message_ok("/nonexistent/x.vasp", "cannot open"));
    CHECK(ih_read_structure("/nonexistent/noext", IH_FMT_UNKNOWN, &s) == -1);
    CHECK(message_ok("/nonexistent/noext", "cannot open"));
    /* format forced by the caller wins over the name */
    write_text(tmp_path("cscl.txt"), POSCAR_OK, strlen(POSCAR_OK));
    CHECK(ih_read_structure(tmp_path("cscl.txt"), IH_FMT_POSCAR, &s) == 0);
    ih_structure_free(&s);
    CHECK_INT(ih_guess_format(tmp_path("cscl.txt")), IH_FMT_POSCAR); /* by content */
    unlink(tmp_path("cscl.txt"));
    /* names */
    static const struct {
        const char *name;
        ih_format f;
    } names[] = {{"a/b/x.JSON", IH_FMT_JSON},      {"x.cif", IH_FMT_CIF},
                 {"x.CIF", IH_FMT_CIF},            {"x.xyz", IH_FMT_XYZ},
                 {"x.extxyz", IH_FMT_XYZ},         {"x.vasp", IH_FMT_POSCAR},
                 {"x.poscar", IH_FMT_POSCAR},      {"dir/POSCAR", IH_FMT_POSCAR},
                 {"CONTCAR", IH_FMT_POSCAR},       {"POSCAR_relaxed", IH_FMT_POSCAR},
                 {"CONTCAR.3", IH_FMT_POSCAR},     {"/nonexistent/x.txt", IH_FMT_UNKNOWN},
                 {"POSCAR.dir/x.dat", IH_FMT_UNKNOWN}};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        CHECK_MSG(ih_guess_format(names[k].name) == names[k].f, "%s guessed as %d", names[k].name,
                  ih_guess_format(names[k].name));
    /* contents of files with uninformative names */
    static const struct {
        const char *text;
        ih_format f;
    } sniff[] = {
        {"12\n1.0\n4 0 0\n0 4 0\n0 0 4\nCs Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n", IH_FMT_POSCAR},
        {"# comment\ndata_x\n_cell_length_a 4\n", IH_FMT_CIF},
        {"_cell_length_a 4\n", IH_FMT_CIF},
        {"2\nLattice=\"4 0 0 0 4 0 0 0 4\"\nCs 0 0 0\nCl 2 2 2\n", IH_FMT_XYZ},
        {"\xEF\xBB\xBF  [{\"jid\": 1}]", IH_FMT_JSON},
        {"{\"lattice_mat\": []}", IH_FMT_JSON},
    };
    for (size_t k = 0; k < sizeof sniff / sizeof *sniff; k++) {
        const char *path = tmp_path("structure");
        write_text(path, sniff[k].text, strlen(sniff[k].text));
        CHECK_MSG(ih_guess_format(path) == sniff[k].f, "content %zu guessed as %d", k,
                  ih_guess_format(path));
        unlink(path);
    }
    /* a POSCAR without a telling name reads through content sniffing */
    write_text(tmp_path("structure"), sniff[0].text, strlen(sniff[0].text));
    CHECK(ih_read_structure(tmp_path("structure"), IH_FMT_UNKNOWN, &s) == 0 && s.n_atoms == 2);
    ih_structure_free(&s);
    unlink(tmp_path("structure"));
}

/* The error names the source and is one printable line. */
static int clean_message(const char *name) {
    const char *e = ih_last_error();
    if (!strstr(e, name)) return 0;
    for (const char *p = e; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

static void ignore_warning(const char *message, void *user) { (void)message, (void)user; }

/* Truncate valid files at every byte and mutate single bytes: each parse either succeeds or
 * fails with a clean message; ASan/UBSan catch any memory error. */
static void robustness(void) {
    ih_set_warning_handler(ignore_warning, NULL); /* LiFePO4_Pnma.cif's two blocks warn on every read */
    static const struct {
        const char *file;
        parse_fn parse;
    } f[] = {{"dc100_SiC.pmg_sym.cif", ih_parse_cif},   {"LiFePO4_Pnma.cif", ih_parse_cif},
             {"dc100_SiC.ase.cif", ih_parse_cif},       {"ZrO2_special.vasp", ih_parse_poscar},
             {"dc100_SiC.ase.vasp", ih_parse_poscar},   {"AlFeO_columns.extxyz", ih_parse_xyz},
             {"dc100_SiC.ase.extxyz", ih_parse_xyz}};
    static const char alphabet[] = "0123456789 .-+_x\n\r\t'\";#?(/),eEDdCcSsTF";
    ih_rng rng;
    ih_rng_seed(&rng, 12345);
    long parses = 0, accepted = 0, bad_msgs = 0;
    for (size_t k = 0; k < sizeof f / sizeof *f; k++) {
        char path[256];
        snprintf(path, sizeof path, FIX "%s", f[k].file);
        size_t len;
        char *text = ih_read_file(path, &len);
        CHECK_MSG(text != NULL, "%s", ih_last_error());
        if (!text) continue;
        char *buf = malloc(len + 1);
        for (size_t cut = 0; cut <= len; cut++) {
            memcpy(buf, text, cut);
            buf[cut] = '\0';
            ih_structure s;
            parses++;
            if (f[k].parse(buf, "fuzz", &s) == 0) {
                accepted++;
                ih_structure_free(&s);
            } else if (!clean_message("fuzz")) {
                bad_msgs++;
            }
        }
        for (int m = 0; m < 1500; m++) {
            memcpy(buf, text, len + 1);
            int nflip = 1 + (int)(ih_rng_next(&rng) % 3);
            for (int q = 0; q < nflip; q++) {
                size_t at = (size_t)(ih_rng_next(&rng) % len);
                buf[at] = alphabet[ih_rng_next(&rng) % (sizeof alphabet - 1)];
            }
            ih_structure s;
            parses++;
            if (f[k].parse(buf, "fuzz", &s) == 0) {
                accepted++;
                CHECK(ih_structure_validate(&s, "fuzz", IH_MIN_SEPARATION, 0) == 0);
                ih_structure_free(&s);
            } else if (!clean_message("fuzz")) {
                bad_msgs++;
            }
        }
        free(buf);
        free(text);
    }
    ih_set_warning_handler(NULL, NULL);
    CHECK_INT(bad_msgs, 0);
    printf("robustness: %ld truncated/mutated parses, %ld accepted, all others clean errors\n",
           parses, accepted);
}

int main(void) {
    if (tmpdir_make("io") != 0) {
        perror("mkdtemp");
        return 2;
    }
    if (getenv("IONHOP_IO_FIXTURES")) cross_dir = getenv("IONHOP_IO_FIXTURES");
    char expected[1024];
    snprintf(expected, sizeof expected, "%s/expected.json", cross_dir);
    size_t len;
    char *text = ih_read_file(expected, &len);
    CHECK_MSG(text != NULL, "%s", ih_last_error());
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(cJSON_IsArray(root));
    const cJSON *entry;
    cJSON_ArrayForEach(entry, root) cross_check(entry);
    cJSON_Delete(root);
    printf("cross-check: %d fixture files read; %d compared with pymatgen, %d with ASE; %d round trips\n",
           n_files, n_pmg, n_ase, n_roundtrips);
    if (cross_dir == (const char *)FIX) CHECK(n_files >= 50 && n_pmg >= 40 && n_ase >= 50);

    check_example_hop();
    bad_poscar();
    bad_cif();
    bad_xyz();
    cif_named_groups();
    gzip_files();
    bad_files();
    robustness();
    printf("bad-input cases: %d\n", n_bad);
    rmdir(tmpdir);
    /* a message prefixed with a file name from the previous message (the pattern the library uses) */
    ih_set_error("only 1 F site");
    ih_set_error("%s: %s", "a.vasp", ih_last_error());
    CHECK(strcmp(ih_last_error(), "a.vasp: only 1 F site") == 0);
    return test_summary("test_io");
}
