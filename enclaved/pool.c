/* The pool object: leases of CPUs and memory, live resize, persistence. */
#include "config.h"

#include "enclaved/pool-internal.h"

#include "common/log.h"
#include "common/util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <linux/memfd.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

uint64_t pool_pages_for(uint64_t mib, uint64_t page_kib)
{
	return page_kib == PAGE_4K_KIB ? 0 : mib * 1024 / page_kib;
}

/* Enclave memory comes in whole pages of the pool's size, and never less than 2 MiB. */
uint64_t pool_granule_mib(uint64_t page_kib)
{
	return page_kib == PAGE_1G_KIB ? 1024 : 2;
}

static int choose_page(const char *root, enum pool_hugepages mode, int node, uint64_t memory_mib,
		       uint64_t min_mib, uint64_t *page_kib, char **error)
{
	bool has_1g = pool_hugepages_supported(root, node, PAGE_1G_KIB);
	bool has_2m = pool_hugepages_supported(root, node, PAGE_2M_KIB);

	switch (mode) {
	case POOL_HUGEPAGES_NONE:
		*page_kib = PAGE_4K_KIB;
		return 0;
	case POOL_HUGEPAGES_1G:
		if (!has_1g)
			return pool_fail(error, -EOPNOTSUPP,
					 "hugepages = 1G: node %d has no 1 GiB hugepages", node);
		if (memory_mib % 1024)
			return pool_fail(error, -EINVAL,
					 "memory_mib = %" PRIu64
					 ": not a multiple of 1024 (1G pages)",
					 memory_mib);
		*page_kib = PAGE_1G_KIB;
		return 0;
	case POOL_HUGEPAGES_2M:
		if (!has_2m)
			return pool_fail(error, -EOPNOTSUPP,
					 "hugepages = 2M: node %d has no 2 MiB hugepages", node);
		*page_kib = PAGE_2M_KIB;
		return 0;
	case POOL_HUGEPAGES_AUTO:
		/* The largest page that every allowed enclave size divides: a 64 MiB enclave
		 * must not cost a 1 GiB page. */
		if (has_1g && memory_mib % 1024 == 0 && min_mib % 1024 == 0)
			*page_kib = PAGE_1G_KIB;
		else if (has_2m)
			*page_kib = PAGE_2M_KIB;
		else
			*page_kib = PAGE_4K_KIB;
		return 0;
	}
	return pool_fail(error, -EINVAL, "hugepages: unknown mode %d", (int)mode);
}

