/* Host CPU topology from sysfs (online CPUs, SMT siblings, NUMA nodes) and the pool's rules. */
#include "config.h"

#include "enclaved/pool-internal.h"

#include "common/util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* sysfs files we read are tiny; anything bigger is not sysfs. */
#define TOPOLOGY_FILE_MAX 65536

int pool_path(char *buf, size_t len, const char *root, const char *fmt, ...)
{
	va_list ap;
	size_t rootlen;
	int n;

	if (!root)
		root = "";
	rootlen = strlen(root);
	while (rootlen > 0 && root[rootlen - 1] == '/')
		rootlen--;
	if (rootlen >= len)
		return -ENAMETOOLONG;
	memcpy(buf, root, rootlen);
	va_start(ap, fmt);
	n = vsnprintf(buf + rootlen, len - rootlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - rootlen)
		return -ENAMETOOLONG;
	return 0;
}

static int read_cpulist(const char *path, struct pool_cpuset *out, char **error)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *why = NULL;
	int r;

	r = util_read_file(path, TOPOLOGY_FILE_MAX, &text, NULL);
	if (r < 0)
		return pool_fail(error, r, "%s: %s", path, strerror(-r));
	r = pool_cpuset_parse(text, out, &why);
	if (r < 0)
		return pool_fail(error, r, "%s: %s", path, why ? why : "invalid CPU list");
	return 0;
}

static int read_nodes(const char *root, struct pool_topology *t, char **error)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int r = pool_path(dir, sizeof(dir), root, "/sys/devices/system/node");

	if (r < 0)
		return pool_fail(error, r, "sysfs root too long");
	d = opendir(dir);
	if (!d)
		return 0; /* a kernel without NUMA support: one implicit node */
	t->has_nodes = true;
	while ((e = readdir(d))) {
		char path[PATH_MAX];
		struct pool_cpuset cpus;
		uint64_t node;
		int c;

		if (strncmp(e->d_name, "node", 4) != 0 ||
		    util_parse_u64(e->d_name + 4, POOL_MAX_CPUS - 1, &node) < 0)
			continue;
		r = pool_path(path, sizeof(path), dir, "/%s/cpulist", e->d_name);
		if (r == 0)
			r = read_cpulist(path, &cpus, error);
		if (r < 0)
			break;
		for (c = pool_cpuset_next(&cpus, 0); c >= 0; c = pool_cpuset_next(&cpus, c + 1)) {
			if (t->node[c] >= 0 && t->node[c] != (int)node) {
				r = pool_fail(error, -EINVAL, "%s: CPU %d is also on node %d", path,
					      c, t->node[c]);
				break;
			}
			t->node[c] = (int)node;
		}
		if (r < 0)
			break;
	}
	closedir(d);
	return r < 0 ? r : 0;
}

int pool_topology_read(const char *sysfs_root, struct pool_topology **out, char **error)
{
	_cleanup_free_ struct pool_topology *t = calloc(1, sizeof(*t));
	char path[PATH_MAX];
	int r, c;

	if (!t)
		return pool_fail(error, -ENOMEM, "out of memory");
	for (size_t i = 0; i < POOL_MAX_CPUS; i++)
		t->node[i] = -1;
	r = pool_path(path, sizeof(path), sysfs_root, "/sys/devices/system/cpu/online");
	if (r < 0)
		return pool_fail(error, r, "sysfs root too long");
	r = read_cpulist(path, &t->online, error);
	if (r < 0)
		return r;
	for (c = pool_cpuset_next(&t->online, 0); c >= 0; c = pool_cpuset_next(&t->online, c + 1)) {
		r = pool_path(path, sizeof(path), sysfs_root,
			      "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", c);
		if (r < 0)
			return pool_fail(error, r, "sysfs root too long");
		if (access(path, F_OK) < 0) {
			/* No topology directory: the CPU is a core of its own. */
			pool_cpuset_add(&t->siblings[c], (unsigned)c);
			continue;
		}
		r = read_cpulist(path, &t->siblings[c], error);
		if (r < 0)
			return r;
		if (!pool_cpuset_has(&t->siblings[c], (unsigned)c))
			return pool_fail(error, -EINVAL, "%s: CPU %d is not among its own siblings",
					 path, c);
	}
	r = read_nodes(sysfs_root, t, error);
	if (r < 0)
		return r;
	*out = util_steal_ptr(&t);
	return 0;
}

void pool_topology_free(struct pool_topology *t)
{
	free(t);
}

static bool in_cpu0_core(const struct pool_topology *t, unsigned cpu)
{
	return cpu == 0 || pool_cpuset_has(&t->siblings[0], cpu);
}

int pool_topology_whole_cores(const struct pool_topology *t, const struct pool_cpuset *cpus,
			      char **error)
{
	for (int c = pool_cpuset_next(cpus, 0); c >= 0; c = pool_cpuset_next(cpus, c + 1)) {
		const struct pool_cpuset *sib = &t->siblings[c];
		for (int s = pool_cpuset_next(sib, 0); s >= 0; s = pool_cpuset_next(sib, s + 1))
			if (!pool_cpuset_has(cpus, (unsigned)s))
				return pool_fail(
				    error, -EINVAL,
				    "CPU %d without its SMT sibling %d: whole cores only", c, s);
	}
	return 0;
}

