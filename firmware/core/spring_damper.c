#include "spring_damper.h"

float spring_damper_force(const spring_damper_t *sd, float position_m, float velocity_mps)
{
    return -sd->k * (position_m - sd->anchor) - sd->b * velocity_mps;
}
