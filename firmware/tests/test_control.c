/* Arming, watchdog, clamp, spring-damper, the control step and tick timing: pure functions
 * driven with explicit times, so these run far faster than real time. */
#include "arming.h"
#include "clamp.h"
#include "control.h"
#include "harness.h"
#include "protocol.h"
#include "spring_damper.h"
#include "tick_sync.h"
#include "watchdog.h"

static control_config_t paddle(void)
{
    control_config_t c;
    c.max_force_n = 3.0f;
    c.force_full_duty_n = 6.0f;
    c.period_us = 1000u;
    c.stall_us = 50000u;
    c.velocity_tau_s = 0.002f;
    return c;
}

void test_arming_transitions(void)
{
    arming_t a;
    arming_init(&a);
    CHECK_EQ(a.state, ARM_DISARMED);
    CHECK(!arming_force_allowed(&a));
    CHECK_EQ(arming_arm(&a), ACK_OK);
    CHECK_EQ(a.state, ARM_ARMED);
    CHECK(arming_force_allowed(&a));
    CHECK_EQ(arming_arm(&a), ACK_OK); /* idempotent */
    CHECK_EQ(arming_disarm(&a), ACK_OK);
    CHECK_EQ(a.state, ARM_DISARMED);
    CHECK_EQ(arming_arm(&a), ACK_OK);
    arming_fault(&a, FAULT_WATCHDOG);
    CHECK_EQ(a.state, ARM_FAULT);
    CHECK(!arming_force_allowed(&a));
    CHECK_EQ(arming_arm(&a), ACK_REFUSED_FAULT); /* latched */
    CHECK_EQ(arming_disarm(&a), ACK_OK);
    CHECK_EQ(a.state, ARM_FAULT); /* DISARM does not clear a fault */
    arming_fault(&a, FAULT_STALL);
    CHECK_EQ(a.fault_bits, FAULT_WATCHDOG | FAULT_STALL);
    CHECK_EQ(arming_clear_fault(&a), ACK_OK);
    CHECK_EQ(a.state, ARM_DISARMED); /* cleared, but not armed */
    CHECK_EQ(a.fault_bits, 0);
    CHECK_EQ(arming_arm(&a), ACK_OK);
    CHECK_EQ(arming_clear_fault(&a), ACK_OK); /* no fault: nothing happens */
    CHECK_EQ(a.state, ARM_ARMED);
}

void test_watchdog_expiry(void)
{
    watchdog_t w;
    watchdog_init(&w, 100000u, 5000u);
    CHECK(!watchdog_expired(&w, 5000u));
    CHECK(!watchdog_expired(&w, 104999u));
    CHECK(watchdog_expired(&w, 105000u));
    watchdog_feed(&w, 100000u);
    CHECK(!watchdog_expired(&w, 199999u));
    CHECK(watchdog_expired(&w, 200000u));
}

/* A clock that reads earlier than the last feed is a time glitch: fail safe, expired. */
void test_watchdog_clock_backwards_expires(void)
{
    watchdog_t w;
    watchdog_init(&w, 100000u, 5000u);
    watchdog_feed(&w, 100000u);
    CHECK(watchdog_expired(&w, 99999u));
    CHECK(watchdog_expired(&w, 50000u));
    CHECK(watchdog_expired(&w, 0u));
    CHECK(!watchdog_expired(&w, 100000u));
}

void test_clamp_limits(void)
{
    bool clamped = true;
    CHECK_NEAR(clamp_force(1.0f, 3.0f, &clamped), 1.0, 0);
    CHECK(!clamped);
    CHECK_NEAR(clamp_force(5.0f, 3.0f, &clamped), 3.0, 0);
    CHECK(clamped);
    CHECK_NEAR(clamp_force(-5.0f, 3.0f, &clamped), -3.0, 0);
    CHECK(clamped);
    float zero = 0.0f;
    CHECK_NEAR(clamp_force(1.0f / zero, 3.0f, &clamped), 0.0, 0);
    CHECK(clamped);
    CHECK_NEAR(clamp_force(zero / zero, 3.0f, &clamped), 0.0, 0);
    CHECK(clamped);
    CHECK(!is_finite_f(zero / zero));
    CHECK(is_finite_f(1e30f));
}

void test_spring_damper_force_law(void)
{
    spring_damper_t sd = {500.0f, 2.0f, 0.01f};
    CHECK_NEAR(spring_damper_force(&sd, 0.01f, 0.0f), 0.0, 1e-6);
    CHECK_NEAR(spring_damper_force(&sd, 0.02f, 0.0f), -5.0, 1e-5);
    CHECK_NEAR(spring_damper_force(&sd, 0.01f, 0.5f), -1.0, 1e-6);
}

