/* ionhop: migration barriers of mobile ions in crystals with an ALIGNN graph network.
 *
 * The header for users of libionhop, in the order data flows: errors; elements; crystal
 * structures and their files; migration paths and the hops of an element; the predictor (a
 * model file loaded once, then hops, record files and hop listings predicted); metrics.
 * Training code adds ionhop_train.h, network code ionhop_nn.h, model-file code
 * ionhop_modelfile.h. Conventions:
 *  - functions returning int give 0 on success and -1 on failure; the reason is then in
 *    ih_last_error() (one line, naming the file and the problem where there is a file);
 *  - lattice rows are lattice vectors (Å), positions are fractional unless stated otherwise;
 *  - geometry is double precision, network tensors are float32, row-major.
 */
#ifndef IONHOP_H
#define IONHOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IH_VERSION "0.1.0"

/* ---------------------------------------------------------------------------------------- */
/* errors                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Last error message of the calling thread ("" if none). */
const char *ih_last_error(void);

/* Warnings: what the library did to an input that the user should know about (a disordered site
 * resolved, end points that differ by more than the moving ion). Each is one line, passed to the
 * handler in the thread that made it; the default handler (fn NULL) prints "ionhop: warning: MSG"
 * on stderr. The handler is process-wide: set it before starting threads. */
typedef void (*ih_warning_fn)(const char *message, void *user);
void ih_set_warning_handler(ih_warning_fn fn, void *user);

/* ---------------------------------------------------------------------------------------- */
/* elements (elements.c)                                                                    */
/* ---------------------------------------------------------------------------------------- */

#define IH_N_ATOM_FEATURES 92

/* Atomic number of an element symbol (case-sensitive, "Li"), 0 if unknown. Z 1..103. */
int ih_element_z(const char *symbol);
/* Symbol of atomic number z (1..103), NULL otherwise. */
const char *ih_element_symbol(int z);
/* Fill out[92] with the CGCNN one-hot vector of z (docs/method.md §3, Appendix A); Z >= 101 uses Z = 100.
 * Returns -1 for z outside 1..103. */
int ih_atom_features(int z, float *out);

/* ---------------------------------------------------------------------------------------- */
/* crystal structures (structure.c, io_*.c)                                                 */
/* ---------------------------------------------------------------------------------------- */

typedef struct ih_structure {
    int n_atoms;
    double lattice[3][3]; /* row i = lattice vector i, Å */
    double *frac;         /* n_atoms × 3 fractional coordinates (not wrapped) */
    double *cart;         /* n_atoms × 3 Cartesian Å if given as Cartesian input, else NULL */
    int *z;               /* n_atoms atomic numbers */
    /* record metadata (JSON records); jid is "" and has_target 0 for plain structure files */
    char jid[64];
    int has_target;
    double target;
    char sys_name[128];
    char klass[64]; /* the record's "class" */
} ih_structure;

/* A list of structures, e.g. a whole JSON record file. */
typedef struct ih_structure_set {
    int n;
    ih_structure *items;
} ih_structure_set;

/* Allocate arrays for n atoms (zeroed metadata). */
int ih_structure_init(ih_structure *s, int n_atoms);
void ih_structure_free(ih_structure *s);
void ih_structure_set_free(ih_structure_set *set);
int ih_structure_copy(ih_structure *dst, const ih_structure *src);
/* Sanity checks every reader applies: finite numbers, non-degenerate cell (volume > 1e-6 Å^3 and
 * not absurdly skewed), known elements, and no two atoms closer than min_separation Å (periodic);
 * the first n_virtual sites (interpolated path images of a 5-image record) are exempt from the
 * overlap check. `what` names the source in the message. Structure files use
 * IH_MIN_SEPARATION; the curated JSON records tolerate near-duplicates down to
 * IH_MIN_SEPARATION_RECORDS (the shared data holds host sites 0.014 Å apart). */
#define IH_MIN_SEPARATION 0.1
#define IH_MIN_SEPARATION_RECORDS 1e-3
int ih_structure_validate(const ih_structure *s, const char *what, double min_separation,
                          int n_virtual);
