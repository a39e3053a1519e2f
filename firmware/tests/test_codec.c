/* The message codec against the shared vectors: schema, layouts, frames, rejects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crc32.h"
#include "framing.h"
#include "harness.h"
#include "vectors.h"

static uint8_t wire[8192];

void test_schema_matches_vectors(void)
{
    static char want[2048], have[2048];
    size_t len = 0;
    int lines = 0;
    uint32_t hash = 0;
    for (int i = 0; i < vectors_count(); i++) {
        const vector_t *v = vectors_get(i);
        if (strcmp(v->tok[0], "schema_line") == 0 && v->ntok == 4) {
            len += (size_t)snprintf(want + len, sizeof want - len, "%s %s %s\n", v->tok[1],
                                    v->tok[2], v->tok[3]);
            lines++;
        } else if (strcmp(v->tok[0], "schema") == 0) {
            hash = (uint32_t)strtoul(v->tok[1], NULL, 16);
        }
    }
    size_t n = codec_schema_text(have, sizeof have);
    CHECK(lines > 0);
    CHECK_EQ(n, len);
    if (strcmp(have, want) != 0) {
        harness_fail(__FILE__, __LINE__, "schema text differs:\n--- C\n%s--- vectors\n%s", have,
                     want);
    }
    CHECK_EQ(codec_schema_hash(), hash);
}

static size_t format_size(const char *fmt)
{
    size_t n = 0;
    for (const char *p = fmt + 1; *p; p++) {
        if (*p >= '0' && *p <= '9') { /* "<len>s": len bytes */
            char *end;
            n += (size_t)strtoul(p, &end, 10);
            p = end;
            continue;
        }
        n += *p == 'B' ? 1u : *p == 'H' ? 2u : *p == 'Q' ? 8u : 4u;
    }
    return n;
}

void test_codec_sizes_match_formats(void)
{
    size_t count = 0;
    const msg_def_t *defs = codec_defs(&count);
    CHECK(count == 16);
    for (size_t i = 0; i < count; i++) {
        char fmt[64] = "<";
        size_t o = 1;
        for (uint8_t k = 0; k < defs[i].n_fields; k++) {
            if (defs[i].fields[k].code == 's') {
                o += (size_t)snprintf(fmt + o, sizeof fmt - o, "%u", defs[i].fields[k].len);
            }
            fmt[o++] = defs[i].fields[k].code;
            fmt[o] = '\0';
        }
        CHECK(defs[i].kinds != 0u);
        CHECK_EQ(codec_payload_size(&defs[i]), format_size(fmt));
        CHECK(codec_payload_size(&defs[i]) <= FRAME_PAYLOAD_MAX);
        CHECK(codec_def(defs[i].type) == &defs[i]);
        if (i > 0) {
            CHECK(defs[i].type > defs[i - 1].type); /* schema text is in type order */
        }
    }
    CHECK(codec_def(0x40) == NULL);
}

/* Run a whole wire frame through a fresh frame reader; returns the status of its end. */
static enum frame_status read_frame(const uint8_t *w, size_t n, uint8_t *body, size_t *len)
{
    frame_reader_t r;
    frame_reader_init(&r);
    enum frame_status last = FRAME_NONE;
    for (size_t i = 0; i < n; i++) {
        enum frame_status s = frame_reader_push(&r, w[i], body, len);
        if (s != FRAME_NONE) {
            last = s;
        }
    }
    return last;
}

static void join_fields(const vector_t *v, int from, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int k = from; k < v->ntok; k++) {
        len += (size_t)snprintf(out + len, cap - len, "%s%s", k > from ? " " : "", v->tok[k]);
    }
}

void test_frame_vectors_decode(void)
{
    int seen = 0;
    for (int i = 0; i < vectors_count(); i++) {
        const vector_t *v = vectors_get(i);
        if (strcmp(v->tok[0], "frame") != 0) {
            continue;
        }
        seen++;
        long n = hex_decode(v->tok[2], wire, sizeof wire);
        CHECK(n > 0);
        uint8_t body[FRAME_BODY_MAX];
        size_t len = 0;
        CHECK_EQ(read_frame(wire, (size_t)n, body, &len), FRAME_OK);
        msg_t m;
        CHECK_EQ(codec_decode_body(body, len, PROTOCOL_VERSION, &m), CODEC_OK);
        const msg_def_t *def = codec_def(m.type);
        CHECK(def != NULL && strcmp(def->name, v->tok[1]) == 0);
        char want[1024], have[1024];
        join_fields(v, 3, want, sizeof want);
        codec_describe(&m, have, sizeof have);
        if (strcmp(want, have) != 0) {
            harness_fail(__FILE__, __LINE__, "line %d %s:\n  want %s\n  have %s", v->lineno,
                         v->tok[1], want, have);
        }
    }
    CHECK(seen >= 16);
}

