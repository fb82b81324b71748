/* IDX files (MNIST's format), raw or gzip'd.
 *
 * Layout: magic bytes 0x00 0x00 <type> <ndim>, then ndim big-endian uint32
 * dimensions, then the elements in row-major order. Only type 0x08 (uint8)
 * is supported: it is what MNIST and Fashion-MNIST use for images and labels.
 *
 * Every function returns 0 on success; otherwise nonzero, with a message in
 * err naming the file and the problem, e.g.
 *   "data/mnist/train-images-idx3-ubyte: truncated: header says 7840000 bytes of data, file has 12"
 */
#ifndef OL_IDX_H
#define OL_IDX_H

#include <stddef.h>
#include <stdint.h>

#define OL_IDX_MAXDIM 4
/* Plausibility caps, checked before anything is allocated. */
#define OL_IDX_MAX_ELEMS ((int64_t)1 << 31)
#define OL_IDX_MAX_BYTES ((int64_t)1 << 30)

typedef struct {
    int ndim;                      /* 1..4 */
    int64_t dims[OL_IDX_MAXDIM];   /* dims[ndim..3] are 0 */
    uint8_t *data;                 /* size bytes, row-major; owned, free with ol_idx_free */
    size_t size;                   /* product of dims */
} ol_idx;

/* Reads a raw or gzip'd IDX file (zlib reads raw files transparently).
 * On failure *out is left zeroed (nothing to free). */
int ol_idx_read(const char *path, ol_idx *out, char *err, size_t errlen);

/* Reads and checks only the header (ndim, dims, size; data stays NULL), so a
 * caller reading two files can check that they agree before inflating either. */
int ol_idx_read_header(const char *path, ol_idx *out, char *err, size_t errlen);

/* Frees out->data and zeroes *out; safe on a zeroed struct. */
void ol_idx_free(ol_idx *x);

/* Writes a raw (uncompressed) uint8 IDX file atomically: to a temporary file
 * in the same directory, then rename(). Checks x as the reader would. */
int ol_idx_write(const char *path, const ol_idx *x, char *err, size_t errlen);

#endif
