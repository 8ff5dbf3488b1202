/* Leases (alloc/release), live resize and the Pool.Get description. */
#include "config.h"

#include "enclaved/pool-internal.h"

#include "common/log.h"
#include "common/util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static int check_owner(const char *owner, char **error)
{
	size_t len = owner ? strlen(owner) : 0;

	/* The owner names a cgroup directory: keep it a plain file name. */
	if (len == 0 || len > POOL_OWNER_MAX || owner[0] == '.')
		return pool_fail(error, -EINVAL,
				 "owner '%s': 1 to %d characters, not starting with '.'",
				 owner ? owner : "", POOL_OWNER_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = owner[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return pool_fail(error, -EINVAL,
					 "owner '%s': character %zu (0x%02x) is not one of "
					 "[A-Za-z0-9._-]",
					 owner, i, (unsigned char)c);
	}
	return 0;
}

static struct pool_lease *find_owner(struct pool *p, const char *owner)
{
	for (struct pool_lease *l = p->leases; l; l = l->next)
		if (strcmp(l->owner, owner) == 0)
			return l;
	return NULL;
}

static const char *holder_of(struct pool *p, unsigned cpu)
{
	for (struct pool_lease *l = p->leases; l; l = l->next)
		if (pool_cpuset_has(&l->cpus, cpu))
			return l->owner;
	return "?";
}

static void account(struct pool *p, struct pool_lease *l, bool add)
{
	for (int c = pool_cpuset_next(&l->cpus, 0); c >= 0; c = pool_cpuset_next(&l->cpus, c + 1)) {
		if (add)
			p->cpu_users[c]++;
		else if (p->cpu_users[c] > 0)
			p->cpu_users[c]--;
		if (p->cpu_users[c])
			pool_cpuset_add(&p->used, (unsigned)c);
		else
			pool_cpuset_del(&p->used, (unsigned)c);
	}
	if (add) {
		p->used_mib += l->memory_mib;
		p->n_leases++;
	} else {
		p->used_mib -= l->memory_mib;
		p->n_leases--;
	}
}

static void unlink_lease(struct pool *p, struct pool_lease *l)
{
	for (struct pool_lease **pp = &p->leases; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			account(p, l, false);
			return;
		}
	}
}

/* Under the lock: choose CPUs and account the lease. */
static int reserve(struct pool *p, struct pool_lease *l, unsigned cpu_count,
		   const struct pool_cpuset *cpus, char **error)
{
	struct pool_cpuset avail;
	uint64_t free_mib = p->st.memory_mib - p->used_mib;
	int r;

	if (find_owner(p, l->owner))
		return pool_fail(error, -EEXIST, "owner '%s' already holds a lease", l->owner);
	if (cpus) {
		for (int c = pool_cpuset_next(cpus, 0); c >= 0; c = pool_cpuset_next(cpus, c + 1)) {
			if (!pool_cpuset_has(&p->st.cpus, (unsigned)c)) {
				_cleanup_free_ char *list = pool_cpuset_format(&p->st.cpus);
				return pool_fail(error, -EINVAL, "CPU %d is not in the pool (%s)",
						 c, list ? list : "?");
			}
			if (p->cpu_users[c] >= p->oversubscribe)
				return pool_fail(error, -EBUSY, "CPU %d is held by enclave '%s'", c,
						 holder_of(p, (unsigned)c));
		}
		r = pool_topology_whole_cores(p->topo, cpus, error);
		if (r < 0)
			return r;
		l->cpus = *cpus;
	} else {
		/* Least shared CPUs first: with oversubscription, spread enclaves evenly. */
		r = -ENOSPC;
		for (unsigned level = 0; r < 0 && level < p->oversubscribe; level++) {
			pool_cpuset_zero(&avail);
			for (int c = pool_cpuset_next(&p->st.cpus, 0); c >= 0;
			     c = pool_cpuset_next(&p->st.cpus, c + 1))
				if (p->cpu_users[c] <= level)
					pool_cpuset_add(&avail, (unsigned)c);
			r = pool_topology_take(p->topo, cpu_count, &avail, &l->cpus);
		}
		if (r < 0)
			return pool_fail(
			    error, -ENOSPC,
			    "not enough free CPUs: asked for %u (whole cores), %u of %u "
			    "free",
			    cpu_count, pool_cpuset_count(&avail), pool_cpuset_count(&p->st.cpus));
	}
	if (l->memory_mib > free_mib)
		return pool_fail(error, -ENOMEM,
				 "not enough memory: asked for %" PRIu64 " MiB, %" PRIu64
				 " MiB free of %" PRIu64,
				 l->memory_mib, free_mib, p->st.memory_mib);
	l->next = p->leases;
	p->leases = l;
	account(p, l, true);
	return 0;
}

