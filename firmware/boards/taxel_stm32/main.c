/*
 * Taxel board firmware entry point: the portable scan and protocol (core/taxel_app.h) on the
 * STM32F411 board of board.h. Streams frames from boot; a reset by the hardware watchdog
 * shows in ERROR_COUNTERS.watchdog_trips (a taxel board has no force to fault).
 */
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "hal.h"
#include "protocol.h"
#include "taxel_app.h"

#define FW_MAJOR 1
#define FW_MINOR 0
#define FW_PATCH 0

static taxel_app_t app;

static taxel_app_config_t taxel_config(void)
{
    taxel_app_config_t c = {0};
    c.device_type = DEVICE_TYPE_TAXEL;
    c.fw_major = FW_MAJOR;
    c.fw_minor = FW_MINOR;
    c.fw_patch = FW_PATCH;
    c.capabilities = CAP_TIME_SYNC | CAP_HW_WATCHDOG;
    c.serial = *(const volatile uint32_t *)0x1FFF7A10u; /* first word of the unique device ID */
    c.scan.rows = BOARD_ROWS;
    c.scan.cols = BOARD_COLS;
    c.scan.period_us = 1000000u / BOARD_FRAME_RATE_HZ;
    c.scan.max_count = BOARD_MAX_COUNT;
    c.pitch_m = BOARD_PITCH_M;
    c.pressure_lsb_pa = BOARD_PRESSURE_LSB_PA;
    c.scan_us = BOARD_ROWS * BOARD_COLS * (BOARD_SETTLE_US + 3u);
    c.protocol_version = PROTOCOL_VERSION;
    return c;
}

int main(void)
{
    board_init();
    bool watchdog_reset = board_reset_by_watchdog();
    taxel_app_config_t cfg = taxel_config();
    taxel_app_init(&app, &cfg, hal_time_us());
    if (watchdog_reset) {
        app.counters.watchdog_trips++; /* the host sees it in ERROR_COUNTERS */
    }
    uint8_t buf[64];
    for (;;) {
        size_t n;
        while ((n = hal_serial_rx(buf, sizeof buf)) > 0u) {
            taxel_app_rx(&app, buf, n, hal_time_us());
        }
        uint64_t now = hal_time_us();
        if (taxel_app_due(&app, now)) {
            taxel_app_tick(&app, now);
        } else {
            hal_watchdog_kick(); /* between frames the loop is alive too */
        }
    }
}
