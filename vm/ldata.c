/* Datasets for training (stdlib/data.lua builds on these).
 *
 * A dataset keeps its examples compactly -- uint8 images exactly as read
 * from IDX, or float rows for tabular and synthetic data -- with class ids
 * (uint8) or float targets. Batches are gathered by an index list and
 * converted to float in C (kernels/batch.h), so a training step never walks
 * elements in Lua. take/split make range views that share the storage. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lcheck.h"
#include "batch.h"
#include "csvread.h"
#include "idx.h"
#include "synth.h"

#define OL_DATASET "optlab.Dataset"
#define OL_INDICES "optlab.Indices"

typedef struct {
    int refs;
    int64_t n;
    uint8_t *x8;                       /* uint8 examples (images), or */
    float *xf;                         /* float examples */
    int xdim;                          /* per-example shape */
    int64_t xshape[OL_MAXDIM];
    int64_t xrow;                      /* elements per example */
    uint8_t *y8;                       /* class ids, or */
    float *yf;                         /* float targets */
    int ydim;
    int64_t yshape[OL_MAXDIM];
    int64_t yrow;
    int classes;                       /* y8: number of classes */
    size_t bytes;                      /* of the buffers above, told to the GC (ol_gc_add) */
} DataStore;

typedef struct { DataStore *s; int64_t start, n; } Dataset;
typedef struct { int64_t n; int64_t *v; } Indices;

static void store_release(DataStore *s)
{
    if (!s || --s->refs > 0) return;
    ol_gc_sub(s->bytes);
    free(s->x8); free(s->xf); free(s->y8); free(s->yf);
    free(s);
}

/* A new store's buffers, counted once in the GC's pressure; released in store_release. */
static void store_account(lua_State *L, DataStore *s)
{
    s->bytes = (size_t)(s->n * s->xrow) * (s->x8 ? 1 : sizeof(float))
             + (size_t)(s->n * s->yrow) * (s->y8 ? 1 : sizeof(float));
    ol_gc_add(L, s->bytes);
}

static Dataset *push_dataset(lua_State *L, DataStore *s, int64_t start, int64_t n)
{
    Dataset *d = lua_newuserdatauv(L, sizeof *d, 0);
    d->s = s; d->start = start; d->n = n;
    s->refs++;
    luaL_setmetatable(L, OL_DATASET);
    return d;
}

static Dataset *check_ds(lua_State *L, int i) { return luaL_checkudata(L, i, OL_DATASET); }
static Indices *check_ind(lua_State *L, int i) { return luaL_checkudata(L, i, OL_INDICES); }

static int64_t prod(int nd, const int64_t *sh)
{
    int64_t p = 1;
    for (int i = 0; i < nd; i++) p *= sh[i];
    return p;
}

/* Images and labels that do not belong together: a message in err. */
static int idx_pair_error(const ol_idx *im, const ol_idx *lb, const char *ip, const char *lp, char *err, size_t n)
{
    if (lb->ndim != 1) snprintf(err, n, "%s: labels must be 1-dimensional, got %d dimensions", lp, lb->ndim);
    else if (im->dims[0] != lb->dims[0])
        snprintf(err, n, "%s: %lld labels but %s has %lld images", lp, (long long)lb->dims[0], ip, (long long)im->dims[0]);
    else return 0;
    return 1;
}

/* C.data_idx(images_path, labels_path, add_channel) -> dataset of uint8
 * images and class ids. add_channel: [N, H, W] images get the per-example
 * shape {1, H, W} (PyTorch's layout, what Conv2D expects). */
