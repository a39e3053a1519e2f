#include "crc32.h"

uint32_t crc32_ieee_update(uint32_t state, const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        state ^= data[i];
        for (int b = 0; b < 8; b++) {
            state = (state & 1u) ? (state >> 1) ^ 0xEDB88320u : state >> 1;
        }
    }
    return state;
}

uint32_t crc32_ieee(const uint8_t *data, size_t n)
{
    return crc32_ieee_update(CRC32_IEEE_INIT, data, n) ^ 0xFFFFFFFFu;
}
