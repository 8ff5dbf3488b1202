/* Command-line parsing: the virtio_mmio.device=<size>@<addr>:<gsi> entries the VMM appends. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CMDLINE_MAX_LEN	    4096
#define CMDLINE_MAX_DEVICES 16

struct cmdline_device {
	uint64_t addr;
	uint64_t size;
	uint32_t gsi;
};

/* Parse up to `max` entries from the first `len` bytes of `cmdline` (stops at NUL). Entries that
 * are malformed, outside the 32-bit MMIO window we map, or with a GSI beyond the IOAPIC's 24 pins
 * are skipped and counted in *rejected. Returns the number of devices stored. */
size_t cmdline_parse_devices(const char *cmdline, size_t len, struct cmdline_device *out,
			     size_t max, size_t *rejected);
