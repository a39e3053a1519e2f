/*
 * The emulator's board: hal.h implemented on a simulated paddle (plant.h) and a
 * pseudo-terminal in place of the USB serial port.
 */
#ifndef HAPTICS_HAL_EMULATOR_H
#define HAPTICS_HAL_EMULATOR_H

#include <stddef.h>
#include <stdint.h>

#include "plant.h"

#define EMU_TX_RING 65536u        /* storage; tx_cap is what a board may fill */
#define EMU_TX_CAP_PADDLE 16384u  /* about 320 ms of STATE */
#define EMU_TX_CAP_TAXEL 65536u   /* about 440 ms of 16 x 16 frames at 200 Hz */

typedef struct {
    int master_fd; /* our side of the pty */
    int slave_fd;  /* kept open: the pty stays raw and never hangs up while no host is there */
    char slave_path[256];
    uint64_t t0_ns; /* CLOCK_MONOTONIC at start: device time 0 */
    plant_params_t plant_params;
    plant_state_t plant;
    uint64_t plant_time_us;
    double duty;
    double position_lsb_m;
    uint8_t tx[EMU_TX_RING];
    size_t tx_cap;  /* bytes the queue holds before frames are dropped (whole) */
    size_t tx_head; /* next byte to write to the pty */
    size_t tx_len;  /* bytes queued */
    unsigned long watchdog_kicks;
} emu_board_t;

extern emu_board_t emu;

/* Open the pseudo-terminal (raw, non-blocking master). Returns 0, or -1 with errno set. */
int emu_open_pty(void);

/* Write as much queued output as the pty takes now. */
void emu_flush_tx(void);

/* Advance the simulated paddle to device time now_us with the current drive. */
void emu_advance_plant(uint64_t now_us);

#endif