static int state_from_config(struct pool *p, const struct pool_config *cfg, char **error)
{
	struct pool_state *st = &p->st;
	struct pool_cpuset none;
	int r;

	memset(st, 0, sizeof(*st));
	st->memory_mib = cfg->memory_mib;
	st->hugepages = cfg->hugepages;
	st->min_enclave_mib = cfg->min_enclave_mib;
	st->exclude_cpu0 = cfg->exclude_cpu0;
	if (cfg->has_cpu_pool) {
		st->cpus = cfg->cpu_pool;
	} else {
		unsigned count = cfg->cpu_count;

		pool_cpuset_zero(&none);
		r = pool_topology_pick(p->topo, count, &none, &none, -1, cfg->exclude_cpu0,
				       &st->cpus, error);
		/* The built-in default must fit the machine it runs on (a small host may not have
		 * two whole cores besides CPU 0); an explicit cpu_count is never shrunk. */
		while (r == -ENOSPC && !cfg->cpu_count_set && count > 1) {
			if (error) {
				free(*error);
				*error = NULL;
			}
			count--;
			r = pool_topology_pick(p->topo, count, &none, &none, -1, cfg->exclude_cpu0,
					       &st->cpus, error);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Checks shared by a configured and a persisted pool. */
static int state_check(struct pool *p, char **error)
{
	struct pool_state *st = &p->st;
	_cleanup_free_ char *why = NULL;
	int r;

	if (pool_cpuset_empty(&st->cpus))
		return pool_fail(error, -EINVAL, "the pool has no CPUs");
	r = pool_topology_check(p->topo, &st->cpus, st->exclude_cpu0, &st->node, &why);
	if (r < 0)
		return pool_fail(error, r, "cpu_pool: %s", why ? why : "invalid");
	if (st->memory_mib == 0 || st->memory_mib % 2)
		return pool_fail(error, -EINVAL, "memory_mib = %" PRIu64 ": not a multiple of 2",
				 st->memory_mib);
	if (st->min_enclave_mib % 2)
		return pool_fail(error, -EINVAL,
				 "min_enclave_mib = %" PRIu64 ": not a multiple of 2",
				 st->min_enclave_mib);
	return 0;
}

int pool_persist(struct pool *p, char **error)
{
	return p->state_dir ? pool_state_save(p->state_dir, &p->st, error) : 0;
}

static int release_persisted(struct pool *p, const char *boot_id, char **error)
{
	struct pool_state old;
	int r = pool_state_load(p->state_dir, &old, NULL);

	if (r < 0 || !boot_id[0] || strcmp(old.boot_id, boot_id) != 0 || !old.reserved_pages)
		return 0; /* nothing of ours to give back (a damaged file is simply replaced) */
	return pool_hugepages_adjust(&p->huge, old.node, old.page_kib, old.reserved_pages, 0,
				     error);
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int pool_new(const struct pool_config *cfg, const struct pool_options *opts, struct pool **out,
	     char **error)
{
	struct pool *p = calloc(1, sizeof(*p));
	_cleanup_free_ char *list = NULL;
	char boot_id[64];
	uint64_t ours_before = 0;
	bool oom = false, persisted = false;
	int r;

	if (!p)
		return pool_fail(error, -ENOMEM, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	p->sysfs_root = dup_opt(opts->sysfs_root ? opts->sysfs_root : "/", &oom);
	p->state_dir = dup_opt(opts->state_dir, &oom);
	p->cgroup_root = dup_opt(opts->cgroup_root, &oom);
	if (oom) {
		r = pool_fail(error, -ENOMEM, "out of memory");
		goto fail;
	}
	p->plain_memfd = opts->plain_memfd;
	p->oversubscribe = cfg->cpu_oversubscribe ? cfg->cpu_oversubscribe : 1;
	p->huge.sysfs_root = p->sysfs_root;
	p->huge.after_write = opts->after_hugepage_write;
	p->huge.userdata = opts->hook_userdata;
	r = pool_topology_read(p->sysfs_root, &p->topo, error);
	if (r < 0)
		goto fail;

	pool_boot_id(boot_id, sizeof(boot_id));
	if (p->state_dir && !opts->reset) {
		r = pool_state_load(p->state_dir, &p->st, error);
		if (r < 0 && r != -ENOENT)
			goto fail; /* a damaged pool.json is not silently replaced by the config */
		persisted = r == 0;
	} else if (p->state_dir) {
		/* Reset: hand back what the persisted pool reserved in this boot first. */
		r = release_persisted(p, boot_id, error);
		if (r < 0)
			goto fail;
	}
	if (!persisted && (r = state_from_config(p, cfg, error)) < 0)
		goto fail;
	if ((r = state_check(p, error)) < 0)
		goto fail;
	if (persisted) {
		/* Pages we reserved earlier in this boot are still ours; after a reboot none are.
		 */
		if (boot_id[0] && strcmp(boot_id, p->st.boot_id) == 0)
			ours_before = p->st.reserved_pages;
	} else {
		r = choose_page(p->sysfs_root, p->st.hugepages, p->st.node, p->st.memory_mib,
				p->st.min_enclave_mib, &p->st.page_kib, error);
		if (r < 0)
			goto fail;
	}
	if (p->st.memory_mib % pool_granule_mib(p->st.page_kib)) {
		r = pool_fail(error, -EINVAL,
			      "memory_mib = %" PRIu64 ": not a whole number of %" PRIu64
			      " kB pages",
			      p->st.memory_mib, p->st.page_kib);
		goto fail;
	}
	if (p->st.page_kib != PAGE_4K_KIB) {
		r = pool_hugepages_adjust(&p->huge, p->st.node, p->st.page_kib, ours_before,
					  pool_pages_for(p->st.memory_mib, p->st.page_kib), error);
		if (r < 0)
			goto fail;
	}
	p->st.reserved_pages = pool_pages_for(p->st.memory_mib, p->st.page_kib);
	snprintf(p->st.boot_id, sizeof(p->st.boot_id), "%s", boot_id);
	pool_cgroup_setup(&p->cg, p->cgroup_root, &p->st.cpus, p->st.node);
	r = pool_persist(p, error);
	if (r < 0) {
		(void)pool_teardown(p, NULL);
		goto fail;
	}
	list = pool_cpuset_format(&p->st.cpus);
	log_info("pool: CPUs %s of node %d, %" PRIu64 " MiB in %" PRIu64 " kB pages%s; %s",
		 list ? list : "?", p->st.node, p->st.memory_mib, p->st.page_kib,
		 p->st.page_kib == PAGE_4K_KIB ? " (ordinary memory, mlocked by each VMM)" : "",
		 p->cg.note);
	*out = p;
	return 0;
fail:
	pool_free(p);
	return r;
}

void pool_free(struct pool *pool)
{
	if (!pool)
		return;
	while (pool->leases) {
		struct pool_lease *l = pool->leases;
		pool->leases = l->next;
		if (l->memfd >= 0)
			close(l->memfd);
		free(l->cgroup);
		free(l);
	}
	pool_topology_free(pool->topo);
	free(pool->sysfs_root);
	free(pool->state_dir);
	free(pool->cgroup_root);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

int pool_teardown(struct pool *pool, char **error)
{
	int r = 0;

	pthread_mutex_lock(&pool->lock);
	if (pool->n_leases) {
		r = pool_fail(error, -EBUSY, "pool teardown: %zu leases still held",
			      pool->n_leases);
		goto out;
	}
	if (pool->st.reserved_pages) {
		r = pool_hugepages_adjust(&pool->huge, pool->st.node, pool->st.page_kib,
					  pool->st.reserved_pages, 0, error);
		if (r < 0)
			goto out;
		pool->st.reserved_pages = 0;
	}
	if (pool->cg.version) {
		r = pool_cgroup_remove(pool->cg.dir);
		if (r < 0) {
			r = pool_fail(error, r, "%s: cannot remove: %s", pool->cg.dir,
				      strerror(-r));
			goto out;
		}
		pool->cg.version = 0;
		snprintf(pool->cg.note, sizeof(pool->cg.note), "torn down");
	}
	r = pool_persist(pool, error);
out:
	pthread_mutex_unlock(&pool->lock);
	return r;
}
