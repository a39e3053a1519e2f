/*
 * The firmware application: the protocol on top of the control core.
 *
 * Board main loops (and the emulator) do exactly this:
 *
 *     app_init(&app, &cfg, hal_time_us());
 *     for (;;) {
 *         n = hal_serial_rx(buf, sizeof buf);  app_rx(&app, buf, n, hal_time_us());
 *         now = hal_time_us();
 *         if (app_tick_due(&app, now)) app_tick(&app, now);
 *     }
 *
 * app_rx() handles every complete frame at once (commands update the setpoint, control
 * requests are acknowledged); app_tick() runs the 1 kHz control step, drives the motor and
 * sends STATE. Time is always an argument; I/O goes through hal.h.
 */
#ifndef HAPTICS_APP_H
#define HAPTICS_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "control.h"
#include "framing.h"
#include "protocol.h"
#include "tick_sync.h"

#define APP_NONCE_SLOTS 4u
#define APP_COUNTERS_PERIOD_US 100000u

/* Identity and calibration of a board. */
typedef struct {
    uint8_t device_type;
    uint8_t fw_major, fw_minor, fw_patch;
    uint16_t capabilities;
    uint32_t serial;
    uint16_t rate_hz;
    float position_lsb_m;  /* metres per encoder count (at the handle) */
    float force_per_amp_n; /* handle force per ampere of motor current */
    float force_lsb_n;     /* force resolution of the drive */
    control_config_t control;
    uint32_t tick_window_us; /* tick_sync window; 0 = free-running ticks */
    /* test hooks, normally PROTOCOL_VERSION and 0 */
    uint8_t protocol_version;
    uint32_t schema_hash_override;
} app_config_t;

/* Called for every accepted COMMAND (the emulator logs them; NULL on boards). */
typedef void (*app_command_hook_t)(void *ctx, uint32_t seq, float force_n, uint64_t now_us);

typedef struct {
    uint8_t type;
    uint32_t nonce;
    msg_ack_t ack;
} app_nonce_slot_t;

typedef struct {
    app_config_t cfg;
    control_t control;
    tick_sync_t sync;
    frame_reader_t reader;
    msg_error_counters_t counters;
    uint32_t state_seq;
    uint64_t next_counters_us;
    app_nonce_slot_t nonces[APP_NONCE_SLOTS];
    uint8_t next_nonce_slot;
    app_command_hook_t on_command;
    void *on_command_ctx;
} app_t;

void app_init(app_t *app, const app_config_t *cfg, uint64_t now_us);

/* Latch a fault found outside the control loop (e.g. a hardware watchdog reset at boot). */
void app_fault(app_t *app, uint16_t bits);

/* Feed received bytes, received at now_us. */
void app_rx(app_t *app, const uint8_t *data, size_t n, uint64_t now_us);

/* Earliest time the next tick may run, and whether it is due. */
uint64_t app_next_wakeup(const app_t *app);
bool app_tick_due(const app_t *app, uint64_t now_us);

/* One control tick at now_us: encoder in, motor out, STATE (and every 100 ms ERROR_COUNTERS) out. */
void app_tick(app_t *app, uint64_t now_us);

/* Send one message now (queued whole, or counted as dropped). */
void app_send(app_t *app, const msg_t *m);

#endif
