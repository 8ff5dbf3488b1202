#include "config.h"

#include "enclaved/pool-hotplug.h"
#include "enclaved/pool-internal.h"

#include <errno.h>
#include <inttypes.h>

int pool_lease_set_memory(struct pool_lease *l, uint64_t mib, char **error)
{
	struct pool *p = l->pool;
	uint64_t granule;
	int r = 0;

	pthread_mutex_lock(&p->lock);
	granule = pool_granule_mib(p->st.page_kib);
	if (mib == 0 || mib % granule) {
		r = pool_fail(error, -EINVAL,
			      "enclave '%s': memory %" PRIu64 " MiB is not a multiple of %" PRIu64
			      " MiB",
			      l->owner, mib, granule);
	} else if (mib > l->memory_mib && mib - l->memory_mib > p->st.memory_mib - p->used_mib) {
		r = pool_fail(error, -ENOMEM,
			      "not enough memory: %" PRIu64 " MiB more asked for, %" PRIu64
			      " MiB free of %" PRIu64,
			      mib - l->memory_mib, p->st.memory_mib - p->used_mib,
			      p->st.memory_mib);
	} else {
		p->used_mib = p->used_mib - l->memory_mib + mib;
		l->memory_mib = mib;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}
