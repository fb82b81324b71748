/* The IDX reader (kernels/idx.c), raw and gzip'd: header, inflate, trailer. */
#include "fuzz.h"
#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_file(data, size);
    char err[512];
    ol_idx x;
    if (ol_idx_read_header(path, &x, err, sizeof err) == 0 && x.data) abort();
    if (ol_idx_read(path, &x, err, sizeof err) == 0) {
        /* a success must be exactly what the header promised */
        size_t n = 1;
        for (int i = 0; i < x.ndim; i++) n *= (size_t)x.dims[i];
        if (!x.data || n != x.size) abort();
        volatile uint8_t sink = x.data[0] ^ x.data[x.size - 1];
        (void)sink;
        ol_idx_free(&x);
    } else if (x.data) abort();
    return 0;
}
