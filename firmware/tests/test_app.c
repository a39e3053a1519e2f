/* The firmware application end to end on the host HAL: bytes in, bytes out. */
#include <string.h>

#include "app.h"
#include "codec.h"
#include "framing.h"
#include "hal_host.h"
#include "harness.h"

#define MAX_OUT 4096

static msg_t out[MAX_OUT];
static int nout;

static app_config_t paddle_config(void)
{
    app_config_t c;
    memset(&c, 0, sizeof c);
    c.device_type = DEVICE_TYPE_PADDLE | DEVICE_TYPE_EMULATED;
    c.fw_major = 1;
    c.capabilities = CAP_LOCAL_SPRING | CAP_TIME_SYNC | CAP_TICK_SYNC;
    c.serial = 0xC0FFEEu;
    c.rate_hz = 1000;
    c.position_lsb_m = 1e-5f;
    c.force_per_amp_n = 1.0f;
    c.force_lsb_n = 6.0f / 4800.0f;
    c.control.max_force_n = 3.0f;
    c.control.force_full_duty_n = 6.0f;
    c.control.period_us = 1000u;
    c.control.stall_us = 50000u;
    c.control.velocity_tau_s = 0.002f;
    c.tick_window_us = 300u;
    c.protocol_version = PROTOCOL_VERSION;
    return c;
}

static void start(app_t *app)
{
    hal_host_reset();
    app_config_t cfg = paddle_config();
    app_init(app, &cfg, 0);
}

static void feed_version(app_t *app, uint8_t version, const msg_t *m, uint64_t now)
{
    uint8_t wire[FRAME_WIRE_MAX];
    size_t n = codec_encode_wire(version, m, wire);
    app_rx(app, wire, n, now);
}

static void feed(app_t *app, const msg_t *m, uint64_t now)
{
    feed_version(app, PROTOCOL_VERSION, m, now);
}

static msg_t make(uint8_t type)
{
    msg_t m;
    memset(&m, 0, sizeof m);
    m.type = type;
    return m;
}

/* Decode everything the app transmitted since the last call. */
static void collect(void)
{
    frame_reader_t r;
    frame_reader_init(&r);
    uint8_t body[FRAME_BODY_MAX];
    size_t len = 0;
    nout = 0;
    for (size_t i = 0; i < hal_host.tx_len && nout < MAX_OUT; i++) {
        if (frame_reader_push(&r, hal_host.tx[i], body, &len) == FRAME_OK) {
            CHECK_EQ(codec_decode_body(body, len, PROTOCOL_VERSION, &out[nout]), CODEC_OK);
            nout++;
        }
    }
    CHECK_EQ(r.crc_errors + r.framing_errors, 0);
    hal_host_tx_clear();
}

static const msg_t *last_of(uint8_t type)
{
    for (int i = nout - 1; i >= 0; i--) {
        if (out[i].type == type) {
            return &out[i];
        }
    }
    return NULL;
}

static void control(app_t *app, uint8_t type, uint32_t nonce, uint64_t now)
{
    msg_t m = make(type);
    m.u.arm.nonce = nonce; /* same layout for ARM, DISARM, CLEAR_FAULT */
    feed(app, &m, now);
}

static void no_ramp(app_t *app, uint64_t now)
{
    msg_t m = make(MSG_SET_PARAMS);
    m.u.set_params.nonce = 77;
    m.u.set_params.watchdog_ms = 100;
    m.u.set_params.ramp_ms = 0;
    m.u.set_params.clamp_n = 3.0f;
    feed(app, &m, now);
}

static void command(app_t *app, uint32_t seq, float force, uint64_t now)
{
    msg_t m = make(MSG_COMMAND);
    m.u.command.seq = seq;
    m.u.command.force_n = force;
    feed(app, &m, now);
}

void test_app_hello_device_info(void)
{
    static app_t app;
    start(&app);
    msg_t m = make(MSG_HELLO);
    m.u.hello.nonce = 5;
    feed(&app, &m, 10);
    collect();
    const msg_t *info = last_of(MSG_DEVICE_INFO);
    CHECK(info != NULL);
    if (info == NULL) {
        return;
    }
    CHECK_EQ(info->u.device_info.nonce, 5);
    CHECK_EQ(info->u.device_info.protocol_version, PROTOCOL_VERSION);
    CHECK_EQ(info->u.device_info.schema_hash, codec_schema_hash());
    CHECK_EQ(info->u.device_info.device_type, 0x81);
    CHECK_EQ(info->u.device_info.watchdog_ms, 100);
    CHECK_NEAR(info->u.device_info.clamp_n, 3.0, 0);
    CHECK_EQ(hal_host.tx_discards, 1);
}

