/*
 * Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).
 *
 * Encoded data contains no 0x00 byte, so 0x00 delimits frames on the wire and a reader
 * resynchronises at the next delimiter after any corruption. A block of 254 non-zero bytes
 * at the very end is not followed by an extra 0x01 code (the common, shortest form).
 */
#ifndef HAPTICS_COBS_H
#define HAPTICS_COBS_H

#include <stddef.h>
#include <stdint.h>

/* Worst-case encoded size of n bytes (no delimiter). */
#define COBS_ENCODED_MAX(n) ((n) + ((n) + 253u) / 254u + ((n) == 0u ? 1u : 0u))

/* Encode `n` bytes into `out` (room for COBS_ENCODED_MAX(n)); returns the encoded length. */
size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out);

/*
 * Decode `n` encoded bytes (without delimiter) into `out` of capacity `cap`.
 * Returns the decoded length, or -1 when the input is not valid COBS (a zero byte, a block
 * running past the end, empty input) or does not fit.
 */
long cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

#endif
