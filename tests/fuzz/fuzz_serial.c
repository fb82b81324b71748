/* The serializer's parser (serial.decode, stdlib/serial.lua): any text is a
 * value or a clear error, never code run, a crash or unbounded memory. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_call("serial", "decode", (const char *)data, size);
    return 0;
}