void test_app_arm_ack_and_dedup(void)
{
    static app_t app;
    start(&app);
    control(&app, MSG_ARM, 10, 100);
    collect();
    const msg_t *ack = last_of(MSG_ACK);
    CHECK(ack != NULL && ack->u.ack.nonce == 10 && ack->u.ack.result == ACK_OK &&
          ack->u.ack.arm_state == ARM_ARMED && ack->u.ack.request_type == MSG_ARM);
    control(&app, MSG_DISARM, 11, 200);
    CHECK_EQ(app.control.arming.state, ARM_DISARMED);
    /* a late retry of the ARM gets its old answer and is not executed again */
    control(&app, MSG_ARM, 10, 300);
    collect();
    ack = last_of(MSG_ACK);
    CHECK(ack != NULL && ack->u.ack.nonce == 10 && ack->u.ack.arm_state == ARM_ARMED);
    CHECK_EQ(app.control.arming.state, ARM_DISARMED);
    CHECK_EQ(app.counters.ctl_duplicates, 1);
    /* a fresh nonce arms */
    control(&app, MSG_ARM, 12, 400);
    CHECK_EQ(app.control.arming.state, ARM_ARMED);
}

void test_app_command_applied(void)
{
    static app_t app;
    start(&app);
    no_ramp(&app, 0);
    control(&app, MSG_ARM, 1, 0);
    command(&app, 1, 1.5f, 500);
    app_tick(&app, 600);
    hal_host.encoder = 250; /* 2.5 mm */
    command(&app, 2, -0.75f, 1400);
    app_tick(&app, 1500);
    collect();
    const msg_t *st = last_of(MSG_STATE);
    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    CHECK_EQ(st->u.state.seq, 2);
    CHECK_EQ(st->u.state.time_us, 1500);
    CHECK_EQ(st->u.state.last_cmd_seq, 2);
    CHECK_NEAR(st->u.state.force_cmd_n, -0.75, 0);
    CHECK_NEAR(st->u.state.position_m, 0.0025, 1e-7);
    CHECK_EQ(st->u.state.arm_state, ARM_ARMED);
    CHECK_NEAR(hal_host.duty, -0.125, 1e-6);
    CHECK(hal_host.watchdog_kicks == 2);
}

void test_app_corrupt_command_ignored(void)
{
    static app_t app;
    start(&app);
    no_ramp(&app, 0);
    control(&app, MSG_ARM, 1, 0);
    msg_t m = make(MSG_COMMAND);
    m.u.command.seq = 1;
    m.u.command.force_n = 2.0f;
    uint8_t wire[FRAME_WIRE_MAX];
    size_t n = codec_encode_wire(PROTOCOL_VERSION, &m, wire);
    int applied = 0;
    for (size_t byte = 0; byte + 1u < n; byte++) { /* every single-bit error in the frame */
        for (int bit = 0; bit < 8; bit++) {
            uint8_t bad[FRAME_WIRE_MAX];
            memcpy(bad, wire, n);
            bad[byte] ^= (uint8_t)(1u << bit);
            app_rx(&app, bad, n, 100);
            uint8_t flush = 0;
            app_rx(&app, &flush, 1, 100);
            applied += app.control.have_cmd;
        }
    }
    CHECK_EQ(applied, 0);
    app_tick(&app, 1000);
    collect();
    const msg_t *st = last_of(MSG_STATE);
    CHECK(st != NULL && st->u.state.last_cmd_seq == 0 && st->u.state.force_cmd_n == 0.0f);
    CHECK(st != NULL && st->u.state.rx_errors > 0);
    command(&app, 1, 2.0f, 1500);
    app_tick(&app, 2000);
    collect();
    st = last_of(MSG_STATE);
    CHECK(st != NULL && st->u.state.last_cmd_seq == 1);
    CHECK(st != NULL && st->u.state.force_cmd_n == 2.0f);
}

