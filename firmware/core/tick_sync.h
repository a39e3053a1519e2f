/*
 * When to run the next 1 kHz tick.
 *
 * The device ticks on its own nominal deadlines, so it streams STATE at its rate whatever the
 * host does. While COMMANDs stream in, two things cut the command → echo latency from up to
 * a period to about the link's transit time:
 *   - early tick: a COMMAND that arrives less than `window_us` before the deadline makes
 *     the tick run at once instead of at the deadline;
 *   - phase lock: after each such cycle the nominal deadline moves by at most `max_slew_us`
 *     so that commands arrive `lead_us` before it, in the middle of the window.
 * Without commands the deadlines stay on their grid. Ticks more than a period late are
 * skipped, not caught up. A clock that reads earlier than the last tick makes the next tick
 * due at once and restarts the grid there (ticks never stop waiting for the old grid; the
 * control step then fails safe on the glitch). Pure: times are arguments.
 */
#ifndef HAPTICS_TICK_SYNC_H
#define HAPTICS_TICK_SYNC_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t period_us;
    uint32_t window_us;   /* 0 disables early ticks and the phase lock */
    uint32_t lead_us;     /* target: command arrives this long before the deadline */
    uint32_t max_slew_us; /* largest deadline correction per tick */
    uint64_t deadline_us; /* nominal deadline of the next tick */
    bool cmd_pending;     /* a COMMAND arrived since the last tick */
    uint64_t cmd_arrival_us;
    uint32_t missed;      /* whole periods skipped */
    uint64_t last_tick_us; /* time of the last tick (init: the start time) */
} tick_sync_t;

void tick_sync_init(tick_sync_t *s, uint32_t period_us, uint32_t window_us, uint64_t now_us);

/* A COMMAND was accepted at now_us. */
void tick_sync_command(tick_sync_t *s, uint64_t now_us);

/* Earliest time the next tick may run. */
uint64_t tick_sync_wakeup(const tick_sync_t *s);

/* True when a tick should run at now_us: its time has come, or the clock went back. */
bool tick_sync_due(const tick_sync_t *s, uint64_t now_us);

/* The tick ran at now_us: advance (and phase-correct) the deadline. */
void tick_sync_ticked(tick_sync_t *s, uint64_t now_us);

#endif