static int make_memfd(const struct pool *p, const struct pool_lease *l, int *out, char **error)
{
	_cleanup_close_ int fd = -1;
	char name[POOL_OWNER_MAX + 16];
	uint64_t page = p->st.page_kib;
	unsigned flags = MFD_CLOEXEC;
	off_t size = (off_t)(l->memory_mib << 20);
	bool huge = page != PAGE_4K_KIB && !p->plain_memfd;

	if (huge)
		flags |= MFD_HUGETLB | (page == PAGE_1G_KIB ? MFD_HUGE_1GB : MFD_HUGE_2MB);
	snprintf(name, sizeof(name), "enclave:%s", l->owner);
	fd = memfd_create(name, flags);
	if (fd < 0)
		return pool_fail(error, -errno, "memfd_create(%s): %s", name, strerror(errno));
	if (ftruncate(fd, size) < 0)
		return pool_fail(error, -errno, "memfd %s: cannot size to %" PRIu64 " MiB: %s",
				 name, l->memory_mib, strerror(errno));
	/* Take the hugepages now, so a lease is real memory and not a promise another process
	 * on the host could break before the guest touches it. */
	if (huge && fallocate(fd, 0, 0, size) < 0)
		return pool_fail(error, -ENOMEM,
				 "memfd %s: the kernel has no %" PRIu64 " free %" PRIu64
				 " kB hugepages (%s); are they used outside the pool?",
				 name, pool_pages_for(l->memory_mib, page), page, strerror(errno));
	*out = util_steal_fd(&fd);
	return 0;
}

int pool_alloc(struct pool *pool, const char *owner, unsigned cpu_count,
	       const struct pool_cpuset *cpus, uint64_t memory_mib, struct pool_lease **out,
	       char **error)
{
	_cleanup_free_ struct pool_lease *l = NULL;
	uint64_t granule;
	int r;

	r = check_owner(owner, error);
	if (r < 0)
		return r;
	if (cpus ? pool_cpuset_empty(cpus) : cpu_count == 0)
		return pool_fail(error, -EINVAL, "enclave '%s': at least one CPU is needed", owner);
	l = calloc(1, sizeof(*l));
	if (!l)
		return pool_fail(error, -ENOMEM, "out of memory");
	l->pool = pool;
	l->memfd = -1;
	l->memory_mib = memory_mib;
	snprintf(l->owner, sizeof(l->owner), "%s", owner);

	pthread_mutex_lock(&pool->lock);
	granule = pool_granule_mib(pool->st.page_kib);
	if (memory_mib < pool->st.min_enclave_mib || memory_mib % granule)
		r = pool_fail(error, -EINVAL,
			      "enclave '%s': memory %" PRIu64 " MiB must be a multiple of %" PRIu64
			      " MiB and at least %" PRIu64 " MiB",
			      owner, memory_mib, granule, pool->st.min_enclave_mib);
	else
		r = reserve(pool, l, cpu_count, cpus, error);
	pthread_mutex_unlock(&pool->lock);
	if (r < 0)
		return r;

	/* Slow parts outside the lock: the lease is accounted already, so nobody else gets it. */
	r = make_memfd(pool, l, &l->memfd, error);
	if (r == 0) {
		r = pool_cgroup_lease_create(&pool->cg, l->owner, &l->cpus, pool->st.node,
					     &l->cgroup);
		if (r < 0)
			r = pool_fail(error, r, "enclave '%s': cpuset cgroup: %s", owner,
				      strerror(-r));
	}
	if (r < 0) {
		pthread_mutex_lock(&pool->lock);
		unlink_lease(pool, l);
		pthread_mutex_unlock(&pool->lock);
		if (l->memfd >= 0)
			close(l->memfd);
		return r;
	}
	*out = util_steal_ptr(&l);
	return 0;
}

