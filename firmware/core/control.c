#include "control.h"

#include "clamp.h"
#include "protocol.h"

control_params_t control_default_params(const control_config_t *cfg)
{
    control_params_t p;
    p.watchdog_us = CONTROL_DEFAULT_WATCHDOG_US;
    p.ramp_us = CONTROL_DEFAULT_RAMP_US;
    p.clamp_n = cfg->max_force_n;
    p.spring.k = 0.0f;
    p.spring.b = 0.0f;
    p.spring.anchor = 0.0f;
    return p;
}

void control_init(control_t *c, const control_config_t *cfg, uint64_t now_us)
{
    c->cfg = *cfg;
    c->params = control_default_params(cfg);
    arming_init(&c->arming);
    watchdog_init(&c->watchdog, c->params.watchdog_us, now_us);
    c->have_cmd = false;
    c->cmd_seq = 0;
    c->cmd_force_n = 0.0f;
    c->cmd_flags = 0;
    c->stepped = false;
    c->last_step_us = now_us;
    c->armed_at_us = now_us;
    c->position_m = 0.0f;
    c->velocity_mps = 0.0f;
    c->out.force_n = 0.0f;
    c->out.duty = 0.0f;
    c->out.flags = 0;
    c->overruns = 0;
    c->watchdog_trips = 0;
    c->stale_commands = 0;
}

void control_new_session(control_t *c)
{
    c->have_cmd = false;
    arming_disarm(&c->arming); /* ARMED → DISARMED; a latched FAULT stays for the host to see */
    c->cmd_force_n = 0.0f;
    c->cmd_flags = 0;
    c->out.force_n = 0.0f;
    c->out.duty = 0.0f;
}

bool control_command(control_t *c, uint32_t seq, float force_n, uint8_t flags, uint64_t now_us)
{
    if (c->have_cmd && (int32_t)(seq - c->cmd_seq) <= 0) {
        c->stale_commands++;
        return false;
    }
    c->have_cmd = true;
    c->cmd_seq = seq;
    c->cmd_force_n = force_n;
    c->cmd_flags = flags;
    watchdog_feed(&c->watchdog, now_us);
    return true;
}

uint8_t control_arm(control_t *c, uint64_t now_us)
{
    bool was_armed = c->arming.state == ARM_ARMED;
    uint8_t result = arming_arm(&c->arming);
    if (result == ACK_OK && !was_armed) {
        c->armed_at_us = now_us;
        c->cmd_force_n = 0.0f; /* never resume a force commanded before arming */
        c->cmd_flags = 0;
        watchdog_feed(&c->watchdog, now_us);
    }
    return result;
}

uint8_t control_disarm(control_t *c)
{
    return arming_disarm(&c->arming);
}

uint8_t control_clear_fault(control_t *c)
{
    return arming_clear_fault(&c->arming);
}

uint8_t control_set_params(control_t *c, const control_params_t *p)
{
    uint32_t wd_ms = p->watchdog_us / 1000u;
    if (wd_ms < CONTROL_WATCHDOG_MIN_MS || wd_ms > CONTROL_WATCHDOG_MAX_MS ||
        p->ramp_us > 10000000u || !is_finite_f(p->clamp_n) || p->clamp_n < 0.0f ||
        p->clamp_n > c->cfg.max_force_n || !is_finite_f(p->spring.k) || p->spring.k < 0.0f ||
        !is_finite_f(p->spring.b) || p->spring.b < 0.0f || !is_finite_f(p->spring.anchor) ||
        p->spring.anchor > CONTROL_ANCHOR_MAX_M || p->spring.anchor < -CONTROL_ANCHOR_MAX_M) {
        return ACK_INVALID;
    }
    c->params = *p;
    c->watchdog.period_us = p->watchdog_us;
    return ACK_OK;
}

void control_fault(control_t *c, uint16_t bits)
{
    arming_fault(&c->arming, bits);
    c->out.force_n = 0.0f;
    c->out.duty = 0.0f;
}

control_output_t control_step(control_t *c, uint64_t now_us, float position_m)
{
    control_output_t out = {0.0f, 0.0f, 0};

    /* a clock that reads earlier than the last tick or the last feed: time glitch, fail safe */
    bool backwards = (c->stepped && now_us < c->last_step_us) || now_us < c->watchdog.last_feed_us;
    if (backwards && c->arming.state == ARM_ARMED) {
        arming_fault(&c->arming, FAULT_CLOCK);
    }

    /* timing: overrun and stall */
    float dt_s = (float)c->cfg.period_us * 1e-6f;
    if (c->stepped && now_us > c->last_step_us) {
        uint64_t gap = now_us - c->last_step_us;
        dt_s = (float)gap * 1e-6f;
        if (gap > (uint64_t)c->cfg.period_us * 3u / 2u) {
            c->overruns++;
        }
        if (gap > c->cfg.stall_us && c->arming.state == ARM_ARMED) { /* force was stale */
            arming_fault(&c->arming, FAULT_STALL);
        }
    }

    /* velocity: first-order low-pass of the position difference */
    if (c->stepped) {
        float raw = (position_m - c->position_m) / dt_s;
        float alpha = dt_s / (c->cfg.velocity_tau_s + dt_s);
        c->velocity_mps += alpha * (raw - c->velocity_mps);
    } else {
        c->velocity_mps = 0.0f;
    }
    c->position_m = position_m;
    c->stepped = true;
    c->last_step_us = now_us;

    /* command watchdog */
    if (c->arming.state == ARM_ARMED && watchdog_expired(&c->watchdog, now_us)) {
        arming_fault(&c->arming, FAULT_WATCHDOG);
        c->watchdog_trips++;
    }

    if (arming_force_allowed(&c->arming)) {
        float f = c->cmd_force_n;
        if (c->cmd_flags & COMMAND_FLAG_LOCAL_SPRING) {
            f += spring_damper_force(&c->params.spring, position_m, c->velocity_mps);
            out.flags |= STATE_FLAG_LOCAL_SPRING;
        }
        bool clamped = false;
        f = clamp_force(f, c->params.clamp_n, &clamped);
        if (clamped) {
            out.flags |= STATE_FLAG_CLAMPED;
        }
        uint64_t since = now_us >= c->armed_at_us ? now_us - c->armed_at_us : 0u;
        if (since < c->params.ramp_us) {
            f *= (float)since / (float)c->params.ramp_us;
            out.flags |= STATE_FLAG_RAMPING;
        }
        out.force_n = f;
        float duty = f / c->cfg.force_full_duty_n;
        if (duty > 1.0f || duty < -1.0f) {
            duty = duty > 0.0f ? 1.0f : -1.0f;
            out.flags |= STATE_FLAG_SATURATED;
        }
        out.duty = duty;
    }
    c->out = out;
    return out;
}
