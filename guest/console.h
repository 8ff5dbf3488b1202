/* COM1 output, polled. Works at ring 3 through the TSS I/O permission bitmap and at ring 0.
 * Every byte costs a VM exit (tens of µs), so callers print a few short lines only. */
#pragma once

#include <stdint.h>

void con_puts(const char *s);
void con_put_hex(uint64_t v);
void con_put_dec(uint64_t v);
