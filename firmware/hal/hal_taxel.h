/*
 * Hardware abstraction of a taxel board: what the scan needs beyond hal.h's time, serial
 * port and watchdog kick (a taxel board has no encoder and no motor).
 *
 * A resistive matrix: rows are driven one at a time, each column is read through its own
 * divider into the ADC. Implementations: emulator/taxel_board.c (a simulated pressed disc)
 * and host/ (scripted, for unit tests). Called from the main loop only.
 */
#ifndef HAPTICS_HAL_TAXEL_H
#define HAPTICS_HAL_TAXEL_H

#include <stdbool.h>
#include <stdint.h>

/* Drive row `row` (the others float), let it settle, and read the ADC of every column into
 * counts[0 .. cols-1]. Bounded in time: returns false when a conversion did not finish within
 * its timeout; the core then reports that row as zeros with TAXEL_FLAG_SENSOR. */
bool hal_taxel_read_row(uint8_t row, uint16_t *counts, uint8_t cols);

#endif
