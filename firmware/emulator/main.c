/*
 * haptics-emulator: the firmware core, built for the host, on a simulated paddle (--kind
 * paddle) or a simulated taxel matrix (--kind taxel), talking the real protocol over a
 * pseudo-terminal.
 *
 * Prints the pty path as the first line on stdout, then streams STATE at the tick rate (a
 * paddle) or TAXEL_FRAME chunks at the frame rate (a taxel board).
 * Two threads mirror a microcontroller's two interrupts: the tick thread sleeps with
 * clock_nanosleep to absolute deadlines (the timer interrupt), the receive thread blocks on
 * the pty and handles frames the moment they arrive (the UART interrupt); a mutex stands in
 * for the critical sections. SIGTERM or SIGINT: force to zero, files closed, exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "codec.h"
#include "hal.h"
#include "hal_emulator.h"
#include "protocol.h"
#include "taxel_app.h"
#include "taxel_board.h"

#define FW_MAJOR 1
#define FW_MINOR 0
#define FW_PATCH 0

static volatile sig_atomic_t stop_requested;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static app_t app;
static taxel_app_t taxel;
static int is_taxel;
static unsigned long inject_every; /* taxel test hook: bad frames after every Nth frame */
static FILE *command_log;
static char link_path[512];
static char registry_path[512];

typedef struct {
    double rate_hz;
    unsigned watchdog_ms;
    unsigned stall_ms;
    unsigned protocol_version;
    unsigned long schema_hash;
    unsigned long serial;
    int tick_sync;
    int realtime;
    int exit_with_parent;
    const char *link;
    const char *command_log;
    const char *kind;
    unsigned rows;
    unsigned cols;
    double pitch_mm;
    unsigned long inject_bad_every;
} options_t;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: haptics-emulator [options]\n"
            "  --kind paddle|taxel    device to emulate (default paddle)\n"
            "  --rate HZ              paddle: tick and STATE rate (default 1000);\n"
            "                         taxel: frame rate (default 200)\n"
            "  --rows N, --cols N     taxel: matrix size, 1..64 each (default 16 x 16)\n"
            "  --pitch-mm MM          taxel: taxel spacing (default 2)\n"
            "  --watchdog-ms MS       command watchdog period (default 100)\n"
            "  --stall-ms MS          loop stall that latches a fault (default 50)\n"
            "  --link PATH            also make PATH a symlink to the pty (stable name)\n"
            "  --command-log PATH     write 'seq force_n time_us' for every applied COMMAND\n"
            "  --serial N             serial number to report (default 0xE0000001)\n"
            "  --no-tick-sync         tick on the free-running grid only\n"
            "  --realtime             SCHED_FIFO threads and locked memory (needs privileges)\n"
            "  --exit-with-parent     stop when the process that started us is gone\n"
            "  --protocol-version N   test hook: speak another protocol version\n"
            "  --schema-hash HEX      test hook: report another schema hash\n"
            "  --inject-bad-every N   taxel test hook: after every Nth frame also send one bad\n"
            "                         frame in turn: garbage, a chunk one byte short, a chunk\n"
            "                         of impossible geometry\n"
            "Prints the pty path on the first line of stdout. Stops on SIGTERM/SIGINT.\n");
}

