/*
 * Simulated 1-DoF haptic paddle, seen at the handle: a mass with viscous and Coulomb
 * friction, driven by a DC motor through a capstan (force per ampere kt, back-EMF kt·v),
 * an H-bridge from a fixed supply with a current limit, and hard stops at both ends of
 * travel. Pure: the caller passes the drive and the time step.
 */
#ifndef HAPTICS_PLANT_H
#define HAPTICS_PLANT_H

typedef struct {
    double mass_kg;
    double damping_nspm; /* viscous, N·s/m */
    double coulomb_n;    /* dry friction */
    double supply_v;
    double resistance_ohm;
    double kt_n_per_a;       /* handle force per ampere; also back-EMF in V per m/s */
    double current_limit_a;  /* drive current limit: force saturates at kt · this */
    double travel_m;         /* hard stops at ±travel */
    double stop_k;           /* stop stiffness, N/m */
    double stop_b;           /* stop damping, N·s/m */
    double max_substep_s;    /* integration step */
} plant_params_t;

typedef struct {
    double x_m;
    double v_mps;
    double current_a;
    double motor_force_n;
} plant_state_t;

/* Parameters of the paddle the emulator pretends to be. */
plant_params_t plant_paddle_params(void);

/* Advance by dt_s with bridge duty in [-1, 1] and an external (hand) force on the handle. */
void plant_step(plant_state_t *s, const plant_params_t *p, double duty, double external_n,
                double dt_s);

#endif
