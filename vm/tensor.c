/* Tensor storage, views, allocation and error reporting. */
#include "tensor.h"
#include "elementwise.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocation ------------------------------------------------------- */

/* Freed blocks kept for reuse: a training step frees and allocates the same
 * sizes every step, and fresh pages from mmap cost a fault per 4 KiB. */
#define CACHE_SLOTS 64
#define CACHE_MIN_BYTES (64u << 10)
#define CACHE_MAX_BYTES ((size_t)128 << 20)
static struct { float *p; size_t n; } cache[CACHE_SLOTS];
static size_t cache_bytes, live_bytes, other_bytes, gc_threshold = (size_t)64 << 20;

/* Lua sees only the small userdata, so it must be told when the C memory
 * behind them grows; a full collection is cheap next to that memory. */
static void gc_pressure(lua_State *L)
{
    if (live_bytes + other_bytes <= gc_threshold) return;
    lua_gc(L, LUA_GCCOLLECT, 0);
    size_t twice = (live_bytes + other_bytes) * 2;
    gc_threshold = twice > ((size_t)64 << 20) ? twice : ((size_t)64 << 20);
}

void ol_gc_add(lua_State *L, size_t bytes)
{
    other_bytes += bytes;
    gc_pressure(L);
}

/* When memory is freed, the threshold follows it down: a threshold set while a
 * large data set was alive would otherwise let that much garbage pile up later
 * (LuaJIT's collector, paced by its own small heap, then rarely runs). */
static void gc_settle(void)
{
    size_t twice = (live_bytes + other_bytes) * 2;
    if (twice * 2 < gc_threshold) gc_threshold = twice > ((size_t)64 << 20) ? twice : ((size_t)64 << 20);
}

void ol_gc_sub(size_t bytes)
{
    other_bytes -= bytes;
    gc_settle();
}

float *ol_alloc_floats(lua_State *L, size_t n)
{
    size_t bytes = (n ? n : 1) * sizeof(float);
    if (n > ((size_t)1 << 40)) ol_error(L, "out of memory: cannot allocate %zu floats", n);
    live_bytes += bytes;
    gc_pressure(L);
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].p && cache[i].n == n) {
            float *p = cache[i].p;
            cache[i].p = NULL;
            cache_bytes -= bytes;
            return p;
        }
    float *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!p) {
        for (int i = 0; i < CACHE_SLOTS; i++) { free(cache[i].p); cache[i].p = NULL; }
        cache_bytes = 0;
        p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    }
    if (!p) {
        live_bytes -= bytes;
        ol_error(L, "out of memory: cannot allocate a tensor of %zu floats (%.1f MiB)",
                 n, bytes / 1048576.0);
    }
    return p;
}

void ol_free_floats(float *p, size_t n)
{
    size_t bytes = (n ? n : 1) * sizeof(float);
    live_bytes -= bytes;
    gc_settle();
    if (bytes >= CACHE_MIN_BYTES && cache_bytes + bytes <= CACHE_MAX_BYTES)
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (!cache[i].p) {
                cache[i].p = p;
                cache[i].n = n;
                cache_bytes += bytes;
                return;
            }
    free(p);
}

size_t ol_live_bytes(void) { return live_bytes; }

/* ---- errors ----------------------------------------------------------- */

static char stdlib_dir[4096];

void ol_set_stdlib_dir(const char *dir)
{
    snprintf(stdlib_dir, sizeof stdlib_dir, "%s", dir);
}

static int in_stdlib(const char *source)
{
    size_t n = strlen(stdlib_dir);
    return n && source[0] == '@' && strncmp(source + 1, stdlib_dir, n) == 0;
}

int ol_error(lua_State *L, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0 && !in_stdlib(ar.source)) {
            lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
            return lua_error(L);
        }
    }
    lua_pushstring(L, msg);
    return lua_error(L);
}

/* ---- tensors ---------------------------------------------------------- */

int64_t ol_numel(const OLTensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

int64_t ol_shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1, nonzero = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return -1;
        if (shape[d] && (!ol_mul64(nonzero, shape[d], &nonzero) || nonzero > OL_MAXNUMEL)) return -1;
        n *= shape[d]; /* <= nonzero */
    }
    return n;
}

