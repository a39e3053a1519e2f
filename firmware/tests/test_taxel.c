/* The taxel board: the scan (pure, times as arguments) and its protocol on the host HAL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "framing.h"
#include "hal_host.h"
#include "harness.h"
#include "taxel_app.h"
#include "taxel_scan.h"
#include "vectors.h"

#define MAX_OUT 512

static msg_t out[MAX_OUT];
static int nout;

static taxel_scan_config_t scan16(void)
{
    taxel_scan_config_t c = {16u, 16u, 5000u, 4095u}; /* 16 × 16 at 200 Hz, 12-bit ADC */
    return c;
}

static void collect(void)
{
    frame_reader_t r;
    frame_reader_init(&r);
    uint8_t body[FRAME_BODY_MAX];
    size_t len = 0;
    nout = 0;
    for (size_t i = 0; i < hal_host.tx_len && nout < MAX_OUT; i++) {
        if (frame_reader_push(&r, hal_host.tx[i], body, &len) == FRAME_OK) {
            CHECK_EQ(codec_decode_body(body, len, PROTOCOL_VERSION, &out[nout]), CODEC_OK);
            nout++;
        }
    }
    CHECK_EQ(r.crc_errors + r.framing_errors, 0);
    hal_host_tx_clear();
}

static int count_of(uint8_t type)
{
    int n = 0;
    for (int i = 0; i < nout; i++) {
        n += out[i].type == type;
    }
    return n;
}

static uint16_t value_at(const msg_taxel_frame_t *f, unsigned i)
{
    return (uint16_t)(f->values[2u * i] | f->values[2u * i + 1u] << 8);
}

void test_taxel_scan_config_limits(void)
{
    taxel_scan_t s;
    taxel_scan_config_t c = scan16();
    CHECK(taxel_scan_init(&s, &c, 0));
    c.rows = 0;
    CHECK(!taxel_scan_init(&s, &c, 0));
    c = scan16();
    c.cols = 65;
    CHECK(!taxel_scan_init(&s, &c, 0));
    c = scan16();
    c.period_us = 999; /* faster than 1 kHz */
    CHECK(!taxel_scan_init(&s, &c, 0));
    c = scan16();
    c.max_count = 0;
    CHECK(!taxel_scan_init(&s, &c, 0));
    c = scan16();
    CHECK_EQ(taxel_scan_chunks(&c), 3); /* 256 values in chunks of 112 */
    c.rows = 5;
    c.cols = 7;
    CHECK_EQ(taxel_scan_chunks(&c), 1);
    c.rows = 64;
    c.cols = 64;
    CHECK_EQ(taxel_scan_chunks(&c), 37);
    CHECK_EQ(TAXEL_MAX_CHUNKS, 37);
    c.rows = 8;
    c.cols = 14; /* exactly one chunk */
    CHECK_EQ(taxel_scan_chunks(&c), 1);
}

/* Frames start on an absolute grid; a late one is flagged and counted, and the frames it
 * missed are skipped rather than sent in a burst. */
void test_taxel_scan_grid_and_late_frames(void)
{
    static taxel_scan_t s;
    taxel_scan_config_t c = scan16();
    CHECK(taxel_scan_init(&s, &c, 100));
    CHECK(!taxel_scan_due(&s, 5099));
    CHECK(taxel_scan_due(&s, 5100));
    CHECK_EQ(taxel_scan_wakeup(&s), 5100);
    taxel_scan_begin(&s, 5130); /* 30 µs late: on time for a frame */
    CHECK_EQ(s.seq, 1);
    CHECK_EQ(s.frame_time_us, 5130);
    CHECK_EQ(s.flags, 0);
    CHECK_EQ(taxel_scan_wakeup(&s), 10100); /* the grid, not 5130 + period */
    taxel_scan_begin(&s, 10100);
    CHECK_EQ(s.seq, 2);
    CHECK_EQ(s.flags, 0);
    /* the board stalls for 17 ms: the next frame is late and the grid skips ahead */
    CHECK(taxel_scan_due(&s, 27000));
    taxel_scan_begin(&s, 27000);
    CHECK_EQ(s.seq, 3);
    CHECK(s.flags & TAXEL_FLAG_LATE);
    CHECK_EQ(s.overruns, 1);
    CHECK_EQ(taxel_scan_wakeup(&s), 30100);
    CHECK(!taxel_scan_due(&s, 27001)); /* no burst of catch-up frames */
    taxel_scan_begin(&s, 30100);
    CHECK_EQ(s.flags, 0);
    CHECK_EQ(s.overruns, 1);
}