/* 1 if sites 0-4 are one element on a straight, evenly spaced line (the 5-image layout). */
int ih_structure_is_5image(const ih_structure *s);
/* Cartesian position of atom i (x = f·L, the lattice as stored). */
/* Cartesian position (Å) of fractional coordinates f in the lattice whose rows are L. */
void ih_frac_to_cart(const double L[3][3], const double f[3], double x[3]);
void ih_structure_cart(const ih_structure *s, int i, double out[3]);
double ih_structure_volume(const ih_structure *s);
/* Distance between neighbouring lattice planes of each family (planes spanned by the other two
 * lattice vectors), Å: a point r Å away is at most r / spacing[k] translations away along k. */
void ih_lattice_plane_spacings(const double L[3][3], double spacing[3]);
/* Inverse of a 3×3 matrix (rows = lattice vectors); -1 if singular or not finite. det may be NULL. */
int ih_mat3_inverse(const double L[3][3], double inv[3][3], double *det);
/* frac = cart · L⁻¹ for a structure read in Cartesian coordinates; errors name `name`. */
int ih_frac_from_cart(ih_structure *s, const char *name);

typedef enum {
    IH_FMT_UNKNOWN = 0,
    IH_FMT_JSON,   /* list of records (or one record / one atoms object) of ../shared/data */
    IH_FMT_POSCAR, /* VASP 5 POSCAR / CONTCAR */
    IH_FMT_CIF,
    IH_FMT_XYZ     /* extended XYZ with Lattice= */
} ih_format;

/* Guess the format from the name (and, failing that, the first bytes of the file). */
ih_format ih_guess_format(const char *path);
/* Read every structure of a file (a JSON record file gives many, the other formats one). */
int ih_read_structures(const char *path, ih_format fmt, ih_structure_set *out);
/* Read exactly one structure (error if the file holds none or several). */
int ih_read_structure(const char *path, ih_format fmt, ih_structure *out);

/* Disordered structures (CIF occupancies; docs/method.md §12). Atoms closer than
 * IH_SHARED_SITE_DISTANCE Å share one site, and partly occupied atoms of one element closer than
 * IH_SPLIT_SITE_DISTANCE Å are one split site: each such site becomes one atom of its majority
 * element at the occupancy-weighted mean position. Then IH_DISORDER_SITES (the default) keeps every
 * partly occupied site as an occupied one (for the mobile element: every candidate site of the
 * hop network), IH_DISORDER_HALF only those of occupancy >= 0.5, and IH_DISORDER_REFUSE refuses
 * any occupancy under 0.99. Each change is reported as a warning. */
typedef enum ih_disorder { IH_DISORDER_SITES = 0, IH_DISORDER_HALF, IH_DISORDER_REFUSE } ih_disorder;
#define IH_SHARED_SITE_DISTANCE 0.1
#define IH_SPLIT_SITE_DISTANCE 1.0
typedef struct ih_read_opts {
    ih_disorder disorder;
    /* a CIF's data block (data_BLOCK, case-insensitive; "data_" may be included): an error lists
     * the blocks the file has; a name given for a file of another format is an error. NULL: the
     * first block with atom sites, with a warning when several blocks hold some. */
    const char *block;
} ih_read_opts; /* all zero: the defaults */
/* ih_read_structures / ih_read_structure with options (o may be NULL: the defaults). */
int ih_read_structures_opts(const char *path, ih_format fmt, const ih_read_opts *o, ih_structure_set *out);
int ih_read_structure_opts(const char *path, ih_format fmt, const ih_read_opts *o, ih_structure *out);
/* "sites", "half", "refuse" -> *out; -1 if the name is none of these */
int ih_disorder_from_name(const char *name, ih_disorder *out);