int ol_double_to_int64(double x, int64_t *r)
{
    /* -2^63 is exact as a double; 2^63 is the first value out of range. */
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)) return 0;
    *r = (int64_t)x;
    return 1;
}

int ol_iscontiguous(const OLTensor *t)
{
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != expect) return 0;
        expect *= t->shape[d];
    }
    return 1;
}

int ol_sameshape(const OLTensor *a, const OLTensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++) if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

const char *ol_dimsstr(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < ndim && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (at < len) snprintf(buf + at, len - at, "]");
    return buf;
}

const char *ol_shapestr(const OLTensor *t, char *buf, size_t len)
{
    return ol_dimsstr(t->ndim, t->shape, buf, len);
}

OLTensor *ol_totensor(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, OL_TENSOR);
}

OLTensor *ol_checktensor(lua_State *L, int idx)
{
    OLTensor *t = ol_totensor(L, idx);
    if (!t) {
        ol_error(L, "bad argument #%d: expected a tensor, got %s", idx, luaL_typename(L, idx));
    }
    return t;
}

static OLTensor *newudata(lua_State *L)
{
    OLTensor *t = lua_newuserdatauv(L, sizeof(OLTensor), 1);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, OL_TENSOR);
    return t;
}

/* The element count of a valid shape; an error for any other. */
static int64_t check_dims(lua_State *L, int ndim, const int64_t *shape)
{
    char b[160];
    if (ndim < 0 || ndim > OL_MAXDIM)
        ol_error(L, "a tensor has at most %d dimensions, got %d", OL_MAXDIM, ndim);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0) ol_error(L, "negative dimension in shape %s", ol_dimsstr(ndim, shape, b, sizeof b));
    int64_t n = ol_shape_numel(ndim, shape);
    if (n < 0) ol_error(L, "tensor of shape %s is too large", ol_dimsstr(ndim, shape, b, sizeof b));
    return n;
}

OLTensor *ol_pushtensor_empty(lua_State *L, int ndim, const int64_t *shape)
{
    int64_t n = check_dims(L, ndim, shape);
    /* The userdata first (its __gc ignores a NULL storage), so that an error
     * in the allocations below leaks nothing. */
    OLTensor *t = newudata(L);
    float *data = ol_alloc_floats(L, (size_t)n);
    OLStorage *st = malloc(sizeof *st);
    if (!st) {
        ol_free_floats(data, (size_t)n);
        ol_error(L, "out of memory");
    }
    st->data = data;
    st->size = (size_t)n;
    st->refs = 1;
    st->version = 0;
    t->st = st;
    t->ndim = ndim;
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        t->shape[d] = shape[d];
        t->stride[d] = s;
        s *= shape[d];
    }
    return t;
}

OLTensor *ol_pushtensor(lua_State *L, int ndim, const int64_t *shape)
{
    OLTensor *t = ol_pushtensor_empty(L, ndim, shape);
    memset(t->st->data, 0, t->st->size * sizeof(float));
    return t;
}

OLTensor *ol_pushview(lua_State *L, const OLTensor *src, int ndim, const int64_t *shape,
                      const int64_t *stride, int64_t offset)
{
    /* Every view op (reshape, narrow, select, expand, ...) ends here, so this
     * is the one place that proves a view stays inside its storage: the
     * lowest and highest element it can reach, computed without overflow. */
    int64_t n = check_dims(L, ndim, shape), lo = offset, hi = offset;
    int ok = offset >= 0;
    for (int d = 0; d < ndim && ok && n > 0; d++) {
        int64_t reach;
        ok = ol_mul64(shape[d] - 1, stride[d], &reach) && ol_add64(reach < 0 ? lo : hi, reach, reach < 0 ? &lo : &hi);
    }
    if (!ok || (n > 0 && (lo < 0 || hi >= (int64_t)src->st->size))) {
        char b[160];
        ol_error(L, "view of shape %s at offset %lld does not fit a storage of %zu elements",
                 ol_dimsstr(ndim, shape, b, sizeof b), (long long)offset, src->st->size);
    }
    OLStorage *st = src->st;
    OLTensor *t = newudata(L);
    t->st = st;
    st->refs++;
    t->ndim = ndim;
    t->offset = offset;
    for (int d = 0; d < ndim; d++) { t->shape[d] = shape[d]; t->stride[d] = stride[d]; }
    return t;
}