static int data_idx(lua_State *L)
{
    const char *ip = luaL_checkstring(L, 1), *lp = luaL_checkstring(L, 2);
    char err[512];
    ol_idx im = {0}, lb = {0};
    /* Both headers, and their agreement, before either file's data: a bad
     * labels file must not cost inflating up to 1 GiB of images first. */
    if (ol_idx_read_header(ip, &im, err, sizeof err)) ol_error(L, "%s", err);
    if (ol_idx_read_header(lp, &lb, err, sizeof err)) ol_error(L, "%s", err);
    if (idx_pair_error(&im, &lb, ip, lp, err, sizeof err)) ol_error(L, "%s", err);
    if (ol_idx_read(ip, &im, err, sizeof err)) ol_error(L, "%s", err);
    if (ol_idx_read(lp, &lb, err, sizeof err)) { ol_idx_free(&im); return ol_error(L, "%s", err); }
    if (idx_pair_error(&im, &lb, ip, lp, err, sizeof err)) {   /* a file replaced meanwhile */
        ol_idx_free(&im); ol_idx_free(&lb);
        return ol_error(L, "%s", err);
    }
    DataStore *s = calloc(1, sizeof *s);
    if (!s) { ol_idx_free(&im); ol_idx_free(&lb); return ol_error(L, "out of memory"); }
    s->n = im.dims[0];
    s->x8 = im.data; s->y8 = lb.data;
    s->xdim = im.ndim - 1;
    for (int i = 1; i < im.ndim; i++) s->xshape[i - 1] = im.dims[i];
    if (lua_toboolean(L, 3) && im.ndim == 3) {
        s->xdim = 3;
        s->xshape[2] = s->xshape[1]; s->xshape[1] = s->xshape[0]; s->xshape[0] = 1;
    }
    s->xrow = prod(s->xdim, s->xshape);
    s->ydim = 0; s->yrow = 1;
    int mx = -1;
    for (int64_t i = 0; i < s->n; i++) if (s->y8[i] > mx) mx = s->y8[i];
    s->classes = mx + 1;
    push_dataset(L, s, 0, s->n);   /* refs: 0 -> 1, owned by the userdata */
    store_account(L, s);
    return 1;
}

/* C.data_from_tensors(x, y, kind, classes) -> dataset; copies x [N, ...] and
 * y: kind "classes" (y [N] of integer ids 0..255) or "targets" (y [N, ...]). */
static int data_from_tensors(lua_State *L)
{
    OLTensor *x = ol_checktensor(L, 1), *y = ol_checktensor(L, 2);
    const char *kind = luaL_checkstring(L, 3);
    int is_cls = strcmp(kind, "classes") == 0;
    if (!is_cls && strcmp(kind, "targets") != 0) ol_error(L, "data: kind must be \"classes\" or \"targets\", got \"%s\"", kind);
    if (x->ndim < 1 || y->ndim < 1) ol_error(L, "data: x and y need a first dimension of examples");
    if (x->shape[0] != y->shape[0])
        ol_error(L, "data: x has %lld examples but y has %lld", (long long)x->shape[0], (long long)y->shape[0]);
    if (is_cls && y->ndim != 1) ol_error(L, "data: class labels must be a 1-dimensional tensor of ids");
    lua_Integer given = ol_optrange(L, 4, 0, 0, 256, "data", "classes (0: count them)");
    lua_settop(L, 3);
    lua_pushvalue(L, 1);
    OLTensor *xc = ol_pushcontiguous(L, lua_gettop(L));
    lua_pushvalue(L, 2);
    OLTensor *yc = ol_pushcontiguous(L, lua_gettop(L));
    int64_t n = x->shape[0];
    const float *yd = ol_data(yc);
    int mx = -1;
    if (is_cls)
        for (int64_t i = 0; i < n; i++) {
            float v = yd[i];
            if (!(v >= 0.0f && v <= 255.0f && v == floorf(v)))
                ol_error(L, "data: label %lld is %g: class ids must be integers in 0..255", (long long)i + 1, (double)v);
            if ((int)v > mx) mx = (int)v;
        }
    if (is_cls && given && given <= mx) ol_error(L, "data: classes = %d but a label is %d", given, mx);
    DataStore *s = calloc(1, sizeof *s);
    if (!s) ol_error(L, "out of memory");
    s->n = n;
    s->xdim = x->ndim - 1;
    for (int i = 1; i < x->ndim; i++) s->xshape[i - 1] = x->shape[i];
    s->xrow = prod(s->xdim, s->xshape);
    s->xf = malloc((size_t)(n * s->xrow) * sizeof(float) + 1);
    if (is_cls) {
        s->y8 = malloc((size_t)n + 1);
        s->ydim = 0; s->yrow = 1;
        s->classes = given ? (int)given : mx + 1;
    } else {
        s->ydim = y->ndim - 1;
        for (int i = 1; i < y->ndim; i++) s->yshape[i - 1] = y->shape[i];
        s->yrow = prod(s->ydim, s->yshape);
        s->yf = malloc((size_t)(n * s->yrow) * sizeof(float) + 1);
    }
    if (!s->xf || (is_cls ? !s->y8 : !s->yf)) { s->refs = 1; store_release(s); return ol_error(L, "out of memory"); }
    memcpy(s->xf, ol_data(xc), (size_t)(n * s->xrow) * sizeof(float));
    if (is_cls) for (int64_t i = 0; i < n; i++) s->y8[i] = (uint8_t)yd[i];
    else memcpy(s->yf, yd, (size_t)(n * s->yrow) * sizeof(float));
    push_dataset(L, s, 0, n);
    store_account(L, s);
    return 1;
}

