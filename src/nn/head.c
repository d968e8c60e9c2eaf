/* Output heads (docs/method.md §4.7). (b)/(c): per output p, SiLU(h) → Linear(H→W) → SiLU →
 * [Linear(W→W) → SiLU] → Linear(W→1). (a): Linear(H→P) on h. The head keeps no state between
 * forward and backward: backward recomputes the (tiny, B-row) forward from h. */
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"

size_t ih_head_scratch_floats(const ih_model *m, int n) {
    size_t H = (size_t)m->H, W = (size_t)m->cfg.head_width;
    return (size_t)n * (2 * H + 6 * W + 2) + 64;
}

int ih_model_reserve_head(ih_model *m, int max_structs) {
    if (max_structs < 1) return ih_set_error("model: cannot reserve %d structures", max_structs);
    if (max_structs <= m->head_cap) return 0;
    size_t hs = ih_head_scratch_floats(m, max_structs);
    float *s = malloc(sizeof(float) * hs);
    float *h = malloc(sizeof(float) * ((size_t)max_structs * m->H + 16));
    float *dh = malloc(sizeof(float) * ((size_t)max_structs * m->H + 16));
    if (!s || !h || !dh) {
        free(s);
        free(h);
        free(dh);
        return ih_set_error("model: out of memory reserving %d structures", max_structs);
    }
    free(m->head_scratch);
    free(m->h);
    free(m->dh);
    m->head_scratch = s;
    m->h = h;
    m->dh = dh;
    m->head_cap = max_structs;
    return 0;
}

typedef struct head_bufs {
    float *a0, *da0, *u1, *a1, *u2, *a2, *d1, *d2, *o, *dout;
} head_bufs;

static head_bufs head_layout(const ih_model *m, int n) {
    size_t H = (size_t)m->H, W = (size_t)m->cfg.head_width, N = (size_t)n;
    head_bufs b;
    float *s = m->head_scratch;
    b.a0 = s;
    b.da0 = b.a0 + N * H;
    b.u1 = b.da0 + N * H;
    b.a1 = b.u1 + N * W;
    b.u2 = b.a1 + N * W;
    b.a2 = b.u2 + N * W;
    b.d1 = b.a2 + N * W;
    b.d2 = b.d1 + N * W;
    b.o = b.d2 + N * W;
    b.dout = b.o + N;
    return b;
}

static int head_check(const ih_model *m, int n) {
    if (n < 1) return ih_set_error("model: head called with %d structures", n);
    if (n > m->head_cap)
        return ih_set_error("model: %d structures exceed the %d reserved for the head", n,
                            m->head_cap);
    return 0;
}

/* Forward of output p into the scratch (u1, a1, u2, a2, o); a0 = SiLU(h) must be filled. */
static void head_one(ih_model *m, const head_bufs *b, int n, int p) {
    int H = m->H, W = m->cfg.head_width;
    const float *P = m->params;
    const linear_layer *l1 = &m->head1[p], *l2 = &m->head2[p], *l3 = &m->head3[p];
    linear_forward(b->u1, b->a0, P + l1->w, P + l1->b, n, H, W);
    silu_forward(b->a1, b->u1, (size_t)n * W);
    const float *last = b->a1;
    if (m->cfg.head_hidden == 2) {
        linear_forward(b->u2, b->a1, P + l2->w, P + l2->b, n, W, W);
        silu_forward(b->a2, b->u2, (size_t)n * W);
        last = b->a2;
    }
    linear_forward(b->o, last, P + l3->w, P + l3->b, n, W, 1);
}

int ih_head_forward(ih_model *m, const float *h, int n, float *out) {
    if (head_check(m, n)) return -1;
    int H = m->H, np = m->cfg.n_outputs;
    if (m->cfg.head_hidden == 0) {
        linear_forward(out, h, m->params + m->fc.w, m->params + m->fc.b, n, H, np);
        return 0;
    }
    head_bufs b = head_layout(m, n);
    silu_forward(b.a0, h, (size_t)n * H);
    for (int p = 0; p < np; p++) {
        head_one(m, &b, n, p);
        for (int i = 0; i < n; i++) out[(size_t)i * np + p] = b.o[i];
    }
    return 0;
}

int ih_head_backward(ih_model *m, const float *h, int n, const float *dout, float *dh) {
    if (head_check(m, n)) return -1;
    int H = m->H, W = m->cfg.head_width, np = m->cfg.n_outputs;
    float *G = m->grads;
    const float *P = m->params;
    if (m->cfg.head_hidden == 0) {
        if (dh) memset(dh, 0, sizeof(float) * (size_t)n * H);
        linear_backward(dh, G + m->fc.w, G + m->fc.b, dout, h, P + m->fc.w, n, H, np, &m->ws);
        return 0;
    }
    head_bufs b = head_layout(m, n);
    silu_forward(b.a0, h, (size_t)n * H);
    memset(b.da0, 0, sizeof(float) * (size_t)n * H);
    for (int p = 0; p < np; p++) {
        const linear_layer *l1 = &m->head1[p], *l2 = &m->head2[p], *l3 = &m->head3[p];
        head_one(m, &b, n, p);
        for (int i = 0; i < n; i++) b.dout[i] = dout[(size_t)i * np + p];
        const float *last = m->cfg.head_hidden == 2 ? b.a2 : b.a1;
        /* fc_out: d(last) into d2 */
        memset(b.d2, 0, sizeof(float) * (size_t)n * W);
        linear_backward(b.d2, G + l3->w, G + l3->b, b.dout, last, P + l3->w, n, W, 1, &m->ws);
        if (m->cfg.head_hidden == 2) {
            memset(b.d1, 0, sizeof(float) * (size_t)n * W);
            silu_backward(b.d1, b.d2, b.u2, (size_t)n * W); /* d u2 */
            memset(b.d2, 0, sizeof(float) * (size_t)n * W);
            linear_backward(b.d2, G + l2->w, G + l2->b, b.d1, b.a1, P + l2->w, n, W, W, &m->ws);
        }
        memset(b.d1, 0, sizeof(float) * (size_t)n * W);
        silu_backward(b.d1, b.d2, b.u1, (size_t)n * W); /* d u1 */
        linear_backward(b.da0, G + l1->w, G + l1->b, b.d1, b.a0, P + l1->w, n, H, W, &m->ws);
    }
    if (dh) {
        memset(dh, 0, sizeof(float) * (size_t)n * H);
        silu_backward(dh, b.da0, h, (size_t)n * H);
    }
    return 0;
}
