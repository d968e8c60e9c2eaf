/* ionhop for training: datasets of records held as graphs, target scaling, the training loop
 * with its resumable state, splits and folds by host, the optimiser and schedule, losses, seeded
 * random numbers, and model files loaded with their description for ensemble prediction. */
#ifndef IONHOP_TRAIN_H
#define IONHOP_TRAIN_H
#include "ionhop_nn.h"
#include "ionhop_modelfile.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* datasets (dataset.c)                                                                     */
/* ---------------------------------------------------------------------------------------- */

/* Records of one or more files held as crystal graphs without line graphs (those are built per
 * micro-batch). File t supplies task t: targets and mask are n × n_tasks. */
typedef struct ih_dataset {
    int n, n_tasks;
    ih_graph *graphs;
    float *targets, *mask;
    char (*jid)[64];
    char (*group)[128];     /* host: sys_name without its trailing _N path suffix (else jid) */
    long *n_triplets;       /* line-graph size of each graph, for micro-batch planning */
    unsigned char *five_image; /* record is a 5-image path structure (docs/method.md §1.3) */
    ih_structure *structures; /* only if loaded with keep_structures */
    int from_cache;         /* files whose graphs came from the cache */
    int input;              /* IH_INPUT_*: what graphs (and graphs2) are */
    ih_graph *graphs2;      /* G2 of each record (NULL for IH_INPUT_SINGLE) */
    long *n_triplets2;
} ih_dataset;

/* cache_dir (or NULL): where graphs are cached per data file, keyed by the file's content and
 * the graph settings, so a second load skips the neighbour searches. */
int ih_dataset_load(ih_dataset *d, const char *const *paths, int n_paths, const ih_graph_opts *go,
                    int keep_structures, const char *cache_dir);
/* The same for the inputs of an arch (IH_INPUT_*, ih_arch_input): IH_INPUT_ENDPOINTS makes
 * graphs the initial-structure and graphs2 the final-structure graphs of each 5-image record
 * (ih_path_endpoints), IH_INPUT_LOCAL keeps the 5-image graph and adds its local sub-graph
 * (ih_graph_build_local with ih_graph_opts_local); both need 5-image records. */
int ih_dataset_load_input(ih_dataset *d, const char *const *paths, int n_paths,
                          const ih_graph_opts *go, int input, int keep_structures,
                          const char *cache_dir);
/* A one-task dataset of records first .. first+n-1 of a structure set already read (for the
 * inputs of an arch, no cache): to predict a large file a chunk at a time. `what` names the
 * records in errors ("what: record K (jid J): …", K counted in the whole set). */
int ih_dataset_from_structures(ih_dataset *d, const ih_structure_set *set, int first, int n,
                               const ih_graph_opts *go, int input, const char *what);
void ih_dataset_free(ih_dataset *d);
/* Keep one task's target column (n_tasks becomes 1); records stay, those without a label for
 * the task keep a zero mask. For single-task runs split exactly like a multi-task run. */
int ih_dataset_keep_task(ih_dataset *d, int task);
/* "LiFePO4_2" -> "LiFePO4" (sister pathways of one host share a cross-validation group). */
void ih_host_group(const char *sys_name, const char *fallback, char *out, size_t cap);
/* Every record its own group, so that splits and folds are by record (the published reference's
 * random split, where sister pathways of one host may sit on both sides). */
void ih_dataset_group_by_record(ih_dataset *d);


/* ---------------------------------------------------------------------------------------- */
/* training (train.c)                                                                       */
/* ---------------------------------------------------------------------------------------- */

#define IH_MAX_TASKS 16
enum { IH_LOSS_L1 = 0, IH_LOSS_MSE = 1 };

/* Min-max target scaling to [-1, 1] (docs/method.md §5.8): y' = 2(u(y) - u(lo))/(u(hi) - u(lo)) - 1 with
 * u(y) = y (log_offset 0, the published method's) or u(y) = log(y + log_offset) (log_offset > 0: barriers
 * spread over two decades, and a linear scale squeezes the bulk of them into a tenth of [-1, 1]).
 * lo and hi stay in the target's own units either way. */
