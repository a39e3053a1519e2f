/*
 * Frames on the wire: COBS([version][type][payload][crc16 LE]) followed by 0x00.
 *
 * `frame_encode` builds one; `frame_reader_push` takes received bytes one at a time and hands
 * out the body (version, type, payload) of each frame whose COBS and CRC are valid. Any
 * corruption costs the frames it touches: the reader drops bytes up to the next 0x00 and
 * starts again there, counting what it dropped and why.
 */
#ifndef HAPTICS_FRAMING_H
#define HAPTICS_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/* Encode `n` body bytes (n <= FRAME_BODY_MAX) into `wire` (room for FRAME_WIRE_MAX).
 * Returns the wire length including the 0x00 delimiter, or 0 when the body is too long. */
size_t frame_encode(const uint8_t *body, size_t n, uint8_t *wire);

enum frame_status {
    FRAME_NONE = 0,      /* byte consumed, no frame finished */
    FRAME_OK = 1,        /* a valid body is in the output */
    FRAME_ERR_COBS = 2,  /* bytes between delimiters are not valid COBS */
    FRAME_ERR_SHORT = 3, /* decoded to fewer than header + crc bytes */
    FRAME_ERR_LONG = 4,  /* more than FRAME_ENCODED_MAX bytes without a delimiter */
    FRAME_ERR_CRC = 5    /* CRC mismatch */
};

typedef struct {
    uint8_t buf[FRAME_ENCODED_MAX];
    size_t len;
    uint8_t discarding; /* overflowed: drop bytes until the next delimiter */
    uint32_t frames_ok;
    uint32_t crc_errors;
    uint32_t framing_errors; /* COBS, short and long frames */
} frame_reader_t;

void frame_reader_init(frame_reader_t *r);

/*
 * Consume one received byte. On FRAME_OK, `body` (room for FRAME_BODY_MAX) holds the frame's
 * version, type and payload and `*body_len` its length. Empty frames (two delimiters in a
 * row) are ignored silently: senders may use a lone 0x00 to flush a receiver.
 */
enum frame_status frame_reader_push(frame_reader_t *r, uint8_t byte, uint8_t *body,
                                    size_t *body_len);

#endif
