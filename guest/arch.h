/* Interface between the ring-0 boot code (boot.S) and the ring-3 program. */
#pragma once

#include <stdint.h>

#define ARCH_BOOT_LINUX 1 /* entered at the ELF entry, rsi = Linux zero page */
#define ARCH_BOOT_PVH	2 /* entered at the PVH note's 32-bit entry, ebx = hvm_start_info */

#define ARCH_LAPIC_BASE	 0xfee00000u
#define ARCH_IOAPIC_BASE 0xfec00000u
#define ARCH_VEC_TIMER	 0x40
#define ARCH_VEC_DEVICE	 0x41

/* Set by boot.S before ring 3 starts. */
extern uint32_t arch_boot_kind;
extern uint64_t arch_boot_info;
/* Incremented by the ring-0 handler of every timer or device interrupt. */
extern volatile uint64_t arch_wake_count;
/* Non-zero once ring 3 found a working LAPIC: the idle call may arm its timer and halt. */
extern volatile uint32_t arch_lapic_ok;
/* LAPIC timer initial count for one idle sleep (bus clock, divide by 1). */
extern volatile uint32_t arch_idle_ticks;

/* Sleep until an interrupt arrives, unless one arrived since ring 3 read arch_wake_count
 * (the value passed here): ring 0 checks with interrupts off, then `sti; hlt`. */
static inline void arch_idle(uint64_t seen_wake_count)
{
	__asm__ volatile("int3" : : "a"(0ul), "D"(seen_wake_count) : "memory");
}

/* End the enclave: ring 0 does `cli; hlt` for good. */
__attribute__((noreturn)) static inline void arch_halt(void)
{
	for (;;)
		__asm__ volatile("int3" : : "a"(1ul), "D"(0ul) : "memory");
}

/* Ring 0: report an exception on COM1 (frame: vector, error code, rip, cs, rflags, rsp, ss). */
void arch_exception_report(const uint64_t *frame);

/* Ring 3 entry (C), called by boot.S after the BSS was cleared. */
void main3(void);
