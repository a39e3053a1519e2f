/*
 * A 16 × 16 resistive taxel matrix (Velostat between row and column electrodes) on an
 * STM32F411CE ("Black Pill", 25 MHz crystal), through two CD74HC4067 16-channel muxes:
 *   PB12..PB15  row address S0..S3 → row mux, common at 3.3 V: one row driven, the rest float
 *   PB4..PB7    column address S0..S3 → column mux, common to PA0
 *   PA0         ADC1 IN0: the selected column's voltage over its 10 kΩ pull-down
 *   PA9/PA10    USART1 2 Mbaud to a USB-serial bridge (AF7)
 * Startup code, linker script and register definitions are the paddle board's
 * (boards/paddle_stm32). Not run on hardware yet: check the pin map, the settle time and
 * the pressure calibration (Velostat is far from linear) against the real matrix.
 */
#ifndef TAXEL_BOARD_H
#define TAXEL_BOARD_H

#include <stdbool.h>

#define BOARD_SYSCLK_HZ 96000000u
#define BOARD_APB1_TIMER_HZ 96000000u /* APB1 at 48 MHz, timers at twice that */
#define BOARD_BAUD 2000000u
#define BOARD_ROWS 16u
#define BOARD_COLS 16u
#define BOARD_FRAME_RATE_HZ 200u
#define BOARD_PITCH_M 0.002f
#define BOARD_PRESSURE_LSB_PA 25.0f  /* linear fit of the matrix's calibration; replace it */
#define BOARD_MAX_COUNT 4095u        /* 12-bit ADC */
#define BOARD_SETTLE_US 2u           /* mux switch and matrix RC settle before a conversion */
#define BOARD_ADC_TIMEOUT_US 20u     /* one conversion takes ~3 µs */
#define BOARD_IWDG_RELOAD 80u        /* LSI 32 kHz / 4 → 10 ms */

/* Clocks, pins, timer, UART, ADC and the independent watchdog. */
void board_init(void);

/* True when the last reset came from the independent watchdog (then cleared). */
bool board_reset_by_watchdog(void);

#endif
