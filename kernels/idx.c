/* IDX reader/writer. The header is validated completely before any data
 * buffer is allocated; a raw file's size is compared with the header before
 * allocating, and a gzip'd file's buffer grows with the data actually read,
 * so a lying header cannot make us allocate more than the file delivers. */
#include "idx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "%s: ", path);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static const char *type_name(int t)
{
    switch (t) {
    case 0x08: return "uint8";
    case 0x09: return "int8";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default:   return NULL;
    }
}

/* Reads up to len bytes; returns the count read, or -1 on a zlib error. */
static int64_t read_full(gzFile f, uint8_t *buf, int64_t len)
{
    int64_t got = 0;
    while (got < len) {
        int64_t want = len - got;
        if (want > (1 << 30)) want = 1 << 30;
        int n = gzread(f, buf + got, (unsigned)want);
        if (n < 0) return -1;
        if (n == 0) break;
        got += n;
    }
    return got;
}

/* zlib's message without the "path: " prefix it adds (ours has it already). */
static const char *gz_msg(gzFile f, const char *path)
{
    int errnum = 0;
    const char *m = gzerror(f, &errnum);
    if (errnum == Z_ERRNO) return strerror(errno);
    size_t pl = strlen(path);
    if (strncmp(m, path, pl) == 0 && m[pl] == ':' && m[pl + 1] == ' ') m += pl + 2;
    return m;
}

/* Checks the header (magic, type, dims) of an IDX file; fills out->ndim,
 * out->dims, out->size. hdr_len receives the header length in bytes. */
static int read_header(gzFile f, const char *path, ol_idx *out, int64_t *hdr_len,
                       char *err, size_t errlen)
{
    uint8_t m[4];
    int64_t n = read_full(f, m, 4);
    if (n < 0) return fail(err, errlen, path, "read error: %s", gz_msg(f, path));
    if (n == 0) return fail(err, errlen, path, "empty file (an IDX file starts with a 4-byte magic number)");
    if (n < 4)
        return fail(err, errlen, path, "truncated header: file has %" PRId64 " bytes, the magic number alone needs 4", n);
    if (m[0] != 0 || m[1] != 0)
        return fail(err, errlen, path,
                    "bad magic number 0x%02X%02X%02X%02X: an IDX file starts with 00 00 <type> <ndims> "
                    "(not an IDX file?)", m[0], m[1], m[2], m[3]);
    const char *tn = type_name(m[2]);
    if (!tn)
        return fail(err, errlen, path,
                    "bad magic number 0x%02X%02X%02X%02X: unknown element type code 0x%02X "
                    "(IDX types are 0x08, 0x09, 0x0B..0x0E)", m[0], m[1], m[2], m[3], m[2]);
    if (m[2] != 0x08)
        return fail(err, errlen, path,
                    "unsupported element type 0x%02X (%s): only 0x08 (uint8) is supported", m[2], tn);
    int ndim = m[3];
    if (ndim < 1 || ndim > OL_IDX_MAXDIM)
        return fail(err, errlen, path, "header has %d dimensions: supported are 1..%d", ndim, OL_IDX_MAXDIM);

    uint8_t d[4 * OL_IDX_MAXDIM];
    n = read_full(f, d, 4 * ndim);
    if (n < 0) return fail(err, errlen, path, "read error: %s", gz_msg(f, path));
    if (n < 4 * ndim)
        return fail(err, errlen, path, "truncated header: %d dimensions need %d bytes, file has %" PRId64,
                    ndim, 4 * ndim, n);

    int64_t elems = 1;
    for (int i = 0; i < ndim; i++) {
        int64_t di = ((int64_t)d[4 * i] << 24) | ((int64_t)d[4 * i + 1] << 16)
                   | ((int64_t)d[4 * i + 2] << 8) | (int64_t)d[4 * i + 3];
        if (di == 0) return fail(err, errlen, path, "dimension %d of %d is 0", i, ndim);
        out->dims[i] = di;
        if (elems > OL_IDX_MAX_ELEMS / di)    /* checked before multiplying: no overflow */
            return fail(err, errlen, path,
                        "implausible dimensions: more than 2^31 elements (dimension %d is %" PRId64 ")", i, di);
        elems *= di;
    }
    if (elems > OL_IDX_MAX_BYTES)   /* uint8: one byte per element */
        return fail(err, errlen, path,
                    "implausible dimensions: %" PRId64 " bytes of data, more than the 1 GiB limit", elems);
    out->ndim = ndim;
    out->size = (size_t)elems;
    *hdr_len = 4 + 4 * (int64_t)ndim;
    return 0;
}

