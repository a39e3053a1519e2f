/* Hard force clamp: whatever the host asks, |force| <= limit; non-finite input → 0. */
#ifndef HAPTICS_CLAMP_H
#define HAPTICS_CLAMP_H

#include <stdbool.h>

/* True for a finite float (no <math.h>, so it builds freestanding). */
static inline bool is_finite_f(float x)
{
    return x - x == 0.0f;
}

/* `force` limited to [-limit, limit]; sets *clamped when it changed the value. */
float clamp_force(float force, float limit, bool *clamped);

#endif
