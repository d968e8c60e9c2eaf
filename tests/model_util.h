/* Small test networks whose norm layers are not the identity (test_model, test_variants). */
#ifndef IH_TEST_MODEL_UTIL_H
#define IH_TEST_MODEL_UTIL_H
#include <string.h>

#include "graph_util.h"
#include "model_internal.h"

/* BatchNorm/LayerNorm scales 1 ± 0.3 and shifts ± 0.3 from stream sp; running means ± 0.3 and
 * variances 0.5 … 1.5 from stream sb (may be sp), so evaluation mode is not trivial */
static inline void perturb_norms(ih_model *m, uint64_t *sp, uint64_t *sb) {
    for (int k = 0; k < ih_model_n_tensors(m); k++) {
        const ih_tensor_info *t = ih_model_tensor(m, k);
        if (m->init_kind[k] == INIT_ONE || m->init_kind[k] == INIT_ZERO)
            for (size_t j = 0; j < t->numel; j++)
                ih_model_params(m)[t->offset + j] =
                    (m->init_kind[k] == INIT_ONE ? 1.0f : 0.0f) + 0.3f * (float)(2 * tg_unif(sp) - 1);
    }
    for (int k = 0; k < ih_model_n_buffer_tensors(m); k++) {
        const ih_tensor_info *t = ih_model_buffer_tensor(m, k);
        int var = strstr(t->name, "running_var") != NULL;
        for (size_t j = 0; j < t->numel; j++)
            ih_model_buffers(m)[t->offset + j] =
                var ? 0.5f + (float)tg_unif(sb) : 0.3f * (float)(2 * tg_unif(sb) - 1);
    }
}
#endif