int ih_read_json(const char *path, ih_structure_set *out);
int ih_read_poscar(const char *path, ih_structure *out);
int ih_read_cif(const char *path, ih_structure *out);
int ih_read_xyz(const char *path, ih_structure *out);
/* The same from memory; `name` is used in error messages. */
int ih_parse_json(const char *text, const char *name, ih_structure_set *out);
int ih_parse_poscar(const char *text, const char *name, ih_structure *out);
int ih_parse_cif(const char *text, const char *name, ih_structure *out);
int ih_parse_xyz(const char *text, const char *name, ih_structure *out);

/* Writers (atomic: temporary file + rename). */
int ih_write_poscar(const char *path, const ih_structure *s);
int ih_write_cif(const char *path, const ih_structure *s);
int ih_write_xyz(const char *path, const ih_structure *s);
int ih_write_json(const char *path, const ih_structure *items, int n);

/* ---------------------------------------------------------------------------------------- */
/* migration paths (path.c)                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* The 5-image structure of docs/method.md §1.3: the ion (0-based index in `ini`) at five evenly spaced
 * points from its initial position to final_frac (moved by a lattice vector so every component of
 * the fractional step lies in [-0.5, 0.5]), followed by the other sites of `ini` in order. */
int ih_path_5image(const ih_structure *ini, int ion, const double final_frac[3], ih_structure *out);
/* The one ion that moves between two NEB end points (same atoms, cells within IH_CELL_CHANGE_MAX),
 * minimum-image aware: *ion is its index in ini, final_frac (may be NULL) its position in fin. Atoms
 * listed in a different order in the two files are matched by position (closest same-element pairs
 * first). Ambiguous or inconsistent end points (other atom counts or elements, cells further apart)
 * are an error naming both files. */
#define IH_CELL_CHANGE_MAX 0.10
int ih_path_find_ion(const ih_structure *ini, const ih_structure *fin, const char *ini_name,
                     const char *fin_name, int *ion, double final_frac[3], double *hop_length);
/* The same, with how the end points differ beyond the moving ion: the cells (each lattice vector's
 * relative change of length, each angle's change, and the largest of these with angles in radians,
 * which IH_CELL_CHANGE_MAX bounds) and the other atoms' displacements (minimum image, the
 * fractional difference in the initial cell, atoms matched as ih_path_find_ion matches them). */
typedef struct ih_endpoint_diff {
    int ion;                 /* the moving ion (0-based, in ini) */
    double final_frac[3];    /* its position in fin */
    double hop_length;       /* Å */
    double length_change[3]; /* |a|, |b|, |c| of fin over those of ini, minus 1 */
    double angle_change[3];  /* alpha, beta, gamma of fin minus those of ini, degrees */
    double cell_change;      /* the largest |length_change| and |angle_change| (radians) */
    int n_moved;             /* other atoms displaced more than host_tol Å */
    int most_moved;          /* the other atom displaced most (0-based, in ini; -1 if none) */
    double most_moved_by;    /* its displacement, Å */
} ih_endpoint_diff;
int ih_path_compare_endpoints(const ih_structure *ini, const ih_structure *fin, const char *ini_name,
                              const char *fin_name, double host_tol, ih_endpoint_diff *out);
/* The nearest atom of s to fractional point p other than atom `skip` (-1: none skipped) and its
 * periodic images, over every periodic image of the others: its distance (Å; INFINITY if there is
 * none) and *atom (may be NULL) its index, -1 if none. */
double ih_nearest_atom(const ih_structure *s, const double p[3], int skip, int *atom);
/* Initial (site 0 + host) and final (site 4 + host) structures of a 5-image structure (§1.4). */
int ih_path_endpoints(const ih_structure *five, ih_structure *ini, ih_structure *fin);
/* The crystal a 5-image structure was cut from: its host with the ion on both end sites (the
 * initial structure's atoms, then the final site), e.g. to screen the hosts of path records. */
int ih_path_crystal(const ih_structure *five, ih_structure *out);
/* How close the straight path of a 5-image structure (the segment from image 0 to image 4) comes
 * to any other site, over all periodic images, in Å; *site (may be NULL) gets that site's index
 * in `five` (5 or more). The model sees the path only at five points: a path that passes through
 * or near a host atom is outside what it learnt well (see docs/results.md). */
