/* hal.h (time, serial, watchdog) and hal_taxel.h on the taxel board (see board.h). */
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "hal.h"
#include "hal_taxel.h"
#include "stm32f411.h"

#define RX_RING 512u /* powers of two */
#define TX_RING 4096u /* three 16 × 16 chunks are about 750 bytes */
#define GPIO_MODE_OUTPUT 1u
#define ROW_SHIFT 12u /* PB12..PB15 */
#define COL_SHIFT 4u  /* PB4..PB7 */

/* Single-producer single-consumer rings shared with the USART interrupt. */
static volatile uint8_t rx_buf[RX_RING];
static volatile uint32_t rx_head, rx_tail; /* ISR writes head, main loop tail */
static volatile uint8_t tx_buf[TX_RING];
static volatile uint32_t tx_head, tx_tail; /* main loop writes head, ISR tail */

static uint32_t time_last;
static uint64_t time_high;

static void pin_af(gpio_t *port, unsigned pin, unsigned af)
{
    port->MODER = (port->MODER & ~(3u << (2u * pin))) | (GPIO_MODE_AF << (2u * pin));
    port->OSPEEDR |= 2u << (2u * pin);
    port->AFR[pin >> 3] = (port->AFR[pin >> 3] & ~(0xFu << (4u * (pin & 7u)))) |
                          ((uint32_t)af << (4u * (pin & 7u)));
}

static void pin_out(gpio_t *port, unsigned pin)
{
    port->MODER = (port->MODER & ~(3u << (2u * pin))) | (GPIO_MODE_OUTPUT << (2u * pin));
}