void test_app_watchdog_trips_in_time(void)
{
    static app_t app;
    start(&app);
    no_ramp(&app, 0);
    control(&app, MSG_ARM, 1, 0);
    uint64_t t = 0;
    uint32_t seq = 0;
    for (; t < 200000u; t += 1000u) {
        command(&app, ++seq, 0.5f, t + 100u);
        app_tick(&app, t + 100u);
    }
    uint64_t last_cmd = t - 1000u + 100u;
    uint64_t tripped = 0;
    for (; t < 400000u; t += 1000u) {
        app_tick(&app, t);
        if (app.control.arming.state == ARM_FAULT && tripped == 0) {
            tripped = t;
            CHECK_NEAR(hal_host.duty, 0.0, 0);
        }
    }
    CHECK(tripped >= last_cmd + 100000u && tripped <= last_cmd + 101000u);
    collect();
    const msg_t *st = last_of(MSG_STATE);
    CHECK(st != NULL && st->u.state.arm_state == ARM_FAULT &&
          st->u.state.fault_bits == FAULT_WATCHDOG && st->u.state.force_cmd_n == 0.0f);
    const msg_t *ec = last_of(MSG_ERROR_COUNTERS);
    CHECK(ec != NULL && ec->u.error_counters.watchdog_trips == 1);
    /* fault latched: ARM refused until CLEAR_FAULT */
    control(&app, MSG_ARM, 2, t);
    collect();
    const msg_t *ack = last_of(MSG_ACK);
    CHECK(ack != NULL && ack->u.ack.result == ACK_REFUSED_FAULT);
    control(&app, MSG_CLEAR_FAULT, 3, t);
    control(&app, MSG_ARM, 4, t);
    collect();
    ack = last_of(MSG_ACK);
    CHECK(ack != NULL && ack->u.ack.result == ACK_OK && ack->u.ack.arm_state == ARM_ARMED);
}

void test_app_wrong_version_ignored(void)
{
    static app_t app;
    start(&app);
    no_ramp(&app, 0);
    control(&app, MSG_ARM, 1, 0);
    msg_t m = make(MSG_COMMAND);
    m.u.command.seq = 1;
    m.u.command.force_n = 1.0f;
    feed_version(&app, PROTOCOL_VERSION - 1u, &m, 100); /* a host of the previous version */
    CHECK(!app.control.have_cmd);
    CHECK_EQ(app.counters.rx_version_errors, 1);
    /* HELLO is answered whatever its version, so the host can say what to flash */
    m = make(MSG_HELLO);
    m.u.hello.nonce = 9;
    feed_version(&app, 9, &m, 200);
    collect();
    const msg_t *info = last_of(MSG_DEVICE_INFO);
    CHECK(info != NULL && info->u.device_info.nonce == 9);
}

void test_app_tx_full_drops_whole_frames(void)
{
    static app_t app;
    start(&app);
    hal_host.tx_space_limit = 10; /* less than a STATE frame */
    app_tick(&app, 1000);
    CHECK_EQ(hal_host.tx_len, 0);
    CHECK_EQ(app.counters.tx_dropped, 1);
    hal_host.tx_space_limit = HAL_HOST_TX_CAP;
    app_tick(&app, 2000);
    collect();
    CHECK(nout == 1 && out[0].type == MSG_STATE && out[0].u.state.seq == 2);
}

/* A new host (HELLO) finds the device disarmed at zero force, whatever the last host left. */
void test_app_hello_disarms_and_zeroes(void)
{
    static app_t app;
    start(&app);
    no_ramp(&app, 0);
    control(&app, MSG_ARM, 1, 0);
    command(&app, 1, 1.5f, 500);
    app_tick(&app, 600);
    CHECK(hal_host.duty > 0.2f);
    CHECK_EQ(app.control.arming.state, ARM_ARMED);
    msg_t m = make(MSG_HELLO);
    m.u.hello.nonce = 77;
    feed(&app, &m, 900);
    CHECK_NEAR(hal_host.duty, 0.0, 0); /* at once, not at the next tick */
    CHECK_EQ(app.control.arming.state, ARM_DISARMED);
    app_tick(&app, 1600);
    collect();
    const msg_t *st = last_of(MSG_STATE);
    CHECK(st != NULL && st->u.state.arm_state == ARM_DISARMED && st->u.state.force_cmd_n == 0.0f);
    CHECK_NEAR(hal_host.duty, 0.0, 0);
    /* the new host arms: the old setpoint does not come back, force needs a fresh command */
    control(&app, MSG_ARM, 2, 1700);
    app_tick(&app, 2600);
    CHECK_NEAR(hal_host.duty, 0.0, 0);
    command(&app, 1, 0.6f, 2700); /* its seq restarts: accepted after a HELLO */
    app_tick(&app, 3600);
    collect();
    st = last_of(MSG_STATE);
    CHECK(st != NULL && st->u.state.arm_state == ARM_ARMED && st->u.state.force_cmd_n == 0.6f);
    /* a latched fault stays latched across a HELLO: the new host must see it */
    app_fault(&app, FAULT_STALL);
    m.u.hello.nonce = 78;
    feed(&app, &m, 3700);
    CHECK_EQ(app.control.arming.state, ARM_FAULT);
    CHECK_EQ(app.control.arming.fault_bits, FAULT_STALL);
}

