/*
 * The 1-DoF haptic paddle board: an STM32F411CE ("Black Pill", 25 MHz crystal) with
 *   PA0/PA1  TIM2 CH1/CH2  quadrature encoder on the motor (AF1)
 *   PA6/PA7  TIM3 CH1/CH2  20 kHz PWM into a DRV8871 H-bridge IN1/IN2 (AF2)
 *   PA4      ADC1 IN4      INA240A1 current sense (20 V/V on a 50 mΩ shunt, 1.65 V mid-rail)
 *   PA9/PA10 USART1        2 Mbaud to a USB-serial bridge (AF7)
 * The capstan drive (handle radius and reduction) turns encoder counts into metres at the
 * handle and motor current into newtons at the handle.
 */
#ifndef PADDLE_BOARD_H
#define PADDLE_BOARD_H

#include <stdbool.h>

#define BOARD_SYSCLK_HZ 96000000u
#define BOARD_APB1_TIMER_HZ 96000000u /* APB1 at 48 MHz, timers at twice that */
#define BOARD_PWM_HZ 20000u
#define BOARD_BAUD 2000000u
#define BOARD_POSITION_LSB_M 1.0e-5f    /* 4000-count encoder through the capstan */
#define BOARD_FORCE_PER_AMP_N 1.0f      /* motor kt through the capstan, at the handle */
#define BOARD_FORCE_FULL_DUTY_N 6.0f    /* 12 V over 2 Ω, stalled */
#define BOARD_MAX_FORCE_N 3.0f          /* 3 A continuous */
#define BOARD_SENSE_V_PER_A 1.0f        /* 20 V/V × 50 mΩ */
#define BOARD_SENSE_MID_V 1.65f
#define BOARD_ADC_TIMEOUT_US 20u        /* one conversion takes ~3 µs (68 cycles at 24 MHz) */
#define BOARD_IWDG_RELOAD 80u           /* LSI 32 kHz / 4 → 10 ms */

/* Clocks, pins, timers, UART, ADC and the independent watchdog; motor off. */
void board_init(void);

/* True when the last reset came from the independent watchdog (then cleared). */
bool board_reset_by_watchdog(void);

#endif
