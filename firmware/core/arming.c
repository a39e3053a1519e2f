#include "arming.h"

#include "protocol.h"

void arming_init(arming_t *a)
{
    a->state = ARM_DISARMED;
    a->fault_bits = 0;
}

uint8_t arming_arm(arming_t *a)
{
    if (a->state == ARM_FAULT) {
        return ACK_REFUSED_FAULT;
    }
    a->state = ARM_ARMED;
    return ACK_OK;
}

uint8_t arming_disarm(arming_t *a)
{
    if (a->state == ARM_ARMED) {
        a->state = ARM_DISARMED;
    }
    return ACK_OK;
}

uint8_t arming_clear_fault(arming_t *a)
{
    if (a->state == ARM_FAULT) {
        a->state = ARM_DISARMED;
        a->fault_bits = 0;
    }
    return ACK_OK;
}

void arming_fault(arming_t *a, uint16_t bits)
{
    a->state = ARM_FAULT;
    a->fault_bits = (uint16_t)(a->fault_bits | bits);
}

bool arming_force_allowed(const arming_t *a)
{
    return a->state == ARM_ARMED;
}
