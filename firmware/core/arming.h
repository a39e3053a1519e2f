/*
 * Arming state machine: DISARMED → ARMED → FAULT (latched).
 *
 *   ARM          DISARMED → ARMED; ARMED stays; refused in FAULT (ACK_REFUSED_FAULT).
 *   DISARM       ARMED → DISARMED; a latched FAULT stays latched.
 *   CLEAR_FAULT  FAULT → DISARMED (fault bits cleared); otherwise nothing.
 *   fault(bits)  any state → FAULT, bits OR-ed into the latched set.
 *
 * Force is allowed only in ARMED. Pure: no time, no I/O.
 */
#ifndef HAPTICS_ARMING_H
#define HAPTICS_ARMING_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint8_t state;       /* enum arm_state */
    uint16_t fault_bits; /* FAULT_* latched since the last CLEAR_FAULT */
} arming_t;

void arming_init(arming_t *a);
uint8_t arming_arm(arming_t *a);         /* returns an ack_result */
uint8_t arming_disarm(arming_t *a);      /* always ACK_OK */
uint8_t arming_clear_fault(arming_t *a); /* always ACK_OK */
void arming_fault(arming_t *a, uint16_t bits);
bool arming_force_allowed(const arming_t *a);

#endif