void test_taxel_scan_rows_clamp_and_flag(void)
{
    static taxel_scan_t s;
    taxel_scan_config_t c = scan16();
    c.rows = 3;
    c.cols = 4;
    CHECK(taxel_scan_init(&s, &c, 0));
    taxel_scan_begin(&s, 5000);
    const uint16_t r0[4] = {0, 1, 2, 3}, r1[4] = {4095, 5000, 7, 65535}, r2[4] = {9, 9, 9, 9};
    taxel_scan_row(&s, 0, r0, true);
    CHECK_EQ(s.flags, 0);
    taxel_scan_row(&s, 1, r1, true);
    CHECK(s.flags & TAXEL_FLAG_SATURATED);
    CHECK_EQ(s.counts[5], 4095);
    CHECK_EQ(s.counts[7], 4095);
    CHECK_EQ(s.counts[6], 7);
    taxel_scan_row(&s, 2, r2, true);
    taxel_scan_row(&s, 2, r2, false); /* timed out: zeros, flagged */
    CHECK(s.flags & TAXEL_FLAG_SENSOR);
    CHECK_EQ(s.counts[8] + s.counts[11], 0);
    CHECK_EQ(s.sensor_timeouts, 1);
    taxel_scan_row(&s, 3, r2, true); /* out of range: ignored */
    taxel_scan_begin(&s, 10000);     /* a new frame starts with clear flags */
    CHECK_EQ(s.flags, 0);
}

/* Chunks carry the frame row-major, TAXEL_CHUNK_VALUES values each, the last zero-padded. */
void test_taxel_scan_chunks_cover_the_frame(void)
{
    static taxel_scan_t s;
    taxel_scan_config_t c = scan16();
    CHECK(taxel_scan_init(&s, &c, 0));
    taxel_scan_begin(&s, 5000);
    uint16_t row[16];
    for (uint8_t r = 0; r < 16; r++) {
        for (uint8_t k = 0; k < 16; k++) {
            row[k] = (uint16_t)(r * 256u + k * 3u + 1u);
        }
        taxel_scan_row(&s, r, row, true);
    }
    msg_taxel_frame_t f;
    unsigned seen = 0;
    for (uint8_t k = 0; k < 3; k++) {
        CHECK(taxel_scan_chunk(&s, k, &f));
        CHECK_EQ(f.frame_seq, 1);
        CHECK_EQ(f.time_us, 5000);
        CHECK_EQ(f.chunk, k);
        CHECK_EQ(f.chunks, 3);
        for (unsigned i = 0; i < TAXEL_CHUNK_VALUES; i++) {
            unsigned idx = k * TAXEL_CHUNK_VALUES + i;
            if (idx < 256u) {
                CHECK_EQ(value_at(&f, i), (idx / 16u) * 256u + (idx % 16u) * 3u + 1u);
                seen++;
            } else {
                CHECK_EQ(value_at(&f, i), 0);
            }
        }
    }
    CHECK_EQ(seen, 256);
    CHECK(!taxel_scan_chunk(&s, 3, &f));
}

static taxel_app_config_t board16(void)
{
    taxel_app_config_t c;
    memset(&c, 0, sizeof c);
    c.device_type = DEVICE_TYPE_TAXEL | DEVICE_TYPE_EMULATED;
    c.fw_major = 1;
    c.capabilities = CAP_TIME_SYNC;
    c.serial = 0x7A0001u;
    c.scan = scan16();
    c.pitch_m = 0.002f;
    c.pressure_lsb_pa = 25.0f;
    c.scan_us = 800u;
    c.protocol_version = PROTOCOL_VERSION;
    return c;
}

static void feed(taxel_app_t *app, const msg_t *m, uint64_t now)
{
    uint8_t wire[FRAME_WIRE_MAX];
    size_t n = codec_encode_wire(PROTOCOL_VERSION, m, wire);
    taxel_app_rx(app, wire, n, now);
}