typedef struct ih_task_scaling {
    char name[32];
    double lo, hi;
    double log_offset;
} ih_task_scaling;
double ih_scale(const ih_task_scaling *s, double y);
double ih_unscale(const ih_task_scaling *s, double y_scaled);
/* Min–max scaling (docs/method.md §5.8) of a one-task dataset's labelled records idx[0..n) (idx NULL: all
 * d->n records): s->lo/hi = their smallest/largest target. Returns how many were labelled. */
int ih_scaling_fit(const ih_dataset *d, const int *idx, int n, ih_task_scaling *s);

/* Arrange n items (records of a batch) so that their consecutive groups of S (the last one
 * shorter) carry about equal work: largest cost first, each into the group with the least work
 * that has room (ties: the first group; equal costs keep their order). With --micro-batch S a
 * batch's micro-batches are such groups: on several ranks a round of micro-batches lasts as long as
 * its largest (docs/mpi.md). The result depends on the items and costs alone, never on the number
 * of ranks. cost[k] is items[k]'s; scratch by_cost, fill, out (n ints each) and load (n longs). */
void ih_balance_micro_batches(int *items, const long *cost, int n, int S, int *by_cost, long *load, int *fill,
                              int *out);

typedef struct ih_train_opts {
    int epochs, batch;
    double max_lr, weight_decay;
    int loss;              /* IH_LOSS_L1 or IH_LOSS_MSE */
    uint64_t seed;         /* shuffling */
    long micro_triplets;   /* line-graph budget of one micro-batch (memory bound) */
    int micro_structs;     /* > 0: at most this many records per micro-batch as well, a batch's
                            * records arranged by ih_balance_micro_batches (a fixed
                            * split, e.g. to compare runs on different numbers of processes) */
    const char *out;       /* best-validation model (every epoch if there is no validation set) */
    const char *checkpoint; /* base path of the resume checkpoint (.model, .state), or NULL */
    int resume;
    int stop_after;        /* > 0: return after this many epochs in total (interruption tests) */
    double jitter;         /* Å: each training micro-batch's atoms displaced by independent
                            * N(0, jitter²) per coordinate, graph topology kept (0: none); a
                            * function of (seed, step, micro-batch), so resumable */
    double trunk_lr_scale; /* learning-rate factor of the trunk's parameters (1; below 1: the
                            * pre-trained features move less than the new head) */
    int quiet;
    /* writes the model file `path` with the caller's metadata; val_mae per task or NULL */
    int (*save_model)(void *ctx, ih_model *m, const char *path, long epoch, const double *val_mae);
    void *save_ctx;
} ih_train_opts;

typedef struct ih_train_result {
    int epochs, best_epoch;
    double seconds;
    double best_val_mae[IH_MAX_TASKS];
} ih_train_result;

void ih_train_opts_default(ih_train_opts *o);
/* Train m (n_outputs = d->n_tasks) on the records train_idx, selecting on val_idx.
 * Data-parallel when the process is one of several MPI ranks (ih_dist_init in the tool; docs/mpi.md):
 * every rank calls it with the same arguments and starts from rank 0's model and (with resume)
 * checkpoint; the micro-batches of each mini-batch are dealt round-robin to the ranks, the
 * gradients summed in rank order and the BatchNorm running-statistics updates replayed in
 * micro-batch order on every rank, so that every rank holds the same model, that of one process
 * up to the order of the gradient sum; validation records are predicted a share per rank.
 * save_model is called on every rank (a callback that writes a file writes it on rank 0 only);
 * the checkpoint is written by rank 0. A failure returns -1 on the rank where it happened only:
 * the caller must then end the job (the other ranks wait in a collective). */
