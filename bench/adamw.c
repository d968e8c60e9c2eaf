/* AdamW step time on a block the size of the MPT model (docs/method.md §10.1: 4 373 255 parameters, of
 * which 31 239 without decay), by thread count. Build and run from the repository root:
 *
 *   make -j2 && cc -std=c11 -O2 -Iinclude bench/adamw.c build/libionhop.a -fopenmp \
 *       -lopenblas -lsymspg -lcjson -lm -o build/bench_adamw && build/bench_adamw
 */
#include "ionhop.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const size_t n = 4373255, n_nodecay = 31239;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    ih_rng rng;
    ih_rng_seed(&rng, 1);
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)(ih_rng_uniform(&rng) - 0.5);
        g[i] = (float)(ih_rng_uniform(&rng) - 0.5) * 1e-2f;
    }
    /* many small ranges like a real tensor table: 1 no-decay range of 256 after each 64 KiB */
    enum { MAXR = 1024 };
    ih_param_range r[MAXR];
    int nr = 0;
    size_t off = 0, nd_left = n_nodecay;
    while (off < n && nr < MAXR - 2) {
        size_t c = 65536 < n - off ? 65536 : n - off;
        r[nr++] = (ih_param_range){off, c, 1};
        off += c;
        size_t b = nd_left < 256 ? nd_left : 256;
        if (b && off + b <= n) {
            r[nr++] = (ih_param_range){off, b, 0};
            off += b;
            nd_left -= b;
        }
    }
    if (off < n) r[nr++] = (ih_param_range){off, n - off, 1};
    int max_threads = omp_get_max_threads();
    for (int th = 1; th <= max_threads; th *= 2) {
        omp_set_num_threads(th);
        ih_adamw o;
        ih_adamw_init(&o, n, 0.01);
        ih_onecycle s;
        ih_onecycle_default(&s, 2000, 1e-3);
        const int steps = 50;
        double best = 1e9;
        for (int t = 0; t < steps; t++) {
            double lr, b1;
            ih_onecycle_at(&s, t, &lr, &b1);
            double t0 = ih_now();
            ih_adamw_step(&o, p, g, r, nr, lr, b1);
            double dt = ih_now() - t0;
            if (dt < best) best = dt;
        }
        printf("threads %d: %d ranges, %zu parameters, best of %d steps %.2f ms (%.2f GB/s: 4 arrays read, 3 written)\n",
               th, nr, n, steps, 1e3 * best, 7.0 * 4 * n / best / 1e9);
        ih_adamw_free(&o);
    }
    free(p);
    free(g);
    return 0;
}
