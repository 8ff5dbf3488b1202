/* The boot heartbeat (Nitro's init): the guest connects to CID 3 port 9000 and writes 0xB7;
 * the VMM answers 0xB7 itself and tells the daemon the enclave has booted. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define HEARTBEAT_PORT 9000u
#define HEARTBEAT_BYTE 0xB7u

/* Called once per valid heartbeat, on the VMM's event thread. */
typedef void (*heartbeat_fn)(void *opaque);

/* Check the bytes a guest sent on the heartbeat connection: 0 when they are exactly one
 * 0xB7, -EPROTO (with a message naming the byte) otherwise. */
int heartbeat_check(const uint8_t *data, size_t len);
