/*
 * What the emulated taxel board feels: a rounded indenter pressed on the array, circling its
 * centre while the press force swells and eases. Pressure under it follows the Hertz
 * profile of a sphere on a flat, p(r) = p0 · sqrt(1 − (r/a)²) for r < a (Johnson, Contact
 * Mechanics §4.2), with p0 swinging between 40 % and 100 % of the peak. A stand-in for a hand
 * on a sensor, so the link and the driver see moving, changing frames; the physical tactile
 * model of tissue lives in sim/tactile/. Pure: time is an argument.
 */
#ifndef HAPTICS_TAXEL_PLANT_H
#define HAPTICS_TAXEL_PLANT_H

#include <stdint.h>

typedef struct {
    double pitch_m;         /* taxel spacing */
    double contact_radius_m; /* a: radius of the pressed patch */
    double peak_pa;          /* p0 at full press */
    double orbit_radius_m;   /* the patch's centre circles the array's centre */
    double orbit_period_s;
    double press_period_s;   /* one swell and ease of the press */
    double pressure_lsb_pa;  /* the ADC: pascals per count */
    uint16_t max_count;      /* ADC full scale */
} taxel_plant_params_t;

/* A 12-bit board at `pitch_m` whose patch (5 mm radius, 70 kPa peak: a firm clinical press)
 * circles 0.25 of the array's smaller side around its centre every 2 s. */
taxel_plant_params_t taxel_plant_default(double pitch_m, unsigned rows, unsigned cols);

/* Pressure in pascals on taxel (row, col) of a rows × cols array at time t_s. */
double taxel_plant_pressure_pa(const taxel_plant_params_t *p, unsigned rows, unsigned cols,
                               unsigned row, unsigned col, double t_s);

/* The ADC count that pressure reads: round(p / lsb), clamped to 0 .. max_count. */
uint16_t taxel_plant_counts(const taxel_plant_params_t *p, double pressure_pa);

#endif
