#include "taxel_app.h"

#include <string.h>

#include "codec.h"
#include "hal.h"
#include "hal_taxel.h"

bool taxel_app_init(taxel_app_t *app, const taxel_app_config_t *cfg, uint64_t now_us)
{
    memset(app, 0, sizeof *app);
    app->cfg = *cfg;
    frame_reader_init(&app->reader);
    app->next_counters_us = now_us + TAXEL_APP_COUNTERS_PERIOD_US;
    return taxel_scan_init(&app->scan, &cfg->scan, now_us);
}

/* Queue whole frames only: `n` messages go out together or not at all. */
static bool send_all(taxel_app_t *app, const msg_t *msgs, size_t n)
{
    static uint8_t wire[TAXEL_MAX_CHUNKS * FRAME_WIRE_MAX];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t w = codec_encode_wire(app->cfg.protocol_version, &msgs[i], wire + len);
        if (w == 0u) {
            app->counters.tx_dropped++;
            return false;
        }
        len += w;
    }
    if (hal_serial_tx_space() < len) {
        app->counters.tx_dropped++;
        return false;
    }
    hal_serial_tx(wire, len);
    return true;
}

void taxel_app_device_info(const taxel_app_t *app, uint32_t nonce, msg_t *info, msg_t *taxel)
{
    const taxel_app_config_t *c = &app->cfg;
    memset(info, 0, sizeof *info);
    info->type = MSG_DEVICE_INFO;
    msg_device_info_t *d = &info->u.device_info;
    d->nonce = nonce;
    d->protocol_version = c->protocol_version;
    d->fw_major = c->fw_major;
    d->fw_minor = c->fw_minor;
    d->fw_patch = c->fw_patch;
    d->device_type = c->device_type;
    d->axes = 0; /* no force axis; the force fields below are 0 */
    d->capabilities = c->capabilities;
    d->schema_hash =
        c->schema_hash_override ? c->schema_hash_override : codec_schema_hash_kind(KIND_TAXEL);
    d->serial = c->serial;
    d->rate_hz = (uint16_t)((1000000u + c->scan.period_us / 2u) / c->scan.period_us);
    d->watchdog_ms = 0;
    d->position_lsb_m = c->pitch_m;

    memset(taxel, 0, sizeof *taxel);
    taxel->type = MSG_TAXEL_INFO;
    msg_taxel_info_t *t = &taxel->u.taxel_info;
    t->nonce = nonce;
    t->rows = c->scan.rows;
    t->cols = c->scan.cols;
    t->chunk_values = (uint8_t)TAXEL_CHUNK_VALUES;
    t->chunks = taxel_scan_chunks(&c->scan);
    t->frame_rate_hz = 1e6f / (float)c->scan.period_us;
    t->pitch_m = c->pitch_m;
    t->pressure_lsb_pa = c->pressure_lsb_pa;
    t->max_count = c->scan.max_count;
    t->scan_us = c->scan_us;
}

static void handle_body(taxel_app_t *app, const uint8_t *body, size_t n, uint64_t now_us)
{
    msg_t m;
    switch (codec_decode_body(body, n, app->cfg.protocol_version, &m)) {
    case CODEC_OK:
        break;
    case CODEC_ERR_VERSION:
        app->counters.rx_version_errors++;
        return;
    case CODEC_ERR_UNKNOWN_TYPE:
        app->counters.rx_unknown_type++;
        return;
    default:
        app->counters.rx_bad_length++;
        return;
    }
    const msg_def_t *def = codec_def(m.type);
    if ((m.type & 0x80u) || def == NULL || (def->kinds & KIND_TAXEL) == 0u) {
        app->counters.rx_unknown_type++; /* device → host, or a paddle's message */
        return;
    }
    app->counters.rx_frames++;
    msg_t r[2];
    switch (m.type) {
    case MSG_HELLO: {
        static const uint8_t flush = 0u;
        hal_serial_tx_discard(); /* a new host: everything after DEVICE_INFO is fresh */
        hal_serial_tx(&flush, 1u);
        taxel_app_device_info(app, m.u.hello.nonce, &r[0], &r[1]);
        send_all(app, r, 2u);
        break;
    }
    case MSG_HEARTBEAT:
        memset(&r[0], 0, sizeof r[0]);
        r[0].type = MSG_HEARTBEAT_REPLY;
        r[0].u.heartbeat_reply.counter = m.u.heartbeat.counter;
        r[0].u.heartbeat_reply.device_time_us = now_us;
        send_all(app, r, 1u);
        break;
    case MSG_TIME_SYNC:
        memset(&r[0], 0, sizeof r[0]);
        r[0].type = MSG_TIME_SYNC_REPLY;
        r[0].u.time_sync_reply.host_time_us = m.u.time_sync.host_time_us;
        r[0].u.time_sync_reply.device_time_us = now_us;
        send_all(app, r, 1u);
        break;
    default:
        break;
    }
}

void taxel_app_rx(taxel_app_t *app, const uint8_t *data, size_t n, uint64_t now_us)
{
    uint8_t body[FRAME_BODY_MAX];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (frame_reader_push(&app->reader, data[i], body, &len) == FRAME_OK) {
            handle_body(app, body, len, now_us);
        }
    }
}

uint64_t taxel_app_next_wakeup(const taxel_app_t *app)
{
    return taxel_scan_wakeup(&app->scan);
}

bool taxel_app_due(const taxel_app_t *app, uint64_t now_us)
{
    return taxel_scan_due(&app->scan, now_us);
}

void taxel_app_tick(taxel_app_t *app, uint64_t now_us)
{
    taxel_scan_t *s = &app->scan;
    uint16_t row[TAXEL_MAX_COLS];
    taxel_scan_begin(s, now_us);
    for (uint8_t r = 0; r < s->cfg.rows; r++) {
        bool ok = hal_taxel_read_row(r, row, s->cfg.cols);
        taxel_scan_row(s, r, row, ok);
    }
    hal_watchdog_kick();

    static msg_t chunks[TAXEL_MAX_CHUNKS];
    uint8_t n = taxel_scan_chunks(&s->cfg);
    for (uint8_t k = 0; k < n; k++) {
        memset(&chunks[k], 0, sizeof chunks[k]);
        chunks[k].type = MSG_TAXEL_FRAME;
        taxel_scan_chunk(s, k, &chunks[k].u.taxel_frame);
    }
    if (send_all(app, chunks, n)) {
        app->frames_sent++;
    }

    if (now_us >= app->next_counters_us) {
        app->next_counters_us = now_us + TAXEL_APP_COUNTERS_PERIOD_US;
        msg_error_counters_t *e = &app->counters;
        e->rx_crc_errors = app->reader.crc_errors;
        e->rx_framing_errors = app->reader.framing_errors;
        e->loop_overruns = s->overruns;
        msg_t m;
        memset(&m, 0, sizeof m);
        m.type = MSG_ERROR_COUNTERS;
        m.u.error_counters = *e;
        send_all(app, &m, 1u);
    }
}
