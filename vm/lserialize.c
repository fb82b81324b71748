/* tensor.save / tensor.load: a little-endian binary format.
 *
 *   magic   "OLTENSOR"            8 bytes
 *   version u32 = 1 or 2
 *   (version 2 only)
 *     meta_len u32, meta bytes    a text the caller stores beside the tensors
 *                                 (serial.save: the rest of a value, never executed)
 *   count   u32                   number of named tensors
 *   count times:
 *     name_len u32, name bytes (UTF-8, no NUL; "" for a lone tensor)
 *     ndim u32 (<= 8), dims i64[ndim] (>= 0)
 *     data f32[prod(dims)]
 *   crc32   u32                   zlib CRC-32 of every byte before it
 *
 * tensor.save(path, t_or_map[, meta]) writes version 1 when there is no
 * meta string, so such files are readable by every optlab; tensor.load
 * reads both and returns the meta string as a second value (version 2).
 *
 * A file is read whole (its size bounds every allocation), its checksum is
 * verified, then each record is bounds-checked before it is used. Files
 * are written to a temporary name and renamed, so a crash never leaves a
 * half-written file under the real name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "tensor.h"
#include "lcheck.h"

#define MAGIC "OLTENSOR"
#define VERSION_PLAIN 1u /* tensors only */
#define VERSION_META 2u  /* tensors and a meta string */
#define MAX_FILE ((size_t)4 << 30)

typedef struct { unsigned char *p; size_t len, cap; int oom; } wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u32(wbuf *b, uint32_t v) { unsigned char c[4] = {v, v >> 8, v >> 16, v >> 24}; put(b, c, 4); }
static void put_i64(wbuf *b, int64_t v)
{
    unsigned char c[8];
    for (int i = 0; i < 8; i++) c[i] = (unsigned char)((uint64_t)v >> (8 * i));
    put(b, c, 8);
}

static void put_tensor(lua_State *L, wbuf *b, const char *name, size_t nlen, int idx)
{
    OLTensor *t = ol_checktensor(L, idx);
    put_u32(b, (uint32_t)nlen);
    put(b, name, nlen);
    put_u32(b, (uint32_t)t->ndim);
    for (int d = 0; d < t->ndim; d++) put_i64(b, t->shape[d]);
    OLTensor *c = ol_pushcontiguous(L, idx);
    put(b, ol_data(c), (size_t)ol_numel(c) * sizeof(float)); /* x86-64 and arm64 are little-endian */
    lua_pop(L, 1);
}

/* Write `len` bytes to path atomically. Returns 0 or an errno. */
static int write_atomic(const char *path, const void *data, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return ENOMEM;
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) { int e = errno; free(tmp); return e; }
    const unsigned char *p = data;
    size_t left = len;
    int err = 0;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) { if (errno == EINTR) continue; err = errno; break; }
        p += w;
        left -= (size_t)w;
    }
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) unlink(tmp);
    else chmod(path, 0644);
    free(tmp);
    return err;
}

/* tensor.save(path, t) or tensor.save(path, {name = t, ...}), then an optional meta string */
static int t_save(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t mlen = 0;
    const char *meta = luaL_optlstring(L, 3, NULL, &mlen);
    if (meta && mlen > UINT32_MAX) ol_error(L, "tensor.save: meta string of %zu bytes is too long", mlen);
    if (!ol_totensor(L, 2)) luaL_checktype(L, 2, LUA_TTABLE); /* before b owns memory */
    wbuf b = {0}; /* meta stays on the stack (argument 3) while b is built */
    put(&b, MAGIC, 8);
    put_u32(&b, meta ? VERSION_META : VERSION_PLAIN);
    if (meta) {
        put_u32(&b, (uint32_t)mlen);
        put(&b, meta, mlen);
    }
    if (ol_totensor(L, 2)) {
        put_u32(&b, 1);
        put_tensor(L, &b, "", 0, 2);
    } else {
        /* names sorted, so the same tensors always give the same bytes */
        lua_newtable(L);
        int names = lua_gettop(L), count = 0;
        for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
            if (lua_type(L, -2) != LUA_TSTRING) { free(b.p); ol_error(L, "tensor.save: table keys must be names (strings)"); }
            if (!ol_totensor(L, -1)) { free(b.p); ol_error(L, "tensor.save: '%s' is not a tensor", lua_tostring(L, -2)); }
            lua_pushvalue(L, -2);
            lua_rawseti(L, names, ++count);
        }
        lua_getglobal(L, "table");
        lua_getfield(L, -1, "sort");
        lua_pushvalue(L, names);
        lua_call(L, 1, 0);
        lua_pop(L, 1);
        put_u32(&b, (uint32_t)count);
        for (int i = 1; i <= count; i++) {
            lua_rawgeti(L, names, i);
            size_t nlen;
            const char *name = lua_tolstring(L, -1, &nlen);
            lua_rawget(L, 2);
            put_tensor(L, &b, name, nlen, lua_gettop(L));
            lua_pop(L, 1);
        }
    }
    if (!b.oom) put_u32(&b, (uint32_t)crc32_z(0L, b.p, b.len));
    if (b.oom) {
        free(b.p);
        ol_error(L, "tensor.save: out of memory");
    }
    int err = write_atomic(path, b.p, b.len);
    free(b.p);
    if (err) ol_error(L, "tensor.save: cannot write '%s': %s", path, strerror(err));
    return 0;
}