int ih_train(ih_model *m, const ih_dataset *d, const int *train_idx, int n_train,
             const int *val_idx, int n_val, const ih_task_scaling *sc, const ih_train_opts *o,
             ih_train_result *res);
/* Size the model's activation arena for micro-batches of this dataset. */
int ih_dataset_reserve(ih_model *m, const ih_dataset *d, int max_structs, long budget_t);
/* The same for prediction only (evaluation-only arenas; ih_predict_dataset, not training). */
int ih_dataset_reserve_eval(ih_model *m, const ih_dataset *d, int max_structs, long budget_t);
/* Structures per forward pass when predicting: the arena grows with it while the speed does not
 * (100 records, 5-member ensemble: peak RSS 2.2 GB at 64, 0.73 GB at 8, same time; bench/README.md). */
#define IH_PREDICT_BATCH 8
/* Evaluation-mode outputs (scaled) of records idx into out (n × n_outputs). */
int ih_predict_dataset(ih_model *m, const ih_dataset *d, const int *idx, int n, int max_structs,
                       long budget_t, float *out);
/* The same, and (pooled not NULL) the vector each record brought to the head (n × hidden): the
 * model's learned representation of it, which the applicability check measures distances in. */
int ih_predict_dataset_pooled(ih_model *m, const ih_dataset *d, const int *idx, int n, int max_structs,
                              long budget_t, float *out, float *pooled);
/* Split records into training and validation parts by host group (sister paths stay together),
 * seeded; val_fraction 0 gives no validation part. Arrays are malloc'ed. */
int ih_split_groups(const ih_dataset *d, double val_fraction, uint64_t seed, int **train_idx,
                    int *n_train, int **val_idx, int *n_val);
/* Whole host groups of records idx, drawn in seeded random order until at least fraction · n_idx
 * records are kept (fraction in (0, 1]); kept (n_idx entries; may be idx itself) keeps idx's order. For one
 * seed the kept sets of smaller fractions are subsets of larger ones (learning curves). */
int ih_subsample_groups(const ih_dataset *d, const int *idx, int n_idx, double fraction, uint64_t seed, int *kept,
                        int *n_kept);
/* K folds by host group (sister paths never straddle folds), balanced by record count, seeded:
 * fold_of[i] in 0..k-1 for every record. */
int ih_group_folds(const ih_dataset *d, int k, uint64_t seed, int *fold_of);


/* ---------------------------------------------------------------------------------------- */
/* random numbers (util.c)                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* Deterministic RNG (xoshiro256**), seeded by splitmix64. */
typedef struct ih_rng {
    uint64_t s[4];
} ih_rng;
void ih_rng_seed(ih_rng *r, uint64_t seed);
uint64_t ih_rng_next(ih_rng *r);
double ih_rng_uniform(ih_rng *r); /* [0, 1) */
double ih_rng_normal(ih_rng *r);  /* standard normal (Box-Muller, one draw per call) */
void ih_rng_shuffle(ih_rng *r, int *a, int n);


/* ---------------------------------------------------------------------------------------- */
/* optimiser (optim.c)                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* A run of parameters inside the flat parameter block; `decay` selects the weight-decay group
 * (docs/method.md §5.3: 0 for biases and normalisation weights). */
typedef struct ih_param_range {
    size_t offset, count;
    int decay;
    double lr_scale; /* this range's learning rate = lr × lr_scale (decay too): 1 normally */
} ih_param_range;

/* The decay group of a parameter from its PyTorch-style name (docs/method.md §5.3): 0 if the name
 * contains "bias", "bn" or "norm", else 1 (so BatchNorm weights inside the embedding MLPs,
 * "…layer.1.weight", are decayed, as in the reference). */
int ih_param_decays(const char *name);
/* 1 if a parameter belongs to the trunk (embeddings, ALIGNN and GCN layers: what a pre-trained
 * model hands to fine-tuning), 0 for heads and the archs' own modules. */
