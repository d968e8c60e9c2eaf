/* ionhop model files. A model file is a safetensors file:
 *
 *   offset 0   u64 little-endian N: length of the JSON header
 *   offset 8   N bytes of JSON, padded with spaces to a multiple of 8:
 *              {"TENSOR": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 *               "__metadata__": {"format": "ionhop-model", "ionhop": "<JSON description>"}}
 *   offset 8+N the tensors' little-endian float32 data, back to back in header order
 *
 * The "ionhop" description holds the network configuration ("config"; "member_configs" for a
 * mixed ensemble), "ensemble" (members; their tensors are named "member.K.NAME"), "tasks" (name
 * and target scaling lo/hi per output), "member_scaling" (per-member lo/hi of cross-validation
 * ensembles), "input" ("5-image" for barrier models) and a training summary. Loading rebuilds each
 * member from its configuration and checks every tensor's name and shape. */
#ifndef IONHOP_MODELFILE_H
#define IONHOP_MODELFILE_H
#include "ionhop_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* model files: safetensors (modelfile.c, modelinfo.c)                                      */
/* ---------------------------------------------------------------------------------------- */
/* Layout: u64 little-endian header length N, N bytes of JSON header
 * {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string value", ...}} padded with spaces to a multiple of 8, then the
 * tensors' little-endian float32 data, back to back. Only F32 tensors are supported. */

#define IH_ST_MAX_DIM 8
/* Tensors beside the members' weights: the training domain in the model's representation
 * ("domain.representation", records × members × hidden; written by ionhop calibrate --data). */
#define IH_DOMAIN_TENSOR_PREFIX "domain."
#define IH_REP_TENSOR "domain.representation"

/* A tensor to write (data not copied). ndim 0 is a scalar. */
typedef struct ih_st_tensor {
    const char *name;
    int ndim;
    int64_t shape[IH_ST_MAX_DIM];
    const float *data;
} ih_st_tensor;

/* One metadata entry; values are strings (a JSON document may be stored as a string). */
typedef struct ih_st_kv {
    const char *key, *value;
} ih_st_kv;

/* A tensor read from a file: owned name and data. */
typedef struct ih_st_entry {
    char *name;
    int ndim;
    int64_t shape[IH_ST_MAX_DIM];
    size_t count; /* product of the shape */
    float *data;  /* count floats (points into the file's one data block) */
} ih_st_entry;

typedef struct ih_st_file {
    int n;
    ih_st_entry *tensors; /* in file data order */
    int n_meta;
    ih_st_kv *meta;       /* owned strings, in header order */
    float *block;         /* all tensor data */
} ih_st_file;

/* Write atomically (temporary file, fsync, rename): a failed write never leaves a partial file
 * under `path`. Names must be unique, non-empty and not "__metadata__"; metadata keys unique. */
int ih_st_write(const char *path, const ih_st_tensor *tensors, int n, const ih_st_kv *meta,
                int n_meta);
/* Read and validate a whole file: header JSON, dtypes, shapes, offsets (in range, matching the
 * shape, contiguous and covering the data exactly). Errors name the file. */
int ih_st_read(const char *path, ih_st_file *f);
/* The same from memory; `name` is used in error messages. */
int ih_st_parse(const void *buf, size_t len, const char *name, ih_st_file *f);
void ih_st_free(ih_st_file *f);
/* Lookups: NULL if absent. */
const ih_st_entry *ih_st_find(const ih_st_file *f, const char *name);
const char *ih_st_meta_get(const ih_st_file *f, const char *key);
/* 1 for tensors that are state rather than trainable parameters: names ending in
 * "running_mean", "running_var" or "num_batches_tracked". */
int ih_st_is_buffer_name(const char *name);
/* Human-readable description of a model file (metadata, pretty-printed JSON, tensor and
 * parameter counts; with list_tensors every tensor's name and shape). */
int ih_st_describe(FILE *out, const char *path, int list_tensors);


/* ---------------------------------------------------------------------------------------- */
/* model files (modelio.c)                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* Save parameters and BatchNorm buffers as safetensors with metadata {"format": "ionhop-model",
 * "ionhop": <extra_json plus "config">} (atomic). extra_json: a JSON object or NULL. */
int ih_model_save(const char *path, ih_model *m, const char *extra_json);
/* Rebuild a model from a file; *meta_json (if given) receives the "ionhop" metadata document
 * (free it). A truncated, corrupt, foreign or mismatched file is a one-line error. An ensemble
 * file gives its first member. */
ih_model *ih_model_load(const char *path, char **meta_json);
/* Ensembles: n models in one file (tensors "member.K.<name>"; metadata "ensemble": n). Members
 * may differ in arch and size (a mixed ensemble: metadata "member_configs" lists each member's
 * configuration) but must read the same graphs: k, cutoff, edges, tie tolerance, path bonds,
 * outputs and input kind equal, else saving (and loading) fails. Loading returns a malloc'ed
 * array of *n_members models. */
int ih_ensemble_save(const char *path, ih_model *const *ms, int n_members, const char *extra_json);
ih_model **ih_ensemble_load(const char *path, int *n_members, char **meta_json);
/* Copy the tensors (parameters and buffers) of src whose names start with one of the prefixes
 * (all if n_prefixes is 0) and whose shapes match into dst; returns how many were copied. */
int ih_model_copy_matching(ih_model *dst, ih_model *src, const char *const *prefixes, int n_prefixes);

#ifdef __cplusplus
}
#endif
#endif
