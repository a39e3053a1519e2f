/*
 * The taxel board's firmware application: the protocol on top of the scan.
 *
 * Board main loops (and the emulator) do exactly this:
 *
 *     taxel_app_init(&app, &cfg, hal_time_us());
 *     for (;;) {
 *         n = hal_serial_rx(buf, sizeof buf);  taxel_app_rx(&app, buf, n, hal_time_us());
 *         now = hal_time_us();
 *         if (taxel_app_due(&app, now)) taxel_app_tick(&app, now);
 *     }
 *
 * taxel_app_rx() answers HELLO (DEVICE_INFO then TAXEL_INFO, same nonce), HEARTBEAT and
 * TIME_SYNC; every other host message is counted as an unknown type (a taxel board has no
 * force to arm). taxel_app_tick() scans one frame row by row through hal_taxel.h and sends
 * it as TAXEL_FRAME chunks: all of them or, when the transmit queue lacks room for the
 * whole frame, none (counted in tx_dropped; the host sees a frame-seq gap). ERROR_COUNTERS
 * every 100 ms. Time is always an argument; I/O goes through hal.h and hal_taxel.h.
 */
#ifndef HAPTICS_TAXEL_APP_H
#define HAPTICS_TAXEL_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framing.h"
#include "protocol.h"
#include "taxel_scan.h"

#define TAXEL_APP_COUNTERS_PERIOD_US 100000u

/* Identity, geometry and calibration of a taxel board. */
typedef struct {
    uint8_t device_type; /* DEVICE_TYPE_TAXEL, | DEVICE_TYPE_EMULATED in the emulator */
    uint8_t fw_major, fw_minor, fw_patch;
    uint16_t capabilities; /* CAP_TIME_SYNC, CAP_HW_WATCHDOG */
    uint32_t serial;
    taxel_scan_config_t scan;
    float pitch_m;         /* taxel spacing */
    float pressure_lsb_pa; /* pascals per ADC count */
    uint32_t scan_us;      /* how long one whole scan takes on this board */
    /* test hooks, normally PROTOCOL_VERSION and 0 */
    uint8_t protocol_version;
    uint32_t schema_hash_override;
} taxel_app_config_t;

typedef struct {
    taxel_app_config_t cfg;
    taxel_scan_t scan;
    frame_reader_t reader;
    msg_error_counters_t counters;
    uint64_t next_counters_us;
    uint32_t frames_sent;
} taxel_app_t;

/* Returns false when the configuration cannot be scanned (taxel_scan_config_valid). */
bool taxel_app_init(taxel_app_t *app, const taxel_app_config_t *cfg, uint64_t now_us);

/* Feed received bytes, received at now_us. */
void taxel_app_rx(taxel_app_t *app, const uint8_t *data, size_t n, uint64_t now_us);

/* Earliest time the next frame may start, and whether it is due. */
uint64_t taxel_app_next_wakeup(const taxel_app_t *app);
bool taxel_app_due(const taxel_app_t *app, uint64_t now_us);

/* Scan one frame at now_us and send it (and, every 100 ms, ERROR_COUNTERS). */
void taxel_app_tick(taxel_app_t *app, uint64_t now_us);

/* The DEVICE_INFO and TAXEL_INFO this board answers a HELLO with. */
void taxel_app_device_info(const taxel_app_t *app, uint32_t nonce, msg_t *info, msg_t *taxel);

#endif
