#include "codec.h"

#include <string.h>

#include "crc32.h"
#include "framing.h"

#define F(msg, member, code) {#member, code, (uint16_t)offsetof(msg_t, u.msg.member), 0u}
#define FBYTES(msg, member)                                                        \
    {#member, 's', (uint16_t)offsetof(msg_t, u.msg.member),                        \
     (uint8_t)sizeof(((msg_t *)0)->u.msg.member)}
#define DEF(type, name, fields, frozen, kinds) \
    {type, name, fields, (uint8_t)(sizeof fields / sizeof fields[0]), frozen, kinds}
#define BOTH (KIND_PADDLE | KIND_TAXEL)

static const field_def_t hello_fields[] = {F(hello, nonce, 'I')};
static const field_def_t command_fields[] = {
    F(command, seq, 'I'), F(command, force_n, 'f'), F(command, flags, 'B')};
static const field_def_t arm_fields[] = {F(arm, nonce, 'I')};
static const field_def_t disarm_fields[] = {F(disarm, nonce, 'I')};
static const field_def_t clear_fault_fields[] = {F(clear_fault, nonce, 'I')};
static const field_def_t heartbeat_fields[] = {F(heartbeat, counter, 'I')};
static const field_def_t time_sync_fields[] = {F(time_sync, host_time_us, 'Q')};
static const field_def_t set_params_fields[] = {
    F(set_params, nonce, 'I'),     F(set_params, watchdog_ms, 'H'), F(set_params, ramp_ms, 'H'),
    F(set_params, clamp_n, 'f'),   F(set_params, spring_k, 'f'),    F(set_params, damping_b, 'f'),
    F(set_params, anchor_m, 'f')};
static const field_def_t device_info_fields[] = {
    F(device_info, nonce, 'I'),          F(device_info, protocol_version, 'B'),
    F(device_info, fw_major, 'B'),       F(device_info, fw_minor, 'B'),
    F(device_info, fw_patch, 'B'),       F(device_info, device_type, 'B'),
    F(device_info, axes, 'B'),           F(device_info, capabilities, 'H'),
    F(device_info, schema_hash, 'I'),    F(device_info, serial, 'I'),
    F(device_info, rate_hz, 'H'),        F(device_info, watchdog_ms, 'H'),
    F(device_info, position_lsb_m, 'f'), F(device_info, force_lsb_n, 'f'),
    F(device_info, max_force_n, 'f'),    F(device_info, clamp_n, 'f')};
static const field_def_t state_fields[] = {
    F(state, seq, 'I'),          F(state, time_us, 'Q'),      F(state, last_cmd_seq, 'I'),
    F(state, position_m, 'f'),   F(state, velocity_mps, 'f'), F(state, force_cmd_n, 'f'),
    F(state, force_meas_n, 'f'), F(state, arm_state, 'B'),    F(state, flags, 'B'),
    F(state, fault_bits, 'H'),   F(state, rx_errors, 'I'),    F(state, overruns, 'I')};
static const field_def_t ack_fields[] = {
    F(ack, nonce, 'I'), F(ack, request_type, 'B'), F(ack, result, 'B'), F(ack, arm_state, 'B'),
    F(ack, fault_bits, 'H')};
static const field_def_t heartbeat_reply_fields[] = {
    F(heartbeat_reply, counter, 'I'), F(heartbeat_reply, device_time_us, 'Q')};
static const field_def_t time_sync_reply_fields[] = {
    F(time_sync_reply, host_time_us, 'Q'), F(time_sync_reply, device_time_us, 'Q')};
static const field_def_t error_counters_fields[] = {
    F(error_counters, rx_frames, 'I'),         F(error_counters, rx_crc_errors, 'I'),
    F(error_counters, rx_framing_errors, 'I'), F(error_counters, rx_version_errors, 'I'),
    F(error_counters, rx_unknown_type, 'I'),   F(error_counters, rx_bad_length, 'I'),
    F(error_counters, rx_stale_commands, 'I'), F(error_counters, ctl_duplicates, 'I'),
    F(error_counters, loop_overruns, 'I'),     F(error_counters, watchdog_trips, 'I'),
    F(error_counters, tx_dropped, 'I')};
static const field_def_t taxel_info_fields[] = {
    F(taxel_info, nonce, 'I'),           F(taxel_info, rows, 'B'),
    F(taxel_info, cols, 'B'),            F(taxel_info, chunk_values, 'B'),
    F(taxel_info, chunks, 'B'),          F(taxel_info, frame_rate_hz, 'f'),
    F(taxel_info, pitch_m, 'f'),         F(taxel_info, pressure_lsb_pa, 'f'),
    F(taxel_info, max_count, 'H'),       F(taxel_info, scan_us, 'I')};
static const field_def_t taxel_frame_fields[] = {
    F(taxel_frame, frame_seq, 'I'), F(taxel_frame, time_us, 'Q'), F(taxel_frame, chunk, 'B'),
    F(taxel_frame, chunks, 'B'),    F(taxel_frame, flags, 'H'),   FBYTES(taxel_frame, values)};

