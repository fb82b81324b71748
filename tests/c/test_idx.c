/* IDX reader/writer: round trips (raw and gzip) and every malformed-file case,
 * each error message checked to name the file and the problem. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <zlib.h>

#include "idx.h"

static char dir[64];
static char path[256];
static char err[512];

static void setup(void)
{
    strcpy(dir, "/tmp/ol_idx_XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert(system(cmd) == 0);
}

TestSuite(idx, .init = setup, .fini = teardown);

static const char *p(const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Writes raw bytes to a file, gzip'd through zlib when gz. */
static void put(const char *file, const uint8_t *b, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(file, "wb");
        cr_assert(f != NULL);
        if (n) cr_assert_eq(gzwrite(f, b, (unsigned)n), (int)n);
        cr_assert_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(file, "wb");
        cr_assert(f != NULL);
        if (n) cr_assert_eq(fwrite(b, 1, n, f), n);
        cr_assert_eq(fclose(f), 0);
    }
}

/* Header bytes for a uint8 IDX with the given dims (ndim <= 4). */
static size_t header(uint8_t *h, uint8_t type, int ndim, const uint32_t *dims)
{
    h[0] = 0; h[1] = 0; h[2] = type; h[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        h[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        h[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        h[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        h[7 + 4 * i] = (uint8_t)dims[i];
    }
    return 4 + 4 * (size_t)ndim;
}

/* A file = header(dims) followed by ndata pattern bytes. */
static void put_idx(const char *file, uint8_t type, int ndim, const uint32_t *dims, size_t ndata, int gz)
{
    uint8_t *b = malloc(32 + ndata);
    size_t h = header(b, type, ndim, dims);
    for (size_t i = 0; i < ndata; i++) b[h + i] = (uint8_t)(i * 37 + 11);
    put(file, b, h + ndata, gz);
    free(b);
}

static void expect_error(const char *file, const char *needle1, const char *needle2)
{
    ol_idx x;
    memset(&x, 0xAB, sizeof x);
    cr_assert_neq(ol_idx_read(file, &x, err, sizeof err), 0, "reading %s should fail", file);
    cr_expect_null(x.data, "no data on failure");
    cr_expect(strncmp(err, file, strlen(file)) == 0, "error names the file: %s", err);
    cr_expect(strstr(err, needle1) != NULL, "error '%s' should mention '%s'", err, needle1);
    if (needle2) cr_expect(strstr(err, needle2) != NULL, "error '%s' should mention '%s'", err, needle2);
}

static void roundtrip(int ndim, const int64_t *dims, int gz)
{
    ol_idx x = {.ndim = ndim};
    size_t n = 1;
    for (int i = 0; i < ndim; i++) { x.dims[i] = dims[i]; n *= (size_t)dims[i]; }
    x.size = n;
    x.data = malloc(n);
    srand(ndim * 7 + gz);
    for (size_t i = 0; i < n; i++) x.data[i] = (uint8_t)(rand() & 0xFF);
    const char *file = p(gz ? "rt.gz" : "rt");
    if (gz) {
        uint8_t h[32];
        uint32_t d32[4];
        for (int i = 0; i < ndim; i++) d32[i] = (uint32_t)dims[i];
        size_t hl = header(h, 0x08, ndim, d32);
        gzFile f = gzopen(file, "wb");
        cr_assert(f != NULL);
        cr_assert_eq(gzwrite(f, h, (unsigned)hl), (int)hl);
        cr_assert_eq(gzwrite(f, x.data, (unsigned)n), (int)n);
        cr_assert_eq(gzclose(f), Z_OK);
    } else {
        cr_assert_eq(ol_idx_write(file, &x, err, sizeof err), 0, "%s", err);
    }
    ol_idx y;
    cr_assert_eq(ol_idx_read(file, &y, err, sizeof err), 0, "%s", err);
    cr_expect_eq(y.ndim, ndim);
    for (int i = 0; i < ndim; i++) cr_expect_eq(y.dims[i], dims[i]);
    for (int i = ndim; i < OL_IDX_MAXDIM; i++) cr_expect_eq(y.dims[i], 0);
    cr_assert_eq(y.size, n);
    cr_expect(memcmp(x.data, y.data, n) == 0, "data read back equals data written");
    ol_idx_free(&y);
    cr_expect_null(y.data);
    ol_idx_free(&x);
}

Test(idx, roundtrip_raw_images_and_labels)
{
    int64_t img[3] = {37, 28, 28}, lab[1] = {37}, four[4] = {3, 2, 5, 7};
    roundtrip(3, img, 0);
    roundtrip(1, lab, 0);
    roundtrip(4, four, 0);
}

Test(idx, roundtrip_gzip)
{
    /* More than 1 MiB so the reader's growing buffer is exercised. */
    int64_t img[3] = {1500, 28, 28}, lab[1] = {1500};
    roundtrip(3, img, 1);
    roundtrip(1, lab, 1);
}

Test(idx, write_is_atomic_and_leaves_no_temp_files)
{
    uint8_t d[6] = {1, 2, 3, 4, 5, 6};
    ol_idx x = {.ndim = 2, .dims = {2, 3}, .data = d, .size = 6};
    const char *file = p("w");
    cr_assert_eq(ol_idx_write(file, &x, err, sizeof err), 0, "%s", err);
    d[0] = 99;
    cr_assert_eq(ol_idx_write(file, &x, err, sizeof err), 0, "%s", err);   /* overwrite in place */
    DIR *dp = opendir(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(dp));)
        if (e->d_name[0] != '.') { files++; cr_expect_str_eq(e->d_name, "w"); }
    closedir(dp);
    cr_expect_eq(files, 1);
    ol_idx y;
    cr_assert_eq(ol_idx_read(file, &y, err, sizeof err), 0, "%s", err);
    cr_expect_eq(y.data[0], 99);
    ol_idx_free(&y);
}

Test(idx, write_rejects_bad_structs)
{
    uint8_t d[6] = {0};
    ol_idx x = {.ndim = 2, .dims = {2, 3}, .data = d, .size = 5};
    cr_expect_neq(ol_idx_write(p("w"), &x, err, sizeof err), 0);
    cr_expect(strstr(err, "size is 5") != NULL, "%s", err);
    x.size = 6; x.ndim = 0;
    cr_expect_neq(ol_idx_write(p("w"), &x, err, sizeof err), 0);
    cr_expect(strstr(err, "0 dimensions") != NULL, "%s", err);
    x.ndim = 2; x.dims[1] = 0;
    cr_expect_neq(ol_idx_write(p("w"), &x, err, sizeof err), 0);
    cr_expect(strstr(err, "dimension 1 is 0") != NULL, "%s", err);
    x.dims[1] = 3;
    cr_expect_neq(ol_idx_write("/nonexistent_dir_ol/x", &x, err, sizeof err), 0);
    cr_expect(strstr(err, "/nonexistent_dir_ol/x: cannot create a temporary file") != NULL, "%s", err);
    cr_expect(access(p("w"), F_OK) != 0, "nothing written on failure");
}

Test(idx, nonexistent_file)
{
    expect_error(p("missing-idx3-ubyte"), "cannot open", "No such file");
}

Test(idx, directory_is_not_a_file)
{
    expect_error(dir, "is a directory", NULL);
}

Test(idx, empty_file)
{
    put(p("empty"), NULL, 0, 0);
    expect_error(path, "empty file", NULL);
}

Test(idx, truncated_header)
{
    uint8_t b[3] = {0, 0, 8};
    put(p("h3"), b, 3, 0);
    expect_error(path, "truncated header", "has 3 bytes");
    uint32_t dims[3] = {10, 28, 28};
    uint8_t h[32];
    header(h, 0x08, 3, dims);
    put(p("h9"), h, 9, 0);   /* magic + 1 dim + 1 byte */
    expect_error(path, "truncated header: 3 dimensions need 12 bytes, file has 5", NULL);
}

Test(idx, wrong_magic)
{
    /* Magic written little-endian by mistake. */
    uint8_t b[16] = {0x01, 0x08, 0x00, 0x00, 8, 0, 0, 0};
    put(p("magic"), b, 16, 0);
    expect_error(path, "bad magic number 0x01080000", "not an IDX file");
    /* A text file, e.g. an HTML error page saved under the IDX name. */
    const char *html = "<html><body>404</body></html>";
    put(p("html"), (const uint8_t *)html, strlen(html), 0);
    expect_error(path, "bad magic number 0x3C68746D", NULL);
}

Test(idx, corrupt_gzip_stream)
{
    /* gzip magic followed by garbage: zlib's complaint, file named once. */
    uint8_t b[64] = {0x1f, 0x8b, 0x08, 0x00};
    for (int i = 10; i < 64; i++) b[i] = (uint8_t)(i * 91);
    put(p("corrupt.gz"), b, 64, 0);
    expect_error(path, "read error: ", NULL);
    cr_expect(strstr(err + strlen(path), path) == NULL, "file named once: %s", err);
}

Test(idx, unknown_and_unsupported_types)
{
    uint32_t dims[1] = {4};
    put_idx(p("t42"), 0x42, 1, dims, 4, 0);
    expect_error(path, "unknown element type code 0x42", NULL);
    put_idx(p("t0d"), 0x0D, 1, dims, 16, 0);
    expect_error(path, "unsupported element type 0x0D (float32)", "only 0x08 (uint8)");
    put_idx(p("t0c.gz"), 0x0C, 1, dims, 16, 1);
    expect_error(path, "unsupported element type 0x0C (int32)", NULL);
}

Test(idx, bad_number_of_dimensions)
{
    uint32_t dims[4] = {1, 1, 1, 1};
    put_idx(p("d0"), 0x08, 0, dims, 1, 0);
    expect_error(path, "header has 0 dimensions", "1..4");
    uint8_t b[40] = {0, 0, 8, 5};
    put(p("d5"), b, 40, 0);
    expect_error(path, "header has 5 dimensions", NULL);
}

Test(idx, zero_dimension)
{
    uint32_t dims[3] = {10, 0, 28};
    put_idx(p("z"), 0x08, 3, dims, 0, 0);
    expect_error(path, "dimension 1 of 3 is 0", NULL);
}

Test(idx, absurd_dimensions)
{
    uint32_t huge[4] = {65535, 65535, 65535, 65535};   /* product overflows int64 if unchecked */
    put_idx(p("huge"), 0x08, 4, huge, 10, 0);
    expect_error(path, "implausible dimensions", "2^31");
    uint32_t gig[3] = {2000000, 28, 28};                /* 1.57e9 bytes: above the 1 GiB cap */
    put_idx(p("gig.gz"), 0x08, 3, gig, 10, 1);
    expect_error(path, "implausible dimensions: 1568000000 bytes", "1 GiB");
}

Test(idx, truncated_data_raw)
{
    uint32_t dims[3] = {10000, 28, 28};
    put_idx(p("train-images-idx3-ubyte"), 0x08, 3, dims, 12, 0);
    expect_error(path, "truncated: header says 7840000 bytes of data, file has 12", NULL);
}

Test(idx, truncated_data_gzip)
{
    /* A complete gzip stream whose content is shorter than the header says. */
    uint32_t dims[2] = {1000, 784};
    put_idx(p("short.gz"), 0x08, 2, dims, 700, 1);
    expect_error(path, "truncated: header says 784000 bytes of data, file has 700", NULL);
}

Test(idx, truncated_gzip_stream)
{
    /* A gzip file cut in the middle (an interrupted download). */
    uint32_t dims[2] = {100, 784};
    put_idx(p("cut.gz"), 0x08, 2, dims, 78400, 1);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(path, len / 2), 0);
    expect_error(path, "truncated", "78400 bytes of data");
}

Test(idx, header_claims_more_than_file_has)
{
    uint32_t dims[1] = {60000};
    put_idx(p("labels"), 0x08, 1, dims, 10000, 0);
    expect_error(path, "truncated: header says 60000 bytes of data, file has 10000", NULL);
}

Test(idx, trailing_bytes)
{
    uint32_t dims[2] = {10, 10};
    put_idx(p("trail"), 0x08, 2, dims, 103, 0);
    expect_error(path, "3 trailing bytes", "header says 100 bytes of data, file has 103");
    put_idx(p("trail.gz"), 0x08, 2, dims, 101, 1);
    expect_error(path, "1 trailing bytes", "header says 100 bytes");
}

Test(idx, error_buffer_is_bounded)
{
    char small[16];
    ol_idx x;
    cr_assert_neq(ol_idx_read(p("a-rather-long-missing-file-name"), &x, small, sizeof small), 0);
    cr_expect_eq(strlen(small), sizeof small - 1);
    cr_assert_neq(ol_idx_read(p("missing"), &x, NULL, 0), 0);   /* no buffer: still fails cleanly */
}

/* The bytes of a file. */
static uint8_t *slurp(const char *file, long *len)
{
    FILE *f = fopen(file, "rb");
    cr_assert(f != NULL);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)*len + 64);
    cr_assert_eq(fread(b, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return b;
}

Test(idx, gzip_cut_at_every_length)
{
    /* Every prefix of a gzip file is an error, including the one that lacks
     * exactly the 8-byte CRC-32/ISIZE trailer (gzread's drain loop took the
     * zlib error there for end of file). */
    uint32_t dims[2] = {10, 10};
    put_idx(p("whole.gz"), 0x08, 2, dims, 100, 1);
    long len;
    uint8_t *b = slurp(path, &len);
    char cut[256];
    snprintf(cut, sizeof cut, "%s/cut.gz", dir);
    for (long n = 1; n < len; n++) {
        put(cut, b, (size_t)n, 0);
        expect_error(cut, "", NULL);
        if (n >= len - 8) cr_expect(strstr(err, "truncated") != NULL, "cut to %ld of %ld: %s", n, len, err);
    }
    free(b);
}

Test(idx, gzip_trailer_is_enforced)
{
    uint32_t dims[2] = {10, 10};
    put_idx(p("crc.gz"), 0x08, 2, dims, 100, 1);
    long len;
    uint8_t *b = slurp(path, &len);
    b[len - 8] ^= 0x01;                           /* CRC-32 */
    put(path, b, (size_t)len, 0);
    expect_error(path, "corrupt gzip data", "incorrect data check");
    b[len - 8] ^= 0x01;
    b[len - 4] ^= 0x01;                           /* ISIZE */
    put(path, b, (size_t)len, 0);
    expect_error(path, "corrupt gzip data", "incorrect length check");
    free(b);
}

Test(idx, gzip_trailing_garbage_is_rejected)
{
    uint32_t dims[2] = {10, 10};
    put_idx(p("junk.gz"), 0x08, 2, dims, 100, 1);
    long len;
    uint8_t *b = slurp(path, &len);
    memcpy(b + len, "GARBAGE", 7);
    put(path, b, (size_t)len + 7, 0);
    expect_error(path, "garbage after the end of the gzip stream", NULL);
    b[len] = 0x1f;                                /* half a gzip magic */
    put(path, b, (size_t)len + 1, 0);
    expect_error(path, "garbage after the end of the gzip stream", NULL);
    free(b);
}

Test(idx, gzip_concatenated_members_are_one_file)
{
    /* `cat a.gz b.gz` is a valid gzip file: the header in one member, the data in the next. */
    uint32_t dims[1] = {5};
    uint8_t h[8], data[5] = {1, 2, 3, 4, 5};
    size_t hl = header(h, 0x08, 1, dims);
    put(p("m1.gz"), h, hl, 1);
    long l1, l2;
    uint8_t *a = slurp(path, &l1);
    put(p("m2.gz"), data, 5, 1);
    uint8_t *c = slurp(path, &l2);
    a = realloc(a, (size_t)(l1 + l2));
    memcpy(a + l1, c, (size_t)l2);
    put(p("both.gz"), a, (size_t)(l1 + l2), 0);
    ol_idx x;
    cr_assert_eq(ol_idx_read(path, &x, err, sizeof err), 0, "%s", err);
    cr_expect_eq(x.size, 5);
    cr_expect(memcmp(x.data, data, 5) == 0);
    ol_idx_free(&x);
    free(a);
    free(c);
}

Test(idx, header_alone_is_read_without_the_data)
{
    uint32_t dims[2] = {10, 10};
    put_idx(p("h.gz"), 0x08, 2, dims, 100, 1);
    ol_idx x;
    memset(&x, 0xAB, sizeof x);
    cr_assert_eq(ol_idx_read_header(path, &x, err, sizeof err), 0, "%s", err);
    cr_expect(x.ndim == 2 && x.dims[0] == 10 && x.dims[1] == 10 && x.size == 100 && x.data == NULL);
    put_idx(p("bad"), 0x08, 2, dims, 99, 0);
    cr_expect_neq(ol_idx_read_header(path, &x, err, sizeof err), 0);
    cr_expect(strstr(err, "truncated") != NULL, "%s", err);
}
