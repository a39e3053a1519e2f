/*
 * The control core: arming, command watchdog, force clamp, ramp-in, local spring-damper,
 * velocity estimate and loop-overrun detection. Every function is pure: the current time
 * (µs, monotonic) and the measured position are arguments, the state is the struct.
 *
 * One 1 kHz tick calls control_step() once; received messages call control_command(),
 * control_arm() and friends between ticks.
 */
#ifndef HAPTICS_CONTROL_H
#define HAPTICS_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "arming.h"
#include "spring_damper.h"
#include "watchdog.h"

#define CONTROL_DEFAULT_WATCHDOG_US 100000u
#define CONTROL_DEFAULT_RAMP_US 50000u
#define CONTROL_WATCHDOG_MIN_MS 2u
#define CONTROL_WATCHDOG_MAX_MS 10000u
#define CONTROL_ANCHOR_MAX_M 1.0f

/* Fixed by the board. */
typedef struct {
    float max_force_n;       /* hardware ceiling: no parameter can raise the clamp above it */
    float force_full_duty_n; /* force at |duty| = 1 (stall, no back-EMF) */
    uint32_t period_us;      /* nominal tick period */
    uint32_t stall_us;       /* armed, a tick this late after the previous one latches FAULT_STALL */
    float velocity_tau_s;    /* velocity low-pass time constant */
} control_config_t;

/* Set by the host (SET_PARAMS). */
typedef struct {
    uint32_t watchdog_us;
    uint32_t ramp_us;
    float clamp_n;
    spring_damper_t spring;
} control_params_t;

typedef struct {
    float force_n; /* after spring, clamp, ramp and arming */
    float duty;    /* motor drive, -1..1 */
    uint8_t flags; /* STATE_FLAG_* */
} control_output_t;

typedef struct {
    control_config_t cfg;
    control_params_t params;
    arming_t arming;
    watchdog_t watchdog;
    /* newest accepted command */
    bool have_cmd;      /* a command was accepted since the last HELLO */
    uint32_t cmd_seq;   /* its seq (echoed in STATE.last_cmd_seq) */
    float cmd_force_n;  /* zeroed on ARM: force needs a fresh command */
    uint8_t cmd_flags;
    /* timing */
    bool stepped;
    uint64_t last_step_us;
    uint64_t armed_at_us;
    /* estimates */
    float position_m;
    float velocity_mps;
    control_output_t out;
    /* counters */
    uint32_t overruns;
    uint32_t watchdog_trips;
    uint32_t stale_commands;
} control_t;

/* Default host parameters for a board: 100 ms watchdog, 50 ms ramp, clamp at the ceiling. */
control_params_t control_default_params(const control_config_t *cfg);

void control_init(control_t *c, const control_config_t *cfg, uint64_t now_us);

/* A new host session (HELLO): the device is disarmed (a latched FAULT stays latched), the
 * setpoint is zeroed, and the next COMMAND is accepted whatever its seq. A new host never
 * inherits the force or the arming of the previous one. The caller zeroes the motor. */
void control_new_session(control_t *c);

/*
 * A COMMAND arrived at now_us. Accepted when its seq is newer than the last accepted one
 * (serial-number arithmetic on u32), or when none was accepted this session; an accepted
 * command feeds the watchdog. Returns whether it was accepted; stale ones are counted.
 */
bool control_command(control_t *c, uint32_t seq, float force_n, uint8_t flags, uint64_t now_us);

uint8_t control_arm(control_t *c, uint64_t now_us); /* ack_result; starts the ramp-in */
uint8_t control_disarm(control_t *c);
uint8_t control_clear_fault(control_t *c);

/* Validate and apply host parameters; ACK_INVALID leaves everything unchanged. */
uint8_t control_set_params(control_t *c, const control_params_t *p);

/* Latch a fault: force goes to zero at once. */
void control_fault(control_t *c, uint16_t bits);

/* One tick at now_us with the measured position: overrun/stall detection, velocity estimate,
 * watchdog check, force. Returns (and stores in c->out) what to drive the motor with.
 * Armed, a now_us earlier than the previous tick or the last watchdog feed latches
 * FAULT_CLOCK (force zero this tick): a clock that went back cannot time the watchdog. */
control_output_t control_step(control_t *c, uint64_t now_us, float position_m);

#endif