static int parse(int argc, char **argv, options_t *o)
{
    static const struct option longs[] = {
        {"kind", required_argument, 0, 'k'},
        {"rate", required_argument, 0, 'r'},
        {"watchdog-ms", required_argument, 0, 'w'},
        {"stall-ms", required_argument, 0, 's'},
        {"link", required_argument, 0, 'l'},
        {"command-log", required_argument, 0, 'c'},
        {"serial", required_argument, 0, 'n'},
        {"no-tick-sync", no_argument, 0, 'T'},
        {"realtime", no_argument, 0, 'R'},
        {"exit-with-parent", no_argument, 0, 'E'},
        {"protocol-version", required_argument, 0, 'P'},
        {"schema-hash", required_argument, 0, 'H'},
        {"rows", required_argument, 0, 'y'},
        {"cols", required_argument, 0, 'x'},
        {"pitch-mm", required_argument, 0, 'p'},
        {"inject-bad-every", required_argument, 0, 'I'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    o->rate_hz = 0.0; /* the kind's default */
    o->rows = 16;
    o->cols = 16;
    o->pitch_mm = 2.0;
    o->inject_bad_every = 0;
    o->watchdog_ms = 100;
    o->stall_ms = 50;
    o->protocol_version = PROTOCOL_VERSION;
    o->schema_hash = 0;
    o->serial = 0xE0000001ul;
    o->tick_sync = 1;
    o->realtime = 0;
    o->exit_with_parent = 0;
    o->link = NULL;
    o->command_log = NULL;
    o->kind = "paddle";
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'k':
            o->kind = optarg;
            break;
        case 'r':
            o->rate_hz = strtod(optarg, NULL);
            break;
        case 'w':
            o->watchdog_ms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 's':
            o->stall_ms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'l':
            o->link = optarg;
            break;
        case 'c':
            o->command_log = optarg;
            break;
        case 'n':
            o->serial = strtoul(optarg, NULL, 0);
            break;
        case 'T':
            o->tick_sync = 0;
            break;
        case 'R':
            o->realtime = 1;
            break;
        case 'E':
            o->exit_with_parent = 1;
            break;
        case 'P':
            o->protocol_version = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'H':
            o->schema_hash = strtoul(optarg, NULL, 16);
            break;
        case 'y':
            o->rows = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'x':
            o->cols = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'p':
            o->pitch_mm = strtod(optarg, NULL);
            break;
        case 'I':
            o->inject_bad_every = strtoul(optarg, NULL, 10);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    int taxel_kind = strcmp(o->kind, "taxel") == 0;
    if (strcmp(o->kind, "paddle") != 0 && !taxel_kind) {
        fprintf(stderr, "haptics-emulator: unknown kind '%s' (paddle or taxel)\n", o->kind);
        return -1;
    }
    if (o->rate_hz == 0.0) {
        o->rate_hz = taxel_kind ? 200.0 : 1000.0;
    }
    if (taxel_kind) {
        if (!(o->rate_hz >= 1.0 && o->rate_hz <= 1000.0)) {
            fprintf(stderr, "haptics-emulator: taxel --rate must be 1..1000 Hz\n");
            return -1;
        }
        if (o->rows < 1u || o->rows > TAXEL_MAX_ROWS || o->cols < 1u ||
            o->cols > TAXEL_MAX_COLS) {
            fprintf(stderr, "haptics-emulator: --rows and --cols must be 1..%u\n",
                    TAXEL_MAX_ROWS);
            return -1;
        }
        if (!(o->pitch_mm > 0.0 && o->pitch_mm <= 100.0)) {
            fprintf(stderr, "haptics-emulator: --pitch-mm must be in (0, 100]\n");
            return -1;
        }
    } else if (!(o->rate_hz >= 10.0 && o->rate_hz <= 10000.0)) {
        fprintf(stderr, "haptics-emulator: --rate must be 10..10000 Hz\n");
        return -1;
    }
    if (o->watchdog_ms < CONTROL_WATCHDOG_MIN_MS || o->watchdog_ms > CONTROL_WATCHDOG_MAX_MS) {
        fprintf(stderr, "haptics-emulator: --watchdog-ms must be %u..%u\n",
                CONTROL_WATCHDOG_MIN_MS, CONTROL_WATCHDOG_MAX_MS);
        return -1;
    }
    if (o->protocol_version > 255u) {
        fprintf(stderr, "haptics-emulator: --protocol-version must be 0..255\n");
        return -1;
    }
    return 0;
}

static void log_command(void *ctx, uint32_t seq, float force_n, uint64_t now_us)
{
    (void)ctx;
    fprintf(command_log, "%lu %.9g %llu\n", (unsigned long)seq, (double)force_n,
            (unsigned long long)now_us);
}

/* Test hook: one bad frame in turn (garbage, a chunk one byte short with a valid CRC, a chunk
 * whose geometry contradicts TAXEL_INFO), sent between two good frames. */
static void inject_bad_frame(void)
{
    static unsigned long turn;
    uint8_t wire[FRAME_WIRE_MAX];
    size_t n = 0;
    msg_t m;
    memset(&m, 0, sizeof m);
    m.type = MSG_TAXEL_FRAME;
    m.u.taxel_frame.frame_seq = taxel.scan.seq; /* posing as the frame just sent */
    m.u.taxel_frame.time_us = taxel.scan.frame_time_us;
    switch (turn++ % 3u) {
    case 0: /* line noise: no 0x00 inside, so it is one bad frame */
        for (n = 0; n < 40u; n++) {
            wire[n] = (uint8_t)(0x11u + 37u * n % 200u);
        }
        wire[n++] = 0x00;
        break;
    case 1: { /* one byte short, CRC valid: refused for its length */
        uint8_t body[FRAME_BODY_MAX];
        size_t len = codec_encode_body(PROTOCOL_VERSION, &m, body);
        n = frame_encode(body, len - 1u, wire);
        break;
    }
    default: /* right size, impossible geometry */
        m.u.taxel_frame.chunk = 7;
        m.u.taxel_frame.chunks = 9;
        n = codec_encode_wire(PROTOCOL_VERSION, &m, wire);
        break;
    }
    if (n > 0u && hal_serial_tx_space() >= n) {
        hal_serial_tx(wire, n);
    }
}

/* One tick: the plant catches up to now, then the firmware runs. Called with the lock held. */
static void tick(uint64_t now_us)
{
    if (is_taxel) {
        taxel_app_tick(&taxel, now_us);
        if (inject_every != 0u && taxel.scan.seq % inject_every == 0u) {
            inject_bad_frame();
        }
    } else {
        emu_advance_plant(now_us);
        app_tick(&app, now_us);
    }
    emu_flush_tx();
}

static void board_rx(const uint8_t *data, size_t n, uint64_t now_us)
{
    if (is_taxel) {
        taxel_app_rx(&taxel, data, n, now_us);
    } else {
        app_rx(&app, data, n, now_us);
    }
}

static uint64_t board_next_wakeup(void)
{
    return is_taxel ? taxel_app_next_wakeup(&taxel) : app_next_wakeup(&app);
}

static bool board_due(uint64_t now_us)
{
    return is_taxel ? taxel_app_due(&taxel, now_us) : app_tick_due(&app, now_us);
}

/* Real-time scheduling for the calling thread; a warning, not an error, without privileges.
 * On a machine with few cores this takes CPU from the host process it talks to. */
static void make_realtime(const char *who)
{
    struct sched_param sp = {.sched_priority = 50};
    int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (err != 0) {
        fprintf(stderr, "haptics-emulator: --realtime: %s thread stays normal (%s)\n", who,
                strerror(err));
    }
}

static int realtime;
static pid_t parent_pid; /* 0: do not watch the parent */

static void *receive_thread(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the tick thread */
    prctl(PR_SET_TIMERSLACK, 1ul, 0ul, 0ul, 0ul);
    if (realtime) {
        make_realtime("receive");
    }
    uint8_t buf[4096];
    while (!stop_requested) {
        if (parent_pid != 0 && getppid() != parent_pid) {
            stop_requested = 1; /* orphaned: whoever started us is gone */
            break;
        }
        struct pollfd p = {emu.master_fd, POLLIN, 0};
        int r = poll(&p, 1, 50);
        if (r <= 0) {
            continue;
        }
        if (p.revents & (POLLHUP | POLLERR)) { /* cannot happen while we hold the slave */
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, NULL);
            continue;
        }
        ssize_t n = read(emu.master_fd, buf, sizeof buf);
        if (n <= 0) {
            continue;
        }
        pthread_mutex_lock(&lock);
        uint64_t now = hal_time_us();
        board_rx(buf, (size_t)n, now);
        if (board_due(now)) {
            tick(now); /* early tick: the cycle's command is here */
        } else {
            emu_flush_tx(); /* acknowledgements go out at once */
        }
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

/* `s` as the inside of a JSON string (quotes and backslashes escaped, controls dropped). */
static void json_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
        }
        if ((unsigned char)*s >= 0x20u) {
            fputc(*s, f);
        }
    }
}

