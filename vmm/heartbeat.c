#include "config.h"

#include "vmm/heartbeat.h"

#include "common/log.h"

#include <errno.h>

int heartbeat_check(const uint8_t *data, size_t len)
{
	if (len != 1) {
		log_warn("heartbeat: guest sent %zu bytes, expected exactly 1", len);
		return -EPROTO;
	}
	if (data[0] != HEARTBEAT_BYTE) {
		log_warn("heartbeat: guest sent byte 0x%02x, expected 0x%02x", data[0],
			 HEARTBEAT_BYTE);
		return -EPROTO;
	}
	return 0;
}
