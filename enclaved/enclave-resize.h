/* Live memory resize of an enclave (virtio-mem in its VMM; api_resize.c). The lease accounts
 * for boot memory + max(plugged, requested) at every moment: a grow is reserved in the pool
 * when it is asked for (or refused with RESOURCE_EXHAUSTED), a shrink is given back as the
 * guest unplugs (the VMM reports MemoryState on every change and punches the blocks out). */
#pragma once

#include "enclaved/enclave.h"

#include <stdint.h>

#define ENCLAVE_MAX_MEMORY_GIB 64u /* the VMM's guest-memory limit */

/* max_mib 0 (no hot resize) or above boot_mib by a multiple of 2, within the VMM's limit. */
int enclave_resize_check_max(uint64_t boot_mib, uint64_t max_mib);
/* At Run, after boot memory is set. */
void enclave_resize_init(struct enclave *e, uint64_t max_mib);
/* MemoryState from the VMM (bytes of the hotplug region). */
void enclave_on_memory_state(struct enclave *e, uint64_t plugged, uint64_t requested);
/* Fill pb->memory (malloc'd; enclave_pb_clear frees it). */
int enclave_resize_to_pb(const struct enclave *e, Enclaved__V1__Enclave *pb);