static int write_registry(const options_t *o)
{
    const char *dir = getenv("HAPTICS_EMULATOR_DIR");
    char def[256];
    if (dir == NULL || dir[0] == '\0') {
        snprintf(def, sizeof def, "/tmp/haptics-emulators-%u", (unsigned)getuid());
        dir = def;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    snprintf(registry_path, sizeof registry_path, "%s/%ld.json", dir, (long)getpid());
    FILE *f = fopen(registry_path, "w");
    if (f == NULL) {
        registry_path[0] = '\0';
        return -1;
    }
    fprintf(f, "{\"pid\": %ld, \"port\": \"", (long)getpid());
    json_text(f, emu.slave_path);
    fprintf(f, "\", \"link\": \"");
    json_text(f, o->link ? o->link : "");
    fprintf(f, "\", \"kind\": \"%s\", \"rate_hz\": %g, \"watchdog_ms\": %u, \"serial\": %lu",
            o->kind, o->rate_hz, o->watchdog_ms, o->serial);
    if (is_taxel) {
        fprintf(f, ", \"rows\": %u, \"cols\": %u, \"pitch_mm\": %g", o->rows, o->cols,
                o->pitch_mm);
    }
    fprintf(f, "}\n");
    fclose(f);
    return 0;
}

static int make_link(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISLNK(st.st_mode)) {
            fprintf(stderr, "haptics-emulator: --link %s exists and is not a symlink\n", path);
            return -1;
        }
        unlink(path);
    }
    if (symlink(emu.slave_path, path) != 0) {
        perror("haptics-emulator: symlink");
        return -1;
    }
    snprintf(link_path, sizeof link_path, "%s", path);
    return 0;
}

