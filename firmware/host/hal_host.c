#include "hal_host.h"

#include <string.h>

#include "hal.h"
#include "hal_taxel.h"

hal_host_t hal_host;

void hal_host_reset(void)
{
    memset(&hal_host, 0, sizeof hal_host);
    hal_host.tx_space_limit = HAL_HOST_TX_CAP;
    hal_host.taxel_fail_row = -1;
}

void hal_host_tx_clear(void)
{
    hal_host.tx_len = 0;
}

uint64_t hal_time_us(void)
{
    return hal_host.time_us;
}

int32_t hal_encoder_read(void)
{
    return hal_host.encoder;
}

void hal_motor_write(float duty)
{
    hal_host.duty = duty;
}

bool hal_motor_current_a(float *amps)
{
    *amps = hal_host.current_fault ? 0.0f : hal_host.current_a;
    return !hal_host.current_fault;
}

size_t hal_serial_rx(uint8_t *buf, size_t cap)
{
    (void)buf;
    (void)cap;
    return 0;
}

size_t hal_serial_tx_space(void)
{
    size_t room = HAL_HOST_TX_CAP - hal_host.tx_len;
    return room < hal_host.tx_space_limit ? room : hal_host.tx_space_limit;
}

void hal_serial_tx(const uint8_t *buf, size_t n)
{
    if (n > HAL_HOST_TX_CAP - hal_host.tx_len) {
        n = HAL_HOST_TX_CAP - hal_host.tx_len;
    }
    memcpy(hal_host.tx + hal_host.tx_len, buf, n);
    hal_host.tx_len += n;
}

void hal_serial_tx_discard(void)
{
    hal_host.tx_discards++;
}

void hal_watchdog_kick(void)
{
    hal_host.watchdog_kicks++;
}

bool hal_taxel_read_row(uint8_t row, uint16_t *counts, uint8_t cols)
{
    hal_host.taxel_rows_read++;
    if ((int)row == hal_host.taxel_fail_row) {
        return false;
    }
    for (uint8_t c = 0; c < cols && c < 64u; c++) {
        counts[c] = hal_host.taxel[(unsigned)row * 64u + c];
    }
    return true;
}
