/* The tensor-file reader (tensor.load, vm/lserialize.c): magic, checksum,
 * names, shapes, data. Each input is read twice: as it is, and with its last
 * 4 bytes replaced by the CRC-32 of the others, so that mutations get past
 * the checksum to the structure behind it. */
#include <string.h>
#include <zlib.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_file(data, size);
    fz_call("optlab.core", "serial.load", path, strlen(path));
    if (size < 4) return 0;
    uint8_t *buf = malloc(size);
    if (!buf) return 0;
    memcpy(buf, data, size);
    uint32_t c = (uint32_t)crc32_z(0L, buf, size - 4);
    for (int i = 0; i < 4; i++) buf[size - 4 + i] = (uint8_t)(c >> (8 * i));
    path = fz_file(buf, size);
    free(buf);
    fz_call("optlab.core", "serial.load", path, strlen(path));
    return 0;
}
