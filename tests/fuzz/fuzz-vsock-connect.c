// clang-format off
// fuzz-sources: vmm/vsock_bridge.c common/util.c common/log.c
// fuzz-pkgs: libsystemd
// clang-format on
/* The host side's CONNECT line, as a hostile local client sends it: parse it, and when it is
 * accepted, check that the port it names prints back to the same line. */
#include "vmm/vsock_bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	uint32_t port = 0;
	char canon[40];

	if (vsock_bridge_parse_connect((const char *)data, size, &port) != 0)
		return 0;
	/* Accepted: "CONNECT <decimal>\n" in any case, nothing else, within the limit. */
	if (size > VSOCK_BRIDGE_LINE_MAX || data[size - 1] != '\n')
		abort();
	int n = snprintf(canon, sizeof(canon), "CONNECT %u\n", port);
	/* Leading zeros are allowed, so compare numerically after the keyword. */
	if (strncasecmp((const char *)data, canon, 8) != 0 || n <= 8)
		abort();
	unsigned long long again = strtoull((const char *)data + 8, NULL, 10);
	if (again != port)
		abort();
	return 0;
}
