#include "taxel_plant.h"

#include <math.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

taxel_plant_params_t taxel_plant_default(double pitch_m, unsigned rows, unsigned cols)
{
    taxel_plant_params_t p;
    unsigned side = rows < cols ? rows : cols;
    p.pitch_m = pitch_m;
    p.contact_radius_m = 0.005;
    p.peak_pa = 70000.0;
    p.orbit_radius_m = 0.25 * (double)side * pitch_m;
    p.orbit_period_s = 2.0;
    p.press_period_s = 1.3;
    p.pressure_lsb_pa = 25.0; /* 4095 counts ≈ 102 kPa full scale */
    p.max_count = 4095u;
    return p;
}

double taxel_plant_pressure_pa(const taxel_plant_params_t *p, unsigned rows, unsigned cols,
                               unsigned row, unsigned col, double t_s)
{
    double cx = 0.5 * (double)(cols - 1u) * p->pitch_m;
    double cy = 0.5 * (double)(rows - 1u) * p->pitch_m;
    double w = 2.0 * M_PI * t_s / p->orbit_period_s;
    double px = cx + p->orbit_radius_m * cos(w);
    double py = cy + p->orbit_radius_m * sin(w);
    double dx = (double)col * p->pitch_m - px;
    double dy = (double)row * p->pitch_m - py;
    double q = (dx * dx + dy * dy) / (p->contact_radius_m * p->contact_radius_m);
    if (q >= 1.0) {
        return 0.0;
    }
    double press = 0.7 + 0.3 * sin(2.0 * M_PI * t_s / p->press_period_s);
    return p->peak_pa * press * sqrt(1.0 - q);
}

uint16_t taxel_plant_counts(const taxel_plant_params_t *p, double pressure_pa)
{
    double c = floor(pressure_pa / p->pressure_lsb_pa + 0.5);
    if (!(c > 0.0)) {
        return 0u;
    }
    return c >= (double)p->max_count ? p->max_count : (uint16_t)c;
}
