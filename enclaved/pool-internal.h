/* Pieces of the pool module shared between its files and its unit tests; not for the daemon. */
#pragma once

#include "enclaved/pool.h"

#include <limits.h>
#include <pthread.h>

/* Store a formatted message in *error (when error is not NULL) and return r. */
int pool_fail(char **error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- topology (pool-topology.c) ---- */

struct pool_topology {
	struct pool_cpuset online;
	struct pool_cpuset siblings[POOL_MAX_CPUS]; /* per online CPU, itself included */
	int node[POOL_MAX_CPUS];		    /* NUMA node, -1 when unknown */
	bool has_nodes;				    /* sysfs has /sys/devices/system/node */
};

/* Join root and a path starting with '/'; -ENAMETOOLONG when it does not fit. */
int pool_path(char *buf, size_t len, const char *root, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int pool_topology_read(const char *sysfs_root, struct pool_topology **out, char **error);
void pool_topology_free(struct pool_topology *t);
/* The rules: online, whole cores, one NUMA node, CPU 0 and its siblings unless allowed. The
 * node of the set goes to *node (-1 for an empty set or a kernel without nodes). */
int pool_topology_check(const struct pool_topology *t, const struct pool_cpuset *cpus,
			bool exclude_cpu0, int *node, char **error);
/* Grow or shrink current to count CPUs by whole cores: adds eligible cores (on node, or on the
 * first node that can supply them when node < 0), drops cores not in keep, highest first. */
int pool_topology_pick(const struct pool_topology *t, unsigned count,
		       const struct pool_cpuset *current, const struct pool_cpuset *keep, int node,
		       bool exclude_cpu0, struct pool_cpuset *out, char **error);
/* Whole free cores of avail (CPUs of cores entirely inside avail), lowest first, count CPUs. */
int pool_topology_take(const struct pool_topology *t, unsigned count,
		       const struct pool_cpuset *avail, struct pool_cpuset *out);
/* Every CPU's siblings inside cpus. */
int pool_topology_whole_cores(const struct pool_topology *t, const struct pool_cpuset *cpus,
			      char **error);

/* ---- hugepages (pool-hugepages.c) ---- */

struct pool_hugepages_ctx {
	const char *sysfs_root;
	void (*after_write)(const char *path, void *userdata);
	void *userdata;
};

bool pool_hugepages_supported(const char *sysfs_root, int node, uint64_t page_kib);
int pool_hugepages_count(const char *sysfs_root, int node, uint64_t page_kib, uint64_t *nr);
/* Move our share of nr_hugepages on node from old_ours to new_ours pages, verifying the kernel's
 * answer. A short grant is rolled back: -ENOMEM with the amount obtained in the message. */
int pool_hugepages_adjust(const struct pool_hugepages_ctx *ctx, int node, uint64_t page_kib,
			  uint64_t old_ours, uint64_t new_ours, char **error);

/* ---- cpuset cgroups (pool-cgroup.c) ---- */

struct pool_cgroup {
	int version;	    /* 0: none (pinning), 1 or 2 */
	char dir[PATH_MAX]; /* <root>/enclaved */
	char note[256];
};

/* Find a usable cpuset hierarchy and create enclaved/ with cpus; never fails: where cgroups
 * are unusable, version 0 and the reason in note. */
void pool_cgroup_setup(struct pool_cgroup *cg, const char *root, const struct pool_cpuset *cpus,
		       int node);
int pool_cgroup_set_cpus(const struct pool_cgroup *cg, const struct pool_cpuset *cpus, int node);
/* Create enclaved/<owner>; path gets its directory. */
int pool_cgroup_lease_create(const struct pool_cgroup *cg, const char *owner,
			     const struct pool_cpuset *cpus, int node, char **path);
int pool_cgroup_remove(const char *dir);
int pool_cgroup_attach(const struct pool_cgroup *cg, const char *dir, pid_t pid);

/* ---- persisted pool (pool-state.c) ---- */

struct pool_state {
	struct pool_cpuset cpus;
	uint64_t memory_mib;
	enum pool_hugepages hugepages;
	uint64_t page_kib; /* 4 for ordinary memory */
	uint64_t min_enclave_mib;
	bool exclude_cpu0;
	int node;
	uint64_t reserved_pages; /* hugepages we added to the node's nr_hugepages */
	char boot_id[64];	 /* the boot they were added in */
};

/* -ENOENT when there is no pool.json. */
int pool_state_load(const char *state_dir, struct pool_state *st, char **error);
int pool_state_save(const char *state_dir, const struct pool_state *st, char **error);
int pool_state_to_json(const struct pool_state *st, char **out);
int pool_state_from_json(const char *text, struct pool_state *st, char **error);
/* This boot's /proc/sys/kernel/random/boot_id ("" when unreadable). */
void pool_boot_id(char *buf, size_t len);

/* ---- the pool object (pool.c, pool-lease.c) ---- */

#define PAGE_1G_KIB UINT64_C(1048576)
#define PAGE_2M_KIB UINT64_C(2048)
#define PAGE_4K_KIB UINT64_C(4)

struct pool_lease {
	struct pool *pool;
	struct pool_lease *next;
	char owner[POOL_OWNER_MAX + 1];
	struct pool_cpuset cpus;
	uint64_t memory_mib;
	int memfd;
	char *cgroup;
};

struct pool {
	pthread_mutex_t lock;
	char *sysfs_root, *state_dir, *cgroup_root;
	struct pool_hugepages_ctx huge;
	bool plain_memfd;
	struct pool_topology *topo;
	struct pool_state st;
	struct pool_cgroup cg;
	struct pool_cpuset used; /* CPUs held by at least one lease */
	unsigned oversubscribe;	 /* leases that may share one CPU */
	uint8_t cpu_users[POOL_MAX_CPUS];
	uint64_t used_mib;
	struct pool_lease *leases;
	size_t n_leases;
};

uint64_t pool_pages_for(uint64_t mib, uint64_t page_kib);
uint64_t pool_granule_mib(uint64_t page_kib);
int pool_persist(struct pool *p, char **error);
