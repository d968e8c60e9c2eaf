/* Minimal test harness: CHECK* macros count failures; main returns test_summary(). */
#ifndef IH_CHECK_H
#define IH_CHECK_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures = 0, check_count = 0;

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        check_count++;                                                                        \
        if (!(cond)) {                                                                        \
            check_failures++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                                     \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                  \
    do {                                                                                      \
        check_count++;                                                                        \
        if (!(cond)) {                                                                        \
            check_failures++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fprintf(stderr, "\n");                                                            \
        }                                                                                     \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                 \
    do {                                                                                      \
        double check_a_ = (a), check_b_ = (b);                                                \
        check_count++;                                                                        \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                                          \
            check_failures++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g vs %s = %.9g (tol %g)\n",    \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_, (double)(tol));           \
        }                                                                                     \
    } while (0)

#define CHECK_INT(a, b)                                                                       \
    do {                                                                                      \
        long check_a_ = (long)(a), check_b_ = (long)(b);                                      \
        check_count++;                                                                        \
        if (check_a_ != check_b_) {                                                           \
            check_failures++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK_INT failed: %s = %ld vs %s = %ld\n", __FILE__,      \
                    __LINE__, #a, check_a_, #b, check_b_);                                    \
        }                                                                                     \
    } while (0)

/* Path of a file under ../shared (or $IONHOP_SHARED). */
static inline const char *shared_path(const char *rel) {
    static char buf[4][1024];
    static int k = 0;
    const char *root = getenv("IONHOP_SHARED");
    if (!root) root = "../shared";
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
    return buf[k];
}

static inline int test_summary(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}
#endif
