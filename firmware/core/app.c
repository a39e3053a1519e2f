#include "app.h"

#include <string.h>

#include "codec.h"
#include "hal.h"

void app_init(app_t *app, const app_config_t *cfg, uint64_t now_us)
{
    memset(app, 0, sizeof *app);
    app->cfg = *cfg;
    control_init(&app->control, &cfg->control, now_us);
    tick_sync_init(&app->sync, cfg->control.period_us, cfg->tick_window_us, now_us);
    frame_reader_init(&app->reader);
    app->next_counters_us = now_us + APP_COUNTERS_PERIOD_US;
}

void app_fault(app_t *app, uint16_t bits)
{
    control_fault(&app->control, bits);
}

void app_send(app_t *app, const msg_t *m)
{
    uint8_t wire[FRAME_WIRE_MAX];
    size_t n = codec_encode_wire(app->cfg.protocol_version, m, wire);
    if (n == 0u || hal_serial_tx_space() < n) {
        app->counters.tx_dropped++;
        return;
    }
    hal_serial_tx(wire, n);
}

static void send_device_info(app_t *app, uint32_t nonce)
{
    const app_config_t *c = &app->cfg;
    msg_t m;
    memset(&m, 0, sizeof m);
    m.type = MSG_DEVICE_INFO;
    msg_device_info_t *d = &m.u.device_info;
    d->nonce = nonce;
    d->protocol_version = c->protocol_version;
    d->fw_major = c->fw_major;
    d->fw_minor = c->fw_minor;
    d->fw_patch = c->fw_patch;
    d->device_type = c->device_type;
    d->axes = 1;
    d->capabilities = c->capabilities;
    d->schema_hash = c->schema_hash_override ? c->schema_hash_override : codec_schema_hash();
    d->serial = c->serial;
    d->rate_hz = c->rate_hz;
    d->watchdog_ms = (uint16_t)(app->control.params.watchdog_us / 1000u);
    d->position_lsb_m = c->position_lsb_m;
    d->force_lsb_n = c->force_lsb_n;
    d->max_force_n = c->control.max_force_n;
    d->clamp_n = app->control.params.clamp_n;
    app_send(app, &m);
}

static void send_ack(app_t *app, const msg_ack_t *ack)
{
    msg_t m;
    memset(&m, 0, sizeof m);
    m.type = MSG_ACK;
    m.u.ack = *ack;
    app_send(app, &m);
}

/* A control-plane request (ARM, DISARM, CLEAR_FAULT, SET_PARAMS): executed once per nonce;
 * a retry with a nonce already seen gets the same acknowledgement again, nothing re-done. */
static void control_request(app_t *app, const msg_t *m, uint32_t nonce, uint64_t now_us)
{
    for (unsigned i = 0; i < APP_NONCE_SLOTS; i++) {
        app_nonce_slot_t *s = &app->nonces[i];
        if (s->type == m->type && s->nonce == nonce) {
            app->counters.ctl_duplicates++;
            send_ack(app, &s->ack);
            return;
        }
    }
    uint8_t result = ACK_UNSUPPORTED;
    control_t *c = &app->control;
    switch (m->type) {
    case MSG_ARM:
        result = control_arm(c, now_us);
        break;
    case MSG_DISARM:
        result = control_disarm(c);
        break;
    case MSG_CLEAR_FAULT:
        result = control_clear_fault(c);
        break;
    case MSG_SET_PARAMS: {
        const msg_set_params_t *sp = &m->u.set_params;
        control_params_t p;
        p.watchdog_us = (uint32_t)sp->watchdog_ms * 1000u;
        p.ramp_us = (uint32_t)sp->ramp_ms * 1000u;
        p.clamp_n = sp->clamp_n;
        p.spring.k = sp->spring_k;
        p.spring.b = sp->damping_b;
        p.spring.anchor = sp->anchor_m;
        result = control_set_params(c, &p);
        break;
    }
    default:
        break;
    }
    app_nonce_slot_t *s = &app->nonces[app->next_nonce_slot];
    app->next_nonce_slot = (uint8_t)((app->next_nonce_slot + 1u) % APP_NONCE_SLOTS);
    s->type = m->type;
    s->nonce = nonce;
    s->ack.nonce = nonce;
    s->ack.request_type = m->type;
    s->ack.result = result;
    s->ack.arm_state = c->arming.state;
    s->ack.fault_bits = c->arming.fault_bits;
    send_ack(app, &s->ack);
}

