/*
 * Paddle firmware entry point: the portable core (core/app.h) on the STM32F411 board.
 * Motor off and disarmed at boot; a watchdog reset latches FAULT_HW_RESET for the host.
 */
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "board.h"
#include "hal.h"
#include "protocol.h"

#define FW_MAJOR 1
#define FW_MINOR 0
#define FW_PATCH 0

static app_t app;

static app_config_t paddle_config(void)
{
    app_config_t c = {0};
    c.device_type = DEVICE_TYPE_PADDLE;
    c.fw_major = FW_MAJOR;
    c.fw_minor = FW_MINOR;
    c.fw_patch = FW_PATCH;
    c.capabilities = CAP_LOCAL_SPRING | CAP_TIME_SYNC | CAP_HW_WATCHDOG | CAP_TICK_SYNC |
                     CAP_CURRENT_SENSE;
    c.serial = *(const volatile uint32_t *)0x1FFF7A10u; /* first word of the unique device ID */
    c.rate_hz = 1000;
    c.position_lsb_m = BOARD_POSITION_LSB_M;
    c.force_per_amp_n = BOARD_FORCE_PER_AMP_N;
    c.force_lsb_n = BOARD_FORCE_FULL_DUTY_N / (float)(BOARD_APB1_TIMER_HZ / BOARD_PWM_HZ);
    c.control.max_force_n = BOARD_MAX_FORCE_N;
    c.control.force_full_duty_n = BOARD_FORCE_FULL_DUTY_N;
    c.control.period_us = 1000u;
    c.control.stall_us = 5000u; /* the IWDG resets at 10 ms; a 5 ms stall already faults */
    c.control.velocity_tau_s = 0.002f;
    c.tick_window_us = 300u;
    c.protocol_version = PROTOCOL_VERSION;
    return c;
}

int main(void)
{
    board_init();
    bool watchdog_reset = board_reset_by_watchdog();
    app_config_t cfg = paddle_config();
    app_init(&app, &cfg, hal_time_us());
    if (watchdog_reset) {
        app_fault(&app, FAULT_HW_RESET);
    }
    hal_motor_write(0.0f);
    uint8_t buf[64];
    for (;;) {
        size_t n;
        while ((n = hal_serial_rx(buf, sizeof buf)) > 0u) {
            app_rx(&app, buf, n, hal_time_us());
        }
        uint64_t now = hal_time_us();
        if (app_tick_due(&app, now)) {
            app_tick(&app, now);
        }
    }
}