void test_control_force_only_when_armed(void)
{
    control_config_t cfg = paddle();
    control_t c;
    control_init(&c, &cfg, 0);
    c.params.ramp_us = 0;
    CHECK(control_command(&c, 1, 1.0f, 0, 100));
    control_output_t o = control_step(&c, 1000, 0.0f);
    CHECK_NEAR(o.force_n, 0.0, 0); /* disarmed: no force */
    CHECK_EQ(control_arm(&c, 1500), ACK_OK);
    o = control_step(&c, 2000, 0.0f);
    CHECK_NEAR(o.force_n, 0.0, 0); /* the command from before arming is not applied */
    CHECK(control_command(&c, 2, 1.0f, 0, 2500));
    o = control_step(&c, 3000, 0.0f);
    CHECK_NEAR(o.force_n, 1.0, 1e-6);
    CHECK_NEAR(o.duty, 1.0 / 6.0, 1e-6);
    control_disarm(&c);
    o = control_step(&c, 4000, 0.0f);
    CHECK_NEAR(o.force_n, 0.0, 0);
    CHECK_NEAR(o.duty, 0.0, 0);
}

void test_control_ramp_and_clamp(void)
{
    control_config_t cfg = paddle();
    control_t c;
    control_init(&c, &cfg, 0);
    CHECK_EQ(control_arm(&c, 0), ACK_OK); /* default ramp 50 ms */
    CHECK(control_command(&c, 1, 10.0f, 0, 0));
    control_output_t o = control_step(&c, 25000, 0.0f);
    CHECK_NEAR(o.force_n, 1.5, 1e-5); /* clamped to 3 N, half-way up the ramp */
    CHECK(o.flags & STATE_FLAG_CLAMPED);
    CHECK(o.flags & STATE_FLAG_RAMPING);
    control_command(&c, 2, 10.0f, 0, 49000);
    o = control_step(&c, 50000, 0.0f);
    CHECK_NEAR(o.force_n, 3.0, 1e-6);
    CHECK(!(o.flags & STATE_FLAG_RAMPING));
    /* local spring: 800 N/m at 1 mm past the anchor pushes back 0.8 N */
    control_params_t p = c.params;
    p.spring.k = 800.0f;
    p.spring.anchor = 0.0f;
    CHECK_EQ(control_set_params(&c, &p), ACK_OK);
    control_command(&c, 3, 0.0f, COMMAND_FLAG_LOCAL_SPRING, 50500);
    o = control_step(&c, 51000, 0.001f);
    CHECK_NEAR(o.force_n, -0.8, 0.05); /* velocity term small */
    CHECK(o.flags & STATE_FLAG_LOCAL_SPRING);
    /* saturation of the drive: clamp above the drive's full-duty force */
    cfg.force_full_duty_n = 2.0f;
    control_init(&c, &cfg, 0);
    c.params.ramp_us = 0;
    control_arm(&c, 0);
    control_command(&c, 1, 2.5f, 0, 0);
    o = control_step(&c, 1000, 0.0f);
    CHECK_NEAR(o.duty, 1.0, 0);
    CHECK(o.flags & STATE_FLAG_SATURATED);
}

void test_control_watchdog_latches(void)
{
    control_config_t cfg = paddle();
    control_t c;
    control_init(&c, &cfg, 0);
    c.params.ramp_us = 0;
    control_arm(&c, 0);
    uint64_t t = 0;
    uint32_t seq = 1;
    for (; t < 500000u; t += 1000u) { /* commands every tick: no trip */
        control_command(&c, seq++, 0.5f, 0, t);
        control_step(&c, t + 500u, 0.0f);
    }
    CHECK_EQ(c.arming.state, ARM_ARMED);
    uint64_t last = t - 1000u; /* the last command arrived here */
    uint64_t trip = 0;
    for (uint64_t now = t + 500u; now < t + 300000u; now += 1000u) {
        control_output_t o = control_step(&c, now, 0.0f);
        if (c.arming.state == ARM_FAULT && trip == 0) {
            trip = now;
            CHECK_NEAR(o.force_n, 0.0, 0);
            CHECK_NEAR(o.duty, 0.0, 0);
        }
    }
    CHECK(trip != 0);
    CHECK(trip - last >= 100000u);
    CHECK(trip - last <= 101000u); /* within the period plus one tick */
    CHECK_EQ(c.arming.fault_bits, FAULT_WATCHDOG);
    CHECK_EQ(c.watchdog_trips, 1);
    /* commands alone do not bring force back */
    control_command(&c, seq++, 0.5f, 0, t + 300000u);
    control_output_t o = control_step(&c, t + 301000u, 0.0f);
    CHECK_NEAR(o.force_n, 0.0, 0);
    CHECK_EQ(control_arm(&c, t + 302000u), ACK_REFUSED_FAULT);
    CHECK_EQ(control_clear_fault(&c), ACK_OK);
    CHECK_EQ(control_arm(&c, t + 303000u), ACK_OK);
    /* disarmed, the watchdog does not trip */
    control_disarm(&c);
    control_step(&c, t + 900000u, 0.0f);
    CHECK_EQ(c.arming.state, ARM_DISARMED);
}