typedef struct { const unsigned char *p; size_t len, at; const char *path; lua_State *L; } rbuf;

static const unsigned char *take(rbuf *r, size_t n, const char *what)
{
    if (n > r->len - r->at)
        ol_error(r->L, "tensor.load: '%s' is truncated or corrupt: %s needs %zu bytes at offset %zu, "
                 "only %zu remain", r->path, what, n, r->at, r->len - r->at);
    const unsigned char *p = r->p + r->at;
    r->at += n;
    return p;
}

static uint32_t get_u32(rbuf *r, const char *what)
{
    const unsigned char *c = take(r, 4, what);
    return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}

static int64_t get_i64(rbuf *r, const char *what)
{
    const unsigned char *c = take(r, 8, what);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | c[i];
    return (int64_t)v;
}

static int t_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    FILE *f = fopen(path, "rb");
    if (!f) ol_error(L, "tensor.load: cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) { fclose(f); ol_error(L, "tensor.load: '%s' is not a regular file", path); }
    if ((size_t)st.st_size > MAX_FILE) { fclose(f); ol_error(L, "tensor.load: '%s' is too large (%lld bytes)", path, (long long)st.st_size); }
    size_t len = (size_t)st.st_size;
    /* the bytes live in a Lua string, so an error below cannot leak them */
    luaL_Buffer lb;
    unsigned char *p = (unsigned char *)luaL_buffinitsize(L, &lb, len ? len : 1);
    size_t got = fread(p, 1, len, f);
    fclose(f);
    luaL_pushresultsize(&lb, got);
    p = (unsigned char *)lua_tostring(L, -1);
    rbuf r = {p, got, 0, path, L};
    if (got < 20 || memcmp(p, MAGIC, 8) != 0)
        ol_error(L, "tensor.load: '%s' is not an optlab tensor file (bad magic)", path);
    uint32_t stored = (uint32_t)p[got - 4] | (uint32_t)p[got - 3] << 8 | (uint32_t)p[got - 2] << 16 | (uint32_t)p[got - 1] << 24;
    if ((uint32_t)crc32_z(0L, p, got - 4) != stored)
        ol_error(L, "tensor.load: '%s' is corrupt: checksum mismatch", path);
    r.len = got - 4;
    take(&r, 8, "magic");
    uint32_t version = get_u32(&r, "version");
    if (version != VERSION_PLAIN && version != VERSION_META)
        ol_error(L, "tensor.load: '%s' has format version %u, this optlab reads %u and %u", path, version,
                 VERSION_PLAIN, VERSION_META);
    const char *meta = NULL;
    size_t mlen = 0;
    if (version == VERSION_META) {
        mlen = get_u32(&r, "meta length");
        meta = (const char *)take(&r, mlen, "meta text");
    }
    uint32_t count = get_u32(&r, "count");
    if (count > r.len / 8) ol_error(L, "tensor.load: '%s' is corrupt: claims %u tensors", path, count);
    lua_newtable(L);
    int result = lua_gettop(L), lone = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t nlen = get_u32(&r, "name length");
        const char *name = (const char *)take(&r, nlen, "name");
        uint32_t ndim = get_u32(&r, "dimension count");
        if (ndim > OL_MAXDIM) ol_error(L, "tensor.load: '%s' is corrupt: %u dimensions (at most %d)", path, ndim, OL_MAXDIM);
        int64_t shape[OL_MAXDIM];
        size_t n = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            shape[d] = get_i64(&r, "dimension");
            if (shape[d] < 0 || (shape[d] > 0 && n > (r.len / 4) / (size_t)shape[d]))
                ol_error(L, "tensor.load: '%s' is corrupt: dimension %lld of tensor %u does not fit the file",
                         path, (long long)shape[d], i + 1);
            n *= (size_t)shape[d];
        }
        if (ol_shape_numel((int)ndim, shape) < 0) {   /* a 0 dimension beside huge ones */
            char b[160];
            ol_error(L, "tensor.load: '%s' is corrupt: tensor %u has shape %s", path, i + 1,
                     ol_dimsstr((int)ndim, shape, b, sizeof b));
        }
        const unsigned char *data = take(&r, n * sizeof(float), "tensor data");
        lua_pushlstring(L, name, nlen);
        OLTensor *t = ol_pushtensor_empty(L, (int)ndim, shape);
        memcpy(ol_data(t), data, n * sizeof(float));
        if (nlen == 0 && count == 1) lone = 1;
        lua_rawset(L, result);
    }
    if (r.at != r.len) ol_error(L, "tensor.load: '%s' is corrupt: %zu unexpected bytes after the last tensor", path, r.len - r.at);
    if (lone) lua_getfield(L, result, "");
    if (!meta) return 1;
    lua_pushlstring(L, meta, mlen);
    return 2;
}

static const luaL_Reg funcs[] = {{"save", t_save}, {"load", t_load}, {NULL, NULL}};

void ol_open_serialize(lua_State *L) { ol_module(L, "serial", funcs); }