static int ds_gc(lua_State *L)
{
    Dataset *d = check_ds(L, 1);
    store_release(d->s);
    d->s = NULL;
    return 0;
}

static int ds_len(lua_State *L) { lua_pushinteger(L, check_ds(L, 1)->n); return 1; }

/* ds:range(start, count): examples start..start+count-1 (0-based), sharing storage. */
static int ds_range(lua_State *L)
{
    Dataset *d = check_ds(L, 1);
    lua_Integer st = luaL_checkinteger(L, 2), n = luaL_checkinteger(L, 3);
    int64_t end;
    if (st < 0 || n < 0 || !ol_add64(st, n, &end) || end > d->n)
        ol_error(L, "dataset range of %lld examples from %lld is outside a dataset of %lld examples",
                 (long long)n, (long long)st, (long long)d->n);
    push_dataset(L, d->s, d->start + st, n);
    return 1;
}

static void push_shape(lua_State *L, int nd, const int64_t *sh)
{
    lua_createtable(L, nd, 0);
    for (int i = 0; i < nd; i++) { lua_pushinteger(L, sh[i]); lua_rawseti(L, -2, i + 1); }
}

/* ds:info() -> {shape=, target_shape=, classes=, uint8=} */
static int ds_info(lua_State *L)
{
    DataStore *s = check_ds(L, 1)->s;
    lua_createtable(L, 0, 4);
    push_shape(L, s->xdim, s->xshape); lua_setfield(L, -2, "shape");
    push_shape(L, s->ydim, s->yshape); lua_setfield(L, -2, "target_shape");
    if (s->y8) { lua_pushinteger(L, s->classes); lua_setfield(L, -2, "classes"); }
    lua_pushboolean(L, s->x8 != NULL); lua_setfield(L, -2, "uint8");
    return 1;
}

/* ds:class_counts() -> {count of class 0, count of class 1, ...} */
static int ds_class_counts(lua_State *L)
{
    Dataset *d = check_ds(L, 1);
    DataStore *s = d->s;
    if (!s->y8) ol_error(L, "class_counts: this dataset has float targets, not classes");
    int64_t c[256] = {0};
    for (int64_t i = 0; i < d->n; i++) c[s->y8[d->start + i]]++;
    lua_createtable(L, s->classes, 0);
    for (int k = 0; k < s->classes; k++) { lua_pushinteger(L, c[k]); lua_rawseti(L, -2, k + 1); }
    return 1;
}

/* The index list of a gather: an Indices object with (pos, count), or a Lua
 * array of 0-based example ids (copied into buf, which the caller frees). */
static const int64_t *gather_index(lua_State *L, int i, int64_t *count, int64_t **buf)
{
    *buf = NULL;
    if (lua_istable(L, i)) {
        int64_t n = (int64_t)lua_rawlen(L, i);
        *buf = malloc((size_t)n * sizeof **buf + 1);
        if (!*buf) ol_error(L, "out of memory");
        for (int64_t k = 0; k < n; k++) {
            lua_rawgeti(L, i, k + 1);
            (*buf)[k] = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
            lua_pop(L, 1);
        }
        *count = n;
        return *buf;
    }
    Indices *ind = check_ind(L, i);
    lua_Integer pos = luaL_checkinteger(L, i + 1), cnt = luaL_checkinteger(L, i + 2);
    int64_t end;
    if (pos < 0 || cnt < 0 || !ol_add64(pos, cnt, &end) || end > ind->n)
        ol_error(L, "gather: %lld positions from %lld are outside an index list of %lld",
                 (long long)cnt, (long long)pos, (long long)ind->n);
    *count = cnt;
    return ind->v + pos;
}

