/* The emulator's taxel board: hal_taxel.h on the simulated press of taxel_plant.h. */
#ifndef HAPTICS_TAXEL_BOARD_H
#define HAPTICS_TAXEL_BOARD_H

#include "taxel_plant.h"

/* The array and what presses on it; rows are read at the device time of the call. */
void emu_taxel_setup(const taxel_plant_params_t *plant, unsigned rows, unsigned cols);

#endif
