/* ol_relu_mask_backward_out: the one-pass form of copy + ol_relu_mask_backward that the
 * bindings use for fused Dense/Conv2D ReLUs. Same values, dy untouched, any thread count. */
#include <criterion/criterion.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "linear.h"
#include "nn_testutil.h"

Test(relu_mask_out, matches_in_place_and_leaves_dy_alone)
{
    float y[] = { 0.0f, 1.5f, -0.0f, 2.0f, -3.0f, 1e-30f };
    float dy[] = { 3.0f, -2.0f, 4.0f, 5.0f, -1.0f, 7.0f }, out[6];
    const float want[] = { 0.0f, -2.0f, 0.0f, 5.0f, 0.0f, 7.0f };
    const float dy0[] = { 3.0f, -2.0f, 4.0f, 5.0f, -1.0f, 7.0f };
    ol_relu_mask_backward_out(6, y, dy, out);
    cr_assert(memcmp(out, want, sizeof want) == 0);
    cr_assert(memcmp(dy, dy0, sizeof dy0) == 0, "dy was modified");

    size_t n = 64 * 32 * 26 * 26; /* the seed's conv output: the parallel path */
    float *yy = malloc(4 * n), *d = malloc(4 * n), *ref = malloc(4 * n), *o1 = malloc(4 * n), *o2 = malloc(4 * n);
    nn_fill(yy, n, 10); nn_fill(d, n, 11); memcpy(ref, d, 4 * n);
    ol_relu_mask_backward(n, yy, ref);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    ol_relu_mask_backward_out(n, yy, d, o1);
    omp_set_num_threads(2);
    ol_relu_mask_backward_out(n, yy, d, o2);
    omp_set_num_threads(saved);
    cr_assert(memcmp(o1, ref, 4 * n) == 0, "differs from copy + in-place mask");
    cr_assert(memcmp(o1, o2, 4 * n) == 0, "1 vs 2 threads differ");
    free(yy); free(d); free(ref); free(o1); free(o2);
}
