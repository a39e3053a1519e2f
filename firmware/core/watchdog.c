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
    return now_us >= w->last_feed_us && now_us - w->last_feed_us >= w->period_us;
}
