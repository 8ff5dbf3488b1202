#include "guest/console.h"
#include "guest/lib.h"

#define COM1_THR      0x3f8
#define COM1_LSR      0x3fd
#define LSR_THR_EMPTY 0x20
/* A UART that never reports "empty" (or no UART at all) must not hang the enclave. */
#define THR_POLL_LIMIT 1000

static void con_putc(char c)
{
	for (int i = 0; i < THR_POLL_LIMIT; i++) {
		if (lib_inb(COM1_LSR) & LSR_THR_EMPTY)
			break;
	}
	lib_outb(COM1_THR, (uint8_t)c);
}

void con_puts(const char *s)
{
	while (*s) {
		if (*s == '\n')
			con_putc('\r');
		con_putc(*s++);
	}
}

void con_put_hex(uint64_t v)
{
	char buf[19];
	int i = (int)sizeof(buf) - 1;
	buf[i] = 0;
	do {
		buf[--i] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v && i > 2);
	buf[--i] = 'x';
	buf[--i] = '0';
	con_puts(&buf[i]);
}

void con_put_dec(uint64_t v)
{
	char buf[21];
	int i = (int)sizeof(buf) - 1;
	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	con_puts(&buf[i]);
}