static void remove_link(void)
{
    char target[256];
    if (link_path[0] == '\0') {
        return;
    }
    ssize_t n = readlink(link_path, target, sizeof target - 1u);
    if (n > 0) {
        target[n] = '\0';
        if (strcmp(target, emu.slave_path) == 0) { /* only if it is still ours */
            unlink(link_path);
        }
    }
}

static app_config_t paddle_config(const options_t *o)
{
    app_config_t c;
    memset(&c, 0, sizeof c);
    c.device_type = DEVICE_TYPE_PADDLE | DEVICE_TYPE_EMULATED;
    c.fw_major = FW_MAJOR;
    c.fw_minor = FW_MINOR;
    c.fw_patch = FW_PATCH;
    c.capabilities = CAP_LOCAL_SPRING | CAP_TIME_SYNC | CAP_CURRENT_SENSE |
                     (o->tick_sync ? CAP_TICK_SYNC : 0u);
    c.serial = (uint32_t)o->serial;
    c.rate_hz = (uint16_t)(o->rate_hz + 0.5);
    c.position_lsb_m = 1e-5f;
    c.force_per_amp_n = (float)emu.plant_params.kt_n_per_a;
    c.control.max_force_n = (float)(emu.plant_params.kt_n_per_a * emu.plant_params.current_limit_a);
    c.control.force_full_duty_n = (float)(emu.plant_params.kt_n_per_a *
                                          emu.plant_params.supply_v /
                                          emu.plant_params.resistance_ohm);
    c.force_lsb_n = c.control.force_full_duty_n / 4800.0f; /* 20 kHz PWM at 96 MHz */
    c.control.period_us = (uint32_t)(1e6 / o->rate_hz + 0.5);
    c.control.stall_us = o->stall_ms * 1000u;
    c.control.velocity_tau_s = 0.002f;
    c.tick_window_us = o->tick_sync ? c.control.period_us * 3u / 10u : 0u;
    c.protocol_version = (uint8_t)o->protocol_version;
    c.schema_hash_override = (uint32_t)o->schema_hash;
    return c;
}

static taxel_app_config_t taxel_config(const options_t *o, const taxel_plant_params_t *plant)
{
    taxel_app_config_t c;
    memset(&c, 0, sizeof c);
    c.device_type = DEVICE_TYPE_TAXEL | DEVICE_TYPE_EMULATED;
    c.fw_major = FW_MAJOR;
    c.fw_minor = FW_MINOR;
    c.fw_patch = FW_PATCH;
    c.capabilities = CAP_TIME_SYNC;
    c.serial = (uint32_t)o->serial;
    c.scan.rows = (uint8_t)o->rows;
    c.scan.cols = (uint8_t)o->cols;
    c.scan.period_us = (uint32_t)(1e6 / o->rate_hz + 0.5);
    c.scan.max_count = plant->max_count;
    c.pitch_m = (float)(o->pitch_mm * 1e-3);
    c.pressure_lsb_pa = (float)plant->pressure_lsb_pa;
    c.scan_us = 20u * o->rows; /* 20 µs settle + conversion per row on a real board */
    c.protocol_version = (uint8_t)o->protocol_version;
    c.schema_hash_override = (uint32_t)o->schema_hash;
    return c;
}

