/* Memory hotplug accounting of a lease (virtio-mem resize): a running enclave's lease grows
 * when a larger size is requested (refused up front when the pool cannot cover it) and
 * shrinks as the guest gives blocks back. */
#pragma once

#include "enclaved/pool.h"

#include <stdint.h>

/* Set the memory the lease accounts for to mib (a multiple of the pool's granule). Growing
 * beyond the pool's free memory: -ENOMEM and a message naming what was asked and what is
 * free; nothing changes. Shrinking always succeeds. */
int pool_lease_set_memory(struct pool_lease *lease, uint64_t mib, char **error);
