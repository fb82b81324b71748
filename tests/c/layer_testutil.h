/* Helpers for the layer-kernel tests (test_act.c, test_loss.c, test_norm.c):
 * a seeded RNG, closeness checks, and a 1-vs-2-thread runner. */
#ifndef OL_LAYER_TESTUTIL_H
#define OL_LAYER_TESTUTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: reproducible across platforms, no global state */
static inline uint64_t lt_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline float lt_uniform(uint64_t *s, float lo, float hi) {
    double u = (double)(lt_next(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

static inline void lt_fill(uint64_t *s, float *a, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        a[i] = lt_uniform(s, lo, hi);
}

static inline float *lt_alloc(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    cr_assert_not_null(p, "out of memory allocating %zu floats", n);
    return p;
}

/* |got - want| <= atol + rtol*|want|; NaN never passes. */
#define LT_CLOSE(what, i, got, want, atol, rtol)                                          \
    do {                                                                                  \
        double g_ = (got), w_ = (want);                                                   \
        cr_assert(fabs(g_ - w_) <= (atol) + (rtol) * fabs(w_),                            \
                  "%s[%zu]: got %.9g, want %.9g (diff %.3g)", (what), (size_t)(i), g_, w_, \
                  fabs(g_ - w_));                                                         \
    } while (0)

/* Run the statements (...) with 1 thread, then with 2 threads, and
 * require the bytes to match. The statements (...) write to the buffer named OUT. */
#define LT_SAME_1_2_THREADS(bytes, OUT, ...)                                       \
    do {                                                                            \
        unsigned char *o1_ = malloc(bytes), *o2_ = malloc(bytes);                   \
        cr_assert(o1_ && o2_, "out of memory");                                     \
        int saved_ = omp_get_max_threads();                                         \
        omp_set_num_threads(1);                                                     \
        {                                                                           \
            unsigned char *OUT = o1_;                                               \
            __VA_ARGS__;                                                            \
        }                                                                           \
        omp_set_num_threads(2);                                                     \
        cr_assert_eq(omp_get_max_threads(), 2);                                     \
        {                                                                           \
            unsigned char *OUT = o2_;                                               \
            __VA_ARGS__;                                                            \
        }                                                                           \
        omp_set_num_threads(saved_);                                                \
        cr_assert(memcmp(o1_, o2_, bytes) == 0, "results differ between 1 and 2 threads"); \
        free(o1_);                                                                  \
        free(o2_);                                                                  \
    } while (0)

#define LT_BIG ((size_t)(1u << 20) + 3) /* >= 1<<20, odd so vector tails are exercised */

#endif
