/* The kernels LuaJIT's FFI may call (`tensor.kernels()` in stdlib/ffi_tensor.lua).
 * This text is handed to ffi.cdef as it is, so it holds declarations only: no
 * #include, no include guard, no macros, no `restrict` (which does not change
 * a prototype's type). vm/lffi.c compiles it after the real kernel headers, so
 * a prototype that drifts from its kernel is a compile error (conflicting
 * types), and embeds it in the binary. Keep to scalar and pointer parameters:
 * a struct or enum repeated here would be a redefinition. */

/* reductions and element-wise (kernels/reduce.h, kernels/elementwise.h) */
double ol_sum(int64_t n, const float *a);
double ol_sumsq(int64_t n, const float *a);
void ol_clamp(int64_t n, float *out, const float *a, float lo, float hi);

/* activations, forward (kernels/act.h) */
void ol_relu_forward(size_t n, const float *x, float *y);
void ol_tanh_forward(size_t n, const float *x, float *y);
void ol_sigmoid_forward(size_t n, const float *x, float *y);
void ol_softmax_forward(int rows, int cols, const float *x, float *y);
void ol_log_softmax_forward(int rows, int cols, const float *x, float *y);

/* losses (kernels/loss.h) */
float ol_mse_forward(size_t n, const float *pred, const float *target);

/* random numbers: Philox, element i of (key, stream) (kernels/rng.h) */
void ol_rng_uniform(uint64_t key, uint64_t stream, float lo, float hi, float *out, size_t n);
void ol_rng_normal(uint64_t key, uint64_t stream, float mean, float std, float *out, size_t n);

/* C = alpha A B + beta C with row and column strides, on BLIS (kernels/gemm.h) */
void ol_gemm(int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t rsa, int64_t csa,
             const float *b, int64_t rsb, int64_t csb,
             float beta, float *c, int64_t rsc, int64_t csc);
int ol_threads_get(void);
