#include "plant.h"

plant_params_t plant_paddle_params(void)
{
    plant_params_t p;
    p.mass_kg = 0.05;
    p.damping_nspm = 0.3;
    p.coulomb_n = 0.02;
    p.supply_v = 12.0;
    p.resistance_ohm = 2.0;
    p.kt_n_per_a = 1.0;
    p.current_limit_a = 3.0;
    p.travel_m = 0.05;
    p.stop_k = 5000.0;
    p.stop_b = 10.0;
    p.max_substep_s = 1e-4;
    return p;
}

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

void plant_step(plant_state_t *s, const plant_params_t *p, double duty, double external_n,
                double dt_s)
{
    if (!(dt_s > 0.0)) {
        return;
    }
    duty = clampd(duty, -1.0, 1.0);
    int n = (int)(dt_s / p->max_substep_s) + 1;
    if (n > 1000) { /* a long pause: integrate the last 100 ms only */
        n = 1000;
        dt_s = 1000 * p->max_substep_s;
    }
    double h = dt_s / n;
    for (int i = 0; i < n; i++) {
        double i_a = (duty * p->supply_v - p->kt_n_per_a * s->v_mps) / p->resistance_ohm;
        i_a = clampd(i_a, -p->current_limit_a, p->current_limit_a);
        double motor = p->kt_n_per_a * i_a;
        double f = motor + external_n - p->damping_nspm * s->v_mps;
        if (s->x_m > p->travel_m) {
            f -= p->stop_k * (s->x_m - p->travel_m) + p->stop_b * s->v_mps;
        } else if (s->x_m < -p->travel_m) {
            f -= p->stop_k * (s->x_m + p->travel_m) + p->stop_b * s->v_mps;
        }
        /* dry friction: opposes motion; holds the handle when the rest cannot break it */
        if (s->v_mps > 1e-6) {
            f -= p->coulomb_n;
        } else if (s->v_mps < -1e-6) {
            f += p->coulomb_n;
        } else if (f > -p->coulomb_n && f < p->coulomb_n) {
            f = 0.0;
            s->v_mps = 0.0;
        } else {
            f -= f > 0.0 ? p->coulomb_n : -p->coulomb_n;
        }
        double v_new = s->v_mps + h * f / p->mass_kg;
        if ((s->v_mps > 0.0 && v_new < 0.0) || (s->v_mps < 0.0 && v_new > 0.0)) {
            /* friction alone never reverses the motion within a step */
            double without_friction = f + (s->v_mps > 0.0 ? p->coulomb_n : -p->coulomb_n);
            if (without_friction * s->v_mps <= 0.0 &&
                (without_friction > -p->coulomb_n && without_friction < p->coulomb_n)) {
                v_new = 0.0;
            }
        }
        s->v_mps = v_new;
        s->x_m += h * s->v_mps; /* semi-implicit Euler */
        s->current_a = i_a;
        s->motor_force_n = motor;
    }
}
