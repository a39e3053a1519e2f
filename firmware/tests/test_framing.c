/* CRC-16, CRC-32, COBS and the streaming frame reader, against the shared vectors. */
#include <stdlib.h>
#include <string.h>

#include "cobs.h"
#include "crc16.h"
#include "crc32.h"
#include "framing.h"
#include "harness.h"
#include "vectors.h"

static uint8_t a[4096], b[4096], c[4096];

void test_crc16_vectors(void)
{
    int seen = 0;
    for (int i = 0; i < vectors_count(); i++) {
        const vector_t *v = vectors_get(i);
        if (strcmp(v->tok[0], "crc16") != 0) {
            continue;
        }
        long n = hex_decode(v->tok[1], a, sizeof a);
        CHECK(n >= 0);
        unsigned long want = strtoul(v->tok[2], NULL, 16);
        CHECK_EQ(crc16(a, (size_t)n), want);
        /* incremental update gives the same CRC */
        if (n > 1) {
            uint16_t part = crc16_update(CRC16_INIT, a, 1);
            CHECK_EQ(crc16_update(part, a + 1, (size_t)n - 1u), want);
        }
        seen++;
    }
    CHECK(seen >= 3);
    CHECK_EQ(crc16((const uint8_t *)"123456789", 9), 0x29B1);
}

void test_crc32_vectors(void)
{
    int seen = 0;
    for (int i = 0; i < vectors_count(); i++) {
        const vector_t *v = vectors_get(i);
        if (strcmp(v->tok[0], "crc32") != 0) {
            continue;
        }
        long n = hex_decode(v->tok[1], a, sizeof a);
        CHECK(n >= 0);
        CHECK_EQ(crc32_ieee(a, (size_t)n), strtoul(v->tok[2], NULL, 16));
        seen++;
    }
    CHECK(seen >= 1);
}

void test_cobs_vectors(void)
{
    int seen = 0;
    for (int i = 0; i < vectors_count(); i++) {
        const vector_t *v = vectors_get(i);
        if (strcmp(v->tok[0], "cobs") != 0) {
            continue;
        }
        long raw = hex_decode(v->tok[1], a, sizeof a);
        long enc = hex_decode(v->tok[2], b, sizeof b);
        CHECK(raw >= 0 && enc > 0);
        size_t n = cobs_encode(a, (size_t)raw, c);
        CHECK_EQ(n, (size_t)enc);
        CHECK(memcmp(c, b, (size_t)enc) == 0);
        CHECK(n <= COBS_ENCODED_MAX((size_t)raw));
        CHECK(memchr(c, 0, n) == NULL);
        long d = cobs_decode(b, (size_t)enc, c, sizeof c);
        CHECK_EQ(d, raw);
        CHECK(raw == 0 || memcmp(c, a, (size_t)raw) == 0);
        seen++;
    }
    CHECK(seen >= 10);
}

void test_cobs_rejects_invalid(void)
{
    static const uint8_t past_end[] = {0x05, 0x01, 0x02};
    static const uint8_t has_zero[] = {0x03, 0x01, 0x00};
    static const uint8_t ok[] = {0x03, 0x01, 0x02};
    CHECK(cobs_decode(past_end, sizeof past_end, c, sizeof c) < 0);
    CHECK(cobs_decode(has_zero, sizeof has_zero, c, sizeof c) < 0);
    CHECK(cobs_decode(ok, 0, c, sizeof c) < 0);
    CHECK(cobs_decode(ok, sizeof ok, c, 1) < 0); /* does not fit */
    CHECK_EQ(cobs_decode(ok, sizeof ok, c, sizeof c), 2);
}

void test_cobs_round_trip_random(void)
{
    srand(1234);
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = (size_t)(rand() % 600);
        for (size_t i = 0; i < n; i++) {
            int r = rand() % 4;
            a[i] = r == 0 ? 0u : (uint8_t)(rand() % 256);
        }
        size_t e = cobs_encode(a, n, b);
        CHECK(e <= COBS_ENCODED_MAX(n));
        CHECK(memchr(b, 0, e) == NULL);
        long d = cobs_decode(b, e, c, sizeof c);
        CHECK_EQ(d, n);
        CHECK(n == 0 || memcmp(a, c, n) == 0);
    }
}

