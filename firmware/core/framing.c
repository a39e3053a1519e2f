#include "framing.h"

#include "cobs.h"
#include "crc16.h"

size_t frame_encode(const uint8_t *body, size_t n, uint8_t *wire)
{
    uint8_t raw[FRAME_RAW_MAX];
    if (n > FRAME_BODY_MAX || n < FRAME_HEADER_SIZE) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        raw[i] = body[i];
    }
    uint16_t crc = crc16(body, n);
    raw[n] = (uint8_t)(crc & 0xFFu);
    raw[n + 1u] = (uint8_t)(crc >> 8);
    size_t len = cobs_encode(raw, n + FRAME_CRC_SIZE, wire);
    wire[len] = 0u;
    return len + 1u;
}

void frame_reader_init(frame_reader_t *r)
{
    r->len = 0;
    r->discarding = 0;
    r->frames_ok = 0;
    r->crc_errors = 0;
    r->framing_errors = 0;
}

static enum frame_status finish(frame_reader_t *r, uint8_t *body, size_t *body_len)
{
    uint8_t raw[FRAME_RAW_MAX];
    long n = cobs_decode(r->buf, r->len, raw, sizeof raw);
    r->len = 0;
    if (n < 0) {
        r->framing_errors++;
        return FRAME_ERR_COBS;
    }
    if ((size_t)n < FRAME_HEADER_SIZE + FRAME_CRC_SIZE) {
        r->framing_errors++;
        return FRAME_ERR_SHORT;
    }
    size_t blen = (size_t)n - FRAME_CRC_SIZE;
    uint16_t want = (uint16_t)(raw[blen] | ((uint16_t)raw[blen + 1u] << 8));
    if (crc16(raw, blen) != want) {
        r->crc_errors++;
        return FRAME_ERR_CRC;
    }
    for (size_t i = 0; i < blen; i++) {
        body[i] = raw[i];
    }
    *body_len = blen;
    r->frames_ok++;
    return FRAME_OK;
}

enum frame_status frame_reader_push(frame_reader_t *r, uint8_t byte, uint8_t *body,
                                    size_t *body_len)
{
    if (byte == 0u) {
        if (r->discarding) {
            r->discarding = 0;
            r->len = 0;
            return FRAME_NONE; /* already counted when it overflowed */
        }
        if (r->len == 0u) {
            return FRAME_NONE;
        }
        return finish(r, body, body_len);
    }
    if (r->discarding) {
        return FRAME_NONE;
    }
    if (r->len >= FRAME_ENCODED_MAX) {
        r->discarding = 1;
        r->len = 0;
        r->framing_errors++;
        return FRAME_ERR_LONG;
    }
    r->buf[r->len++] = byte;
    return FRAME_NONE;
}
