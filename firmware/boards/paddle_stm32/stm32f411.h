/*
 * The few STM32F411 registers this board uses, from the reference manual (RM0383).
 * Written out here so the firmware builds with nothing but a compiler: no CMSIS, no HAL.
 */
#ifndef PADDLE_STM32F411_H
#define PADDLE_STM32F411_H

#include <stdint.h>

#define REG volatile uint32_t

typedef struct {
    REG CR, PLLCFGR, CFGR, CIR, AHB1RSTR, AHB2RSTR, RES0[2], APB1RSTR, APB2RSTR, RES1[2];
    REG AHB1ENR, AHB2ENR, RES2[2], APB1ENR, APB2ENR, RES3[2];
    REG AHB1LPENR, AHB2LPENR, RES4[2], APB1LPENR, APB2LPENR, RES5[2];
    REG BDCR, CSR, RES6[2], SSCGR, PLLI2SCFGR, RES7, DCKCFGR;
} rcc_t;

typedef struct {
    REG MODER, OTYPER, OSPEEDR, PUPDR, IDR, ODR, BSRR, LCKR, AFR[2];
} gpio_t;

typedef struct {
    REG CR1, CR2, SMCR, DIER, SR, EGR, CCMR1, CCMR2, CCER, CNT, PSC, ARR, RCR;
    REG CCR1, CCR2, CCR3, CCR4, BDTR, DCR, DMAR, OR;
} tim_t;

typedef struct {
    REG SR, DR, BRR, CR1, CR2, CR3, GTPR;
} usart_t;

typedef struct {
    REG SR, CR1, CR2, SMPR1, SMPR2, JOFR[4], HTR, LTR, SQR1, SQR2, SQR3, JSQR, JDR[4], DR;
} adc_t;

typedef struct {
    REG KR, PR, RLR, SR;
} iwdg_t;

typedef struct {
    REG ACR, KEYR, OPTKEYR, SR, CR, OPTCR;
} flash_t;

#define RCC ((rcc_t *)0x40023800u)
#define FLASH ((flash_t *)0x40023C00u)
#define GPIOA ((gpio_t *)0x40020000u)
#define GPIOB ((gpio_t *)0x40020400u)
#define TIM2 ((tim_t *)0x40000000u)
#define TIM3 ((tim_t *)0x40000400u)
#define TIM5 ((tim_t *)0x40000C00u)
#define USART1 ((usart_t *)0x40011000u)
#define ADC1 ((adc_t *)0x40012000u)
#define ADC_CCR (*(REG *)0x40012304u)
#define IWDG ((iwdg_t *)0x40003000u)

/* Cortex-M4 core */
#define NVIC_ISER ((REG *)0xE000E100u)
#define SCB_CPACR (*(REG *)0xE000ED88u)

/* RCC bits */
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_PLLCFGR_SRC_HSE (1u << 22)
#define RCC_CFGR_SW_PLL 2u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_PPRE1_DIV2 (4u << 10)
#define RCC_AHB1ENR_GPIOA (1u << 0)
#define RCC_AHB1ENR_GPIOB (1u << 1)
#define RCC_APB1ENR_TIM2 (1u << 0)
#define RCC_APB1ENR_TIM3 (1u << 1)
#define RCC_APB1ENR_TIM5 (1u << 3)
#define RCC_APB2ENR_USART1 (1u << 4)
#define RCC_APB2ENR_ADC1 (1u << 8)
#define RCC_CSR_RMVF (1u << 24)
#define RCC_CSR_IWDGRSTF (1u << 29)

#define FLASH_ACR_LATENCY_3WS 3u
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)

/* timer bits */
#define TIM_CR1_CEN (1u << 0)
#define TIM_CR1_ARPE (1u << 7)
#define TIM_EGR_UG (1u << 0)
#define TIM_SMCR_SMS_ENCODER3 3u
#define TIM_CCMR1_CC1S_TI1 (1u << 0)
#define TIM_CCMR1_CC2S_TI2 (1u << 8)
#define TIM_CCMR1_IC1F(n) ((uint32_t)(n) << 4)
#define TIM_CCMR1_IC2F(n) ((uint32_t)(n) << 12)
#define TIM_CCMR1_OC1PE (1u << 3)
#define TIM_CCMR1_OC1M_PWM1 (6u << 4)
#define TIM_CCMR1_OC2PE (1u << 11)
#define TIM_CCMR1_OC2M_PWM1 (6u << 12)
#define TIM_CCER_CC1E (1u << 0)
#define TIM_CCER_CC2E (1u << 4)

/* USART bits */
#define USART_SR_ORE (1u << 3)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TXE (1u << 7)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_TXEIE (1u << 7)
#define USART_CR1_UE (1u << 13)
#define USART1_IRQN 37u

/* ADC bits */
#define ADC_SR_EOC (1u << 1)
#define ADC_CR2_ADON (1u << 0)
#define ADC_CR2_SWSTART (1u << 30)
#define ADC_CCR_ADCPRE_DIV4 (1u << 16)

/* GPIO modes */
#define GPIO_MODE_AF 2u
#define GPIO_MODE_ANALOG 3u

#endif