void test_frame_reader_resyncs(void)
{
    frame_reader_t r;
    frame_reader_init(&r);
    uint8_t body[FRAME_BODY_MAX];
    size_t len = 0;
    static const uint8_t good[] = {1, 0x06, 7, 0, 0, 0};
    uint8_t wire[FRAME_WIRE_MAX];
    size_t wn = frame_encode(good, sizeof good, wire);
    CHECK(wn > 0);

    /* garbage, a delimiter, then a good frame: the good frame comes through */
    static const uint8_t garbage[] = {0x55, 0x13, 0xFF, 0x02};
    int ok = 0, errors = 0;
    for (size_t i = 0; i < sizeof garbage; i++) {
        CHECK_EQ(frame_reader_push(&r, garbage[i], body, &len), FRAME_NONE);
    }
    /* the good frame's own bytes append to the garbage until its delimiter: both lost */
    for (size_t i = 0; i < wn; i++) {
        enum frame_status s = frame_reader_push(&r, wire[i], body, &len);
        ok += s == FRAME_OK;
        errors += s > FRAME_OK;
    }
    CHECK_EQ(ok, 0);
    CHECK_EQ(errors, 1);
    /* the next one is fine */
    for (size_t i = 0; i < wn; i++) {
        ok += frame_reader_push(&r, wire[i], body, &len) == FRAME_OK;
    }
    CHECK_EQ(ok, 1);
    CHECK_EQ(len, sizeof good);
    CHECK(memcmp(body, good, sizeof good) == 0);

    /* empty frames are ignored silently */
    uint32_t before = r.framing_errors + r.crc_errors;
    CHECK_EQ(frame_reader_push(&r, 0, body, &len), FRAME_NONE);
    CHECK_EQ(frame_reader_push(&r, 0, body, &len), FRAME_NONE);
    CHECK_EQ(r.framing_errors + r.crc_errors, before);

    /* an overlong run is dropped up to the next delimiter, then reading resumes */
    enum frame_status last = FRAME_NONE;
    int longs = 0;
    for (int i = 0; i < 1000; i++) {
        last = frame_reader_push(&r, 0x01, body, &len);
        longs += last == FRAME_ERR_LONG;
    }
    CHECK_EQ(longs, 1);
    CHECK_EQ(frame_reader_push(&r, 0, body, &len), FRAME_NONE);
    ok = 0;
    for (size_t i = 0; i < wn; i++) {
        ok += frame_reader_push(&r, wire[i], body, &len) == FRAME_OK;
    }
    CHECK_EQ(ok, 1);
}

void test_frame_reader_random_garbage(void)
{
    /* random bytes never yield a frame whose CRC is wrong, and never crash */
    frame_reader_t r;
    frame_reader_init(&r);
    uint8_t body[FRAME_BODY_MAX];
    size_t len = 0;
    srand(99);
    for (int i = 0; i < 200000; i++) {
        uint8_t byte = (rand() % 8 == 0) ? 0u : (uint8_t)rand();
        if (frame_reader_push(&r, byte, body, &len) == FRAME_OK) {
            CHECK(len >= FRAME_HEADER_SIZE && len <= FRAME_BODY_MAX);
        }
    }
    /* a good frame after all that still decodes */
    static const uint8_t good[] = {1, 0x03, 1, 2, 3, 4};
    uint8_t wire[FRAME_WIRE_MAX];
    size_t wn = frame_encode(good, sizeof good, wire);
    frame_reader_push(&r, 0, body, &len);
    int ok = 0;
    for (size_t i = 0; i < wn; i++) {
        ok += frame_reader_push(&r, wire[i], body, &len) == FRAME_OK;
    }
    CHECK_EQ(ok, 1);
    CHECK(r.crc_errors + r.framing_errors > 0);
}
