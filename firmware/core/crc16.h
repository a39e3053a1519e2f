/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor.
 * Python: binascii.crc_hqx(data, 0xFFFF). Check value for "123456789": 0x29B1. */
#ifndef HAPTICS_CRC16_H
#define HAPTICS_CRC16_H

#include <stddef.h>
#include <stdint.h>

#define CRC16_INIT 0xFFFFu

/* Continue a CRC over `n` more bytes (start with CRC16_INIT). */
uint16_t crc16_update(uint16_t crc, const uint8_t *data, size_t n);

/* CRC of `n` bytes. */
uint16_t crc16(const uint8_t *data, size_t n);

#endif
