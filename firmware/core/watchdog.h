/*
 * Command watchdog: expired once `period_us` has passed since the last feed.
 * Pure: the caller passes the current time. The firmware feeds it on every accepted COMMAND
 * and on ARM, and checks it every tick while armed.
 */
#ifndef HAPTICS_WATCHDOG_H
#define HAPTICS_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t period_us;
    uint64_t last_feed_us;
} watchdog_t;

void watchdog_init(watchdog_t *w, uint32_t period_us, uint64_t now_us);
void watchdog_feed(watchdog_t *w, uint64_t now_us);
/* True when now_us - last feed >= period, and when now_us is earlier than the last feed: a
 * clock that went backwards would otherwise keep the watchdog from ever expiring, so a time
 * glitch fails safe (the caller zeroes force and latches a fault). */
bool watchdog_expired(const watchdog_t *w, uint64_t now_us);

#endif
