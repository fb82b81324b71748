/* The tensor object: float32, up to OL_MAXDIM dimensions, shape + strides
 * over reference-counted storage. Views share storage; Lua owns tensors as
 * full userdata with one user value (a table of per-tensor fields such as
 * grad and requires_grad). */
#ifndef OL_TENSOR_H
#define OL_TENSOR_H
#include <stddef.h>
#include <stdint.h>
#include "lcompat.h"

#define OL_MAXDIM 8
#define OL_TENSOR "optlab.Tensor"

typedef struct OLStorage {
    float *data;
    size_t size; /* elements */
    int refs;
    int64_t version; /* in-place writes so far, for autograd's saved-tensor check */
} OLStorage;

typedef struct OLTensor {
    OLStorage *st;
    int64_t offset;
    int ndim;
    int64_t shape[OL_MAXDIM];
    int64_t stride[OL_MAXDIM];
} OLTensor;

OLTensor *ol_checktensor(lua_State *L, int idx);
OLTensor *ol_totensor(lua_State *L, int idx);
/* New contiguous tensor on the stack: zero-filled, or uninitialized (_empty). */
OLTensor *ol_pushtensor(lua_State *L, int ndim, const int64_t *shape);
OLTensor *ol_pushtensor_empty(lua_State *L, int ndim, const int64_t *shape);
/* A view: shares src's storage, with the given geometry. */
OLTensor *ol_pushview(lua_State *L, const OLTensor *src, int ndim, const int64_t *shape,
                      const int64_t *stride, int64_t offset);
/* t itself (pushed again) if contiguous, else a contiguous copy. */
OLTensor *ol_pushcontiguous(lua_State *L, int idx);

static inline float *ol_data(const OLTensor *t) { return t->st->data + t->offset; }
int64_t ol_numel(const OLTensor *t);

/* Checked int64 arithmetic. Every shape, stride, element count and index
 * computation on sizes that come from users or files goes through these, so
 * a hostile size is a clear error instead of a product that wraps and then
 * lets an index through the bounds check. Each returns 1 if *r is exact. */
static inline int ol_mul64(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline int ol_add64(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }
/* The element count of a shape, or -1 if a dimension is negative or the
 * shape is too large: the product of its non-zero dimensions (which bounds
 * every contiguous stride, even when another dimension is 0) must not
 * exceed OL_MAXNUMEL. */
#define OL_MAXNUMEL ((int64_t)1 << 48)
int64_t ol_shape_numel(int ndim, const int64_t *shape);
/* x as an int64 if it is a number in [-2^63, 2^63) (not NaN), else 0: a
 * cast of an out-of-range double is undefined behaviour in C. */
int ol_double_to_int64(double x, int64_t *r);
int ol_iscontiguous(const OLTensor *t);
int ol_sameshape(const OLTensor *a, const OLTensor *b);
const char *ol_shapestr(const OLTensor *t, char *buf, size_t len);
const char *ol_dimsstr(int ndim, const int64_t *shape, char *buf, size_t len);

/* Every binding that writes a tensor's elements in place calls this once, so
 * that t:_version() tells autograd a tensor it saved has changed since. */
static inline void ol_written(OLTensor *t) { t->st->version++; }

/* Raise (naming op) unless dst may be written in place while src (NULL: no
 * source) is read, src broadcast to dst's shape: dst must not have elements
 * sharing one memory location (a stride 0 over a dimension of size > 1, as
 * expand makes), and src must not share memory with dst unless it is exactly
 * dst (same offset and strides), as PyTorch's in-place ops require. */
void ol_check_inplace(lua_State *L, const char *op, const OLTensor *dst, const OLTensor *src);
/* Whether a and b have at least one element at the same storage position. */
int ol_shares_memory(lua_State *L, const OLTensor *a, const OLTensor *b);

/* Raise a Lua error prefixed with the user's script file:line: the nearest
 * Lua frame that is not in the standard library. Never returns. */
int ol_error(lua_State *L, const char *fmt, ...);
/* The directory of the standard library, so ol_error can skip its frames. */
void ol_set_stdlib_dir(const char *dir);

/* Storage allocation with a small cache of freed blocks (training steps
 * allocate the same sizes over and over) and GC pressure for Lua. */
float *ol_alloc_floats(lua_State *L, size_t n);
void ol_free_floats(float *p, size_t n);
size_t ol_live_bytes(void);
/* Other C memory owned by Lua objects (data sets' buffers): counted in the
 * same GC pressure as tensors, so a loop that drops data sets collects them. */
void ol_gc_add(lua_State *L, size_t bytes);
void ol_gc_sub(size_t bytes);
#endif
