/*
 * Wire protocol between the haptics host driver and the device firmware.
 *
 * The normative description is firmware/PROTOCOL.md; this header holds the same facts as C
 * constants and message structs. The byte layout of each message lives in one table in
 * codec.c (and, mirrored, in drivers/serial/protocol.py); firmware/test_vectors/vectors.txt
 * pins both to the same bytes.
 */
#ifndef HAPTICS_PROTOCOL_H
#define HAPTICS_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTOCOL_VERSION 2u

/* A frame before COBS: [version u8][type u8][payload ...][crc16 LE]. */
#define FRAME_HEADER_SIZE 2u
#define FRAME_CRC_SIZE 2u
#define FRAME_RAW_MAX 255u                                   /* header + payload + crc */
#define FRAME_BODY_MAX (FRAME_RAW_MAX - FRAME_CRC_SIZE)      /* header + payload: 253 */
#define FRAME_PAYLOAD_MAX (FRAME_BODY_MAX - FRAME_HEADER_SIZE) /* 251 */
#define FRAME_ENCODED_MAX 257u                               /* COBS(255 bytes) */
#define FRAME_WIRE_MAX (FRAME_ENCODED_MAX + 1u)              /* + 0x00 delimiter */

/* Message types. Host → device: 0x01..0x7F; device → host: 0x81..0xFF. */
enum msg_type {
    MSG_HELLO = 0x01,
    MSG_COMMAND = 0x02,
    MSG_ARM = 0x03,
    MSG_DISARM = 0x04,
    MSG_CLEAR_FAULT = 0x05,
    MSG_HEARTBEAT = 0x06,
    MSG_TIME_SYNC = 0x07,
    MSG_SET_PARAMS = 0x08,
    MSG_DEVICE_INFO = 0x81,
    MSG_STATE = 0x82,
    MSG_ACK = 0x83,
    MSG_HEARTBEAT_REPLY = 0x84,
    MSG_TIME_SYNC_REPLY = 0x85,
    MSG_ERROR_COUNTERS = 0x86,
    MSG_TAXEL_INFO = 0x90,  /* taxel boards: matrix geometry and scale, answers HELLO */
    MSG_TAXEL_FRAME = 0x91  /* taxel boards: one chunk of a scanned pressure frame */
};

/* Which kinds of device speak a message (msg_def_t.kinds): each kind's schema hash covers
 * exactly its own messages, so adding the taxel board left the paddle's schema unchanged. */
#define KIND_PADDLE (1u << 0)
#define KIND_TAXEL (1u << 1)

/* Arming states (STATE.arm_state, ACK.arm_state). */
enum arm_state { ARM_DISARMED = 0, ARM_ARMED = 1, ARM_FAULT = 2 };

/* Latched fault bits (STATE.fault_bits); cleared only by CLEAR_FAULT. */
#define FAULT_WATCHDOG (1u << 0) /* armed and no valid COMMAND within the watchdog period */
#define FAULT_STALL (1u << 1)    /* control loop ran late by more than the stall limit */
#define FAULT_HW_RESET (1u << 2) /* the hardware watchdog reset the chip */
#define FAULT_SENSOR (1u << 3)   /* a sensor did not answer in time (current-sense ADC) */
#define FAULT_CLOCK (1u << 4)    /* armed, the clock read earlier than before: time glitch */

/* STATE.flags: facts about the force of this tick. */
#define STATE_FLAG_CLAMPED (1u << 0)      /* the force clamp limited the command */
#define STATE_FLAG_RAMPING (1u << 1)      /* force is ramping in after ARM */
#define STATE_FLAG_SATURATED (1u << 2)    /* motor drive at its limit */
#define STATE_FLAG_LOCAL_SPRING (1u << 3) /* the local spring-damper is being rendered */

/* COMMAND.flags */
#define COMMAND_FLAG_LOCAL_SPRING (1u << 0) /* add the SET_PARAMS spring-damper to the force */

/* ACK.result */
enum ack_result { ACK_OK = 0, ACK_REFUSED_FAULT = 1, ACK_INVALID = 2, ACK_UNSUPPORTED = 3 };

/* DEVICE_INFO.device_type: low 7 bits the kind, bit 7 set for an emulator. */
#define DEVICE_TYPE_PADDLE 0x01u
#define DEVICE_TYPE_TAXEL 0x02u
#define DEVICE_TYPE_KIND_MASK 0x7Fu
#define DEVICE_TYPE_EMULATED 0x80u

/* DEVICE_INFO.capabilities */
#define CAP_LOCAL_SPRING (1u << 0)
#define CAP_TIME_SYNC (1u << 1)
#define CAP_HW_WATCHDOG (1u << 2)
#define CAP_TICK_SYNC (1u << 3)
#define CAP_CURRENT_SENSE (1u << 4)

/* Host → device */
typedef struct {
    uint32_t nonce;
} msg_nonce_t; /* HELLO, ARM, DISARM, CLEAR_FAULT */

typedef struct {
    uint32_t seq;
    float force_n;
    uint8_t flags;
} msg_command_t;

