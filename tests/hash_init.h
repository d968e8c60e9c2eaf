/* The name-keyed deterministic weights that tests/fixtures/gen/make_model_fixtures.py and
 * tests/fixtures/gen/make_variant_fixtures.py give the PyTorch reference: every parameter and buffer value is
 * a hash of the tensor's name and the element index, so both sides hold the same network
 * without exchanging weights. */
#ifndef IH_TEST_HASH_INIT_H
#define IH_TEST_HASH_INIT_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nn/model_internal.h"

static inline uint64_t fnv1a64(const char *s) { return ih_fnv1a(IH_FNV1A_START, s, strlen(s)); }

static inline double hash_u(uint64_t h, uint64_t i) {
    uint64_t z = (h ^ i) + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* Linear weights and biases uniform in ±1/√fan_in, norm scales 1 ± 0.2, norm shifts ± 0.2;
 * running means ± 0.3, running variances 0.5 … 1.5 (LayerNorm like BatchNorm) */
static inline void hash_init(ih_model *m) {
    for (int k = 0; k < ih_model_n_tensors(m); k++) {
        const ih_tensor_info *t = ih_model_tensor(m, k);
        uint64_t h = fnv1a64(t->name);
        float *p = ih_model_params(m) + t->offset;
        int kind = m->init_kind[k];
        for (size_t j = 0; j < t->numel; j++) {
            double u = hash_u(h, j);
            if (kind == INIT_LIN_W || kind == INIT_LIN_B) p[j] = (float)((2 * u - 1) / sqrt((double)m->init_fan_in[k]));
            else if (kind == INIT_ONE) p[j] = (float)(1 + 0.2 * (2 * u - 1));
            else p[j] = (float)(0.2 * (2 * u - 1));
        }
    }
    for (int k = 0; k < ih_model_n_buffer_tensors(m); k++) {
        const ih_tensor_info *t = ih_model_buffer_tensor(m, k);
        uint64_t h = fnv1a64(t->name);
        int var = strstr(t->name, "running_var") != NULL;
        for (size_t j = 0; j < t->numel; j++) {
            double u = hash_u(h, j);
            ih_model_buffers(m)[t->offset + j] = (float)(var ? 0.5 + u : 0.3 * (2 * u - 1));
        }
    }
}
#endif
