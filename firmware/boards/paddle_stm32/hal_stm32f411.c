/* hal.h on the paddle board's STM32F411 (see board.h for the wiring). */
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "hal.h"
#include "stm32f411.h"

#define RX_RING 512u /* powers of two */
#define TX_RING 2048u

/* Single-producer single-consumer rings shared with the USART interrupt. */
static volatile uint8_t rx_buf[RX_RING];
static volatile uint32_t rx_head, rx_tail; /* ISR writes head, main loop tail */
static volatile uint8_t tx_buf[TX_RING];
static volatile uint32_t tx_head, tx_tail; /* main loop writes head, ISR tail */

static uint32_t time_last;
static uint64_t time_high;
static float duty_now;

static void pin_af(gpio_t *port, unsigned pin, unsigned af)
{
    port->MODER = (port->MODER & ~(3u << (2u * pin))) | (GPIO_MODE_AF << (2u * pin));
    port->OSPEEDR |= 2u << (2u * pin);
    port->AFR[pin >> 3] = (port->AFR[pin >> 3] & ~(0xFu << (4u * (pin & 7u)))) |
                          ((uint32_t)af << (4u * (pin & 7u)));
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
    RCC->APB1ENR |= RCC_APB1ENR_TIM2 | RCC_APB1ENR_TIM3 | RCC_APB1ENR_TIM5;
    RCC->APB2ENR |= RCC_APB2ENR_USART1 | RCC_APB2ENR_ADC1;

    /* motor first, and off: PWM outputs at 0 % before the pins are connected */
    TIM3->PSC = 0;
    TIM3->ARR = BOARD_APB1_TIMER_HZ / BOARD_PWM_HZ - 1u;
    TIM3->CCR1 = 0;
    TIM3->CCR2 = 0;
    TIM3->CCMR1 = TIM_CCMR1_OC1M_PWM1 | TIM_CCMR1_OC1PE | TIM_CCMR1_OC2M_PWM1 | TIM_CCMR1_OC2PE;
    TIM3->CCER = TIM_CCER_CC1E | TIM_CCER_CC2E;
    TIM3->CR1 = TIM_CR1_ARPE;
    TIM3->EGR = TIM_EGR_UG;
    TIM3->CR1 |= TIM_CR1_CEN;
    pin_af(GPIOA, 6, 2);
    pin_af(GPIOA, 7, 2);

    /* encoder: TIM2 (32 bit) in encoder mode 3, light input filtering */
    pin_af(GPIOA, 0, 1);
    pin_af(GPIOA, 1, 1);
    TIM2->ARR = 0xFFFFFFFFu;
    TIM2->CCMR1 = TIM_CCMR1_CC1S_TI1 | TIM_CCMR1_CC2S_TI2 | TIM_CCMR1_IC1F(3) | TIM_CCMR1_IC2F(3);
    TIM2->SMCR = TIM_SMCR_SMS_ENCODER3;
    TIM2->CNT = 0;
    TIM2->CR1 = TIM_CR1_CEN;

    /* microsecond clock: TIM5 (32 bit) at 1 MHz */
    TIM5->PSC = BOARD_APB1_TIMER_HZ / 1000000u - 1u;
    TIM5->ARR = 0xFFFFFFFFu;
    TIM5->EGR = TIM_EGR_UG;
    TIM5->CR1 = TIM_CR1_CEN;

    /* current sense: ADC1 IN4 on PA4, one software-started conversion per tick */
    GPIOA->MODER |= GPIO_MODE_ANALOG << (2u * 4u);
    ADC_CCR = ADC_CCR_ADCPRE_DIV4;
    ADC1->SMPR2 = 3u << (3u * 4u); /* 56 cycles */
    ADC1->SQR3 = 4u;
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

int32_t hal_encoder_read(void)
{
    return (int32_t)TIM2->CNT;
}

void hal_motor_write(float duty)
{
    if (!(duty - duty == 0.0f)) { /* not finite */
        duty = 0.0f;
    }
    duty = duty > 1.0f ? 1.0f : duty < -1.0f ? -1.0f : duty;
    duty_now = duty;
    uint32_t top = TIM3->ARR + 1u;
    if (duty >= 0.0f) {
        TIM3->CCR2 = 0;
        TIM3->CCR1 = (uint32_t)(duty * (float)top);
    } else {
        TIM3->CCR1 = 0;
        TIM3->CCR2 = (uint32_t)(-duty * (float)top);
    }
}

bool hal_motor_current_a(float *amps)
{
    /* a conversion left over from a timed-out read must not pass for this one */
    ADC1->SR &= ~ADC_SR_EOC;
    ADC1->CR2 |= ADC_CR2_SWSTART;
    uint32_t start = TIM5->CNT; /* the 1 MHz clock; u32 subtraction survives its wrap */
    while (!(ADC1->SR & ADC_SR_EOC)) {
        if ((uint32_t)(TIM5->CNT - start) > BOARD_ADC_TIMEOUT_US) {
            *amps = 0.0f; /* the core latches FAULT_SENSOR: force zero this tick */
            return false;
        }
    }
    float volts = (float)(ADC1->DR & 0xFFFu) * (3.3f / 4095.0f);
    float a = (volts - BOARD_SENSE_MID_V) / BOARD_SENSE_V_PER_A;
    *amps = duty_now < 0.0f ? -a : a; /* the shunt sees magnitude; the bridge sets sign */
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
