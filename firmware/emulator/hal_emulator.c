#define _GNU_SOURCE
#include "hal_emulator.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hal.h"

emu_board_t emu;

int emu_open_pty(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0) {
        return -1;
    }
    if (grantpt(m) != 0 || unlockpt(m) != 0 ||
        ptsname_r(m, emu.slave_path, sizeof emu.slave_path) != 0) {
        close(m);
        return -1;
    }
    int s = open(emu.slave_path, O_RDWR | O_NOCTTY);
    if (s < 0) {
        close(m);
        return -1;
    }
    struct termios t;
    if (tcgetattr(s, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(s, TCSANOW, &t);
    }
    int fl = fcntl(m, F_GETFL);
    fcntl(m, F_SETFL, fl | O_NONBLOCK);
    emu.master_fd = m;
    emu.slave_fd = s;
    return 0;
}

void emu_flush_tx(void)
{
    while (emu.tx_len > 0u) {
        size_t chunk = EMU_TX_RING - emu.tx_head;
        if (chunk > emu.tx_len) {
            chunk = emu.tx_len;
        }
        ssize_t w = write(emu.master_fd, emu.tx + emu.tx_head, chunk);
        if (w <= 0) {
            return; /* EAGAIN (the host is not reading) or an error: try again next tick */
        }
        emu.tx_head = (emu.tx_head + (size_t)w) % EMU_TX_RING;
        emu.tx_len -= (size_t)w;
    }
}

void emu_advance_plant(uint64_t now_us)
{
    if (now_us > emu.plant_time_us) {
        double dt = (double)(now_us - emu.plant_time_us) * 1e-6;
        plant_step(&emu.plant, &emu.plant_params, emu.duty, 0.0, dt);
    }
    emu.plant_time_us = now_us;
}

uint64_t hal_time_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return (ns - emu.t0_ns) / 1000u;
}

int32_t hal_encoder_read(void)
{
    return (int32_t)lround(emu.plant.x_m / emu.position_lsb_m);
}

void hal_motor_write(float duty)
{
    emu.duty = duty;
}

bool hal_motor_current_a(float *amps)
{
    *amps = (float)emu.plant.current_a; /* the simulated sense always answers */
    return true;
}

size_t hal_serial_rx(uint8_t *buf, size_t cap)
{
    ssize_t n = read(emu.master_fd, buf, cap);
    return n > 0 ? (size_t)n : 0u;
}

size_t hal_serial_tx_space(void)
{
    return emu.tx_cap > emu.tx_len ? emu.tx_cap - emu.tx_len : 0u;
}

void hal_serial_tx(const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n && emu.tx_len < emu.tx_cap; i++) {
        emu.tx[(emu.tx_head + emu.tx_len) % EMU_TX_RING] = buf[i];
        emu.tx_len++;
    }
}

void hal_serial_tx_discard(void)
{
    emu.tx_len = 0;
}

void hal_watchdog_kick(void)
{
    emu.watchdog_kicks++;
}