double ih_path_closest_approach(const ih_structure *five, int *site);
/* Geometric descriptors of the straight path of a 5-image structure, fed to the network with
 * ih_config.path_desc: [0] hop length, [1] the bottleneck (nearest host site to any of 17 points
 * along the path), [2] / [3] / [4] the nearest host site to the initial site / final site /
 * midpoint, [5] / [6] host sites (periodic images counted) within 3 Å of the midpoint / the initial
 * site, [7] cell volume per host site (Å, Å^3). raw (may be NULL) gets them as such, scaled (may be
 * NULL) centred and scaled by fixed constants to O(1). -1 if `five` is not a 5-image structure. */
#define IH_PATH_DESC 8
int ih_path_descriptors(const ih_structure *five, double raw[IH_PATH_DESC], float scaled[IH_PATH_DESC]);

/* The hop network of one element (hops.c): every vacancy hop from a site of the element in cell
 * (0,0,0) to a site of the element in cell `image`, up to max_length Å, hops to a periodic image
 * of the same site included, so the network is that of the crystal whatever cell was written.
 * Hops are grouped into classes that a symmetry operation of the structure (spglib, tolerance
 * symprec Å) maps onto each other, direction included. */
typedef struct ih_hop {
    int from, to;       /* 0-based sites of the structure */
    int image[3];       /* the lattice cell of `to` */
    double step[3];     /* fractional displacement: frac[to] + image − frac[from] */
    double length;      /* Å */
    int multiplicity;   /* a class representative: the hops of its class in the cell; else 1 */
    int klass;          /* the hop's class (index of its representative) */
} ih_hop;
typedef struct ih_hops_info {
    int n_sites;               /* sites of the element */
    int n_hops;                /* hops up to max_length, all classes */
    int n_too_long;            /* always 0 (hops beyond half the cell are hops like any other) */
    int spacegroup;            /* 0 if spglib found none (then every hop is its own class) */
    char spacegroup_symbol[16];
} ih_hops_info;
/* Every hop (shortest first) and one representative per class (in order of first appearance). */
typedef struct ih_hop_network {
    int n_hops;
    ih_hop *hops;
    int n_classes;
    ih_hop *classes;
    ih_hops_info info;
} ih_hop_network;
/* The symmetry tolerance (Å) the command-line tool and the Python package use unless told:
 * chosen so that relaxed structures keep their space group (docs/results.md). */
#define IH_DEFAULT_SYMPREC 0.1
int ih_hop_network_build(const ih_structure *s, int z, double max_length, double symprec, ih_hop_network *net);
void ih_hop_network_free(ih_hop_network *net);
/* The class representatives alone (malloc'ed), as ih_hop_network_build finds them. */
int ih_hops_enumerate(const ih_structure *s, int z, double max_length, double symprec, ih_hop **hops,
                      int *n_hops, ih_hops_info *info);
/* The cell a hop is predicted in: the diagonal supercell n[0]×n[1]×n[2] of s whose plane spacings
 * are all at least min_spacing Å and in which the hop is the nearest image of its path (every step
 * component below half the supercell); its destination site emptied; *ion the moving ion's index and
 * `to` its fractional destination, for ih_path_5image. */
int ih_hop_supercell_size(const ih_structure *s, const ih_hop *h, double min_spacing, int n[3]);
int ih_hop_cell(const ih_structure *s, const ih_hop *h, double min_spacing, ih_structure *ini, int *ion,
                double to[3]);
/* The canonical cell of the crystal s (cell.c): spglib's primitive cell, not rotated, Niggli-reduced,
 * atoms wrapped into [0, 1); shift (Cartesian Å) carries every atom of s onto an atom of it. The
 * same crystal written in any cell, origin or atom order has the same canonical cell. */
int ih_canonical_cell(const ih_structure *s, double symprec, ih_structure *out, double shift[3]);
/* Hop h of s as the same hop of the canonical cell c (its sites, image and step in c). */
int ih_hop_to_cell(const ih_structure *s, const ih_hop *h, const ih_structure *c, const double shift[3],
                   double symprec, ih_hop *out);
