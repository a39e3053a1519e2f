#include "taxel_board.h"

#include "hal.h"
#include "hal_taxel.h"

static taxel_plant_params_t plant;
static unsigned n_rows, n_cols;

void emu_taxel_setup(const taxel_plant_params_t *p, unsigned rows, unsigned cols)
{
    plant = *p;
    n_rows = rows;
    n_cols = cols;
}

bool hal_taxel_read_row(uint8_t row, uint16_t *counts, uint8_t cols)
{
    double t_s = (double)hal_time_us() * 1e-6;
    for (uint8_t c = 0; c < cols; c++) {
        double pa = taxel_plant_pressure_pa(&plant, n_rows, n_cols, row, c, t_s);
        counts[c] = taxel_plant_counts(&plant, pa);
    }
    return true; /* the simulated ADC always answers */
}
