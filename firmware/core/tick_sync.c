#include "tick_sync.h"

void tick_sync_init(tick_sync_t *s, uint32_t period_us, uint32_t window_us, uint64_t now_us)
{
    s->period_us = period_us;
    s->window_us = window_us < period_us / 2u ? window_us : period_us / 2u;
    s->lead_us = s->window_us / 2u;
    s->max_slew_us = period_us / 20u;
    s->deadline_us = now_us + period_us;
    s->cmd_pending = false;
    s->cmd_arrival_us = 0;
    s->missed = 0;
    s->last_tick_us = now_us;
}

void tick_sync_command(tick_sync_t *s, uint64_t now_us)
{
    s->cmd_pending = true;
    s->cmd_arrival_us = now_us;
}

/* The pending command arrived inside the window before the deadline: tick at once. */
static bool early(const tick_sync_t *s)
{
    return s->cmd_pending && s->window_us > 0u &&
           s->cmd_arrival_us + s->window_us >= s->deadline_us;
}

uint64_t tick_sync_wakeup(const tick_sync_t *s)
{
    return early(s) ? s->cmd_arrival_us : s->deadline_us;
}

bool tick_sync_due(const tick_sync_t *s, uint64_t now_us)
{
    return now_us >= tick_sync_wakeup(s) || now_us < s->last_tick_us;
}

void tick_sync_ticked(tick_sync_t *s, uint64_t now_us)
{
    if (now_us < s->last_tick_us) { /* the clock went back: restart the grid from here */
        s->last_tick_us = now_us;
        s->deadline_us = now_us + s->period_us;
        s->cmd_pending = false;
        return;
    }
    s->last_tick_us = now_us;
    int64_t adjust = 0;
    if (s->cmd_pending && s->window_us > 0u) {
        /* how long before the deadline the command arrived; more than half a period early
         * means it arrived just after the previous tick: late for that one */
        int64_t phase = (int64_t)s->deadline_us - (int64_t)s->cmd_arrival_us;
        if (phase > (int64_t)(s->period_us / 2u + s->lead_us)) {
            phase -= (int64_t)s->period_us;
        }
        int64_t err = phase - (int64_t)s->lead_us; /* > 0: deadline can come earlier */
        adjust = err / 4;
        if (adjust > (int64_t)s->max_slew_us) {
            adjust = (int64_t)s->max_slew_us;
        } else if (adjust < -(int64_t)s->max_slew_us) {
            adjust = -(int64_t)s->max_slew_us;
        }
    }
    s->cmd_pending = false;
    s->deadline_us = (uint64_t)((int64_t)s->deadline_us + (int64_t)s->period_us - adjust);
    if (now_us >= s->deadline_us) { /* ran late by a period or more: skip, never burst */
        uint64_t behind = (now_us - s->deadline_us) / s->period_us + 1u;
        s->missed += (uint32_t)behind;
        s->deadline_us += behind * s->period_us;
    }
}
