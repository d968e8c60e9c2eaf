/* Disordered CIFs (docs/method.md §12): three published fast-ion conductors (garnet, LGPS type,
 * argyrodite; tests/fixtures/disordered/) under each policy, and hand-made cases for shared sites,
 * split sites, empty rows, over-full sites and ties, each with the warning it must raise. */
#include "check.h"
#include "core/util.h"
#include "ionhop.h"

#include <math.h>
#include <string.h>

static int count_z(const ih_structure *s, int z) {
    int n = 0;
    for (int i = 0; i < s->n_atoms; i++) n += s->z[i] == z;
    return n;
}

/* read path under mode; the warnings joined into warn (one per line) */
static int read_with(const char *path, ih_disorder mode, ih_structure *s, char *warn, size_t cap) {
    ih_read_opts o = {.disorder = mode};
    ih_warnings_capture_begin();
    int rc = ih_read_structure_opts(path, IH_FMT_UNKNOWN, &o, s);
    char **msgs;
    int n = ih_warnings_capture_end(&msgs);
    warn[0] = 0;
    for (int k = 0; k < n; k++) {
        size_t len = strlen(warn);
        snprintf(warn + len, cap - len, "%s\n", msgs[k]);
        free(msgs[k]);
    }
    free(msgs);
    return rc;
}

static int parse_with(const char *text, ih_disorder mode, ih_structure *s, char *warn, size_t cap) {
    char path[] = "/tmp/ionhop-test-disorder-XXXXXX.cif";
    int fd = mkstemps(path, 4);
    if (fd < 0) return -2;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    int rc = read_with(path, mode, s, warn, cap);
    remove(path);
    return rc;
}

static const char *cubic_head = "data_t\n_cell_length_a 10\n_cell_length_b 10\n_cell_length_c 10\n"
                                "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
                                "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
                                "_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n";

