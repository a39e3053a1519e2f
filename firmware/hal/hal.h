/*
 * Hardware abstraction: the few things the firmware core needs from a board.
 *
 * Implementations: boards/paddle_stm32/hal_stm32f411.c (the real paddle), emulator/
 * (a simulated paddle on a pseudo-terminal) and host/ (scripted, for unit tests).
 * All functions are called from the main loop only, never from interrupts.
 */
#ifndef HAPTICS_HAL_H
#define HAPTICS_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic microseconds since boot. */
uint64_t hal_time_us(void);

/* Quadrature encoder position in counts (signed, zero at boot). */
int32_t hal_encoder_read(void);

/* Motor drive: duty in [-1, 1], sign = direction. 0 means no torque. */
void hal_motor_write(float duty);

/* Motor current in amperes from the current sense, into *amps; boards without one give the
 * value implied by the last duty (and do not advertise CAP_CURRENT_SENSE). Bounded in time:
 * returns false (and *amps = 0) when the sensor did not answer within its timeout, which the
 * core latches as FAULT_SENSOR (force zero in the same tick). */
bool hal_motor_current_a(float *amps);

/* Received serial bytes: copies up to `cap` waiting bytes into `buf` and returns how many
 * (0 when none). Never blocks. */
size_t hal_serial_rx(uint8_t *buf, size_t cap);

/* Free room in the transmit queue, in bytes. */
size_t hal_serial_tx_space(void);

/* Queue `n` bytes for transmission. The caller checks hal_serial_tx_space() first and only
 * queues whole frames, so a full queue drops frames, never parts of one. */
void hal_serial_tx(const uint8_t *buf, size_t n);

/* Drop everything queued but not yet sent (a new host session starts from fresh data). */
void hal_serial_tx_discard(void);

/* Kick the hardware watchdog (the chip resets if the loop stops kicking it). */
void hal_watchdog_kick(void);

#endif
