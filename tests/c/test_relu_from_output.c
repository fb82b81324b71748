/* ol_relu_backward given the ReLU's output y instead of its input x: the fused
 * Dense/Conv2D ReLUs keep only y. Same bits as from x, dy untouched, any thread count. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "nn_testutil.h"

Test(relu_from_output, same_as_from_input_and_leaves_dy_alone)
{
    float x[] = { 0.0f, 1.5f, -0.0f, 2.0f, -3.0f, 1e-30f, NAN };
    float dy[] = { 3.0f, -2.0f, 4.0f, 5.0f, -1.0f, 7.0f, 8.0f }, y[7], from_y[7], from_x[7];
    const float dy0[] = { 3.0f, -2.0f, 4.0f, 5.0f, -1.0f, 7.0f, 8.0f };
    ol_relu_forward(7, x, y);
    ol_relu_backward(7, y, dy, from_y);
    ol_relu_backward(7, x, dy, from_x);
    cr_assert(memcmp(from_y, from_x, sizeof from_x) == 0, "from y differs from x");
    cr_assert(from_y[1] == -2.0f && from_y[0] == 0.0f && from_y[4] == 0.0f && from_y[5] == 7.0f);
    cr_assert(memcmp(dy, dy0, sizeof dy0) == 0, "dy was modified");

    size_t n = 64 * 32 * 26 * 26; /* the Keras example CNN's conv output: the parallel path */
    float *xx = malloc(4 * n), *yy = malloc(4 * n), *d = malloc(4 * n), *ref = malloc(4 * n),
          *o1 = malloc(4 * n), *o2 = malloc(4 * n);
    nn_fill(xx, n, 10); nn_fill(d, n, 11);
    ol_relu_forward(n, xx, yy);
    ol_relu_backward(n, xx, d, ref);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    ol_relu_backward(n, yy, d, o1);
    omp_set_num_threads(2);
    ol_relu_backward(n, yy, d, o2);
    omp_set_num_threads(saved);
    cr_assert(memcmp(o1, ref, 4 * n) == 0, "from y differs from x");
    cr_assert(memcmp(o1, o2, 4 * n) == 0, "1 vs 2 threads differ");
    free(xx); free(yy); free(d); free(ref); free(o1); free(o2);
}