/* The hop in s itself (no supercell: only for a hop shorter than half the cell to another site). */
int ih_hop_initial(const ih_structure *s, const ih_hop *h, ih_structure *ini, int *ion, double to[3]);

/* Percolation of a hop network (percolation.c). Sites 0..n_sites-1 of one cell; connection k
 * joins site from[k] of cell (0,0,0) and site to[k] of cell image[k] (either way), open for every
 * threshold >= em[k] (eV; NaN never opens). barrier[d-1] is the smallest threshold at which the
 * open connections join sites into a network that repeats in d independent lattice directions
 * (infinite in d dimensions), NaN if none does; direction[d-1] holds d integer lattice vectors
 * (rows; the rest zero) spanning the repeat of that network at that threshold. */
typedef struct ih_percolation {
    double barrier[3];
    int direction[3][3][3];
} ih_percolation;
int ih_percolation_compute(int n_sites, int n_connections, const int *from, const int *to, const int (*image)[3],
                           const double *em, ih_percolation *out);

/* ---------------------------------------------------------------------------------------- */
/* prediction (predict.c): load a model file once, then predict hops and record files        */
/* ---------------------------------------------------------------------------------------- */

/* A loaded model file (single model or ensemble, any arch) with its description. Calls on one
 * predictor from several threads are safe: they are serialised (the network's arenas belong to
 * the loaded model), and each forward pass already uses every core through OpenMP/BLAS. */
typedef struct ih_predictor ih_predictor;

/* The bundled default model: $IONHOP_MODEL if set; else share/ionhop/models/default.ionhop beside
 * the executable's bin/ (an installed copy), or models/default.ionhop above its build/ folder. */
const char *ih_default_model_path(void);
/* Load a model file (path NULL: ih_default_model_path()). NULL with ih_last_error() on failure. */
ih_predictor *ih_predictor_load(const char *path);
void ih_predictor_free(ih_predictor *p);
const char *ih_predictor_path(const ih_predictor *p);
int ih_predictor_n_members(const ih_predictor *p);
int ih_predictor_n_tasks(const ih_predictor *p);
const char *ih_predictor_task_name(const ih_predictor *p, int task); /* "em", "fe", …; NULL if out of range */
/* 1 for a migration-barrier model (trained on 5-image path structures): it predicts hops; other
 * models (pre-trained property models) predict record files only. */
int ih_predictor_reads_hops(const ih_predictor *p);
const char *ih_predictor_metadata(const ih_predictor *p); /* the model file's JSON description */
/* Calibrated prediction intervals (docs/method.md §13), for models whose file carries a
 * calibration (ionhop calibrate): the central interval at `level` (e.g. 0.9) of a prediction with
 * its ensemble spread, and P(Em < IH_GOOD_CONDUCTOR_EV). ion_z is the mobile ion's atomic number
 * (ih_hop_result.ion_z): the calibration is per mobile ion where the model stores one (0: over all
 * ions). Without a calibration: -1 (error set) and NaN. */
int ih_predictor_has_calibration(const ih_predictor *p);
int ih_predictor_interval(const ih_predictor *p, int ion_z, double em, double spread, double level, double *low,
                          double *high);
double ih_predictor_p_good(const ih_predictor *p, int ion_z, double em, double spread);
/* 1 if the record id `jid` was among the model's training records, 0 if not, -1 if the model does
 * not say (no stored training domain). */
int ih_predictor_trained_on(const ih_predictor *p, const char *jid);

