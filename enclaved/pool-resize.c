/* Live resize of the pool and its description for Pool.Get. */
#include "config.h"

#include "enclaved/pool-internal.h"

#include "common/log.h"
#include "common/util.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* "a (CPUs 2-3, 64 MiB), b (...)" for the leases in the way of a shrink. */
static int in_the_way(struct pool *p, const struct pool_cpuset *cpus, bool memory, char **error,
		      const char *what)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	bool first = true;

	if (!f)
		return pool_fail(error, -ENOMEM, "out of memory");
	for (struct pool_lease *l = p->leases; l; l = l->next) {
		_cleanup_free_ char *list = NULL;
		if (!memory && pool_cpuset_subset(&l->cpus, cpus))
			continue;
		list = pool_cpuset_format(&l->cpus);
		fprintf(f, "%s%s (CPUs %s, %" PRIu64 " MiB)", first ? "" : ", ", l->owner,
			list ? list : "?", l->memory_mib);
		first = false;
	}
	if (fclose(f) != 0)
		return pool_fail(error, -ENOMEM, "out of memory");
	return pool_fail(error, -EBUSY, "%s: in use by enclaves %s", what, text ? text : "");
}

/* Move our hugepage reservation from (old node, old pages) to (new node, new pages). */
static int move_pages(struct pool *p, int old_node, uint64_t old_pages, int new_node,
		      uint64_t new_pages, char **error)
{
	int r;

	if (p->st.page_kib == PAGE_4K_KIB)
		return 0;
	if (old_node == new_node)
		return pool_hugepages_adjust(&p->huge, new_node, p->st.page_kib, old_pages,
					     new_pages, error);
	r = pool_hugepages_adjust(&p->huge, new_node, p->st.page_kib, 0, new_pages, error);
	if (r < 0)
		return r;
	r = pool_hugepages_adjust(&p->huge, old_node, p->st.page_kib, old_pages, 0, error);
	if (r < 0)
		(void)pool_hugepages_adjust(&p->huge, new_node, p->st.page_kib, new_pages, 0, NULL);
	return r;
}

static int resize_locked(struct pool *p, const struct pool_cpuset *cpus, unsigned cpu_count,
			 uint64_t memory_mib, char **error)
{
	struct pool_topology *topo = NULL;
	struct pool_state old = p->st;
	struct pool_cpuset next = p->st.cpus;
	_cleanup_free_ char *why = NULL;
	uint64_t granule = pool_granule_mib(p->st.page_kib);
	uint64_t new_pages;
	int node = p->st.node;
	int r;

	if (memory_mib == 0)
		memory_mib = p->st.memory_mib;
	if (memory_mib % granule)
		return pool_fail(error, -EINVAL,
				 "memory_mib = %" PRIu64 ": not a multiple of %" PRIu64
				 " MiB pages",
				 memory_mib, granule);
	/* CPUs come and go: judge the new set by today's topology. */
	r = pool_topology_read(p->sysfs_root, &topo, error);
	if (r < 0)
		return r;
	if (cpus || cpu_count) {
		if (!cpus && cpu_count < pool_cpuset_count(&p->used)) {
			r = in_the_way(p, &next, true, error, "cannot shrink to that many CPUs");
			goto out;
		}
		if (cpus)
			next = *cpus;
		else if ((r = pool_topology_pick(topo, cpu_count, &p->st.cpus, &p->used, p->st.node,
						 p->st.exclude_cpu0, &next, error)) < 0)
			goto out;
		if (pool_cpuset_empty(&next)) {
			r = pool_fail(error, -EINVAL, "the pool needs at least one CPU");
			goto out;
		}
		r = pool_topology_check(topo, &next, p->st.exclude_cpu0, &node, &why);
		if (r < 0) {
			r = pool_fail(error, r, "cpu_pool: %s", why ? why : "invalid");
			goto out;
		}
	}
	if (!pool_cpuset_subset(&p->used, &next)) {
		r = in_the_way(p, &next, false, error, "cannot remove leased CPUs");
		goto out;
	}
	if (memory_mib < p->used_mib) {
		r = in_the_way(p, &next, true, error, "cannot shrink memory below what is leased");
		goto out;
	}
	if (node != p->st.node && p->n_leases) {
		r = pool_fail(error, -EBUSY, "the new CPUs are on NUMA node %d, leases on node %d",
			      node, p->st.node);
		goto out;
	}
	if (p->st.page_kib != PAGE_4K_KIB &&
	    !pool_hugepages_supported(p->sysfs_root, node, p->st.page_kib)) {
		r = pool_fail(error, -EOPNOTSUPP, "node %d has no %" PRIu64 " kB hugepages", node,
			      p->st.page_kib);
		goto out;
	}
	new_pages = pool_pages_for(memory_mib, p->st.page_kib);
	r = move_pages(p, old.node, old.reserved_pages, node, new_pages, error);
	if (r < 0)
		goto out;
	p->st.cpus = next;
	p->st.memory_mib = memory_mib;
	p->st.node = node;
	p->st.reserved_pages = new_pages;
	r = pool_cgroup_set_cpus(&p->cg, &next, node);
	if (r < 0)
		r = pool_fail(error, r, "%s: cannot set CPUs: %s", p->cg.dir, strerror(-r));
	else
		r = pool_persist(p, error);
	if (r < 0) {
		/* All or nothing: back to the old pool. */
		(void)move_pages(p, node, new_pages, old.node, old.reserved_pages, NULL);
		(void)pool_cgroup_set_cpus(&p->cg, &old.cpus, old.node);
		p->st = old;
		goto out;
	}
	pool_topology_free(p->topo);
	p->topo = util_steal_ptr(&topo);
out:
	pool_topology_free(topo);
	return r;
}