void test_taxel_app_hello_answers_device_and_taxel_info(void)
{
    static taxel_app_t app;
    hal_host_reset();
    taxel_app_config_t cfg = board16();
    CHECK(taxel_app_init(&app, &cfg, 0));
    msg_t m;
    memset(&m, 0, sizeof m);
    m.type = MSG_HELLO;
    m.u.hello.nonce = 0xABCDu;
    feed(&app, &m, 10);
    collect();
    CHECK_EQ(nout, 2);
    CHECK_EQ(hal_host.tx_discards, 1);
    if (nout != 2) {
        return;
    }
    const msg_device_info_t *d = &out[0].u.device_info;
    CHECK_EQ(out[0].type, MSG_DEVICE_INFO);
    CHECK_EQ(d->nonce, 0xABCDu);
    CHECK_EQ(d->device_type, DEVICE_TYPE_TAXEL | DEVICE_TYPE_EMULATED);
    CHECK_EQ(d->protocol_version, PROTOCOL_VERSION);
    CHECK_EQ(d->schema_hash, codec_schema_hash_kind(KIND_TAXEL));
    CHECK(d->schema_hash != codec_schema_hash()); /* not a paddle */
    CHECK_EQ(d->rate_hz, 200);
    CHECK_EQ(d->axes, 0);
    const msg_taxel_info_t *t = &out[1].u.taxel_info;
    CHECK_EQ(out[1].type, MSG_TAXEL_INFO);
    CHECK_EQ(t->nonce, 0xABCDu);
    CHECK_EQ(t->rows, 16);
    CHECK_EQ(t->cols, 16);
    CHECK_EQ(t->chunk_values, TAXEL_CHUNK_VALUES);
    CHECK_EQ(t->chunks, 3);
    CHECK_NEAR(t->frame_rate_hz, 200.0, 1e-3);
    CHECK_NEAR(t->pitch_m, 0.002, 1e-9);
    CHECK_NEAR(t->pressure_lsb_pa, 25.0, 0);
    CHECK_EQ(t->max_count, 4095);
    CHECK_EQ(t->scan_us, 800);
}

void test_taxel_app_streams_whole_frames(void)
{
    static taxel_app_t app;
    hal_host_reset();
    for (unsigned r = 0; r < 16; r++) {
        for (unsigned c = 0; c < 16; c++) {
            hal_host.taxel[r * 64u + c] = (uint16_t)(r * 100u + c);
        }
    }
    hal_host.taxel[3 * 64 + 4] = 4095; /* full scale */
    taxel_app_config_t cfg = board16();
    CHECK(taxel_app_init(&app, &cfg, 0));
    uint64_t now = 0;
    int ticks = 0;
    for (; now <= 100000u; now += 100u) { /* 100 ms of main loop at 10 kHz */
        if (taxel_app_due(&app, now)) {
            taxel_app_tick(&app, now);
            ticks++;
        }
    }
    CHECK_EQ(ticks, 20);
    CHECK_EQ(app.frames_sent, 20);
    CHECK_EQ(hal_host.taxel_rows_read, 20 * 16);
    CHECK(hal_host.watchdog_kicks >= 20);
    collect();
    CHECK_EQ(count_of(MSG_TAXEL_FRAME), 60);
    CHECK_EQ(count_of(MSG_ERROR_COUNTERS), 1);
    uint32_t expect_seq = 1;
    uint8_t expect_chunk = 0;
    for (int i = 0; i < nout; i++) {
        if (out[i].type != MSG_TAXEL_FRAME) {
            continue;
        }
        const msg_taxel_frame_t *f = &out[i].u.taxel_frame;
        CHECK_EQ(f->frame_seq, expect_seq);
        CHECK_EQ(f->chunk, expect_chunk);
        CHECK_EQ(f->time_us, 5000u * expect_seq);
        CHECK(f->flags & TAXEL_FLAG_SATURATED);
        unsigned idx = expect_chunk * TAXEL_CHUNK_VALUES + 5u; /* any taxel: row-major */
        CHECK_EQ(value_at(f, 5), idx == 3u * 16u + 4u ? 4095u : (idx / 16u) * 100u + idx % 16u);
        if (++expect_chunk == 3) {
            expect_chunk = 0;
            expect_seq++;
        }
    }
    /* a row whose ADC times out: zeros and the SENSOR flag, the stream goes on */
    hal_host.taxel_fail_row = 1;
    taxel_app_tick(&app, 105000);
    collect();
    CHECK_EQ(count_of(MSG_TAXEL_FRAME), 3);
    CHECK(out[0].u.taxel_frame.flags & TAXEL_FLAG_SENSOR);
    CHECK_EQ(value_at(&out[0].u.taxel_frame, 16), 0); /* row 1, column 0 */
    CHECK_EQ(value_at(&out[0].u.taxel_frame, 32), 200);
    CHECK_EQ(app.scan.sensor_timeouts, 1);
}

