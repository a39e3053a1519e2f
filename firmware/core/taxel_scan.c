#include "taxel_scan.h"

#include <string.h>

bool taxel_scan_config_valid(const taxel_scan_config_t *cfg)
{
    return cfg->rows >= 1u && cfg->rows <= TAXEL_MAX_ROWS && cfg->cols >= 1u &&
           cfg->cols <= TAXEL_MAX_COLS && cfg->period_us >= 1000u && cfg->max_count > 0u;
}

uint8_t taxel_scan_chunks(const taxel_scan_config_t *cfg)
{
    uint32_t n = (uint32_t)cfg->rows * cfg->cols;
    return (uint8_t)((n + TAXEL_CHUNK_VALUES - 1u) / TAXEL_CHUNK_VALUES);
}

bool taxel_scan_init(taxel_scan_t *s, const taxel_scan_config_t *cfg, uint64_t now_us)
{
    memset(s, 0, sizeof *s);
    if (!taxel_scan_config_valid(cfg)) {
        return false;
    }
    s->cfg = *cfg;
    tick_sync_init(&s->sync, cfg->period_us, 0u, now_us); /* no window: a free-running grid */
    return true;
}

uint64_t taxel_scan_wakeup(const taxel_scan_t *s)
{
    return tick_sync_wakeup(&s->sync);
}

bool taxel_scan_due(const taxel_scan_t *s, uint64_t now_us)
{
    return tick_sync_due(&s->sync, now_us);
}

void taxel_scan_begin(taxel_scan_t *s, uint64_t now_us)
{
    uint16_t flags = 0u;
    uint32_t p = s->cfg.period_us;
    if (s->started && now_us >= s->frame_time_us &&
        now_us - s->frame_time_us > (uint64_t)p + p / 2u) {
        s->overruns++;
        flags |= TAXEL_FLAG_LATE;
    }
    s->started = true;
    s->seq++;
    s->frame_time_us = now_us;
    s->flags = flags;
    tick_sync_ticked(&s->sync, now_us);
}

void taxel_scan_row(taxel_scan_t *s, uint8_t row, const uint16_t *counts, bool ok)
{
    if (row >= s->cfg.rows) {
        return;
    }
    uint16_t *dst = &s->counts[(uint32_t)row * s->cfg.cols];
    if (!ok) {
        memset(dst, 0, (size_t)s->cfg.cols * sizeof *dst);
        s->flags |= TAXEL_FLAG_SENSOR;
        s->sensor_timeouts++;
        return;
    }
    for (uint8_t c = 0; c < s->cfg.cols; c++) {
        uint16_t v = counts[c];
        if (v >= s->cfg.max_count) {
            v = s->cfg.max_count;
            s->flags |= TAXEL_FLAG_SATURATED;
        }
        dst[c] = v;
    }
}

bool taxel_scan_chunk(const taxel_scan_t *s, uint8_t k, msg_taxel_frame_t *out)
{
    uint8_t chunks = taxel_scan_chunks(&s->cfg);
    if (k >= chunks) {
        return false;
    }
    memset(out, 0, sizeof *out);
    out->frame_seq = s->seq;
    out->time_us = s->frame_time_us;
    out->chunk = k;
    out->chunks = chunks;
    out->flags = s->flags;
    uint32_t total = (uint32_t)s->cfg.rows * s->cfg.cols;
    uint32_t first = (uint32_t)k * TAXEL_CHUNK_VALUES;
    for (uint32_t i = 0; i < TAXEL_CHUNK_VALUES && first + i < total; i++) {
        uint16_t v = s->counts[first + i];
        out->values[2u * i] = (uint8_t)(v & 0xFFu); /* little-endian on every host */
        out->values[2u * i + 1u] = (uint8_t)(v >> 8);
    }
    return true;
}
