/*
 * Scanning a taxel matrix into frames, and cutting frames into TAXEL_FRAME chunks.
 *
 * Pure: the scan keeps its frame on an absolute grid of `period_us` (tick_sync without
 * commands: late frames are skipped, never caught up in a burst), numbers frames from 1,
 * stamps each with the time its scan began, clamps counts to the ADC's full scale and flags
 * what the host must know about a frame (saturated, a row's ADC timed out, started late).
 * The board reads rows through hal_taxel.h and hands them to taxel_scan_row(); times are
 * arguments, so the tests run faster than real time.
 */
#ifndef HAPTICS_TAXEL_SCAN_H
#define HAPTICS_TAXEL_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol.h"
#include "tick_sync.h"

#define TAXEL_MAX_ROWS 64u
#define TAXEL_MAX_COLS 64u
#define TAXEL_MAX_CHUNKS \
    ((TAXEL_MAX_ROWS * TAXEL_MAX_COLS + TAXEL_CHUNK_VALUES - 1u) / TAXEL_CHUNK_VALUES)

typedef struct {
    uint8_t rows;       /* 1 .. TAXEL_MAX_ROWS */
    uint8_t cols;       /* 1 .. TAXEL_MAX_COLS */
    uint32_t period_us; /* one frame; >= 1000 (at most 1 kHz) */
    uint16_t max_count; /* ADC full scale, e.g. 4095 for 12 bits; > 0 */
} taxel_scan_config_t;

typedef struct {
    taxel_scan_config_t cfg;
    tick_sync_t sync;
    uint32_t seq;           /* of the frame being (or last) scanned; 0 before the first */
    uint64_t frame_time_us; /* when its scan began */
    uint16_t flags;         /* TAXEL_FLAG_* of that frame */
    uint32_t overruns;      /* frames that started more than 1.5 periods after the previous */
    uint32_t sensor_timeouts; /* rows whose ADC did not answer */
    bool started;
    uint16_t counts[TAXEL_MAX_ROWS * TAXEL_MAX_COLS]; /* row-major */
} taxel_scan_t;

/* Whether `cfg` can be scanned (sizes within the limits above, period and full scale set). */
bool taxel_scan_config_valid(const taxel_scan_config_t *cfg);

/* Chunks per frame for this geometry: ceil(rows·cols / TAXEL_CHUNK_VALUES). */
uint8_t taxel_scan_chunks(const taxel_scan_config_t *cfg);

/* Start at now_us; the first frame is due one period later. Returns false (and leaves `s`
 * unusable) when the configuration is invalid. */
bool taxel_scan_init(taxel_scan_t *s, const taxel_scan_config_t *cfg, uint64_t now_us);

/* Earliest time the next frame may start, and whether it is due at now_us. */
uint64_t taxel_scan_wakeup(const taxel_scan_t *s);
bool taxel_scan_due(const taxel_scan_t *s, uint64_t now_us);

/* A new frame begins at now_us: next seq, timestamp, flags cleared (LATE when it started
 * more than 1.5 periods after the previous one), the next deadline one period on. */
void taxel_scan_begin(taxel_scan_t *s, uint64_t now_us);

/* Row `row` of the current frame was read: `counts[0 .. cols-1]`, or ok = false when its ADC
 * timed out (the row becomes zeros and the frame is flagged SENSOR). Counts above the full
 * scale are clamped to it and flag the frame SATURATED. Rows out of range are ignored. */
void taxel_scan_row(taxel_scan_t *s, uint8_t row, const uint16_t *counts, bool ok);

/* Chunk `k` (0 .. chunks-1) of the current frame as a TAXEL_FRAME message body. Values past
 * rows·cols are zero. Returns false for k out of range. */
bool taxel_scan_chunk(const taxel_scan_t *s, uint8_t k, msg_taxel_frame_t *out);

#endif