int pool_topology_check(const struct pool_topology *t, const struct pool_cpuset *cpus,
			bool exclude_cpu0, int *node, char **error)
{
	int first = -1, set_node = -1;
	int r;

	for (int c = pool_cpuset_next(cpus, 0); c >= 0; c = pool_cpuset_next(cpus, c + 1)) {
		if (!pool_cpuset_has(&t->online, (unsigned)c))
			return pool_fail(error, -EINVAL, "CPU %d is not online", c);
		if (exclude_cpu0 && in_cpu0_core(t, (unsigned)c))
			return pool_fail(error, -EINVAL,
					 "CPU %d is CPU 0 or its SMT sibling, kept for the host "
					 "(exclude_cpu0 = no allows it)",
					 c);
		if (!t->has_nodes)
			continue;
		if (t->node[c] < 0)
			return pool_fail(error, -EINVAL, "CPU %d is on no NUMA node", c);
		if (first >= 0 && t->node[c] != set_node)
			return pool_fail(error, -EINVAL,
					 "CPU %d is on NUMA node %d but CPU %d is on node %d: "
					 "one node only",
					 c, t->node[c], first, set_node);
		if (first < 0) {
			first = c;
			set_node = t->node[c];
		}
	}
	r = pool_topology_whole_cores(t, cpus, error);
	if (r < 0)
		return r;
	*node = set_node;
	return 0;
}

/* Cores that may join a pool on node: online, all siblings online, not the host's CPU 0. */
static bool core_eligible(const struct pool_topology *t, unsigned cpu, int node, bool exclude_cpu0)
{
	const struct pool_cpuset *sib = &t->siblings[cpu];

	if (!pool_cpuset_subset(sib, &t->online))
		return false;
	for (int s = pool_cpuset_next(sib, 0); s >= 0; s = pool_cpuset_next(sib, s + 1)) {
		if (exclude_cpu0 && in_cpu0_core(t, (unsigned)s))
			return false;
		if (t->has_nodes && (t->node[s] < 0 || (node >= 0 && t->node[s] != node)))
			return false;
	}
	return true;
}

static bool core_disjoint(const struct pool_cpuset *core, const struct pool_cpuset *set)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(set->bits); i++)
		if (core->bits[i] & set->bits[i])
			return false;
	return true;
}

static void set_union(struct pool_cpuset *into, const struct pool_cpuset *add)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(into->bits); i++)
		into->bits[i] |= add->bits[i];
}

static void set_minus(struct pool_cpuset *from, const struct pool_cpuset *sub)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(from->bits); i++)
		from->bits[i] &= ~sub->bits[i];
}

static void grow_on_node(const struct pool_topology *t, unsigned count, int node, bool exclude_cpu0,
			 struct pool_cpuset *set)
{
	const struct pool_cpuset *on = &t->online;

	for (int c = pool_cpuset_next(on, 0); c >= 0 && pool_cpuset_count(set) < count;
	     c = pool_cpuset_next(on, c + 1)) {
		const struct pool_cpuset *core = &t->siblings[c];
		if (!core_eligible(t, (unsigned)c, node, exclude_cpu0) || !core_disjoint(core, set))
			continue;
		if (pool_cpuset_count(set) + pool_cpuset_count(core) <= count)
			set_union(set, core);
	}
}

int pool_topology_pick(const struct pool_topology *t, unsigned count,
		       const struct pool_cpuset *current, const struct pool_cpuset *keep, int node,
		       bool exclude_cpu0, struct pool_cpuset *out, char **error)
{
	struct pool_cpuset set = *current;

	/* Drop whole free cores, highest CPU first, while above the target. */
	for (int c = POOL_MAX_CPUS - 1; c >= 0 && pool_cpuset_count(&set) > count; c--) {
		const struct pool_cpuset *core = &t->siblings[c];
		if (!pool_cpuset_has(&set, (unsigned)c) || !core_disjoint(core, keep))
			continue;
		if (pool_cpuset_count(&set) - pool_cpuset_count(core) >= count)
			set_minus(&set, core);
	}
	if (pool_cpuset_count(&set) < count) {
		if (node < 0 && t->has_nodes && !pool_cpuset_empty(&set))
			node = t->node[pool_cpuset_next(&set, 0)];
		if (node >= 0 || !t->has_nodes) {
			grow_on_node(t, count, node, exclude_cpu0, &set);
		} else {
			/* A new pool: the first node that can supply all of it. */
			for (int n = 0; n < POOL_MAX_CPUS; n++) {
				struct pool_cpuset trial = set;
				grow_on_node(t, count, n, exclude_cpu0, &trial);
				if (pool_cpuset_count(&trial) == count) {
					set = trial;
					break;
				}
			}
		}
	}
	if (pool_cpuset_count(&set) != count)
		return pool_fail(error, -ENOSPC,
				 "cannot make %u CPUs out of whole cores on one NUMA node%s: "
				 "closest is %u (%u online, exclude_cpu0 = %s, in use %u)",
				 count, node >= 0 ? " (the pool's)" : "", pool_cpuset_count(&set),
				 pool_cpuset_count(&t->online), exclude_cpu0 ? "yes" : "no",
				 pool_cpuset_count(keep));
	*out = set;
	return 0;
}

int pool_topology_take(const struct pool_topology *t, unsigned count,
		       const struct pool_cpuset *avail, struct pool_cpuset *out)
{
	struct pool_cpuset set;

	pool_cpuset_zero(&set);
	for (int c = pool_cpuset_next(avail, 0); c >= 0 && pool_cpuset_count(&set) < count;
	     c = pool_cpuset_next(avail, c + 1)) {
		const struct pool_cpuset *core = &t->siblings[c];
		if (!pool_cpuset_subset(core, avail) || !core_disjoint(core, &set))
			continue;
		if (pool_cpuset_count(&set) + pool_cpuset_count(core) <= count)
			set_union(&set, core);
	}
	if (pool_cpuset_count(&set) != count)
		return -ENOSPC;
	*out = set;
	return 0;
}
