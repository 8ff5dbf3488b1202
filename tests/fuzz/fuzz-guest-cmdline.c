// clang-format off
// fuzz-sources: guest/cmdline.c
// clang-format on
/* The sample enclave's command-line parser over hostile bytes (the VMM or QEMU writes the
 * command line). Every device it accepts must satisfy the bounds it promises. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmdline_device devs[CMDLINE_MAX_DEVICES];
	size_t rejected;
	size_t n =
	    cmdline_parse_devices((const char *)data, size, devs, CMDLINE_MAX_DEVICES, &rejected);
	assert(n <= CMDLINE_MAX_DEVICES);
	for (size_t i = 0; i < n; i++) {
		assert(devs[i].addr < 0x100000000ull);
		assert(devs[i].size <= 0x100000000ull - devs[i].addr);
		assert(devs[i].gsi < 24);
	}
	return 0;
}