void test_control_stale_commands(void)
{
    control_config_t cfg = paddle();
    control_t c;
    control_init(&c, &cfg, 0);
    CHECK(control_command(&c, 100, 1.0f, 0, 0));
    CHECK(!control_command(&c, 100, 2.0f, 0, 1)); /* duplicate */
    CHECK(!control_command(&c, 99, 2.0f, 0, 2));  /* older */
    CHECK(control_command(&c, 101, 3.0f, 0, 3));
    CHECK_EQ(c.stale_commands, 2);
    CHECK_NEAR(c.cmd_force_n, 3.0, 0);
    /* wrap-around: 0xFFFFFFFF → 0 is newer */
    CHECK(control_command(&c, 0xFFFFFFFFu, 1.0f, 0, 4) == false); /* far in the past */
    control_new_session(&c);
    CHECK(control_command(&c, 0xFFFFFFFFu, 1.0f, 0, 5)); /* new session: anything goes */
    CHECK(control_command(&c, 0u, 1.0f, 0, 6));
}

void test_control_overrun_and_stall(void)
{
    control_config_t cfg = paddle();
    control_t c;
    control_init(&c, &cfg, 0);
    control_arm(&c, 0);
    control_step(&c, 1000, 0.0f);
    control_step(&c, 2000, 0.0f);
    CHECK_EQ(c.overruns, 0);
    control_command(&c, 1, 0.0f, 0, 3000);
    control_step(&c, 4000, 0.0f); /* two periods: an overrun */
    CHECK_EQ(c.overruns, 1);
    CHECK_EQ(c.arming.state, ARM_ARMED);
    control_command(&c, 2, 0.0f, 0, 60000);
    control_step(&c, 60000, 0.0f); /* 56 ms: stall */
    CHECK_EQ(c.arming.state, ARM_FAULT);
    CHECK(c.arming.fault_bits & FAULT_STALL);
}

/* Armed and pushing, then the clock jumps back before the last command: the watchdog could
 * never expire from there, so the step must fail safe at once (zero force, fault latched). */
void test_control_clock_glitch_fails_safe(void)
{
    control_config_t cfg = paddle();
    control_t c;
    control_init(&c, &cfg, 0);
    c.params.ramp_us = 0;
    control_arm(&c, 1000000u);
    uint32_t seq = 1;
    uint64_t t = 1000000u;
    for (; t < 1100000u; t += 1000u) {
        control_command(&c, seq++, 1.0f, 0, t);
        control_step(&c, t + 500u, 0.0f);
    }
    CHECK_EQ(c.arming.state, ARM_ARMED);
    CHECK_NEAR(c.out.force_n, 1.0, 1e-6);
    /* the clock reads 0.5 s earlier than the last feed: no command will ever come "in time" */
    control_output_t o = control_step(&c, 600000u, 0.0f);
    CHECK_NEAR(o.force_n, 0.0, 0);
    CHECK_NEAR(o.duty, 0.0, 0);
    CHECK_EQ(c.arming.state, ARM_FAULT);
    CHECK(c.arming.fault_bits & FAULT_CLOCK);
    /* still off as time goes on, and commands do not bring force back */
    float most = 0.0f;
    for (uint64_t now = 601000u; now < 900000u; now += 1000u) {
        control_command(&c, seq++, 1.0f, 0, now);
        o = control_step(&c, now + 500u, 0.0f);
        most = o.force_n > most ? o.force_n : most;
    }
    CHECK_NEAR(most, 0.0, 0);
    CHECK_EQ(c.arming.state, ARM_FAULT);
    /* disarmed, a clock that goes back is harmless: no fault, and arming works */
    control_t d;
    control_init(&d, &cfg, 500000u);
    control_step(&d, 501000u, 0.0f);
    control_step(&d, 1000u, 0.0f);
    CHECK_EQ(d.arming.state, ARM_DISARMED);
    CHECK_EQ(d.arming.fault_bits, 0);
    CHECK_EQ(control_arm(&d, 2000u), ACK_OK);
}