/* One hop's prediction. */
typedef struct ih_hop_result {
    int ion;                 /* 0-based index of the moving ion in the initial structure */
    int ion_z;               /* its atomic number */
    double from[3], to[3];   /* its fractional start and destination */
    double length;           /* Å */
    double em, spread;       /* eV: ensemble mean, and the members' population standard deviation */
    double closest_approach; /* Å: how close the straight path comes to a host atom */
    int nearest_atom;        /* that atom (0-based, in the initial structure), -1 if none */
    double rep_distance;     /* distance from the training records in the model's representation, in
                                units of their own typical distance (docs/method.md §13); NaN when
                                the model stores none */
} ih_hop_result;
/* Applicability (docs/results.md §35): the reasons, joined by "; " into why, that the hop r of
 * the structure ini lies outside the model's training domain (a mobile ion absent or rare in
 * training, a host element in no training structure, a path closer to a host atom than 99 % of
 * the training paths); returns how many (0 also when the model stores no domain). */
int ih_predictor_domain_check(const ih_predictor *p, const ih_structure *ini, const ih_hop_result *r, char *why,
                              size_t cap);

/* members (may be NULL): each ensemble member's Em, n_members values per hop. Errors name the
 * structures by the names given (NULL: generic names). */
/* Two NEB end points: the moving ion is found (minimum-image aware, any atom order). End points
 * that differ by more than the moving ion are predicted with a warning (ih_set_warning_handler)
 * saying what differs and whether the model reads it: cells whose lengths or angles differ by more
 * than IH_CELL_CHANGE_WARN (relative; angles in radians), refused beyond IH_CELL_CHANGE_MAX; other
 * atoms displaced more than IH_HOST_MOVE_WARN Å (docs/commands.md, docs/results.md). */
#define IH_CELL_CHANGE_WARN 0.005
#define IH_HOST_MOVE_WARN 0.5
int ih_predict_endpoints(ih_predictor *p, const ih_structure *ini, const ih_structure *fin, const char *ini_name,
                         const char *fin_name, ih_hop_result *out, double *members);
/* Atom `ion` (0-based) of s moving to fractional position `to`; refused if the ion would land on
 * another atom, does not move, or would end closer than IH_DEST_MIN_HOST Å to another atom (no site
 * is); closer than IH_DEST_WARN_HOST Å (closer than any end site of the training hops) gives a
 * warning. A destination on a periodic image of the ion itself (`to` = its position + a lattice
 * vector) is a hop between two sites the cell cannot tell apart: it is predicted, with a warning,
 * as the vacancy hop to that image in the supercell of ih_hop_cell (IH_HOP_MIN_SPACING), and the
 * result's atoms and positions are those of s. */
#define IH_DEST_MIN_HOST 0.8
#define IH_DEST_WARN_HOST 1.5
int ih_predict_move(ih_predictor *p, const ih_structure *s, const char *name, int ion, const double to[3],
                    ih_hop_result *out, double *members);
/* A batch of such hops in one pass (no destination checks): hop k moves atom ion[k] of ini[k];
 * what (may be NULL) names them in errors. A structure whose line graph exceeds
 * IH_MAX_STRUCTURE_TRIPLETS (ionhop_train.h; IONHOP_MAX_TRIPLETS overrides) is refused before
 * anything large is allocated, with its size and the memory it would need. */
int ih_predict_moves(ih_predictor *p, int n, const ih_structure *ini, const char *what, const int *ion,
                     const double (*to)[3], ih_hop_result *out, double *members);

/* Predictions of a record file or structure set (5-image path records for a barrier model;
 * structures for a property model): n × n_tasks means and spreads, n × n_tasks × n_members member
 * values, and each record's target (NaN where it has none). */
typedef struct ih_record_predictions {
    int n, n_tasks, n_members;
    char (*jid)[64];
    double *target, *mean, *spread, *members;
    double *rep_distance; /* per record, as ih_hop_result's; NaN when the model stores none */
    int *ion_z;           /* per record, the mobile ion's atomic number (5-image records; else 0) */
} ih_record_predictions;
int ih_predict_file(ih_predictor *p, const char *path, ih_record_predictions *out);
int ih_predict_set(ih_predictor *p, const ih_structure_set *set, const char *what, ih_record_predictions *out);
void ih_record_predictions_free(ih_record_predictions *r);

