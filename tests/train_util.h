/* Helpers of the training tests (test_train, test_variants). */
#ifndef IH_TEST_TRAIN_UTIL_H
#define IH_TEST_TRAIN_UTIL_H
#include <stdlib.h>
#include <string.h>

#include "ionhop_train.h"

/* ih_train's best-model callback: a plain migration-barrier model file */
static inline int save_cb(void *ctx, ih_model *m, const char *path, long epoch, const double *val) {
    (void)ctx, (void)epoch, (void)val;
    return ih_model_save(path, m, "{\"tasks\":[{\"name\":\"em\",\"lo\":0,\"hi\":9}],\"input\":\"5-image\"}");
}

/* quiet options for the tests' short runs, keeping the best model in `out` through save_cb */
static inline ih_train_opts quiet_train_opts(int epochs, int batch, uint64_t seed, const char *ckpt, long micro,
                                             const char *out) {
    ih_train_opts o;
    ih_train_opts_default(&o);
    o.epochs = epochs;
    o.batch = batch;
    o.seed = seed;
    o.quiet = 1;
    o.checkpoint = ckpt;
    o.micro_triplets = micro;
    o.out = out;
    o.save_model = save_cb;
    return o;
}

/* The tensor table of a read file, to write it again with edited metadata (calloc'ed; the data
 * stay f's). */
static inline ih_st_tensor *st_tensors_of(const ih_st_file *f) {
    ih_st_tensor *ts = calloc((size_t)(f->n > 0 ? f->n : 1), sizeof *ts);
    for (int i = 0; ts && i < f->n; i++) {
        ts[i].name = f->tensors[i].name;
        ts[i].ndim = f->tensors[i].ndim;
        memcpy(ts[i].shape, f->tensors[i].shape, sizeof ts[i].shape);
        ts[i].data = f->tensors[i].data;
    }
    return ts;
}

/* same parameters and buffers, bit for bit */
static inline int params_equal(ih_model *a, ih_model *b) {
    return ih_model_n_params(a) == ih_model_n_params(b) &&
           memcmp(ih_model_params(a), ih_model_params(b), ih_model_n_params(a) * sizeof(float)) == 0 &&
           memcmp(ih_model_buffers(a), ih_model_buffers(b), ih_model_n_buffers(a) * sizeof(float)) == 0;
}
#endif