int pool_adopt(struct pool *pool, const char *owner, const struct pool_cpuset *cpus,
	       uint64_t memory_mib, struct pool_lease **out, char **error)
{
	_cleanup_free_ struct pool_lease *l = NULL;
	uint64_t granule;
	int r;

	r = check_owner(owner, error);
	if (r < 0)
		return r;
	if (pool_cpuset_empty(cpus))
		return pool_fail(error, -EINVAL, "enclave '%s': at least one CPU is needed", owner);
	l = calloc(1, sizeof(*l));
	if (!l)
		return pool_fail(error, -ENOMEM, "out of memory");
	l->pool = pool;
	l->memfd = -1; /* the VMM holds the memory; the lease only accounts for it */
	l->memory_mib = memory_mib;
	snprintf(l->owner, sizeof(l->owner), "%s", owner);

	pthread_mutex_lock(&pool->lock);
	granule = pool_granule_mib(pool->st.page_kib);
	if (memory_mib == 0 || memory_mib % granule)
		r = pool_fail(error, -EINVAL,
			      "enclave '%s': memory %" PRIu64 " MiB is not a multiple of %" PRIu64
			      " MiB",
			      owner, memory_mib, granule);
	else
		r = reserve(pool, l, 0, cpus, error);
	pthread_mutex_unlock(&pool->lock);
	if (r < 0)
		return r;
	/* The cgroup of the earlier daemon is still there (and holds the VMM): reuse it. */
	r = pool_cgroup_lease_create(&pool->cg, l->owner, &l->cpus, pool->st.node, &l->cgroup);
	if (r < 0) {
		log_warn("pool: enclave '%s': cpuset cgroup: %s (the VMM stays pinned)", owner,
			 strerror(-r));
		l->cgroup = NULL;
	}
	*out = util_steal_ptr(&l);
	return 0;
}

int pool_release(struct pool_lease *lease)
{
	struct pool *p;
	int r = 0;

	if (!lease)
		return 0;
	p = lease->pool;
	pthread_mutex_lock(&p->lock);
	unlink_lease(p, lease);
	pthread_mutex_unlock(&p->lock);
	if (lease->memfd >= 0)
		close(lease->memfd);
	if (lease->cgroup) {
		r = pool_cgroup_remove(lease->cgroup);
		if (r < 0)
			log_warn("pool: %s: cannot remove: %s", lease->cgroup, strerror(-r));
	}
	free(lease->cgroup);
	free(lease);
	return r;
}

const char *pool_lease_owner(const struct pool_lease *lease)
{
	return lease->owner;
}

void pool_lease_cpus(const struct pool_lease *lease, struct pool_cpuset *out)
{
	*out = lease->cpus;
}

uint64_t pool_lease_memory_mib(const struct pool_lease *lease)
{
	return lease->memory_mib;
}

int pool_lease_memfd(const struct pool_lease *lease)
{
	return lease->memfd;
}

const char *pool_lease_cgroup(const struct pool_lease *lease)
{
	return lease->cgroup;
}

int pool_lease_attach(const struct pool_lease *lease, pid_t pid)
{
	return pool_cgroup_attach(&lease->pool->cg, lease->cgroup, pid);
}
