/* The CSV reader (C.data.csv in vm/ldata.c on kernels/csvread.c and libcsv):
 * quoting, line numbers, header detection, numbers, class names. */
#include <string.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_file(data, size);
    fz_call("optlab.core", "data.csv", path, strlen(path));
    return 0;
}