static void clock_init(void)
{
    RCC->CR |= RCC_CR_HSEON;
    while (!(RCC->CR & RCC_CR_HSERDY)) {
    }
    /* 25 MHz / M 25 × N 192 / P 2 = 96 MHz; Q 4 → 48 MHz */
    RCC->PLLCFGR = 25u | (192u << 6) | (0u << 16) | RCC_PLLCFGR_SRC_HSE | (4u << 24);
    RCC->CR |= RCC_CR_PLLON;
    while (!(RCC->CR & RCC_CR_PLLRDY)) {
    }
    FLASH->ACR = FLASH_ACR_LATENCY_3WS | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    RCC->CFGR = RCC_CFGR_PPRE1_DIV2 | RCC_CFGR_SW_PLL;
    while ((RCC->CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
    }
}

bool board_reset_by_watchdog(void)
{
    bool by_wd = (RCC->CSR & RCC_CSR_IWDGRSTF) != 0u;
    RCC->CSR |= RCC_CSR_RMVF;
    return by_wd;
}

void board_init(void)
{
    clock_init();
    RCC->AHB1ENR |= RCC_AHB1ENR_GPIOA | RCC_AHB1ENR_GPIOB;
    RCC->APB1ENR |= RCC_APB1ENR_TIM5;
    RCC->APB2ENR |= RCC_APB2ENR_USART1 | RCC_APB2ENR_ADC1;

    for (unsigned k = 0; k < 4u; k++) { /* mux addresses, row 0 and column 0 */
        pin_out(GPIOB, ROW_SHIFT + k);
        pin_out(GPIOB, COL_SHIFT + k);
    }
    GPIOB->BSRR = (0xFu << (16u + ROW_SHIFT)) | (0xFu << (16u + COL_SHIFT));

    /* microsecond clock: TIM5 (32 bit) at 1 MHz */
    TIM5->PSC = BOARD_APB1_TIMER_HZ / 1000000u - 1u;
    TIM5->ARR = 0xFFFFFFFFu;
    TIM5->EGR = TIM_EGR_UG;
    TIM5->CR1 = TIM_CR1_CEN;

    /* the column: ADC1 IN0 on PA0, one software-started conversion per taxel */
    GPIOA->MODER |= GPIO_MODE_ANALOG << (2u * 0u);
    ADC_CCR = ADC_CCR_ADCPRE_DIV4;
    ADC1->SMPR2 = 3u << (3u * 0u); /* 56 cycles: the matrix is a high-impedance source */
    ADC1->SQR3 = 0u;
    ADC1->CR2 = ADC_CR2_ADON;

    /* USART1 at 2 Mbaud: 96 MHz / 16 / 3 = 2 M exactly (BRR mantissa 3, fraction 0) */
    pin_af(GPIOA, 9, 7);
    pin_af(GPIOA, 10, 7);
    USART1->BRR = 96000000u / BOARD_BAUD;
    USART1->CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;
    NVIC_ISER[USART1_IRQN / 32u] = 1u << (USART1_IRQN % 32u);

    /* independent watchdog: resets the chip if the loop stops kicking it for 10 ms */
    IWDG->KR = 0x5555u;
    IWDG->PR = 0u; /* /4 */
    IWDG->RLR = BOARD_IWDG_RELOAD;
    IWDG->KR = 0xCCCCu;
}

void USART1_IRQHandler(void)
{
    uint32_t sr = USART1->SR;
    if (sr & (USART_SR_RXNE | USART_SR_ORE)) {
        uint8_t byte = (uint8_t)USART1->DR; /* reading DR also clears an overrun */
        uint32_t next = (rx_head + 1u) & (RX_RING - 1u);
        if (next != rx_tail) { /* full: the byte is lost, the CRC will tell */
            rx_buf[rx_head] = byte;
            rx_head = next;
        }
    }
    if ((sr & USART_SR_TXE) && (USART1->CR1 & USART_CR1_TXEIE)) {
        if (tx_tail == tx_head) {
            USART1->CR1 &= ~USART_CR1_TXEIE;
        } else {
            USART1->DR = tx_buf[tx_tail];
            tx_tail = (tx_tail + 1u) & (TX_RING - 1u);
        }
    }
}

uint64_t hal_time_us(void)
{
    uint32_t now = TIM5->CNT;
    if (now < time_last) {
        time_high += 1ull << 32;
    }
    time_last = now;
    return time_high | now;
}

static void wait_us(uint32_t us)
{
    uint32_t start = TIM5->CNT; /* u32 subtraction survives the counter's wrap */
    while ((uint32_t)(TIM5->CNT - start) < us) {
    }
}

bool hal_taxel_read_row(uint8_t row, uint16_t *counts, uint8_t cols)
{
    GPIOB->BSRR = (0xFu << (16u + ROW_SHIFT)) | ((uint32_t)(row & 0xFu) << ROW_SHIFT);
    for (uint8_t c = 0; c < cols; c++) {
        GPIOB->BSRR = (0xFu << (16u + COL_SHIFT)) | ((uint32_t)(c & 0xFu) << COL_SHIFT);
        wait_us(BOARD_SETTLE_US);
        ADC1->SR &= ~ADC_SR_EOC; /* a conversion left from a timed-out read is not this one */
        ADC1->CR2 |= ADC_CR2_SWSTART;
        uint32_t start = TIM5->CNT;
        while (!(ADC1->SR & ADC_SR_EOC)) {
            if ((uint32_t)(TIM5->CNT - start) > BOARD_ADC_TIMEOUT_US) {
                return false; /* the core reports the row as zeros, flagged SENSOR */
            }
        }
        counts[c] = (uint16_t)(ADC1->DR & 0xFFFu);
    }
    return true;
}

size_t hal_serial_rx(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap && rx_tail != rx_head) {
        buf[n++] = rx_buf[rx_tail];
        rx_tail = (rx_tail + 1u) & (RX_RING - 1u);
    }
    return n;
}

size_t hal_serial_tx_space(void)
{
    return (TX_RING - 1u) - ((tx_head - tx_tail) & (TX_RING - 1u));
}

void hal_serial_tx(const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t next = (tx_head + 1u) & (TX_RING - 1u);
        if (next == tx_tail) {
            break; /* callers check tx_space first: never happens */
        }
        tx_buf[tx_head] = buf[i];
        tx_head = next;
    }
    USART1->CR1 |= USART_CR1_TXEIE;
}

void hal_serial_tx_discard(void)
{
    USART1->CR1 &= ~USART_CR1_TXEIE;
    tx_head = tx_tail;
}

void hal_watchdog_kick(void)
{
    IWDG->KR = 0xAAAAu;
}