/* ds:gather(indices, pos, count, mean, std, onehot) or ds:gather({ids}, nil, nil, mean, std, onehot)
 * -> x float [count, ...] normalized, y float [count] ids / [count, classes] one-hot / [count, ...] targets. */
static int ds_gather(lua_State *L)
{
    Dataset *d = check_ds(L, 1);
    DataStore *s = d->s;
    int64_t b, *buf;
    const int64_t *idx = gather_index(L, 2, &b, &buf);
    float mean = (float)luaL_optnumber(L, 5, 0.0), std = (float)luaL_optnumber(L, 6, 1.0);
    int onehot = lua_toboolean(L, 7);
    int64_t bad = ol_batch_find_bad_index(idx, b, d->n);
    if (bad >= 0) {
        long long v = (long long)idx[bad];
        free(buf);
        ol_error(L, "gather: example index %lld is outside a dataset of %lld examples", v, (long long)d->n);
    }
    if (!(std > 0.0f) || !isfinite(std) || !isfinite(mean)) {
        free(buf);
        ol_error(L, "normalization: std must be positive and finite and mean finite (mean=%g, std=%g)", (double)mean, (double)std);
    }
    if (onehot && !s->y8) { free(buf); ol_error(L, "one_hot: this dataset has float targets, not classes"); }
    int64_t sh[OL_MAXDIM + 1];
    sh[0] = b;
    for (int i = 0; i < s->xdim; i++) sh[i + 1] = s->xshape[i];
    OLTensor *x = ol_pushtensor_empty(L, s->xdim + 1, sh);
    int rc = s->x8 ? ol_batch_images(s->x8 + d->start * s->xrow, d->n, s->xrow, idx, b, mean, std, ol_data(x))
                   : ol_batch_rows_f32(s->xf + d->start * s->xrow, d->n, s->xrow, idx, b, mean, std, ol_data(x));
    if (rc == 0) {
        if (s->y8 && onehot) {
            sh[1] = s->classes;
            OLTensor *y = ol_pushtensor_empty(L, 2, sh);
            rc = ol_batch_onehot(s->y8 + d->start, d->n, idx, b, s->classes, ol_data(y));
        } else if (s->y8) {
            OLTensor *y = ol_pushtensor_empty(L, 1, sh);
            rc = ol_batch_labels_f32(s->y8 + d->start, d->n, idx, b, ol_data(y));
        } else {
            for (int i = 0; i < s->ydim; i++) sh[i + 1] = s->yshape[i];
            OLTensor *y = ol_pushtensor_empty(L, s->ydim + 1, sh);
            rc = ol_batch_rows_f32(s->yf + d->start * s->yrow, d->n, s->yrow, idx, b, 0.0f, 1.0f, ol_data(y));
        }
    }
    free(buf);
    if (rc) ol_error(L, "gather: internal error %d", rc);
    return 2;
}

/* ---- index lists (the epoch order) ------------------------------------ */

/* C.data_indices(n) -> 0, 1, ..., n-1 */
static int data_indices(lua_State *L)
{
    lua_Integer n = ol_checkrange(L, 1, 0, ((lua_Integer)1 << 40) - 1, "index list", "length");
    Indices *ind = lua_newuserdatauv(L, sizeof *ind, 0);
    ind->n = 0; ind->v = NULL;
    luaL_setmetatable(L, OL_INDICES);
    ind->v = malloc((size_t)n * sizeof *ind->v + 1);
    if (!ind->v) ol_error(L, "out of memory");
    ind->n = n;
    for (int64_t i = 0; i < n; i++) ind->v[i] = i;
    return 1;
}