int main(void) {
    ih_structure s;
    char warn[4096], text[2048];
    ih_set_warning_handler(NULL, NULL);

    /* garnet: 24d Li kept, 96h split pairs (0.75 Å apart) merged onto 48 sites, 72 Li candidate sites */
    const char *llzo = "tests/fixtures/disordered/llzo_cubic.cif";
    CHECK(read_with(llzo, IH_DISORDER_SITES, &s, warn, sizeof warn) == 0);
    CHECK_INT(s.n_atoms, 24 + 16 + 96 + 72);
    CHECK_INT(count_z(&s, 3), 72);
    CHECK_INT(count_z(&s, 57), 24);
    CHECK(strstr(warn, "site 'Li2': split positions up to 0.75 Å apart merged into 48 sites") != NULL);
    CHECK(strstr(warn, "72 partly occupied Li sites (occupancy 0.56-0.88)") != NULL);
    CHECK(strstr(warn, "sum to 56.0") != NULL);
    /* every merged site sits on 48g (1/8, y, 1/4 - y) or its images: no Li closer than 1.6 Å */
    double dmin = 1e9;
    for (int i = 0; i < s.n_atoms; i++)
        for (int j = i + 1; j < s.n_atoms; j++) {
            if (s.z[i] != 3 || s.z[j] != 3) continue;
            double d[3], x[3];
            for (int c = 0; c < 3; c++) d[c] = s.frac[3 * j + c] - s.frac[3 * i + c], d[c] -= floor(d[c] + 0.5);
            ih_frac_to_cart(s.lattice, d, x);
            double r = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
            if (r < dmin) dmin = r;
        }
    CHECK_MSG(dmin > 1.6 && dmin < 2.2, "closest Li-Li %.3f Å", dmin);
    ih_structure_free(&s);
    CHECK(read_with(llzo, IH_DISORDER_HALF, &s, warn, sizeof warn) == 0);
    CHECK_INT(count_z(&s, 3), 72); /* 0.564 and 0.884: nothing under one half */
    ih_structure_free(&s);
    CHECK(read_with(llzo, IH_DISORDER_REFUSE, &s, warn, sizeof warn) == -1);
    CHECK(strstr(ih_last_error(), "llzo_cubic.cif: site 'Li1' has occupancy 0.564") != NULL);

    /* LGPS type: Si/P share 4d (Si the majority), Li on four partial sites; half drops Li1 (0.437) */
    const char *lgps = "tests/fixtures/disordered/lsips_lgps.cif";
    CHECK(read_with(lgps, IH_DISORDER_SITES, &s, warn, sizeof warn) == 0);
    CHECK_INT(count_z(&s, 3), 32);
    CHECK_INT(count_z(&s, 14), 4);
    CHECK_INT(count_z(&s, 15), 2);
    CHECK_INT(count_z(&s, 16), 24);
    CHECK(strstr(warn, "site 'Si1' and site 'P1' share a position (occupancies 0.675 and 0.325): 4 such sites read "
                       "as site 'Si1'") != NULL);
    ih_structure_free(&s);
    CHECK(read_with(lgps, IH_DISORDER_HALF, &s, warn, sizeof warn) == 0);
    CHECK_INT(count_z(&s, 3), 16);
    CHECK(strstr(warn, "16 sites with occupancy under 0.5 left empty") != NULL);
    ih_structure_free(&s);

    /* argyrodite: S/Cl exchange on 4a and 4d resolved by majority, 48 half-occupied Li sites */
    CHECK(read_with("tests/fixtures/disordered/li6ps5cl_argyrodite.cif", IH_DISORDER_SITES, &s, warn, sizeof warn) == 0);
    CHECK_INT(count_z(&s, 3), 48);
    CHECK_INT(count_z(&s, 17), 4);
    CHECK_INT(count_z(&s, 16), 20);
    CHECK_INT(count_z(&s, 15), 4);
    ih_structure_free(&s);

    /* a split pair symmetric about x = 0.5 becomes one full site at 0.5: no partial-site warning */
    snprintf(text, sizeof text, "%sO1 O 0 0 0 1\nLi1 Li 0.48 0.5 0.5 0.5\nLi2 Li 0.52 0.5 0.5 0.5\n", cubic_head);
    CHECK(parse_with(text, IH_DISORDER_SITES, &s, warn, sizeof warn) == 0);
    CHECK_INT(s.n_atoms, 2);
    CHECK_NEAR(s.frac[3], 0.5, 1e-12);
    CHECK(strstr(warn, "split positions up to 0.40 Å apart merged into 1 site") != NULL);
    CHECK(strstr(warn, "partly occupied") == NULL);
    ih_structure_free(&s);
    /* unequal weights: the mean leans to the heavier position */
    snprintf(text, sizeof text, "%sO1 O 0 0 0 1\nLi1 Li 0.48 0.5 0.5 0.75\nLi2 Li 0.52 0.5 0.5 0.25\n", cubic_head);
    CHECK(parse_with(text, IH_DISORDER_SITES, &s, warn, sizeof warn) == 0);
    CHECK_NEAR(s.frac[3], 0.49, 1e-12);
    ih_structure_free(&s);
    /* partial sites of one element further apart than IH_SPLIT_SITE_DISTANCE stay two sites */
    snprintf(text, sizeof text, "%sO1 O 0 0 0 1\nLi1 Li 0.4 0.5 0.5 0.5\nLi2 Li 0.6 0.5 0.5 0.5\n", cubic_head);
    CHECK(parse_with(text, IH_DISORDER_SITES, &s, warn, sizeof warn) == 0);
    CHECK_INT(s.n_atoms, 3);
    ih_structure_free(&s);
    /* a tie on a shared site goes to the first listed; an empty row is left out with a warning */
    snprintf(text, sizeof text, "%sAl1 Al 0 0 0 0.5\nGa1 Ga 0 0 0 0.5\nNa1 Na 0.5 0.5 0.5 0\nO1 O 0.25 0.25 0.25 1\n",
             cubic_head);
    CHECK(parse_with(text, IH_DISORDER_SITES, &s, warn, sizeof warn) == 0);
    CHECK_INT(s.n_atoms, 2);
    CHECK_INT(s.z[0], 13);
    CHECK(strstr(warn, "site 'Na1' has occupancy 0: left out") != NULL);
    ih_structure_free(&s);
    /* occupancies summing to more than 1 on one position are reported */
    snprintf(text, sizeof text, "%sAl1 Al 0 0 0 0.9\nGa1 Ga 0 0 0 0.6\nO1 O 0.25 0.25 0.25 1\n", cubic_head);
    CHECK(parse_with(text, IH_DISORDER_SITES, &s, warn, sizeof warn) == 0);
    CHECK(strstr(warn, "1 site with occupancies summing to more than 1") != NULL);
    ih_structure_free(&s);
    /* a fully occupied file raises nothing and is unchanged by every policy */
    snprintf(text, sizeof text, "%sLi1 Li 0 0 0 1\nO1 O 0.5 0.5 0.5 0.995\n", cubic_head);
    CHECK(parse_with(text, IH_DISORDER_REFUSE, &s, warn, sizeof warn) == 0);
    CHECK_INT(s.n_atoms, 2);
    CHECK(warn[0] == 0);
    ih_structure_free(&s);
    /* nothing occupied at all */
    snprintf(text, sizeof text, "%sLi1 Li 0 0 0 0\n", cubic_head);
    CHECK(parse_with(text, IH_DISORDER_SITES, &s, warn, sizeof warn) == -1);
    CHECK(strstr(ih_last_error(), "no occupied atom site") != NULL);
    /* negative occupancy */
    snprintf(text, sizeof text, "%sLi1 Li 0 0 0 -0.2\n", cubic_head);
    CHECK(parse_with(text, IH_DISORDER_SITES, &s, warn, sizeof warn) == -1);
    CHECK(strstr(ih_last_error(), "negative occupancy") != NULL);

    ih_disorder d;
    CHECK(ih_disorder_from_name("half", &d) == 0 && d == IH_DISORDER_HALF);
    CHECK(ih_disorder_from_name("random", &d) == -1);
    return test_summary("test_disorder");
}