/* The hop network of element z in s up to max_hop Å (ih_hop_network_build, tolerance symprec
 * Å), one prediction per class (each in the cell of ih_hop_cell with min_spacing
 * IH_HOP_MIN_SPACING), order listing the classes from the lowest barrier up, and the network's
 * 1D/2D/3D percolation barriers; a connection between two sites is open at the larger of the
 * barriers of its two directions (the ion must be able to go both ways for transport). */
#define IH_HOP_MIN_SPACING 7.0
typedef struct ih_element_hops {
    ih_hop_network net;
    int n;                 /* = net.n_classes */
    ih_hop *hops;          /* = net.classes */
    ih_hops_info info;     /* = net.info */
    ih_hop_result *result; /* per class */
    int *order;
    ih_percolation percolation;
} ih_element_hops;
int ih_predict_element_hops(ih_predictor *p, const ih_structure *s, const char *name, int z, double max_hop,
                            double symprec, ih_element_hops *out);
void ih_element_hops_free(ih_element_hops *h);
/* A picture of the network for VESTA, OVITO or ASE (screen.c): s as extended XYZ plus, for every hop
 * open at the highest finite percolation barrier (every hop if none), markers "X" at 1/4, 1/2 and
 * 3/4 of its path with a hop_class column (-1 for atoms). Written atomically. */
int ih_write_hop_network(const char *path, const ih_structure *s, const ih_element_hops *h);

/* Screening (screen.c): every structure of the inputs (structure files, record files of many
 * structures, directories of such files) through one predictor: its hop network, a barrier per
 * class, the 1D/2D/3D percolation barriers and a verdict, or an error row with the reason. A
 * 5-image path record stands for its crystal (both end sites occupied). Results go to out_json (a
 * list, one object per structure, in input order) and out_csv (a summary; may be NULL), both
 * written atomically at the end; finished structures are kept in OUT_JSON.partial as they finish,
 * and a run of the same inputs and settings continues from it. progress (may be NULL) gets one
 * line per structure. A result carries the warnings its structure raised ("warnings": a list). */
typedef struct ih_screen_opts {
    int z;                 /* the mobile element; 0: each path record's own ion */
    double max_hop;        /* Å */
    double symprec;        /* Å */
    ih_disorder disorder;  /* how partly occupied sites are read */
    const char *out_json, *out_csv;
    FILE *progress;
    const char *block; /* NULL, or the CIF data block of every input (ih_read_opts) */
} ih_screen_opts;
typedef struct ih_screen_summary {
    int n, n_ok, n_error, n_resumed;
    double seconds;
} ih_screen_summary;
void ih_screen_opts_default(ih_screen_opts *o);
int ih_screen(ih_predictor *p, const char *const *inputs, int n_inputs, const ih_screen_opts *o, ih_screen_summary *sum);

/* ---------------------------------------------------------------------------------------- */
/* metrics (metrics.c)                                                                      */
/* ---------------------------------------------------------------------------------------- */

typedef struct ih_regression_metrics {
    int n;
    double mae, rmse;
    double r2; /* scikit-learn: 1 − SS_res/SS_tot; constant truth gives 1 if SS_res = 0 else 0;
                  NaN for n = 1 */
} ih_regression_metrics;

/* Good conductor = value < threshold (strict), for truth and prediction; positive = good.
 * Ratios with a zero denominator are 0 (scikit-learn's zero_division default). */
typedef struct ih_class_metrics {
    int n, tp, fp, fn, tn;
    double accuracy, precision, recall, f1;
} ih_class_metrics;

#define IH_GOOD_CONDUCTOR_EV 0.65

/* -1 if n < 1 or a value is not finite. */
int ih_regression_metrics_compute(const double *truth, const double *pred, int n,
                                  ih_regression_metrics *out);
int ih_class_metrics_compute(const double *truth, const double *pred, int n, double threshold,
                             ih_class_metrics *out);
/* Both as a small report under `label`: MAE, RMSE, R², the good-conductor classification at
 * IH_GOOD_CONDUCTOR_EV and its confusion matrix. */
int ih_metrics_print(FILE *f, const double *truth, const double *pred, int n, const char *label);

#ifdef __cplusplus
}
#endif
#endif