OLTensor *ol_pushcontiguous(lua_State *L, int idx)
{
    OLTensor *t = ol_checktensor(L, idx);
    if (ol_iscontiguous(t)) {
        lua_pushvalue(L, idx);
        return t;
    }
    OLTensor *c = ol_pushtensor_empty(L, t->ndim, t->shape);
    ol_copy(t->ndim, t->shape, ol_data(c), c->stride, ol_data(t), t->stride);
    return c;
}

/* ---- in-place overlap ------------------------------------------------- */

/* The lowest and highest storage positions t touches. */
static void extent(const OLTensor *t, int64_t *lo, int64_t *hi)
{
    *lo = *hi = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        int64_t span = (t->shape[d] - 1) * t->stride[d];
        if (span < 0) *lo += span; else *hi += span;
    }
}

/* Every storage position of t inside [lo, hi]: marked in bits (mark), or
 * tested against them (returns 1 at the first marked one). */
static int walk(const OLTensor *t, int64_t lo, int64_t hi, unsigned char *bits, int mark)
{
    int64_t idx[OL_MAXDIM] = {0}, n = ol_numel(t);
    for (int64_t i = 0; i < n; i++) {
        int64_t pos = t->offset;
        for (int d = 0; d < t->ndim; d++) pos += idx[d] * t->stride[d];
        if (pos >= lo && pos <= hi) {
            int64_t b = pos - lo;
            if (mark) bits[b >> 3] |= (unsigned char)(1u << (b & 7));
            else if (bits[b >> 3] & (1u << (b & 7))) return 1;
        }
        for (int d = t->ndim - 1; d >= 0 && ++idx[d] == t->shape[d]; d--) idx[d] = 0;
    }
    return 0;
}

int ol_shares_memory(lua_State *L, const OLTensor *a, const OLTensor *b)
{
    if (a->st != b->st || ol_numel(a) == 0 || ol_numel(b) == 0) return 0;
    int64_t alo, ahi, blo, bhi;
    extent(a, &alo, &ahi);
    extent(b, &blo, &bhi);
    int64_t lo = alo > blo ? alo : blo, hi = ahi < bhi ? ahi : bhi;
    if (lo > hi) return 0;
    /* extents meet; views such as two columns of a matrix interleave without
     * sharing an element, so look at the elements themselves (rare: only
     * views of one storage get here) */
    unsigned char *bits = calloc((size_t)((hi - lo) / 8 + 1), 1);
    if (!bits) ol_error(L, "out of memory");
    walk(a, lo, hi, bits, 1);
    int hit = walk(b, lo, hi, bits, 0);
    free(bits);
    return hit;
}

void ol_check_inplace(lua_State *L, const char *op, const OLTensor *dst, const OLTensor *src)
{
    char s[160];
    for (int d = 0; d < dst->ndim; d++)
        if (dst->shape[d] > 1 && dst->stride[d] == 0)
            ol_error(L, "%s: more than one element of the target (shape %s) refers to a single memory "
                        "location (an expanded view?): clone() it first", op, ol_shapestr(dst, s, sizeof s));
    if (!src || src->st != dst->st) return;
    /* exactly dst, read as it is written: legal (x:add_(x)) */
    int same = src->offset == dst->offset;
    for (int d = 0; same && d < dst->ndim; d++) {
        int k = d - (dst->ndim - src->ndim);
        int64_t bs = (k < 0 || src->shape[k] == 1) ? 0 : src->stride[k];
        same = dst->shape[d] == 1 || bs == dst->stride[d];
    }
    if (!same && ol_shares_memory(L, dst, src))
        ol_error(L, "%s: some elements of the source and of the target (shape %s) refer to a single "
                    "memory location: clone() the source first", op, ol_shapestr(dst, s, sizeof s));
}