int ol_idx_read(const char *path, ol_idx *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(err, errlen, path, "cannot open: %s", strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fail(err, errlen, path, "is a directory, not an IDX file");
    gzFile f = gzopen(path, "rb");
    if (!f) return fail(err, errlen, path, "cannot open: %s", errno ? strerror(errno) : "out of memory");

    ol_idx h;
    memset(&h, 0, sizeof h);
    int64_t hdr_len = 0;
    if (read_header(f, path, &h, &hdr_len, err, errlen) != 0) {
        gzclose(f);
        return -1;
    }
    int64_t want = (int64_t)h.size;

    /* A raw file's size is known: compare before allocating. */
    if (gzdirect(f) && S_ISREG(st.st_mode)) {
        int64_t have = (int64_t)st.st_size - hdr_len;
        if (have < want) {
            gzclose(f);
            return fail(err, errlen, path, "truncated: header says %" PRId64 " bytes of data, file has %" PRId64,
                        want, have);
        }
        if (have > want) {
            gzclose(f);
            return fail(err, errlen, path,
                        "%" PRId64 " trailing bytes: header says %" PRId64 " bytes of data, file has %" PRId64,
                        have - want, want, have);
        }
    }

    /* Grow with the data actually delivered (gzip sizes are unknown up front). */
    int64_t cap = want < (1 << 20) ? want : (1 << 20);
    uint8_t *buf = malloc((size_t)cap);
    if (!buf) {
        gzclose(f);
        return fail(err, errlen, path, "out of memory for %" PRId64 " bytes", cap);
    }
    int64_t got = 0;
    for (;;) {
        int64_t n = read_full(f, buf + got, cap - got);
        if (n < 0) {
            int errnum = 0;
            gzerror(f, &errnum);
            int trunc = (errnum == Z_BUF_ERROR);   /* compressed stream ends early */
            char msg[256];
            snprintf(msg, sizeof msg, "%s", gz_msg(f, path));
            free(buf);
            gzclose(f);
            if (trunc)
                return fail(err, errlen, path,
                            "truncated: header says %" PRId64 " bytes of data, gzip stream ends early (%s)", want, msg);
            return fail(err, errlen, path, "read error after %" PRId64 " bytes of data: %s", got, msg);
        }
        got += n;
        if (got < cap || cap == want) break;
        int64_t ncap = cap * 2 < want ? cap * 2 : want;
        uint8_t *nb = realloc(buf, (size_t)ncap);
        if (!nb) {
            free(buf);
            gzclose(f);
            return fail(err, errlen, path, "out of memory for %" PRId64 " bytes", ncap);
        }
        buf = nb;
        cap = ncap;
    }
    if (got < want) {
        free(buf);
        gzclose(f);
        return fail(err, errlen, path, "truncated: header says %" PRId64 " bytes of data, file has %" PRId64,
                    want, got);
    }
    /* Anything after the data means the header and the file disagree. */
    uint8_t tail[65536];
    int64_t extra = 0;
    for (;;) {
        int n = gzread(f, tail, sizeof tail);
        if (n <= 0 || extra > (1 << 20)) break;
        extra += n;
    }
    gzclose(f);
    if (extra > 0) {
        free(buf);
        return fail(err, errlen, path, "%s%" PRId64 " trailing bytes: header says %" PRId64 " bytes of data, file has more",
                    extra > (1 << 20) ? "at least " : "", extra, want);
    }
    *out = h;
    out->data = buf;
    return 0;
}

void ol_idx_free(ol_idx *x)
{
    if (!x) return;
    free(x->data);
    memset(x, 0, sizeof *x);
}

int ol_idx_write(const char *path, const ol_idx *x, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (x->ndim < 1 || x->ndim > OL_IDX_MAXDIM)
        return fail(err, errlen, path, "cannot write %d dimensions: supported are 1..%d", x->ndim, OL_IDX_MAXDIM);
    int64_t elems = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (x->dims[i] <= 0 || x->dims[i] > (int64_t)UINT32_MAX)
            return fail(err, errlen, path, "cannot write: dimension %d is %" PRId64 " (must be 1..2^32-1)",
                        i, x->dims[i]);
        if (elems > OL_IDX_MAX_BYTES / x->dims[i])
            return fail(err, errlen, path, "cannot write: more than the 1 GiB limit");
        elems *= x->dims[i];
    }
    if ((size_t)elems != x->size)
        return fail(err, errlen, path, "cannot write: dims give %" PRId64 " elements but size is %zu", elems, x->size);
    if (!x->data)
        return fail(err, errlen, path, "cannot write: data is NULL");

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return fail(err, errlen, path, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return fail(err, errlen, path, "cannot create a temporary file next to it: %s", strerror(e));
    }
    fchmod(fd, 0644);   /* mkstemp makes 0600; data files are meant to be shared */
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return fail(err, errlen, path, "cannot write: %s", strerror(e));
    }
    uint8_t hdr[4 + 4 * OL_IDX_MAXDIM] = {0, 0, 0x08, (uint8_t)x->ndim};
    for (int i = 0; i < x->ndim; i++) {
        uint32_t d = (uint32_t)x->dims[i];
        hdr[4 + 4 * i] = (uint8_t)(d >> 24);
        hdr[5 + 4 * i] = (uint8_t)(d >> 16);
        hdr[6 + 4 * i] = (uint8_t)(d >> 8);
        hdr[7 + 4 * i] = (uint8_t)d;
    }
    size_t hl = 4 + 4 * (size_t)x->ndim;
    int ok = fwrite(hdr, 1, hl, f) == hl && fwrite(x->data, 1, x->size, f) == x->size;
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return fail(err, errlen, path, "write failed: %s", strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        free(tmp);
        return fail(err, errlen, path, "cannot rename the temporary file into place: %s", strerror(e));
    }
    free(tmp);
    return 0;
}