void test_frame_vectors_encode(void)
{
    for (int i = 0; i < vectors_count(); i++) {
        const vector_t *v = vectors_get(i);
        if (strcmp(v->tok[0], "frame") != 0) {
            continue;
        }
        long n = hex_decode(v->tok[2], wire, sizeof wire);
        uint8_t body[FRAME_BODY_MAX];
        size_t len = 0;
        msg_t m;
        if (n <= 0 || read_frame(wire, (size_t)n, body, &len) != FRAME_OK ||
            codec_decode_body(body, len, PROTOCOL_VERSION, &m) != CODEC_OK) {
            harness_fail(__FILE__, __LINE__, "line %d does not decode", v->lineno);
            continue;
        }
        uint8_t again[FRAME_WIRE_MAX];
        size_t an = codec_encode_wire(m.version, &m, again);
        CHECK_EQ(an, (size_t)n);
        if (an != (size_t)n || memcmp(again, wire, an) != 0) {
            harness_fail(__FILE__, __LINE__, "line %d %s: re-encoded bytes differ", v->lineno,
                         v->tok[1]);
        }
    }
}

void test_reject_vectors(void)
{
    int seen = 0;
    for (int i = 0; i < vectors_count(); i++) {
        const vector_t *v = vectors_get(i);
        if (strcmp(v->tok[0], "reject") != 0) {
            continue;
        }
        seen++;
        const char *why = v->tok[1];
        long n = hex_decode(v->tok[2], wire, sizeof wire);
        CHECK(n > 0);
        uint8_t body[FRAME_BODY_MAX];
        size_t len = 0;
        enum frame_status s = read_frame(wire, (size_t)n, body, &len);
        enum frame_status want_frame = strcmp(why, "cobs") == 0    ? FRAME_ERR_COBS
                                       : strcmp(why, "short") == 0 ? FRAME_ERR_SHORT
                                       : strcmp(why, "long") == 0  ? FRAME_ERR_LONG
                                       : strcmp(why, "crc") == 0   ? FRAME_ERR_CRC
                                                                   : FRAME_OK;
        if (s != want_frame) {
            harness_fail(__FILE__, __LINE__, "line %d: frame status %d, want %d (%s)", v->lineno,
                         (int)s, (int)want_frame, why);
            continue;
        }
        if (want_frame != FRAME_OK) {
            continue;
        }
        msg_t m;
        enum codec_status cs = codec_decode_body(body, len, PROTOCOL_VERSION, &m);
        enum codec_status want = strcmp(why, "version") == 0        ? CODEC_ERR_VERSION
                                 : strcmp(why, "unknown_type") == 0 ? CODEC_ERR_UNKNOWN_TYPE
                                                                    : CODEC_ERR_LENGTH;
        if (cs != want) {
            harness_fail(__FILE__, __LINE__, "line %d: codec status %d, want %d (%s)", v->lineno,
                         (int)cs, (int)want, why);
        }
    }
    CHECK(seen >= 8);
}

/* The schema hash covers the whole schema text, however long: a table whose text is several
 * KiB (64 messages of 40 fields) hashes to the CRC-32 of all of it, and a change in its last
 * line changes the hash. */
void test_schema_hash_has_no_length_limit(void)
{
    enum { N_MSG = 64, N_FIELD = 40 };
    static field_def_t fields[N_FIELD];
    static msg_def_t table[N_MSG];
    static char names[N_MSG][40];
    static char text[16384];
    for (int i = 0; i < N_FIELD; i++) {
        fields[i].name = "f";
        fields[i].code = "BHIQf"[i % 5];
        fields[i].offset = 0;
    }
    for (int d = 0; d < N_MSG; d++) {
        snprintf(names[d], sizeof names[d], "A_LONG_MESSAGE_NAME_%02d", d);
        table[d].type = (uint8_t)(d + 1);
        table[d].name = names[d];
        table[d].fields = fields;
        table[d].n_fields = N_FIELD;
        table[d].frozen = 0;
    }
    size_t n = codec_schema_text_of(table, N_MSG, text, sizeof text);
    CHECK(n > 4096u && n < sizeof text);
    uint32_t whole = crc32_ieee((const uint8_t *)text, n);
    CHECK_EQ(codec_schema_hash_of(table, N_MSG), whole);
    table[N_MSG - 1].n_fields = N_FIELD - 1; /* only the last line changes */
    CHECK(codec_schema_hash_of(table, N_MSG) != whole);
    /* the real table: the hash is the CRC-32 of its full text */
    n = codec_schema_text(text, sizeof text);
    CHECK_EQ(codec_schema_hash(), crc32_ieee((const uint8_t *)text, n));
}
