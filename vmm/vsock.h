/* The virtio-vsock device (id 19) of enclave-vmm: three queues (rx, tx, event), the guest CID in
 * config space, the host bridge and heartbeat from vsock_mux.h. One per VMM, on slot 0. */
#pragma once

#include "vmm/vsock_mux.h"

struct vmm;

/* Counters of the VMM's vsock device; -ENODEV before it exists. Event thread only. */
int vsock_device_stats(struct vsock_stats *out);

/* After a restore: drop every connection and tell the guest with a transport-reset event.
 * Event thread only. */
void vsock_device_transport_reset(void);