int pool_resize(struct pool *pool, const struct pool_cpuset *cpus, unsigned cpu_count,
		uint64_t memory_mib, char **error)
{
	int r;

	pthread_mutex_lock(&pool->lock);
	r = resize_locked(pool, cpus, cpu_count, memory_mib, error);
	pthread_mutex_unlock(&pool->lock);
	return r;
}

const char *pool_isolation_to_string(enum pool_isolation i)
{
	return i == POOL_ISOLATION_CGROUP ? "cgroup" : "pinning";
}

int pool_describe(struct pool *pool, struct pool_description *out)
{
	struct pool_description d;
	size_t i = 0;
	int r = 0;

	memset(&d, 0, sizeof(d));
	pthread_mutex_lock(&pool->lock);
	d.cpus_total = pool->st.cpus;
	d.cpus_used = pool->used;
	for (size_t w = 0; w < UTIL_ARRAY_SIZE(d.cpus_free.bits); w++)
		d.cpus_free.bits[w] = pool->st.cpus.bits[w] & ~pool->used.bits[w];
	d.memory_total_mib = pool->st.memory_mib;
	d.memory_used_mib = pool->used_mib;
	d.memory_free_mib = pool->st.memory_mib - pool->used_mib;
	d.page_size_kib = pool->st.page_kib;
	d.hugepages = pool->st.hugepages;
	d.numa_node = pool->st.node;
	d.min_enclave_mib = pool->st.min_enclave_mib;
	d.isolation = pool->cg.version ? POOL_ISOLATION_CGROUP : POOL_ISOLATION_PINNING;
	snprintf(d.isolation_note, sizeof(d.isolation_note), "%s", pool->cg.note);
	d.memory_locked_by_vmm = pool->st.page_kib == PAGE_4K_KIB;
	d.cpu_oversubscribe = pool->oversubscribe;
	if (pool->n_leases) {
		d.leases = calloc(pool->n_leases, sizeof(*d.leases));
		if (!d.leases)
			r = -ENOMEM;
	}
	for (struct pool_lease *l = pool->leases; r == 0 && l; l = l->next, i++) {
		snprintf(d.leases[i].owner, sizeof(d.leases[i].owner), "%s", l->owner);
		d.leases[i].cpus = l->cpus;
		d.leases[i].memory_mib = l->memory_mib;
	}
	d.n_leases = i;
	pthread_mutex_unlock(&pool->lock);
	if (r < 0)
		return r;
	*out = d;
	return 0;
}

void pool_description_free(struct pool_description *d)
{
	free(d->leases);
	d->leases = NULL;
	d->n_leases = 0;
}

static int add_cpus(json_object *o, const char *key, const struct pool_cpuset *s)
{
	_cleanup_free_ char *list = pool_cpuset_format(s);

	if (!list)
		return -ENOMEM;
	return json_object_object_add(o, key, json_object_new_string(list)) < 0 ? -ENOMEM : 0;
}

static int add_u64(json_object *o, const char *key, uint64_t v)
{
	return json_object_object_add(o, key, json_object_new_int64((int64_t)v)) < 0 ? -ENOMEM : 0;
}

int pool_description_to_json(const struct pool_description *d, char **out)
{
	json_object *o = json_object_new_object();
	json_object *leases = json_object_new_array();
	int r = -ENOMEM;

	if (!o || !leases)
		goto out;
	for (size_t i = 0; i < d->n_leases; i++) {
		json_object *l = json_object_new_object();
		if (!l || json_object_array_add(leases, l) < 0) {
			json_object_put(l);
			goto out;
		}
		if (json_object_object_add(l, "enclave",
					   json_object_new_string(d->leases[i].owner)) < 0 ||
		    add_cpus(l, "cpus", &d->leases[i].cpus) < 0 ||
		    add_u64(l, "memory_mib", d->leases[i].memory_mib) < 0)
			goto out;
	}
	if (add_cpus(o, "cpus_total", &d->cpus_total) < 0 ||
	    add_cpus(o, "cpus_free", &d->cpus_free) < 0 ||
	    add_cpus(o, "cpus_used", &d->cpus_used) < 0 ||
	    add_u64(o, "memory_total_mib", d->memory_total_mib) < 0 ||
	    add_u64(o, "memory_free_mib", d->memory_free_mib) < 0 ||
	    add_u64(o, "memory_used_mib", d->memory_used_mib) < 0 ||
	    add_u64(o, "page_size_kib", d->page_size_kib) < 0 ||
	    json_object_object_add(o, "hugepages",
				   json_object_new_string(pool_hugepages_to_string(d->hugepages))) <
		0 ||
	    json_object_object_add(o, "numa_node", json_object_new_int(d->numa_node)) < 0 ||
	    add_u64(o, "min_enclave_mib", d->min_enclave_mib) < 0 ||
	    add_u64(o, "cpu_oversubscribe", d->cpu_oversubscribe) < 0 ||
	    json_object_object_add(o, "isolation",
				   json_object_new_string(pool_isolation_to_string(d->isolation))) <
		0 ||
	    json_object_object_add(o, "isolation_note", json_object_new_string(d->isolation_note)) <
		0 ||
	    json_object_object_add(o, "memory_locked_by_vmm",
				   json_object_new_boolean(d->memory_locked_by_vmm)) < 0)
		goto out;
	if (json_object_object_add(o, "leases", leases) < 0)
		goto out;
	leases = NULL;
	*out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	r = *out ? 0 : -ENOMEM;
out:
	json_object_put(leases);
	json_object_put(o);
	return r;
}