int ih_param_is_trunk(const char *name);
extern const char *const ih_trunk_prefixes[5];

/* AdamW (PyTorch semantics, docs/method.md §5.3) over a flat float block of n parameters. */
typedef struct ih_adamw {
    size_t n;
    float *m, *v;        /* first and second moments, n each */
    long step;           /* updates done so far */
    double weight_decay; /* for ranges with decay = 1 */
    double beta2, eps;   /* 0.999, 1e-8 */
} ih_adamw;

/* Zeroed moments for n parameters, step 0, β2 0.999, ε 1e-8. */
int ih_adamw_init(ih_adamw *o, size_t n, double weight_decay);
void ih_adamw_free(ih_adamw *o);
/* One update: θ ← θ(1 − lr·wd) (decay ranges only), then the Adam moments and the bias-corrected
 * step with β1ᵗ from the given (current) β1. Ranges must be ascending, disjoint and inside the
 * block; parameters outside every range (e.g. buffers stored in the block) are left alone.
 * Returns -1 (nothing updated) if the ranges are invalid. */
int ih_adamw_step(ih_adamw *o, float *params, const float *grads, const ih_param_range *ranges,
                  int n_ranges, double lr, double beta1);

/* One-cycle schedule (PyTorch OneCycleLR with cosine annealing, two phases, β1 cycling; §5.4). */
typedef struct ih_onecycle {
    long total_steps; /* S */
    double max_lr, pct_start, div_factor, final_div_factor;
    double base_momentum, max_momentum; /* β1 range: 0.85 .. 0.95 */
} ih_onecycle;

/* PyTorch's defaults with pct_start 0.3: div 25, final_div 1e4, β1 0.85..0.95. */
void ih_onecycle_default(ih_onecycle *s, long total_steps, double max_lr);
/* lr and β1 for iteration t (t = 0 is the first update); t is clamped to [0, S − 1].
 * Returns -1 for a schedule with S < 1, pct_start outside (0, 1) or non-positive factors. */
int ih_onecycle_at(const ih_onecycle *s, long t, double *lr, double *beta1);


/* ---------------------------------------------------------------------------------------- */
/* losses (loss.c)                                                                          */
/* ---------------------------------------------------------------------------------------- */

/* Masked losses over B×P outputs (docs/method.md §5.2, §6): loss = (1/(B·P))·Σ m·ℓ(o, t), the masked-out
 * entries counting in the denominator. mask may be NULL (all ones). If grad is non-NULL it
 * receives scale·∂loss/∂o (B×P), e.g. scale = B_micro/B_total to accumulate micro-batches; the
 * returned loss is not scaled. L1 uses sign(o − t) with sign(0) = 0, as PyTorch. */
double ih_loss_l1(const float *out, const float *target, const float *mask, int B, int P,
                  double scale, float *grad);
double ih_loss_mse(const float *out, const float *target, const float *mask, int B, int P,
                   double scale, float *grad);
/* The logged "mae" of §5.2: Σ m·|o − t| / B (summed over the P properties, averaged over rows). */
double ih_mae_per_row(const float *out, const float *target, const float *mask, int B, int P);


/* Training state saved beside a model to resume a run (format "ionhop-optimizer-state"). */
typedef struct ih_train_state {
    long epoch;        /* epochs completed */
    long sched_step;   /* next iteration t of the schedule */
    ih_onecycle sched;
    ih_rng rng;
    double best_val;   /* best validation metric so far (INFINITY if none yet) */
    long best_epoch;   /* -1 if none yet */
} ih_train_state;

/* Save AdamW (m, v as tensors "adam.m", "adam.v"; step and hyper-parameters) and the training
 * state (metadata strings) atomically; extra_json (may be NULL) is stored under key "ionhop". */
int ih_adamw_save(const char *path, const ih_adamw *o, const ih_train_state *ts,
                  const char *extra_json);
/* Load into a fresh optimiser (o is initialised here; free with ih_adamw_free). If
 * expect_n > 0 the moments must have exactly that many entries. */