void test_control_velocity_estimate(void)
{
    control_config_t cfg = paddle();
    control_t c;
    control_init(&c, &cfg, 0);
    float x = 0.0f;
    for (uint64_t t = 0; t <= 100000u; t += 1000u) { /* 0.1 m/s ramp */
        control_step(&c, t, x);
        x += 0.0001f;
    }
    CHECK_NEAR(c.velocity_mps, 0.1, 0.002);
}

void test_control_set_params_validates(void)
{
    control_config_t cfg = paddle();
    control_t c;
    control_init(&c, &cfg, 0);
    control_params_t p = c.params;
    p.clamp_n = 4.0f; /* above the hardware ceiling */
    CHECK_EQ(control_set_params(&c, &p), ACK_INVALID);
    p = c.params;
    p.watchdog_us = 0;
    CHECK_EQ(control_set_params(&c, &p), ACK_INVALID);
    p = c.params;
    p.spring.k = -1.0f;
    CHECK_EQ(control_set_params(&c, &p), ACK_INVALID);
    p = c.params;
    p.watchdog_us = 20000u;
    p.clamp_n = 1.0f;
    CHECK_EQ(control_set_params(&c, &p), ACK_OK);
    CHECK_EQ(c.watchdog.period_us, 20000u);
    CHECK_NEAR(c.params.clamp_n, 1.0, 0);
}

void test_tick_sync_free_runs(void)
{
    tick_sync_t s;
    tick_sync_init(&s, 1000u, 300u, 0);
    uint64_t now = 0;
    for (int i = 1; i <= 100; i++) {
        CHECK(!tick_sync_due(&s, now + 999u));
        now = tick_sync_wakeup(&s);
        CHECK_EQ(now, (uint64_t)i * 1000u);
        tick_sync_ticked(&s, now + 20u); /* woke 20 µs late: the grid does not move */
    }
    CHECK_EQ(s.missed, 0);
}

void test_tick_sync_locks_to_commands(void)
{
    /* the host sends a command every 1000 µs, starting 870 µs before a device deadline */
    tick_sync_t s;
    tick_sync_init(&s, 1000u, 300u, 0);
    uint64_t next_cmd = 1130u;
    uint64_t pending_since = 0;
    int pending = 0, ticks = 0, late_ticks = 0;
    while (ticks < 300) {
        uint64_t wake = tick_sync_wakeup(&s);
        uint64_t now;
        if (next_cmd < wake) {
            now = next_cmd;
            tick_sync_command(&s, now);
            pending = 1;
            pending_since = now;
            next_cmd += 1000u;
            if (!tick_sync_due(&s, now)) {
                continue;
            }
        } else {
            now = wake;
        }
        if (pending && ticks >= 100 && now != pending_since) {
            late_ticks++; /* after locking, every tick runs the moment its command arrives */
        }
        pending = 0;
        tick_sync_ticked(&s, now);
        ticks++;
    }
    CHECK_EQ(late_ticks, 0);
    int64_t phase = (int64_t)s.deadline_us - (int64_t)next_cmd;
    CHECK(phase >= 100 && phase <= 200); /* commands land mid-window */
    CHECK_EQ(s.missed, 0);
}

/* A clock that jumps back must not stop the ticks until it catches up with the old grid:
 * the tick runs at once (so the control step can fail safe) and the grid restarts there. */
void test_tick_sync_clock_backwards_ticks_at_once(void)
{
    tick_sync_t s;
    tick_sync_init(&s, 1000u, 300u, 1000000u);
    tick_sync_ticked(&s, 1001000u);
    tick_sync_ticked(&s, 1002000u);
    CHECK(!tick_sync_due(&s, 1002500u));
    CHECK(tick_sync_due(&s, 400000u)); /* 0.6 s back */
    tick_sync_ticked(&s, 400000u);
    CHECK_EQ(s.deadline_us, 401000u);
    CHECK(!tick_sync_due(&s, 400500u));
    CHECK(tick_sync_due(&s, 401000u));
}

void test_tick_sync_skips_missed(void)
{
    tick_sync_t s;
    tick_sync_init(&s, 1000u, 0u, 0);
    tick_sync_ticked(&s, 5500u); /* stalled 4.5 periods */
    CHECK_EQ(s.deadline_us, 6000u);
    CHECK_EQ(s.missed, 4);
}