int main(int argc, char **argv)
{
    options_t o;
    if (parse(argc, argv, &o) != 0) {
        return 2;
    }
    is_taxel = strcmp(o.kind, "taxel") == 0;
    /* A taxel frame is three times the bytes of a STATE tick: a deeper queue, standing in for
     * the host-side buffering of a USB CDC device, rides out a busy host's pauses. */
    emu.tx_cap = is_taxel ? EMU_TX_CAP_TAXEL : EMU_TX_CAP_PADDLE;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    emu.t0_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - 1000u;
    emu.plant_params = plant_paddle_params();
    emu.position_lsb_m = 1e-5;
    if (emu_open_pty() != 0) {
        perror("haptics-emulator: cannot open a pseudo-terminal");
        return 1;
    }
    if (o.command_log) {
        command_log = fopen(o.command_log, "w");
        if (command_log == NULL) {
            perror("haptics-emulator: --command-log");
            return 1;
        }
    }
    if (o.link && make_link(o.link) != 0) {
        return 1;
    }
    write_registry(&o);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1ul, 0ul, 0ul, 0ul);

    uint64_t now = hal_time_us();
    if (is_taxel) {
        taxel_plant_params_t plant = taxel_plant_default(o.pitch_mm * 1e-3, o.rows, o.cols);
        emu_taxel_setup(&plant, o.rows, o.cols);
        taxel_app_config_t tcfg = taxel_config(&o, &plant);
        if (!taxel_app_init(&taxel, &tcfg, now)) {
            fprintf(stderr, "haptics-emulator: the taxel configuration cannot be scanned\n");
            return 2;
        }
        inject_every = o.inject_bad_every;
    } else {
        app_config_t cfg = paddle_config(&o);
        app_init(&app, &cfg, now);
        app.control.params.watchdog_us = o.watchdog_ms * 1000u;
        app.control.watchdog.period_us = o.watchdog_ms * 1000u;
        if (command_log) {
            app.on_command = log_command;
        }
        emu.plant_time_us = now;
    }

    printf("%s\n", emu.slave_path);
    fflush(stdout);
    if (is_taxel) {
        fprintf(stderr,
                "haptics-emulator: taxel board %ux%u on %s (%g Hz, pitch %g mm, protocol v%u, "
                "schema %08lx)\n",
                o.rows, o.cols, emu.slave_path, o.rate_hz, o.pitch_mm, o.protocol_version,
                o.schema_hash ? o.schema_hash : (unsigned long)codec_schema_hash_kind(KIND_TAXEL));
    } else {
        fprintf(stderr,
                "haptics-emulator: paddle on %s (%g Hz, watchdog %u ms, protocol v%u, schema "
                "%08lx)\n",
                emu.slave_path, o.rate_hz, o.watchdog_ms, o.protocol_version,
                o.schema_hash ? o.schema_hash : (unsigned long)codec_schema_hash());
    }

    realtime = o.realtime;
    parent_pid = o.exit_with_parent ? getppid() : 0;
    if (realtime) {
        if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
            perror("haptics-emulator: --realtime: mlockall");
        }
        make_realtime("tick");
    }
    pthread_t rx;
    if (pthread_create(&rx, NULL, receive_thread, NULL) != 0) {
        perror("haptics-emulator: thread");
        return 1;
    }
    while (!stop_requested) {
        pthread_mutex_lock(&lock);
        uint64_t wake_us = board_next_wakeup();
        pthread_mutex_unlock(&lock);
        uint64_t wake_ns = emu.t0_ns + wake_us * 1000u;
        struct timespec dl = {(time_t)(wake_ns / 1000000000u), (long)(wake_ns % 1000000000u)};
        int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL);
        if (r == EINTR) {
            continue;
        }
        pthread_mutex_lock(&lock);
        now = hal_time_us();
        if (board_due(now)) {
            tick(now);
        }
        pthread_mutex_unlock(&lock);
    }

    pthread_join(rx, NULL);
    hal_motor_write(0.0f);
    if (command_log) {
        fclose(command_log);
    }
    remove_link();
    if (registry_path[0]) {
        unlink(registry_path);
    }
    if (is_taxel) {
        fprintf(stderr, "haptics-emulator: stopped after %lu taxel frames\n",
                (unsigned long)taxel.scan.seq);
    } else {
        fprintf(stderr, "haptics-emulator: stopped after %lu STATE frames\n",
                (unsigned long)app.state_seq);
    }
    return 0;
}
