/* Helpers shared by the EIF reader, writer and signer; not part of the public API. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "image/eif.h"

void eif_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int eif_pread_full(int fd, void *buf, size_t len, uint64_t off);
void eif_section_header_encode(enum eif_section_type type, uint64_t size,
			       uint8_t buf[EIF_SECTION_HEADER_SIZE]);
