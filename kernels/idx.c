/* IDX reader/writer. The header is validated completely before any data
 * buffer is allocated; a raw file's size is compared with the header before
 * allocating, and a gzip'd file's buffer grows with the data actually read,
 * so a lying header cannot make us allocate more than the file delivers. */
#include "idx.h"

#include <errno.h>
#include <stddef.h>
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

/* The bytes of an IDX file: raw, or a gzip stream inflated here with zlib's
 * inflate (not gzread, which stops at the first error it can report only as
 * end of file and skips whatever follows the stream). inflate checks each
 * member's CRC-32 and length trailer; a second member may follow (gzip
 * allows concatenation); anything else after the stream is an error. */
typedef struct {
    FILE *fp;
    const char *path;
    int gz;              /* 1: gzip, inflated here; 0: raw bytes */
    int end;             /* gzip: the last member's trailer has been checked */
    int cut;             /* gzip: the file ended inside the stream */
    z_stream z;
    uint8_t in[1 << 16];
} src;

/* Makes at least need unread input bytes available, unless the file ends. */
static int src_fill(src *s, unsigned need, char *err, size_t errlen)
{
    if (s->z.avail_in >= need) return 0;
    memmove(s->in, s->z.next_in, s->z.avail_in);
    s->z.next_in = s->in;
    while (s->z.avail_in < need) {
        size_t n = fread(s->in + s->z.avail_in, 1, sizeof s->in - s->z.avail_in, s->fp);
        if (ferror(s->fp)) return fail(err, errlen, s->path, "read error: %s", strerror(errno));
        if (n == 0) break;
        s->z.avail_in += (uInt)n;
    }
    return 0;
}

static int src_open(src *s, const char *path, char *err, size_t errlen)
{
    memset(s, 0, offsetof(src, in));
    s->path = path;
    s->fp = fopen(path, "rb");
    if (!s->fp) return fail(err, errlen, path, "cannot open: %s", strerror(errno));
    s->z.next_in = s->in;
    if (src_fill(s, 2, err, errlen)) { fclose(s->fp); return -1; }
    s->gz = s->z.avail_in >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
    if (s->gz && inflateInit2(&s->z, 15 + 16) != Z_OK) {
        fclose(s->fp);
        return fail(err, errlen, path, "out of memory for zlib");
    }
    return 0;
}

static void src_close(src *s)
{
    if (s->gz) inflateEnd(&s->z);
    fclose(s->fp);
}

/* A gzip member ended (zlib has checked its CRC-32 and length): another
 * member, the end of the file, or garbage. */
static int src_member_end(src *s, char *err, size_t errlen)
{
    if (src_fill(s, 2, err, errlen)) return -1;
    if (s->z.avail_in == 0) { s->end = 1; return 0; }
    if (s->z.avail_in >= 2 && s->z.next_in[0] == 0x1f && s->z.next_in[1] == 0x8b) {
        inflateReset(&s->z);
        return 0;
    }
    return fail(err, errlen, s->path, "garbage after the end of the gzip stream (not gzip data)");
}

/* Reads up to len bytes (fewer only at the end of the data); -1 on an error. */
static int64_t src_read(src *s, uint8_t *buf, int64_t len, char *err, size_t errlen)
{
    int64_t got = 0;
    while (got < len) {
        if (!s->gz) {
            /* the peeked bytes first, then the file */
            size_t n = s->z.avail_in;
            if (n) {
                if ((int64_t)n > len - got) n = (size_t)(len - got);
                memcpy(buf + got, s->z.next_in, n);
                s->z.next_in += n;
                s->z.avail_in -= (uInt)n;
            } else {
                n = fread(buf + got, 1, (size_t)(len - got), s->fp);
                if (ferror(s->fp)) return fail(err, errlen, s->path, "read error: %s", strerror(errno));
                if (n == 0) break;
            }
            got += (int64_t)n;
            continue;
        }
        if (s->end) break;
        if (src_fill(s, 1, err, errlen)) return -1;
        if (s->z.avail_in == 0) {
            s->cut = 1;
            return fail(err, errlen, s->path, "truncated: the gzip stream ends early");
        }
        uInt want = len - got > (1 << 30) ? (1u << 30) : (uInt)(len - got);
        s->z.next_out = buf + got;
        s->z.avail_out = want;
        int rc = inflate(&s->z, Z_NO_FLUSH);
        got += want - s->z.avail_out;
        if (rc == Z_STREAM_END) { if (src_member_end(s, err, errlen)) return -1; }
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return fail(err, errlen, s->path, "read error: corrupt gzip data (%s)",
                        s->z.msg ? s->z.msg : zError(rc));
    }
    return got;
}