static int ind_gc(lua_State *L) { Indices *ind = check_ind(L, 1); free(ind->v); ind->v = NULL; ind->n = 0; return 0; }
static int ind_len(lua_State *L) { lua_pushinteger(L, check_ind(L, 1)->n); return 1; }

/* ind:shuffle(seed, epoch): the permutation of (seed, epoch); ind:reset(): identity. */
static int ind_shuffle(lua_State *L)
{
    Indices *ind = check_ind(L, 1);
    lua_Integer seed = luaL_checkinteger(L, 2), epoch = luaL_checkinteger(L, 3);
    ol_shuffle_indices((uint64_t)seed, (uint64_t)epoch, ind->n, ind->v);
    return 0;
}

static int ind_reset(lua_State *L)
{
    Indices *ind = check_ind(L, 1);
    for (int64_t i = 0; i < ind->n; i++) ind->v[i] = i;
    return 0;
}

static int ind_totable(lua_State *L)
{
    Indices *ind = check_ind(L, 1);
    lua_createtable(L, (int)ind->n, 0);
    for (int64_t i = 0; i < ind->n; i++) { lua_pushinteger(L, ind->v[i]); lua_rawseti(L, -2, i + 1); }
    return 1;
}

/* ---- CSV ------------------------------------------------------------- */