static const msg_def_t defs[] = {
    DEF(MSG_HELLO, "HELLO", hello_fields, 1, BOTH),
    DEF(MSG_COMMAND, "COMMAND", command_fields, 0, KIND_PADDLE),
    DEF(MSG_ARM, "ARM", arm_fields, 0, KIND_PADDLE),
    DEF(MSG_DISARM, "DISARM", disarm_fields, 0, KIND_PADDLE),
    DEF(MSG_CLEAR_FAULT, "CLEAR_FAULT", clear_fault_fields, 0, KIND_PADDLE),
    DEF(MSG_HEARTBEAT, "HEARTBEAT", heartbeat_fields, 0, BOTH),
    DEF(MSG_TIME_SYNC, "TIME_SYNC", time_sync_fields, 0, BOTH),
    DEF(MSG_SET_PARAMS, "SET_PARAMS", set_params_fields, 0, KIND_PADDLE),
    DEF(MSG_DEVICE_INFO, "DEVICE_INFO", device_info_fields, 1, BOTH),
    DEF(MSG_STATE, "STATE", state_fields, 0, KIND_PADDLE),
    DEF(MSG_ACK, "ACK", ack_fields, 0, KIND_PADDLE),
    DEF(MSG_HEARTBEAT_REPLY, "HEARTBEAT_REPLY", heartbeat_reply_fields, 0, BOTH),
    DEF(MSG_TIME_SYNC_REPLY, "TIME_SYNC_REPLY", time_sync_reply_fields, 0, BOTH),
    DEF(MSG_ERROR_COUNTERS, "ERROR_COUNTERS", error_counters_fields, 0, BOTH),
    DEF(MSG_TAXEL_INFO, "TAXEL_INFO", taxel_info_fields, 0, KIND_TAXEL),
    DEF(MSG_TAXEL_FRAME, "TAXEL_FRAME", taxel_frame_fields, 0, KIND_TAXEL),
};

const msg_def_t *codec_defs(size_t *count)
{
    *count = sizeof defs / sizeof defs[0];
    return defs;
}

const msg_def_t *codec_def(uint8_t type)
{
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        if (defs[i].type == type) {
            return &defs[i];
        }
    }
    return NULL;
}

static size_t code_size(char code)
{
    switch (code) {
    case 'B':
        return 1;
    case 'H':
        return 2;
    case 'I':
    case 'f':
        return 4;
    case 'Q':
        return 8;
    default:
        return 0;
    }
}

static size_t field_size(const field_def_t *f)
{
    return f->code == 's' ? f->len : code_size(f->code);
}

size_t codec_payload_size(const msg_def_t *def)
{
    size_t n = 0;
    for (uint8_t i = 0; i < def->n_fields; i++) {
        n += field_size(&def->fields[i]);
    }
    return n;
}

/* Little-endian field access, independent of the host's byte order. */
static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8u * i));
    }
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8u * i);
    }
    return v;
}

static uint64_t load_field(const msg_t *m, const field_def_t *f)
{
    const uint8_t *base = (const uint8_t *)m + f->offset;
    switch (f->code) {
    case 'B':
        return *base;
    case 'H': {
        uint16_t v;
        memcpy(&v, base, sizeof v);
        return v;
    }
    case 'I':
    case 'f': {
        uint32_t v; /* a float's bit pattern, copied as is */
        memcpy(&v, base, sizeof v);
        return v;
    }
    default: {
        uint64_t v;
        memcpy(&v, base, sizeof v);
        return v;
    }
    }
}

static void store_field(msg_t *m, const field_def_t *f, uint64_t v)
{
    uint8_t *base = (uint8_t *)m + f->offset;
    switch (f->code) {
    case 'B':
        *base = (uint8_t)v;
        break;
    case 'H': {
        uint16_t x = (uint16_t)v;
        memcpy(base, &x, sizeof x);
        break;
    }
    case 'I':
    case 'f': {
        uint32_t x = (uint32_t)v;
        memcpy(base, &x, sizeof x);
        break;
    }
    default:
        memcpy(base, &v, sizeof v);
        break;
    }
}

size_t codec_encode_body(uint8_t version, const msg_t *m, uint8_t *body)
{
    const msg_def_t *def = codec_def(m->type);
    if (def == NULL) {
        return 0;
    }
    body[0] = version;
    body[1] = m->type;
    size_t o = FRAME_HEADER_SIZE;
    for (uint8_t i = 0; i < def->n_fields; i++) {
        const field_def_t *f = &def->fields[i];
        size_t n = field_size(f);
        if (f->code == 's') {
            memcpy(body + o, (const uint8_t *)m + f->offset, n);
        } else {
            put_le(body + o, load_field(m, f), n);
        }
        o += n;
    }
    return o;
}

size_t codec_encode_wire(uint8_t version, const msg_t *m, uint8_t *wire)
{
    uint8_t body[FRAME_BODY_MAX];
    size_t n = codec_encode_body(version, m, body);
    return n ? frame_encode(body, n, wire) : 0u;
}