int ih_adamw_load(const char *path, ih_adamw *o, ih_train_state *ts, size_t expect_n);
/* A training checkpoint: the same file with model m's parameters and BatchNorm buffers in it, so
 * that one atomic rename replaces everything a resume needs, and the run's settings (run_json) to
 * check a resume against. Loading writes the weights into m and returns the settings malloc'ed. */
int ih_checkpoint_save(const char *path, const ih_adamw *o, const ih_train_state *ts, ih_model *m,
                       const char *run_json);
int ih_checkpoint_load(const char *path, ih_adamw *o, ih_train_state *ts, ih_model *m, char **run_json);


/* ---------------------------------------------------------------------------------------- */
/* fine-tuning migration-barrier models (finetune.c)                                        */
/* ---------------------------------------------------------------------------------------- */

/* The settings of a fine-tuning run; cfg is the network (n_outputs 1, the arch set). */
typedef struct ih_finetune {
    ih_config cfg;
    ih_model *init;           /* the pre-trained model whose trunk every member starts from, or NULL */
    const char *init_path, *data, *arch; /* as named in the model description */
    ih_train_opts o;
    double val;
    int ensemble;
    int by_record; /* folds and splits by record, not by host */
    int path_apart; /* = cfg.path_apart (in the progress key) */
    double tie_tol; /* = cfg.tie_tol */
    int path_desc;  /* = cfg.path_desc */
    double log_target; /* ih_task_scaling.log_offset of the Em task */
    double train_fraction; /* share of each fold's training records used (learning curves) */
    char command[2048];       /* the command line, recorded in the model description */
    FILE *log;                /* progress lines and the metrics (NULL: none) */
    int cv_finished;          /* set when a cross-validation ran all its folds */
} ih_finetune;
/* The records of f->data with the graphs the arch reads; each must be a labelled 5-image path. */
int ih_finetune_load_records(ih_finetune *f, ih_dataset *d);
/* f->ensemble members from seeds S..S+M-1 on every record, saved as one model file `out`. */
int ih_finetune_ensemble(ih_finetune *f, ih_dataset *d, const char *out);
/* K-fold cross-validation by host (by record with f->by_record): every record predicted by members
 * trained without its fold; the metrics to f->log, the predictions to cv_out (default
 * OUT.cv.csv); with out, the K × M fold models as one ensemble file. Finished folds are kept in
 * CV_OUT.partial (and OUT.foldN), and resume skips them; stop_after_fold > 0 stops early. */
int ih_finetune_cross_validate(ih_finetune *f, ih_dataset *d, int folds, const char *out, const char *cv_out,
                               int resume, int stop_after_fold);

/* ---------------------------------------------------------------------------------------- */
/* model files with their description (modeldesc.c), ensemble prediction (predict.c)        */
/* ---------------------------------------------------------------------------------------- */

/* Records predicted per graph-building chunk: memory does not grow with a record file. */
#define IH_PREDICT_CHUNK 128
/* Line-graph triplets per forward pass when predicting (a larger structure goes alone): the
 * arena's size; 2^18 against 2^20 took predict --data on the 559 records from 0.91 to 0.58 GB. */
#define IH_PREDICT_TRIPLETS (1L << 18)
/* One structure's line graph beyond this is refused before prediction allocates (about 0.6 kB per
 * triplet with the default model: 2.5 GB, ~7,000 atoms); the environment variable
 * IONHOP_MAX_TRIPLETS overrides. */
#define IH_MAX_STRUCTURE_TRIPLETS (1L << 22)