static void handle_body(app_t *app, const uint8_t *body, size_t n, uint64_t now_us)
{
    msg_t m;
    switch (codec_decode_body(body, n, app->cfg.protocol_version, &m)) {
    case CODEC_OK:
        break;
    case CODEC_ERR_VERSION:
        app->counters.rx_version_errors++;
        return;
    case CODEC_ERR_UNKNOWN_TYPE:
        app->counters.rx_unknown_type++;
        return;
    default:
        app->counters.rx_bad_length++;
        return;
    }
    if (m.type & 0x80u) { /* a device → host message sent to the device */
        app->counters.rx_unknown_type++;
        return;
    }
    app->counters.rx_frames++;
    switch (m.type) {
    case MSG_HELLO: {
        static const uint8_t flush = 0u;
        control_new_session(&app->control);
        hal_motor_write(0.0f); /* at once: a new host finds the device disarmed, force zero */
        hal_serial_tx_discard();
        hal_serial_tx(&flush, 1u); /* ends any frame cut short by the discard */
        send_device_info(app, m.u.hello.nonce);
        break;
    }
    case MSG_COMMAND: {
        const msg_command_t *c = &m.u.command;
        if (control_command(&app->control, c->seq, c->force_n, c->flags, now_us)) {
            tick_sync_command(&app->sync, now_us);
            if (app->on_command) {
                app->on_command(app->on_command_ctx, c->seq, c->force_n, now_us);
            }
        }
        break;
    }
    case MSG_ARM:
        control_request(app, &m, m.u.arm.nonce, now_us);
        break;
    case MSG_DISARM:
        control_request(app, &m, m.u.disarm.nonce, now_us);
        break;
    case MSG_CLEAR_FAULT:
        control_request(app, &m, m.u.clear_fault.nonce, now_us);
        break;
    case MSG_SET_PARAMS:
        control_request(app, &m, m.u.set_params.nonce, now_us);
        break;
    case MSG_HEARTBEAT: {
        msg_t r;
        memset(&r, 0, sizeof r);
        r.type = MSG_HEARTBEAT_REPLY;
        r.u.heartbeat_reply.counter = m.u.heartbeat.counter;
        r.u.heartbeat_reply.device_time_us = now_us;
        app_send(app, &r);
        break;
    }
    case MSG_TIME_SYNC: {
        msg_t r;
        memset(&r, 0, sizeof r);
        r.type = MSG_TIME_SYNC_REPLY;
        r.u.time_sync_reply.host_time_us = m.u.time_sync.host_time_us;
        r.u.time_sync_reply.device_time_us = now_us;
        app_send(app, &r);
        break;
    }
    default:
        break;
    }
}

void app_rx(app_t *app, const uint8_t *data, size_t n, uint64_t now_us)
{
    uint8_t body[FRAME_BODY_MAX];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (frame_reader_push(&app->reader, data[i], body, &len) == FRAME_OK) {
            handle_body(app, body, len, now_us);
        }
    }
}

uint64_t app_next_wakeup(const app_t *app)
{
    return tick_sync_wakeup(&app->sync);
}

bool app_tick_due(const app_t *app, uint64_t now_us)
{
    return tick_sync_due(&app->sync, now_us);
}

static uint32_t rx_error_total(const app_t *app)
{
    const msg_error_counters_t *e = &app->counters;
    return app->reader.crc_errors + app->reader.framing_errors + e->rx_version_errors +
           e->rx_unknown_type + e->rx_bad_length;
}

void app_tick(app_t *app, uint64_t now_us)
{
    control_t *c = &app->control;
    float position = (float)hal_encoder_read() * app->cfg.position_lsb_m;
    float amps = 0.0f;
    if (!hal_motor_current_a(&amps)) { /* the sensor did not answer in time: fail safe */
        control_fault(c, FAULT_SENSOR);
    }
    control_output_t out = control_step(c, now_us, position);
    hal_motor_write(out.duty);
    tick_sync_ticked(&app->sync, now_us);
    hal_watchdog_kick();

    msg_t m;
    memset(&m, 0, sizeof m);
    m.type = MSG_STATE;
    msg_state_t *s = &m.u.state;
    s->seq = ++app->state_seq;
    s->time_us = now_us;
    s->last_cmd_seq = c->cmd_seq;
    s->position_m = c->position_m;
    s->velocity_mps = c->velocity_mps;
    s->force_cmd_n = out.force_n;
    s->force_meas_n = amps * app->cfg.force_per_amp_n;
    s->arm_state = c->arming.state;
    s->flags = out.flags;
    s->fault_bits = c->arming.fault_bits;
    s->rx_errors = rx_error_total(app);
    s->overruns = c->overruns;
    app_send(app, &m);

    if (now_us >= app->next_counters_us) {
        app->next_counters_us = now_us + APP_COUNTERS_PERIOD_US;
        msg_error_counters_t *e = &app->counters;
        e->rx_crc_errors = app->reader.crc_errors;
        e->rx_framing_errors = app->reader.framing_errors;
        e->rx_stale_commands = c->stale_commands;
        e->loop_overruns = c->overruns;
        e->watchdog_trips = c->watchdog_trips;
        memset(&m, 0, sizeof m);
        m.type = MSG_ERROR_COUNTERS;
        m.u.error_counters = *e;
        app_send(app, &m);
    }
}