/* A transmit queue without room for the whole frame drops all of it: the host sees a
 * frame-seq gap, never a frame with a missing chunk. */
void test_taxel_app_tx_full_drops_whole_frames(void)
{
    static taxel_app_t app;
    hal_host_reset();
    taxel_app_config_t cfg = board16();
    CHECK(taxel_app_init(&app, &cfg, 0));
    hal_host.tx_space_limit = 600; /* room for two chunks (about 250 bytes each), not three */
    taxel_app_tick(&app, 5000);
    CHECK_EQ(hal_host.tx_len, 0);
    CHECK_EQ(app.counters.tx_dropped, 1);
    CHECK_EQ(app.frames_sent, 0);
    hal_host.tx_space_limit = HAL_HOST_TX_CAP;
    taxel_app_tick(&app, 10000);
    collect();
    CHECK_EQ(count_of(MSG_TAXEL_FRAME), 3);
    CHECK_EQ(out[0].u.taxel_frame.frame_seq, 2); /* frame 1 is the gap */
}

/* A taxel board speaks no paddle messages: COMMAND, ARM and frames of a device are refused
 * and counted, and never answered. */
void test_taxel_app_refuses_paddle_messages(void)
{
    static taxel_app_t app;
    hal_host_reset();
    taxel_app_config_t cfg = board16();
    CHECK(taxel_app_init(&app, &cfg, 0));
    msg_t m;
    memset(&m, 0, sizeof m);
    m.type = MSG_COMMAND;
    m.u.command.seq = 1;
    m.u.command.force_n = 1.0f;
    feed(&app, &m, 10);
    memset(&m, 0, sizeof m);
    m.type = MSG_ARM;
    feed(&app, &m, 20);
    memset(&m, 0, sizeof m);
    m.type = MSG_TAXEL_FRAME;
    feed(&app, &m, 30);
    memset(&m, 0, sizeof m);
    m.type = MSG_HEARTBEAT;
    m.u.heartbeat.counter = 9;
    feed(&app, &m, 40);
    collect();
    CHECK_EQ(app.counters.rx_unknown_type, 3);
    CHECK_EQ(app.counters.rx_frames, 1);
    CHECK_EQ(nout, 1);
    CHECK(nout == 1 && out[0].type == MSG_HEARTBEAT_REPLY &&
          out[0].u.heartbeat_reply.counter == 9 && out[0].u.heartbeat_reply.device_time_us == 40);
}

/* The taxel schema (its own message set) against the shared vectors. */
void test_taxel_schema_matches_vectors(void)
{
    static char want[2048], have[2048];
    size_t len = 0;
    int lines = 0;
    uint32_t hash = 0;
    for (int i = 0; i < vectors_count(); i++) {
        const vector_t *v = vectors_get(i);
        if (strcmp(v->tok[0], "taxel_schema_line") == 0 && v->ntok == 4) {
            len += (size_t)snprintf(want + len, sizeof want - len, "%s %s %s\n", v->tok[1],
                                    v->tok[2], v->tok[3]);
            lines++;
        } else if (strcmp(v->tok[0], "taxel_schema") == 0) {
            hash = (uint32_t)strtoul(v->tok[1], NULL, 16);
        }
    }
    size_t n = codec_schema_text_kind(KIND_TAXEL, have, sizeof have);
    CHECK(lines == 9);
    CHECK_EQ(n, len);
    if (strcmp(have, want) != 0) {
        harness_fail(__FILE__, __LINE__, "taxel schema text differs:\n--- C\n%s--- vectors\n%s",
                     have, want);
    }
    CHECK_EQ(codec_schema_hash_kind(KIND_TAXEL), hash);
}
