/* Freestanding helpers for the sample enclave: memory and string routines, port and MMIO
 * access, barriers. Nothing here may assume a hosted C library. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define LIB_MIN(a, b)	  ((a) < (b) ? (a) : (b))

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Compiler barrier: x86 keeps stores ordered with stores and loads with loads, so ring
 * updates only need the compiler to keep program order. */
static inline void lib_barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Full fence: needed where a store must be visible before a later load (notification
 * suppression checks). */
static inline void lib_mfence(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

static inline void lib_pause(void)
{
	__asm__ volatile("pause");
}

static inline uint8_t lib_inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void lib_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t lib_mmio_read32(uintptr_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline void lib_mmio_write32(uintptr_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

static inline uint16_t lib_load_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t lib_load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t lib_load_le64(const uint8_t *p)
{
	return (uint64_t)lib_load_le32(p) | (uint64_t)lib_load_le32(p + 4) << 32;
}

static inline uint32_t lib_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t lib_load_be64(const uint8_t *p)
{
	return (uint64_t)lib_load_be32(p) << 32 | lib_load_be32(p + 4);
}

static inline void lib_store_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void lib_store_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void lib_store_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void lib_store_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static inline void lib_store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}