enum codec_status codec_decode_body(const uint8_t *body, size_t n, uint8_t expect_version,
                                    msg_t *m)
{
    if (n < FRAME_HEADER_SIZE) {
        return CODEC_ERR_SHORT;
    }
    const msg_def_t *def = codec_def(body[1]);
    if (def == NULL) {
        return body[0] == expect_version ? CODEC_ERR_UNKNOWN_TYPE : CODEC_ERR_VERSION;
    }
    if (!def->frozen && body[0] != expect_version) {
        return CODEC_ERR_VERSION;
    }
    size_t want = codec_payload_size(def);
    size_t have = n - FRAME_HEADER_SIZE;
    if (have < want || (have > want && def->type != MSG_DEVICE_INFO)) {
        return CODEC_ERR_LENGTH;
    }
    memset(m, 0, sizeof *m);
    m->version = body[0];
    m->type = body[1];
    size_t o = FRAME_HEADER_SIZE;
    for (uint8_t i = 0; i < def->n_fields; i++) {
        const field_def_t *f = &def->fields[i];
        size_t fn = field_size(f);
        if (f->code == 's') {
            memcpy((uint8_t *)m + f->offset, body + o, fn);
        } else {
            store_field(m, f, get_le(body + o, fn));
        }
        o += fn;
    }
    return CODEC_OK;
}

/*
 * The schema text is produced piece by piece into a sink, so the hash needs no buffer and
 * has no length limit: the CRC runs over the pieces as they come.
 */
typedef void (*text_sink_t)(void *ctx, const char *s);

static void schema_walk(const msg_def_t *table, size_t count, uint8_t kinds, text_sink_t sink,
                        void *ctx)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t d = 0; d < count; d++) {
        if (kinds != 0u && (table[d].kinds & kinds) == 0u) { /* 0: every row */
            continue;
        }
        char head[4] = {hex[table[d].type >> 4], hex[table[d].type & 0xFu], ' ', '\0'};
        sink(ctx, head);
        sink(ctx, table[d].name);
        sink(ctx, " <");
        for (uint8_t i = 0; i < table[d].n_fields; i++) {
            const field_def_t *f = &table[d].fields[i];
            if (f->code == 's') { /* "<len>s", as Python's struct writes it */
                char len[4] = {'\0', '\0', '\0', '\0'};
                unsigned v = f->len, k = 0;
                if (v >= 100u) {
                    len[k++] = (char)('0' + v / 100u);
                }
                if (v >= 10u) {
                    len[k++] = (char)('0' + v / 10u % 10u);
                }
                len[k] = (char)('0' + v % 10u);
                sink(ctx, len);
            }
            char code[2] = {f->code, '\0'};
            sink(ctx, code);
        }
        sink(ctx, "\n");
    }
}

typedef struct {
    char *buf;
    size_t cap;
    size_t len; /* the full length, even past cap */
} text_buf_t;

static void text_sink(void *ctx, const char *s)
{
    text_buf_t *t = ctx;
    for (; *s != '\0'; s++, t->len++) {
        if (t->len + 1u < t->cap) {
            t->buf[t->len] = *s;
        }
    }
    if (t->cap > 0u) {
        t->buf[t->len < t->cap ? t->len : t->cap - 1u] = '\0';
    }
}

static void crc_sink(void *ctx, const char *s)
{
    uint32_t *state = ctx;
    for (; *s != '\0'; s++) { /* byte by byte: no strlen on the boards' minimal libc */
        *state = crc32_ieee_update(*state, (const uint8_t *)s, 1u);
    }
}

static size_t schema_text(const msg_def_t *table, size_t count, uint8_t kinds, char *buf,
                          size_t cap)
{
    text_buf_t t = {buf, cap, 0u};
    if (cap > 0u) {
        buf[0] = '\0';
    }
    schema_walk(table, count, kinds, text_sink, &t);
    return t.len;
}

static uint32_t schema_hash(const msg_def_t *table, size_t count, uint8_t kinds)
{
    uint32_t state = CRC32_IEEE_INIT;
    schema_walk(table, count, kinds, crc_sink, &state);
    return state ^ 0xFFFFFFFFu;
}

size_t codec_schema_text_of(const msg_def_t *table, size_t count, char *buf, size_t cap)
{
    return schema_text(table, count, 0u, buf, cap);
}

uint32_t codec_schema_hash_of(const msg_def_t *table, size_t count)
{
    return schema_hash(table, count, 0u);
}

size_t codec_schema_text_kind(uint8_t kind, char *buf, size_t cap)
{
    return schema_text(defs, sizeof defs / sizeof defs[0], kind, buf, cap);
}

uint32_t codec_schema_hash_kind(uint8_t kind)
{
    return schema_hash(defs, sizeof defs / sizeof defs[0], kind);
}

size_t codec_schema_text(char *buf, size_t cap)
{
    return codec_schema_text_kind(KIND_PADDLE, buf, cap);
}

uint32_t codec_schema_hash(void)
{
    return codec_schema_hash_kind(KIND_PADDLE);
}
