/* Vector table and reset handler for the STM32F411 (no vendor startup files). */
#include <stdint.h>

#include "stm32f411.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void USART1_IRQHandler(void);

void Default_Handler(void)
{
    for (;;) { /* the independent watchdog resets the chip; the host sees FAULT_HW_RESET */
    }
}

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));

typedef void (*vector_t)(void);

/* 16 core exceptions, then IRQ 0..37 (USART1 is IRQ 37). */
__attribute__((section(".isr_vector"), used)) const vector_t vector_table[16 + 38] = {
    [0] = (vector_t)&_estack,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [11] = Default_Handler, /* SVCall */
    [14] = Default_Handler, /* PendSV */
    [15] = Default_Handler, /* SysTick */
    [16 + USART1_IRQN] = USART1_IRQHandler,
};

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0u;
    }
    SCB_CPACR |= 0xFu << 20; /* FPU: CP10 and CP11 full access */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    main();
    for (;;) {
    }
}
