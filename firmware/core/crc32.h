/* CRC-32 (IEEE 802.3, as zlib.crc32): reflected poly 0xEDB88320, init and final xor 0xFFFFFFFF.
 * Used for the protocol schema hash, not on the wire per frame. Check for "123456789": 0xCBF43926. */
#ifndef HAPTICS_CRC32_H
#define HAPTICS_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Incremental form, for input of any length in pieces:
 *   s = CRC32_IEEE_INIT; s = crc32_ieee_update(s, a, na); ...; crc = s ^ 0xFFFFFFFF */
#define CRC32_IEEE_INIT 0xFFFFFFFFu
uint32_t crc32_ieee_update(uint32_t state, const uint8_t *data, size_t n);

uint32_t crc32_ieee(const uint8_t *data, size_t n);

#endif