static int parse_num(const char *s, double *v)
{
    if (!*s) return 0;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end == '\0' && errno != ERANGE;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

#define CSV_MAXCOLS 4096

typedef struct { ol_csv c; char **labels; double *y; } CsvWork;

static void csv_work_free(CsvWork *w)
{
    ol_csv_free(&w->c); free(w->labels); free(w->y);
}

/* C.data_csv(path, label) -> x [N, F-1], y [N], feature names, class names
 * (sorted, or nil when the label column is numeric), labels_are_ids.
 * label: column name, 1-based column number, or nil for the last column.
 * The first row is a header when any of its fields is not a number.
 * kernels/csv.c splits the file (RFC 4180, by libcsv). */
static int data_csv(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    CsvWork w = {0};
    char errbuf[512] = "";
    if (ol_csv_read(path, &w.c, errbuf, sizeof errbuf)) ol_error(L, "%s", errbuf);
#define CSV_FAIL(...) do { snprintf(errbuf, sizeof errbuf, __VA_ARGS__); goto fail; } while (0)
    if (w.c.nrow == 0) CSV_FAIL("%s: empty file", path);
    char **hdr = w.c.field + w.c.row[0];
    int64_t ncol64 = w.c.row[1] - w.c.row[0];
    if (ncol64 > CSV_MAXCOLS) CSV_FAIL("%s: %lld columns, at most %d supported", path, (long long)ncol64, CSV_MAXCOLS);
    int ncol = (int)ncol64;
    if (ncol < 2) CSV_FAIL("%s: need at least 2 columns (features and a label), got %d", path, ncol);
    int header = 0;
    for (int j = 0; j < ncol; j++) { double v; if (!parse_num(hdr[j], &v)) header = 1; }
    lua_createtable(L, ncol, 0);
    int names_idx = lua_gettop(L);
    for (int j = 0; j < ncol; j++) {
        if (header) lua_pushstring(L, hdr[j]);
        else lua_pushfstring(L, "%d", j + 1);
        lua_rawseti(L, names_idx, j + 1);
    }
    int lab = ncol - 1;
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *want = lua_tostring(L, 2);
        lab = -1;
        for (int j = 0; j < ncol; j++) {
            lua_rawgeti(L, names_idx, j + 1);
            if (strcmp(lua_tostring(L, -1), want) == 0) lab = j;
            lua_pop(L, 1);
        }
        if (lab < 0) CSV_FAIL("%s: no column named '%s'%s", path, want, header ? "" : " (the file has no header line)");
    } else if (lua_isinteger(L, 2)) {
        lua_Integer c = lua_tointeger(L, 2);
        if (c < 1 || c > ncol) CSV_FAIL("%s: label column %lld is outside 1..%d", path, (long long)c, ncol);
        lab = (int)c - 1;
    }
    int64_t n = w.c.nrow - header;
    if (n < 1) CSV_FAIL("%s: no data rows", path);
    int64_t sh[2] = {n, ncol - 1};
    OLTensor *x = ol_pushtensor_empty(L, 2, sh);
    float *xd = ol_data(x);
    w.labels = malloc((size_t)n * sizeof *w.labels);
    w.y = malloc((size_t)n * sizeof *w.y);
    if (!w.labels || !w.y) CSV_FAIL("out of memory");
    int numeric = 1;
    for (int64_t row = 0; row < n; row++) {
        int64_t r = row + header;
        char **f = w.c.field + w.c.row[r];
        int64_t nf = w.c.row[r + 1] - w.c.row[r];
        long long lineno = (long long)w.c.line[r];
        if (nf != ncol) CSV_FAIL("%s:%lld: %lld fields, expected %d", path, lineno, (long long)nf, ncol);
        int k = 0;
        for (int j = 0; j < ncol; j++) {
            double v = 0;
            if (j == lab) {
                w.labels[row] = f[j];
                if (numeric && !parse_num(f[j], &v)) numeric = 0;
                w.y[row] = v;
                continue;
            }
            if (!parse_num(f[j], &v)) {
                lua_rawgeti(L, names_idx, j + 1);
                CSV_FAIL("%s:%lld: column '%s': not a number: '%s'", path, lineno, lua_tostring(L, -1), f[j]);
            }
            xd[row * (ncol - 1) + k++] = (float)v;
        }
    }
    /* labels */
    OLTensor *y = ol_pushtensor_empty(L, 1, sh);
    float *yd = ol_data(y);
    int ids = 1;
    if (numeric) {
        for (int64_t i = 0; i < n; i++) {
            yd[i] = (float)w.y[i];
            if (!(w.y[i] >= 0 && w.y[i] <= 255 && w.y[i] == floor(w.y[i]))) ids = 0;
        }
        lua_pushnil(L);
    } else {
        /* class names: sorted unique strings (sklearn's LabelEncoder order) */
        char **u = malloc((size_t)n * sizeof *u);
        if (!u) CSV_FAIL("out of memory");
        memcpy(u, w.labels, (size_t)n * sizeof *u);
        qsort(u, (size_t)n, sizeof *u, cmp_str);
        int64_t nu = 0;
        for (int64_t i = 0; i < n; i++) if (nu == 0 || strcmp(u[nu - 1], u[i]) != 0) u[nu++] = u[i];
        if (nu > 256) { free(u); CSV_FAIL("%s: label column has %lld distinct classes, at most 256", path, (long long)nu); }
        for (int64_t i = 0; i < n; i++) {
            char **hit = bsearch(&w.labels[i], u, (size_t)nu, sizeof *u, cmp_str);
            yd[i] = (float)(hit - u);
        }
        lua_createtable(L, (int)nu, 0);
        for (int64_t i = 0; i < nu; i++) { lua_pushstring(L, u[i]); lua_rawseti(L, -2, i + 1); }
        free(u);
    }
    lua_pushboolean(L, ids);
    csv_work_free(&w);
    /* stack: names, x, y, classes, ids -> x, y, names (features only), classes, ids, label name */
    lua_createtable(L, ncol - 1, 0);
    for (int j = 0, k = 0; j < ncol; j++) {
        if (j == lab) continue;
        lua_rawgeti(L, names_idx, j + 1);
        lua_rawseti(L, -2, ++k);
    }
    lua_rawgeti(L, names_idx, lab + 1);
    /* names_idx: names, +1 x, +2 y, +3 classes, +4 ids, +5 features, +6 label */
    lua_pushvalue(L, names_idx + 1);
    lua_pushvalue(L, names_idx + 2);
    lua_pushvalue(L, names_idx + 5);
    lua_pushvalue(L, names_idx + 3);
    lua_pushvalue(L, names_idx + 4);
    lua_pushvalue(L, names_idx + 6);
    return 6;
fail:
    csv_work_free(&w);
    return ol_error(L, "%s", errbuf);
#undef CSV_FAIL
}

