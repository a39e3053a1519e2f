/*
 * Host HAL for unit tests: time, encoder, taxel counts and received bytes are set by the
 * test; motor output and transmitted bytes are captured for it to inspect. Implements both
 * hal.h and hal_taxel.h.
 */
#ifndef HAPTICS_HAL_HOST_H
#define HAPTICS_HAL_HOST_H

#include <stddef.h>
#include <stdint.h>

#define HAL_HOST_TX_CAP 65536u

typedef struct {
    uint64_t time_us;
    int32_t encoder;
    float duty;
    float current_a;
    int current_fault; /* the current sense does not answer (hal_motor_current_a fails) */
    uint8_t tx[HAL_HOST_TX_CAP];
    size_t tx_len;
    size_t tx_space_limit; /* tx_space() reports at most this (default: all room left) */
    unsigned watchdog_kicks;
    unsigned tx_discards;
    /* taxel boards: the counts each taxel reads (row-major, 64 columns a row), and a row
     * whose ADC times out (-1: none) */
    uint16_t taxel[64 * 64];
    int taxel_fail_row;
    unsigned taxel_rows_read;
} hal_host_t;

extern hal_host_t hal_host;

/* Everything back to zero, room for HAL_HOST_TX_CAP bytes. */
void hal_host_reset(void);

/* Drop captured tx bytes. */
void hal_host_tx_clear(void);

#endif