typedef struct {
    uint32_t counter;
} msg_heartbeat_t;

typedef struct {
    uint64_t host_time_us;
} msg_time_sync_t;

typedef struct {
    uint32_t nonce;
    uint16_t watchdog_ms;
    uint16_t ramp_ms;
    float clamp_n;
    float spring_k;  /* N/m */
    float damping_b; /* N·s/m */
    float anchor_m;
} msg_set_params_t;

/* Device → host */
typedef struct {
    uint32_t nonce;
    uint8_t protocol_version;
    uint8_t fw_major;
    uint8_t fw_minor;
    uint8_t fw_patch;
    uint8_t device_type;
    uint8_t axes;
    uint16_t capabilities;
    uint32_t schema_hash;
    uint32_t serial;
    uint16_t rate_hz;
    uint16_t watchdog_ms;
    float position_lsb_m;
    float force_lsb_n;
    float max_force_n;
    float clamp_n;
} msg_device_info_t;

typedef struct {
    uint32_t seq;
    uint64_t time_us;
    uint32_t last_cmd_seq;
    float position_m;
    float velocity_mps;
    float force_cmd_n;
    float force_meas_n;
    uint8_t arm_state;
    uint8_t flags;
    uint16_t fault_bits;
    uint32_t rx_errors; /* wrapping u32 (protocol v2; u16 in v1) */
    uint32_t overruns;
} msg_state_t;

typedef struct {
    uint32_t nonce;
    uint8_t request_type;
    uint8_t result;
    uint8_t arm_state;
    uint16_t fault_bits;
} msg_ack_t;

typedef struct {
    uint32_t counter;
    uint64_t device_time_us;
} msg_heartbeat_reply_t;

typedef struct {
    uint64_t host_time_us;
    uint64_t device_time_us;
} msg_time_sync_reply_t;

typedef struct {
    uint32_t rx_frames;
    uint32_t rx_crc_errors;
    uint32_t rx_framing_errors;
    uint32_t rx_version_errors;
    uint32_t rx_unknown_type;
    uint32_t rx_bad_length;
    uint32_t rx_stale_commands;
    uint32_t ctl_duplicates;
    uint32_t loop_overruns;
    uint32_t watchdog_trips;
    uint32_t tx_dropped;
} msg_error_counters_t;

/* Taxel boards (PROTOCOL.md §11). A frame is rows × cols u16 ADC counts, row-major, sent as
 * ceil(rows·cols / TAXEL_CHUNK_VALUES) TAXEL_FRAME chunks of TAXEL_CHUNK_VALUES values each
 * (the last one zero-padded), so every chunk has the same layout and fits one frame. */
#define TAXEL_CHUNK_VALUES 112u
#define TAXEL_CHUNK_BYTES (2u * TAXEL_CHUNK_VALUES)

/* TAXEL_FRAME.flags: facts about the whole frame (the same in each of its chunks). */
#define TAXEL_FLAG_SATURATED (1u << 0) /* some taxel read the ADC's full scale */
#define TAXEL_FLAG_SENSOR (1u << 1)    /* a row's ADC did not answer in time: that row is 0 */
#define TAXEL_FLAG_LATE (1u << 2)      /* the scan started more than 1.5 periods after the last */

typedef struct {
    uint32_t nonce;          /* the HELLO's, like DEVICE_INFO */
    uint8_t rows;
    uint8_t cols;
    uint8_t chunk_values;    /* TAXEL_CHUNK_VALUES */
    uint8_t chunks;          /* chunks per frame */
    float frame_rate_hz;
    float pitch_m;           /* centre-to-centre taxel spacing, rows and columns */
    float pressure_lsb_pa;   /* pascals per ADC count */
    uint16_t max_count;      /* ADC full scale */
    uint32_t scan_us;        /* time to scan one whole frame */
} msg_taxel_info_t;

typedef struct {
    uint32_t frame_seq;      /* from 1 at boot, +1 per frame; gaps are frames lost */
    uint64_t time_us;        /* device time the scan of this frame began */
    uint8_t chunk;           /* 0 .. chunks-1 */
    uint8_t chunks;
    uint16_t flags;          /* TAXEL_FLAG_* */
    uint8_t values[TAXEL_CHUNK_BYTES]; /* u16 little-endian counts, as on the wire */
} msg_taxel_frame_t;

/* One decoded message of any type. */
typedef struct {
    uint8_t version;
    uint8_t type;
    union {
        msg_nonce_t hello;
        msg_command_t command;
        msg_nonce_t arm;
        msg_nonce_t disarm;
        msg_nonce_t clear_fault;
        msg_heartbeat_t heartbeat;
        msg_time_sync_t time_sync;
        msg_set_params_t set_params;
        msg_device_info_t device_info;
        msg_state_t state;
        msg_ack_t ack;
        msg_heartbeat_reply_t heartbeat_reply;
        msg_time_sync_reply_t time_sync_reply;
        msg_error_counters_t error_counters;
        msg_taxel_info_t taxel_info;
        msg_taxel_frame_t taxel_frame;
    } u;
} msg_t;

#endif
