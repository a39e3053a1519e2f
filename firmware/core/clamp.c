#include "clamp.h"

float clamp_force(float force, float limit, bool *clamped)
{
    if (!is_finite_f(force) || !is_finite_f(limit) || limit < 0.0f) {
        *clamped = true;
        return 0.0f;
    }
    if (force > limit) {
        *clamped = true;
        return limit;
    }
    if (force < -limit) {
        *clamped = true;
        return -limit;
    }
    *clamped = false;
    return force;
}