/* C.data_synthetic(kind, seed, n, ...) -> x, y [, w]:
 *   "blobs", seed, n, features, centers, std, box
 *   "spirals", seed, n, noise, turns
 *   "linreg", seed, n, features, cond, noise, rotate */
static int data_synthetic(lua_State *L)
{
    const char *kind = luaL_checkstring(L, 1);
    char op[40];
    snprintf(op, sizeof op, "data.%s", strcmp(kind, "linreg") == 0 ? "linear_regression" : kind);
    lua_Integer seed = luaL_checkinteger(L, 2), n = ol_checkrange(L, 3, 1, (lua_Integer)1 << 31, op, "n");
    int rc;
    if (strcmp(kind, "blobs") == 0) {
        lua_Integer f = ol_checkrange(L, 4, 1, 65536, op, "features"), k = ol_checkrange(L, 5, 1, 256, op, "centers");
        int64_t sx[2] = {n, f};
        OLTensor *x = ol_pushtensor_empty(L, 2, sx), *y = ol_pushtensor_empty(L, 1, sx);
        rc = ol_synth_blobs((uint64_t)seed, n, (int)f, (int)k, (float)luaL_checknumber(L, 6),
                            (float)luaL_checknumber(L, 7), ol_data(x), ol_data(y));
        if (rc) ol_error(L, "data.blobs: std and box must be >= 0");
        return 2;
    }
    if (strcmp(kind, "spirals") == 0) {
        int64_t sx[2] = {n, 2};
        OLTensor *x = ol_pushtensor_empty(L, 2, sx), *y = ol_pushtensor_empty(L, 1, sx);
        rc = ol_synth_spirals((uint64_t)seed, n, (float)luaL_checknumber(L, 4), (float)luaL_checknumber(L, 5),
                              ol_data(x), ol_data(y));
        if (rc) ol_error(L, "data.spirals: noise must be >= 0 and turns > 0");
        return 2;
    }
    if (strcmp(kind, "linreg") == 0) {
        lua_Integer d = ol_checkrange(L, 4, 1, 4096, op, "features");
        int64_t sx[2] = {n, d}, sy[2] = {n, 1};
        OLTensor *x = ol_pushtensor_empty(L, 2, sx), *y = ol_pushtensor_empty(L, 2, sy);
        OLTensor *w = ol_pushtensor_empty(L, 1, &sx[1]);
        rc = ol_synth_linreg((uint64_t)seed, n, (int)d, luaL_checknumber(L, 5), (float)luaL_checknumber(L, 6),
                             lua_toboolean(L, 7), ol_data(x), ol_data(y), ol_data(w));
        if (rc) ol_error(L, "data.linear_regression: condition must be finite and >= 1, noise >= 0");
        return 3;
    }
    return ol_error(L, "data: unknown synthetic set '%s'", kind);
}

static const luaL_Reg ds_methods[] = {
    {"range", ds_range}, {"info", ds_info}, {"class_counts", ds_class_counts}, {"gather", ds_gather},
    {NULL, NULL}
};
static const luaL_Reg ind_methods[] = {
    {"shuffle", ind_shuffle}, {"reset", ind_reset}, {"totable", ind_totable}, {NULL, NULL}
};
static const luaL_Reg data_funcs[] = {
    {"idx", data_idx}, {"from_tensors", data_from_tensors}, {"indices", data_indices},
    {"csv", data_csv}, {"synthetic", data_synthetic}, {NULL, NULL}
};

void ol_open_data(lua_State *L)
{
    /* Dataset methods live in C.dataset_methods so stdlib/data.lua can add
     * Lua ones (take, split) to the same table. */
    luaL_newmetatable(L, OL_DATASET);
    lua_pushcfunction(L, ds_gc); lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, ds_len); lua_setfield(L, -2, "__len");
    lua_newtable(L);
    luaL_setfuncs(L, ds_methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "dataset_methods");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newmetatable(L, OL_INDICES);
    lua_pushcfunction(L, ind_gc); lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, ind_len); lua_setfield(L, -2, "__len");
    lua_newtable(L);
    luaL_setfuncs(L, ind_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    ol_module(L, "data", data_funcs);
}