/* Checks the header (magic, type, dims) of an IDX file; fills out->ndim,
 * out->dims, out->size. hdr_len receives the header length in bytes. */
static int read_header(src *f, const char *path, ol_idx *out, int64_t *hdr_len,
                       char *err, size_t errlen)
{
    uint8_t m[4];
    int64_t n = src_read(f, m, 4, err, errlen);
    if (n < 0) return -1;
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
    n = src_read(f, d, 4 * ndim, err, errlen);
    if (n < 0) return -1;
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

/* Opens path and reads its header; on success the caller owns f. */
static int open_checked(const char *path, src *f, ol_idx *h, int64_t *hdr_len, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(err, errlen, path, "cannot open: %s", strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fail(err, errlen, path, "is a directory, not an IDX file");
    if (src_open(f, path, err, errlen)) return -1;
    memset(h, 0, sizeof *h);
    if (read_header(f, path, h, hdr_len, err, errlen) != 0) { src_close(f); return -1; }
    /* A raw file's size is known: compare before allocating. */
    int64_t want = (int64_t)h->size;
    if (!f->gz && S_ISREG(st.st_mode)) {
        int64_t have = (int64_t)st.st_size - *hdr_len;
        if (have != want) {
            src_close(f);
            if (have < want)
                return fail(err, errlen, path, "truncated: header says %" PRId64 " bytes of data, file has %" PRId64,
                            want, have);
            return fail(err, errlen, path,
                        "%" PRId64 " trailing bytes: header says %" PRId64 " bytes of data, file has %" PRId64,
                        have - want, want, have);
        }
    }
    return 0;
}

int ol_idx_read_header(const char *path, ol_idx *out, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    src *f = malloc(sizeof *f);
    if (!f) return fail(err, errlen, path, "out of memory");
    int64_t hdr_len;
    int rc = open_checked(path, f, out, &hdr_len, err, errlen);
    if (rc == 0) src_close(f);
    else memset(out, 0, sizeof *out);
    free(f);
    return rc;
}

int ol_idx_read(const char *path, ol_idx *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    src *f = malloc(sizeof *f);
    if (!f) return fail(err, errlen, path, "out of memory");
    ol_idx h;
    int64_t hdr_len = 0;
    if (open_checked(path, f, &h, &hdr_len, err, errlen) != 0) { free(f); return -1; }
    int64_t want = (int64_t)h.size;

    /* Grow with the data actually delivered (gzip sizes are unknown up front). */
    int64_t cap = want < (1 << 20) ? want : (1 << 20), got = 0;
    uint8_t *buf = malloc((size_t)cap);
    if (!buf) { fail(err, errlen, path, "out of memory for %" PRId64 " bytes", cap); goto fail; }
    for (;;) {
        int64_t n = src_read(f, buf + got, cap - got, err, errlen);
        if (n < 0) {
            if (f->cut)
                fail(err, errlen, path, "truncated: header says %" PRId64 " bytes of data, "
                     "the gzip stream ends early", want);
            goto fail;
        }
        got += n;
        if (got < cap || cap == want) break;
        int64_t ncap = cap * 2 < want ? cap * 2 : want;
        uint8_t *nb = realloc(buf, (size_t)ncap);
        if (!nb) { fail(err, errlen, path, "out of memory for %" PRId64 " bytes", ncap); goto fail; }
        buf = nb;
        cap = ncap;
    }
    if (got < want) {
        fail(err, errlen, path, "truncated: header says %" PRId64 " bytes of data, file has %" PRId64, want, got);
        goto fail;
    }
    /* To the end of the file: a gzip trailer not yet reached is checked
     * here, and any data beyond the header's size is an error. */
    uint8_t tail[4096];
    int64_t extra = 0;
    for (;;) {
        int64_t n = src_read(f, tail, sizeof tail, err, errlen);
        if (n < 0) {
            if (f->cut) fail(err, errlen, path, "truncated: the gzip stream ends before its trailer");
            goto fail;
        }
        extra += n;
        if (n == 0 || extra > (1 << 20)) break;
    }
    if (extra > 0) {
        fail(err, errlen, path, "%s%" PRId64 " trailing bytes: header says %" PRId64 " bytes of data, file has more",
             extra > (1 << 20) ? "at least " : "", extra, want);
        goto fail;
    }
    src_close(f);
    free(f);
    *out = h;
    out->data = buf;
    return 0;
fail:
    free(buf);
    src_close(f);
    free(f);
    return -1;
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
