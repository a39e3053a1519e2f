#include "watchdog.h"

void watchdog_init(watchdog_t *w, uint32_t period_us, uint64_t now_us)
{
    w->period_us = period_us;
    w->last_feed_us = now_us;
}

void watchdog_feed(watchdog_t *w, uint64_t now_us)
{
    w->last_feed_us = now_us;
}

bool watchdog_expired(const watchdog_t *w, uint64_t now_us)
{
    if (now_us < w->last_feed_us) {
        return true; /* the clock went backwards: it cannot be trusted to expire us later */
    }
    return now_us - w->last_feed_us >= w->period_us;
}
