/* ionhop-bench gemm: GEMM throughput of the model's big shapes (rows × H times H × H: the
 * edge_gate map on triplet rows, forward, weight gradient and input gradient), done two ways:
 * one multi-threaded OpenBLAS call on the whole matrix, and what the model does (each OpenMP
 * thread calls single-threaded OpenBLAS on cache-sized row chunks, with per-thread weight-gradient
 * partials). Plus a square-GEMM probe of the machine's current peak. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "nn/ops.h"

static void usage(FILE *f) {
    fprintf(f, "usage: ionhop-bench gemm [--rows M] [--hidden H[,H...]] [--repeat R]\n\n"
               "GFLOP/s of M × H · H × H products (default M 288220, the triplets of the reference's\n"
               "canonical batch; H 64,128,256; best of R = 3): whole-matrix OpenBLAS with its own\n"
               "threads, and the model's chunked single-threaded OpenBLAS inside OpenMP threads.\n"
               "Threads: OMP_NUM_THREADS.\n");
}

typedef enum { FWD, DW, DX } kind;
static const char *const kind_name[] = {"forward  X·Wᵀ ", "weights  dYᵀ·X", "inputs   dY·W "};

static double run_whole(kind k, int M, int H, const float *X, float *Y, const float *W, float *dW) {
    double t = ih_now();
    if (k == FWD)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, H, H, 1.0f, X, H, W, H, 0.0f, Y, H);
    else if (k == DW)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, M, 1.0f, Y, H, X, H, 1.0f, dW, H);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, H, H, 1.0f, Y, H, W, H, 1.0f,
                    (float *)X, H);
    return ih_now() - t;
}

static double run_chunked(kind k, int M, int H, const float *X, float *Y, const float *W,
                          float *parts) {
    int R = eggc_chunk_rows(H);
    double t = ih_now();
#pragma omp parallel
    {
        int tid = omp_get_thread_num(), T = omp_get_num_threads();
        long r0 = (long)M * tid / T, r1 = (long)M * (tid + 1) / T;
        float *dw = parts + (size_t)tid * H * H;
        for (long c0 = r0; c0 < r1; c0 += R) {
            int rows = (int)(c0 + R < r1 ? R : r1 - c0);
            if (k == FWD)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, H, H, 1.0f, X + c0 * H, H,
                            W, H, 0.0f, Y + c0 * H, H);
            else if (k == DW)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, rows, 1.0f, Y + c0 * H, H,
                            X + c0 * H, H, 1.0f, dw, H);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, H, H, 1.0f, Y + c0 * H,
                            H, W, H, 1.0f, (float *)X + c0 * H, H);
        }
    }
    if (k == DW) /* the reduction of the per-thread partials belongs to the cost */
        for (int tid = 1; tid < omp_get_max_threads(); tid++)
            for (size_t i = 0; i < (size_t)H * H; i++) parts[i] += parts[(size_t)tid * H * H + i];
    return ih_now() - t;
}

int bench_gemm(int argc, char **argv) {
    int M = 288220, repeat = 3;
    int hs[8] = {64, 128, 256}, nh = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
            M = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--hidden") && i + 1 < argc) {
            nh = 0;
            for (char *p = argv[++i]; *p && nh < 8;) {
                hs[nh++] = (int)strtol(p, &p, 10);
                if (*p == ',') p++;
                else if (*p) return cli_usage_error("bench gemm: bad --hidden list");
            }
        } else {
            usage(stderr);
            return cli_usage_error("bench gemm: unknown or incomplete option '%s'", argv[i]);
        }
    }
    if (M < 1 || repeat < 1 || nh < 1) return cli_usage_error("bench gemm: sizes must be positive");
    int nt = omp_get_max_threads();
    int Hmax = 0;
    for (int i = 0; i < nh; i++) {
        if (hs[i] < 1 || hs[i] > 4096) return cli_usage_error("bench gemm: bad hidden width");
        if (hs[i] > Hmax) Hmax = hs[i];
    }
    float *X = malloc(sizeof(float) * (size_t)M * Hmax), *Y = malloc(sizeof(float) * (size_t)M * Hmax);
    float *W = malloc(sizeof(float) * (size_t)Hmax * Hmax);
    float *parts = calloc((size_t)nt * Hmax * Hmax, sizeof(float));
    if (!X || !Y || !W || !parts) {
        free(X), free(Y), free(W), free(parts);
        ih_set_error("bench gemm: out of memory");
        return cli_fail();
    }
    for (size_t i = 0; i < (size_t)M * Hmax; i++) X[i] = (float)(i % 13) * 0.01f, Y[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)Hmax * Hmax; i++) W[i] = (float)(i % 5) * 0.01f;

    /* square probe, as the reference's RESULTS.md (machine state varies by 2x on this VM) */
    {
        int n = 2048;
        float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
              *c = malloc(sizeof(float) * n * n);
        for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 11) * 0.01f;
        openblas_set_num_threads(nt);
        double best = INFINITY;
        for (int r = 0; r < repeat + 1; r++) {
            double t = ih_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            t = ih_now() - t;
            if (r > 0 && t < best) best = t;
        }
        printf("probe: 2048^3 sgemm, OpenBLAS %d threads: %.1f GFLOP/s\n", nt, 2.0 * n * n * n / best * 1e-9);
        free(a), free(b), free(c);
    }
    printf("%d rows, %d threads; GFLOP/s, best of %d\n", M, nt, repeat);
    printf("%-5s %-16s %22s %28s\n", "H", "product", "OpenBLAS whole matrix", "chunked in OpenMP (model)");
    for (int i = 0; i < nh; i++) {
        int H = hs[i];
        double fl = 2.0 * M * (double)H * H;
        for (int k = FWD; k <= DX; k++) {
            double bw = INFINITY, bc = INFINITY;
            for (int r = 0; r < repeat + 1; r++) { /* r = 0: warm-up */
                openblas_set_num_threads(nt);
                double t = run_whole((kind)k, M, H, X, Y, W, parts);
                if (r > 0 && t < bw) bw = t;
                openblas_set_num_threads(1);
                t = run_chunked((kind)k, M, H, X, Y, W, parts);
                if (r > 0 && t < bc) bc = t;
            }
            printf("%-5d %-16s %22.1f %28.1f\n", H, kind_name[k], fl / bw * 1e-9, fl / bc * 1e-9);
        }
    }
    ops_blas_single_thread();
    free(X), free(Y), free(W), free(parts);
    return 0;
}
