/* Scalar activation functions, inlined into both the layers (ops.c) and the multi-versioned
 * kernels (kern.c): exp, sigmoid, SiLU and its derivative, in float. */
#ifndef IH_ACTIVATION_H
#define IH_ACTIVATION_H

#include <stdint.h>

/* ---- element-wise math (vectorisable; expf accurate to a few ulp) ---- */
static inline float ops_expf(float x) {
    /* exp(x) = 2^n · e^r with n = round(x/ln2), |r| <= ln2/2; degree-6 Taylor in r.
     * The result is never subnormal (subnormals cost ~150 cycles per operation on x86, here
     * and in every GEMM they reach): below −87 it is exactly 0 (as a true underflow, only a
     * little earlier), above 87 it saturates at exp(87). All range handling is integer work
     * on the bit pattern: a floating-point compare-and-select does not vectorise under GCC's
     * default -ftrapping-math. A NaN comes out as exp(±87) or 0. */
    union {
        float f;
        uint32_t u;
    } v = {x}, t, e, res; /* union punning (not memcpy): reliably a register reinterpret */
    uint32_t mag = v.u & 0x7fffffffu;
    uint32_t under = (v.u >> 31) & (uint32_t)(mag > 0x42AE0000u); /* x < −87 */
    mag = mag < 0x42AE0000u ? mag : 0x42AE0000u;                 /* |x| <= 87 */
    v.u = (v.u & 0x80000000u) | mag;
    x = v.f;
    const float magic = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    t.f = x * 1.44269504088896341f + magic;
    float n = t.f - magic;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    e.u = (t.u - 0x4B400000u + 127u) << 23; /* the low bits of t hold n */
    res.f = p * e.f;
    res.u &= under - 1u; /* 0 where x < −87 */
    return res.f;
}

/* σ(x) from e = exp(−|x|) ∈ [0, 1]: 1/(1 + e) for x >= 0, e/(1 + e) below, so it never
 * overflows and is exactly 0 (not subnormal) for x < −87. */
static inline float ops_sigmoid(float x) {
    union {
        float f;
        uint32_t u;
    } v = {x}, a, pos, neg;
    a.u = v.u | 0x80000000u; /* −|x| */
    float e = ops_expf(a.f);
    pos.f = 1.0f / (1.0f + e);
    neg.f = e * pos.f;
    uint32_t m = (uint32_t)((int32_t)v.u >> 31); /* all ones for x < 0 */
    pos.u = (pos.u & ~m) | (neg.u & m);
    return pos.f;
}
static inline float ops_silu(float x) { return x * ops_sigmoid(x); }
/* d silu / dx */
static inline float ops_dsilu(float x) {
    float s = ops_sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
}

#endif
