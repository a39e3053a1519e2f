/*
 * Local spring-damper rendered by the firmware between host updates:
 *   F = -k (x - anchor) - b v
 * The host sets k, b and the anchor with SET_PARAMS and enables it per COMMAND; the device
 * then keeps rendering a stiff contact at 1 kHz with fresh positions even if a host packet
 * is late. Pure.
 */
#ifndef HAPTICS_SPRING_DAMPER_H
#define HAPTICS_SPRING_DAMPER_H

typedef struct {
    float k;      /* N/m, >= 0 */
    float b;      /* N·s/m, >= 0 */
    float anchor; /* m */
} spring_damper_t;

float spring_damper_force(const spring_damper_t *sd, float position_m, float velocity_mps);

#endif