/* Error counters on the wire are u32: 70000 errors read as 70000, not 70000 mod 65536. */
void test_app_state_counters_are_32_bit(void)
{
    static app_t app;
    start(&app);
    app.control.overruns = 70000u;
    app.reader.crc_errors = 69000u;
    app.counters.rx_bad_length = 1000u;
    app_tick(&app, 1000);
    collect();
    const msg_t *st = last_of(MSG_STATE);
    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    CHECK_EQ(st->u.state.rx_errors, 70000u);
    /* the tick itself was on time (first tick); the count carried over */
    CHECK_EQ(st->u.state.overruns, 70000u);
}

/* The current sense does not answer (ADC conversion timed out): force zero in the same tick,
 * FAULT_SENSOR latched, and reported. */
void test_app_sensor_timeout_faults(void)
{
    static app_t app;
    start(&app);
    no_ramp(&app, 0);
    control(&app, MSG_ARM, 1, 0);
    command(&app, 1, 1.5f, 500);
    app_tick(&app, 600);
    CHECK(hal_host.duty > 0.2f);
    hal_host.current_fault = 1;
    command(&app, 2, 1.5f, 1500);
    app_tick(&app, 1600);
    CHECK_NEAR(hal_host.duty, 0.0, 0);
    collect();
    const msg_t *st = last_of(MSG_STATE);
    CHECK(st != NULL && st->u.state.arm_state == ARM_FAULT && st->u.state.force_cmd_n == 0.0f &&
          (st->u.state.fault_bits & FAULT_SENSOR) != 0u && st->u.state.force_meas_n == 0.0f);
    /* the sensor answers again: still latched until CLEAR_FAULT, then ARM works */
    hal_host.current_fault = 0;
    command(&app, 3, 1.5f, 2500);
    app_tick(&app, 2600);
    CHECK_NEAR(hal_host.duty, 0.0, 0);
    control(&app, MSG_CLEAR_FAULT, 2, 2700);
    control(&app, MSG_ARM, 3, 2800);
    command(&app, 4, 1.5f, 3500);
    app_tick(&app, 3600);
    CHECK(hal_host.duty > 0.2f);
}

/* The board's clock jumps back while armed and pushing: the next tick is due at once, runs,
 * latches FAULT_CLOCK and zeroes the motor; STATE keeps streaming on the new time base. */
void test_app_clock_glitch_fails_safe(void)
{
    static app_t app;
    start(&app);
    no_ramp(&app, 0);
    uint64_t t = 1000000u;
    control(&app, MSG_ARM, 1, t);
    uint32_t seq = 0;
    for (; t < 1050000u; t += 1000u) {
        command(&app, ++seq, 1.5f, t + 100u);
        if (app_tick_due(&app, t + 100u)) {
            app_tick(&app, t + 100u);
        }
    }
    CHECK(hal_host.duty > 0.2f);
    CHECK_EQ(app.control.arming.state, ARM_ARMED);
    uint64_t back = 300000u; /* 0.75 s earlier */
    CHECK(app_tick_due(&app, back));
    app_tick(&app, back);
    CHECK_NEAR(hal_host.duty, 0.0, 0);
    CHECK_EQ(app.control.arming.state, ARM_FAULT);
    CHECK(app.control.arming.fault_bits & FAULT_CLOCK);
    hal_host_tx_clear();
    int ticks = 0;
    for (uint64_t now = back + 100u; now < back + 20000u; now += 100u) {
        command(&app, ++seq, 1.5f, now);
        if (app_tick_due(&app, now)) {
            app_tick(&app, now);
            ticks++;
        }
    }
    CHECK(ticks >= 18 && ticks <= 21); /* the grid restarted at the new time */
    collect();
    const msg_t *st = last_of(MSG_STATE);
    CHECK(st != NULL && st->u.state.arm_state == ARM_FAULT && st->u.state.force_cmd_n == 0.0f &&
          (st->u.state.fault_bits & FAULT_CLOCK) != 0u);
    CHECK_NEAR(hal_host.duty, 0.0, 0);
}