/* A model file as loaded: its members and the description the metadata holds. */
typedef struct ih_model_set {
    ih_model **members;   /* n_members models */
    int n_members;
    char arch[32];
    int n_tasks;
    ih_task_scaling sc[IH_MAX_TASKS];
    double *member_lo_hi; /* n_members × 2 (one-task models): each member's own target scaling
                             (cross-validation ensembles: each fold scaled its training part);
                             NULL: all members use sc */
    int five_image;       /* trained on 5-image path structures */
    char *meta;           /* the metadata JSON */
} ih_model_set;
int ih_model_set_load(const char *path, ih_model_set *ms);
/* The description a command writes (modeldesc.c): the JSON text for ih_model_save /
 * ih_ensemble_save, malloc'ed. unit (may be NULL) is stored with each task; member_lo_hi (may be
 * NULL) holds n_members scalings; training_json (may be NULL) a JSON object of the run. */
typedef struct ih_model_desc {
    const ih_task_scaling *sc;
    int n_tasks;
    const char *unit;
    const double *member_lo_hi;
    int n_members;
    int five_image;
    const char *arch, *init;
    const char *training_json;
} ih_model_desc;
char *ih_model_desc_json(const ih_model_desc *d);
/* Several loaded model files as one ensemble file `out`: tasks and inputs must agree (a one-line
 * error names the file that differs); archs and sizes may differ; each member keeps its scaling;
 * the description keeps the first file's, lists the parts and records `command`. */
int ih_model_sets_merge(const ih_model_set *sets, const char *const *paths, int n_sets, const char *out,
                        const char *command);
void ih_model_set_free(ih_model_set *ms);

/* Calibrated intervals (src/predict/calibration.c; docs/method.md §13): the sorted signed scores
 * (target − prediction) / scale of cross-validated predictions, scale = c_spread · spread ·
 * spread_factor + c_pred · max(prediction, 0) + c_const; spread_factor puts a spread of the
 * model's member count on the footing of the spread_members the scores were computed with.
 * The scores are kept over all records and per mobile ion (Mondrian conformal prediction): an ion
 * with at least IH_CAL_GROUP_RECORDS calibration records has its own group; the other ions' records
 * form one group (z 0) if there are IH_CAL_GROUP_MIN of them. A hop of an ion without a group of
 * its own takes the other ions' group, else all records. */
#define IH_CAL_GROUP_RECORDS 40
#define IH_CAL_GROUP_MIN 20
typedef struct ih_calibration_scores {
    int z; /* the mobile ion's atomic number; 0: the ions without a group of their own */
    int n;
    double *signed_sorted, *abs_sorted;
} ih_calibration_scores;
typedef struct ih_calibration {
    ih_calibration_scores all; /* every calibration record (z -1) */
    int n_groups;
    ih_calibration_scores *groups;
    double c_spread, c_pred, c_const, spread_factor;
    int spread_members;
    char source[256];
    /* the training domain ("domain" metadata, if stored): records per mobile ion, host elements
     * seen, the 1st percentile of the paths' closest approach to a host atom */
    int has_domain, domain_records;
    int ion_records[128];
    unsigned char host_seen[128];
    double closest_p01;
    char (*jids)[64]; /* the training records' ids, sorted (NULL if not stored) */
    int n_jids;
    /* the training records in the model's own representation (the "domain.representation"
     * tensor): each member's head input for each record, rep_records × rep_members × rep_dim, and
     * per member the median over the records of their mean distance to their IH_REP_NEIGHBORS
     * nearest other records (NULL: not stored) */
    float *rep;
    int rep_records, rep_members, rep_dim;
    double *rep_median;
} ih_calibration;
/* Neighbours whose mean distance measures how far a hop lies from the training records in the
 * model's representation, and the distance (in units of the training records' own median) above
 * which a hop is flagged (docs/results.md §35). */
#define IH_REP_NEIGHBORS 5
#define IH_REP_FLAG 2.0
/* The mean distance of the record i of rep (n × M × dim, record-major) to its k nearest other
 * records, member m's vectors. */
double ih_rep_knn_distance(const float *rep, int n, int M, int dim, int m, const float *query, int exclude, int k);
/* A hop's distance from the training records: per member, its mean distance to the
 * IH_REP_NEIGHBORS nearest training records over that member's median; the mean over members.
 * query: n_members × dim. NaN when the model stores no representation. */
