/* 8250/16550 UART at COM1 (0x3f8, IRQ 4), transmit side: enough for Linux's 8250 driver
 * (probe, loopback test, THRE interrupts) and for a guest that polls LSR. Register accesses
 * come from vCPU threads; output bytes are buffered and handed to the console sink on the event
 * thread, so a slow sink never stalls a vCPU. Nothing is ever received (RBR reads 0). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1_BASE 0x3f8u
#define SERIAL_COM1_IRQ	 4u
#define SERIAL_BUF_SIZE	 (64u * 1024u)

struct vmm;
struct vmm_serial;

/* Receives console output on the event thread. */
typedef void (*vmm_console_sink_fn)(void *opaque, const uint8_t *data, size_t len);

int vmm_serial_new(struct vmm *vmm, vmm_console_sink_fn sink, void *opaque,
		   struct vmm_serial **out);
void vmm_serial_free(struct vmm_serial *s);

/* A port access at port (SERIAL_COM1_BASE..+7), size 1. Returns false for other ports. */
bool vmm_serial_io(struct vmm_serial *s, uint16_t port, uint8_t *data, bool is_write);

/* Hand everything buffered to the sink now (end of the VMM). */
void vmm_serial_flush(struct vmm_serial *s);

/* Bytes dropped because the sink fell behind by more than SERIAL_BUF_SIZE. */
uint64_t vmm_serial_dropped(const struct vmm_serial *s);
