/* virtio-mem driver (device 24) of the sample enclave: follows the device's requested_size by
 * PLUG and UNPLUG requests of block ranges, checks every newly plugged byte, and prints
 * `sample-enclave: memory plugged=<MiB> MiB` on every change. Polled from the main loop;
 * the device's config-change interrupt only wakes the enclave. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "guest/virtio.h"

#define VIO_ID_MEM 24

/* Start the device. -ENOTSUP when its region lies outside the identity-mapped 4 GiB. */
int mem_init(struct vio_dev *dev);
/* After any interrupt: re-read requested_size and plug or unplug towards it. True if it did
 * work. Cheap (no device access) while nothing woke the enclave. */
bool mem_poll(void);
