/*
 * Message codec: every message type ↔ the body of a frame ([version][type][payload]).
 *
 * Each message's layout is one row of a table (field name, struct code, offset in msg_t);
 * encode, decode, the schema hash and the host-side describe() all walk that table, so a
 * layout exists in exactly one place. Codes are Python `struct` codes, little-endian:
 * B u8, H u16, I u32, Q u64, f float32, and `<len>s` a fixed run of len bytes copied as is.
 * Each message names the device kinds that speak it; a kind's schema text (and hash) lists
 * only its own messages.
 */
#ifndef HAPTICS_CODEC_H
#define HAPTICS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

typedef struct {
    const char *name;
    char code;
    uint16_t offset; /* within msg_t */
    uint8_t len;     /* bytes of an 's' field; 0 for the others */
} field_def_t;

typedef struct {
    uint8_t type;
    const char *name;
    const field_def_t *fields;
    uint8_t n_fields;
    uint8_t frozen; /* HELLO, DEVICE_INFO: same layout in every protocol version */
    uint8_t kinds;  /* KIND_PADDLE | KIND_TAXEL: the devices that speak it */
} msg_def_t;

enum codec_status {
    CODEC_OK = 0,
    CODEC_ERR_SHORT = 1,        /* fewer than two header bytes */
    CODEC_ERR_VERSION = 2,      /* version byte differs (frozen messages excepted) */
    CODEC_ERR_UNKNOWN_TYPE = 3, /* no such message type */
    CODEC_ERR_LENGTH = 4        /* payload length does not match the layout */
};

/* The table, in type order. */
const msg_def_t *codec_defs(size_t *count);

/* The definition of `type`, or NULL. */
const msg_def_t *codec_def(uint8_t type);

/* Payload size of a message in bytes. */
size_t codec_payload_size(const msg_def_t *def);

/* Encode `m` (m->type selects the layout) with version byte `version` into `body`
 * (room for FRAME_BODY_MAX). Returns the body length, 0 for an unknown type. */
size_t codec_encode_body(uint8_t version, const msg_t *m, uint8_t *body);

/* Encode straight to wire bytes (room for FRAME_WIRE_MAX); returns the length or 0. */
size_t codec_encode_wire(uint8_t version, const msg_t *m, uint8_t *wire);

/*
 * Decode a frame body into `m`. Non-frozen messages must carry `expect_version`; frozen ones
 * decode whatever their version byte (kept in m->version) so a mismatch can be reported.
 * DEVICE_INFO may be longer than its layout (later fields are appended, never changed).
 */
enum codec_status codec_decode_body(const uint8_t *body, size_t n, uint8_t expect_version,
                                    msg_t *m);

/*
 * The schema text hashed into DEVICE_INFO.schema_hash: one line per message in type order,
 * "<type as 2 hex digits> <NAME> <struct format>\n", e.g. "02 COMMAND <IfB\n".
 * Writes at most `cap` bytes (NUL-terminated when room) and returns the full length.
 */
size_t codec_schema_text(char *buf, size_t cap);

/* CRC-32 of the schema text, computed incrementally over the whole text (no buffer, no
 * length limit). */
uint32_t codec_schema_hash(void);

/* The same two for one kind of device (KIND_PADDLE, KIND_TAXEL): only the messages that
 * kind speaks. codec_schema_text() and codec_schema_hash() are the paddle's. */
size_t codec_schema_text_kind(uint8_t kind, char *buf, size_t cap);
uint32_t codec_schema_hash_kind(uint8_t kind);

/* The same for any message table, every row (tests: a text longer than any buffer). */
size_t codec_schema_text_of(const msg_def_t *table, size_t count, char *buf, size_t cap);
uint32_t codec_schema_hash_of(const msg_def_t *table, size_t count);

/* Host builds only (needs snprintf): "name=value name=value ..." in layout order; floats as
 * %.9g of the float32 value. Returns the length written (truncated to cap - 1). */
int codec_describe(const msg_t *m, char *buf, size_t cap);

#endif