double ih_calibration_rep_distance(const ih_calibration *c, const float *query);
/* Read the representation tensor of a calibrated model file (path; its metadata meta_json) for a
 * model of n_members members of width dim: 0 stored, 1 none, -1 malformed (error set). */
int ih_calibration_load_representation(ih_calibration *c, const char *path, const char *meta_json, int n_members,
                                       int dim);
/* 1 if the record id was among the model's training records, 0 if not, -1 if unknown. */
int ih_calibration_trained_on(const ih_calibration *c, const char *jid);
/* Mobile ions with fewer training records than this are flagged (docs/results.md §35). */
#define IH_RARE_ION_RECORDS 40
/* Reasons (joined by "; " into why) that a hop of atom `ion` of s with the given closest approach
 * and representation distance (NaN: unknown) lies outside the training domain; returns how many
 * (0 without a stored domain). */
int ih_calibration_domain_check(const ih_calibration *c, const ih_structure *s, int ion, double closest,
                                double rep_distance, char *why, size_t cap);
/* Parse the "calibration" entry of a model's metadata: 0 ok, 1 none, -1 malformed (error set). */
int ih_calibration_from_json(const char *meta_json, const char *name, int n_members, ih_calibration *c);
void ih_calibration_free(ih_calibration *c);
double ih_calibration_scale(const ih_calibration *c, double em, double spread);
/* The scores a hop of mobile ion ion_z is calibrated with (0: all records); *group_z says whose
 * (ion_z, 0 for the other ions' group, -1 for all records). */
const ih_calibration_scores *ih_calibration_scores_for(const ih_calibration *c, int ion_z, int *group_z);
int ih_calibration_interval(const ih_calibration *c, int ion_z, double em, double spread, double level, double *low,
                            double *high);
double ih_calibration_p_below(const ih_calibration *c, int ion_z, double em, double spread, double threshold);
/* Store in out_path a copy of model_path whose metadata carries the calibration computed from a
 * cross-validation CSV (jid,fold,target,prediction,spread; spread from an ensemble of
 * spread_members members, 1: no spread term) with the scale coefficients c_pred and c_const, and
 * (train_data not NULL) the training domain of that record file, whose records also give each
 * cross-validated prediction its mobile ion for the per-ion scores (without train_data, or if a
 * jid is not in it, the scores are kept over all records only).
 * Written atomically; out_path may be model_path. Empty, non-finite or short inputs are refused. */
int ih_calibrate_model(const char *model_path, const char *cv_csv, int spread_members, double c_pred, double c_const,
                       const char *train_data, const char *out_path);
/* The bundled calibration's scale coefficients (docs/results.md §34). */
#define IH_CAL_PRED 0.5
#define IH_CAL_CONST 0.02
/* The graph settings a model was trained with (line graphs are built per micro-batch). */
void ih_model_set_graph_opts(const ih_config *c, ih_graph_opts *go);
/* Ensemble mean and spread (population std over members) of records idx, original units,
 * n × n_tasks; members (may be NULL) n × n_tasks × n_members; rep (may be NULL) each member's
 * head input for each record, n × n_members × hidden. */
int ih_model_set_predict(ih_model_set *ms, const ih_dataset *d, const int *idx, int n, double *mean, double *spread,
                         double *members, float *rep);
int ih_model_set_predict_set(ih_model_set *ms, const ih_structure_set *set, const char *what,
                             ih_record_predictions *out);
/* Each member's head input for every record of set: n × n_members × hidden floats into rep. */
int ih_model_set_representation(ih_model_set *ms, const ih_structure_set *set, const char *what, float *rep);
/* The predictor's model set (for code that needs the members or the description). */
ih_model_set *ih_predictor_model_set(ih_predictor *p);

#ifdef __cplusplus
}
#endif
#endif
