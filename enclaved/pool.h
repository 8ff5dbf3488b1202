/* CPU and memory pool: the host CPUs and memory set aside for enclaves, handed out as leases.
 *
 * Every function returns 0 or a negative errno. Functions that take `char **error` also store a
 * malloc'd message naming the problem (field, CPU, value) there on failure; the caller frees it.
 * A pool is thread-safe: one mutex guards all of its state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define POOL_MAX_CPUS  1024
#define POOL_MAX_SHARE 64 /* cpu_oversubscribe ceiling */
#define POOL_OWNER_MAX 64 /* owner (enclave id) length, without the NUL */

/* ---- CPU sets ---------------------------------------------------------------------------- */

struct pool_cpuset {
	uint64_t bits[POOL_MAX_CPUS / 64];
};

void pool_cpuset_zero(struct pool_cpuset *s);
void pool_cpuset_add(struct pool_cpuset *s, unsigned cpu);
void pool_cpuset_del(struct pool_cpuset *s, unsigned cpu);
bool pool_cpuset_has(const struct pool_cpuset *s, unsigned cpu);
unsigned pool_cpuset_count(const struct pool_cpuset *s);
bool pool_cpuset_empty(const struct pool_cpuset *s);
/* Lowest member >= from, or -1. Iterate: for (c = next(s, 0); c >= 0; c = next(s, c + 1)). */
int pool_cpuset_next(const struct pool_cpuset *s, unsigned from);
bool pool_cpuset_subset(const struct pool_cpuset *sub, const struct pool_cpuset *of);
bool pool_cpuset_equal(const struct pool_cpuset *a, const struct pool_cpuset *b);
/* Strict list syntax "2-3,6": ids < POOL_MAX_CPUS, ranges ascending, no duplicates, no empty
 * items. One trailing newline is accepted (sysfs files); "" is the empty set. */
int pool_cpuset_parse(const char *text, struct pool_cpuset *out, char **error);
/* Canonical list text ("2-3,6", "" when empty), malloc'd; NULL when out of memory. */
char *pool_cpuset_format(const struct pool_cpuset *s);

/* ---- configuration: the [pool] section of enclaved.conf ---------------------------------- */

enum pool_hugepages {
	POOL_HUGEPAGES_AUTO,
	POOL_HUGEPAGES_1G,
	POOL_HUGEPAGES_2M,
	POOL_HUGEPAGES_NONE,
};

struct pool_config {
	bool has_cpu_pool; /* cpu_pool given: use exactly these CPUs */
	struct pool_cpuset cpu_pool;
	unsigned cpu_count; /* otherwise pick this many CPUs (whole cores) */
	bool cpu_count_set; /* cpu_count given explicitly (conflicts with cpu_pool) */
	uint64_t memory_mib;
	enum pool_hugepages hugepages;
	bool exclude_cpu0;	  /* default yes */
	uint64_t min_enclave_mib; /* default 64 */
	/* Enclaves that may share one pool CPU. 1 (default) is Nitro's rule: a CPU belongs to one
	 * enclave. More weakens isolation (enclaves see each other's timing) and is meant for
	 * development and test hosts with few CPUs. */
	unsigned cpu_oversubscribe;
};

/* Defaults: cpu_count 2, memory_mib 512 (as Nitro's allocator), hugepages auto,
 * exclude_cpu0 yes, min_enclave_mib 64, cpu_oversubscribe 1. */
void pool_config_init(struct pool_config *cfg);
/* One key of [pool]: cpu_pool, cpu_count, memory_mib, hugepages, exclude_cpu0,
 * min_enclave_mib, cpu_oversubscribe (1..64). cpu_pool and cpu_count exclude each other. -EINVAL on
 * a bad key or value. */
int pool_config_set(struct pool_config *cfg, const char *key, const char *value, char **error);
const char *pool_hugepages_to_string(enum pool_hugepages h);

/* ---- the pool ---------------------------------------------------------------------------- */

struct pool;
struct pool_lease;

struct pool_options {
	const char *sysfs_root; /* NULL or "/" for the real one; tests point it at a fake tree */
	/* Directory of a cpuset cgroup hierarchy (v1 cpuset mount or v2 root). NULL: probe
	 * /sys/fs/cgroup/cpuset, then /sys/fs/cgroup. "none": isolation by pinning only. */
	const char *cgroup_root;
	const char *state_dir; /* pool.json lives here; NULL: nothing persisted */
	bool reset;	       /* ignore a persisted pool.json and apply the config */
	/* Back leases with ordinary memfds even when the reservation is in hugepages; for fake
	 * sysfs trees, whose reservations the kernel knows nothing about. */
	bool plain_memfd;
	/* Test hook: called right after each nr_hugepages write, before it is read back. */
	void (*after_hugepage_write)(const char *path, void *userdata);
	void *hook_userdata;
};

enum pool_isolation {
	POOL_ISOLATION_PINNING, /* vCPU threads pinned; host tasks may still share pool CPUs */
	POOL_ISOLATION_CGROUP,	/* pool and each enclave confined to their own cpuset */
};

/* Build the pool: from <state_dir>/pool.json when it exists (and !reset), else from cfg.
 * Checks CPUs against the topology, reserves the memory, creates the cgroups, persists. */
int pool_new(const struct pool_config *cfg, const struct pool_options *opts, struct pool **out,
	     char **error);
/* Free the pool object and any remaining leases. Kernel-side state (hugepage reservation,
 * cgroups of remaining leases) stays, so a restarted daemon finds it; see pool_teardown. */
void pool_free(struct pool *pool);
/* Give the hugepages back and remove the cgroups; -EBUSY while leases exist. */
int pool_teardown(struct pool *pool, char **error);

/* Lease cpu_count CPUs (whole cores, any free ones) or exactly *cpus when cpus != NULL, and
 * memory_mib of memory (a multiple of the page size, at least min_enclave_mib) for owner.
 * Errors: -ENOSPC not enough free CPUs, -EINVAL CPU not in pool / bad size / not whole cores,
 * -EBUSY CPU held by another lease, -ENOMEM not enough free memory, -EEXIST owner has a lease. */
int pool_alloc(struct pool *pool, const char *owner, unsigned cpu_count,
	       const struct pool_cpuset *cpus, uint64_t memory_mib, struct pool_lease **out,
	       char **error);
/* Return the lease's CPUs and memory to the pool at once, close its memfd, remove its cgroup.
 * Always frees the lease; a nonzero return reports a cgroup that could not be removed. */
int pool_release(struct pool_lease *lease);

/* Re-adoption after a daemon restart: account a lease for exactly these CPUs and memory_mib
 * without creating a memfd (the running VMM holds the memory, hugepages included, so the
 * pool's reservation already covers it) and take over the lease's cpuset cgroup. Same errors
 * as pool_alloc; pool_lease_memfd of such a lease is -1. */
int pool_adopt(struct pool *pool, const char *owner, const struct pool_cpuset *cpus,
	       uint64_t memory_mib, struct pool_lease **out, char **error);

const char *pool_lease_owner(const struct pool_lease *lease);
void pool_lease_cpus(const struct pool_lease *lease, struct pool_cpuset *out);
uint64_t pool_lease_memory_mib(const struct pool_lease *lease);
/* The guest RAM: a memfd (hugetlb when the pool uses hugepages) of exactly the lease size.
 * Owned by the lease; dup it to keep it beyond pool_release. Mapping and mlock are the VMM's. */
int pool_lease_memfd(const struct pool_lease *lease);
/* The lease's cpuset cgroup directory, or NULL when isolation is by pinning. */
const char *pool_lease_cgroup(const struct pool_lease *lease);
/* Move a process (the VMM) into the lease's cgroup; 0 without a cgroup. */
int pool_lease_attach(const struct pool_lease *lease, pid_t pid);

/* Change the pool live. cpus != NULL: exactly these CPUs; else cpu_count > 0: that many (keeps
 * leased CPUs, adds or drops free whole cores on the pool's node); else CPUs unchanged.
 * memory_mib 0 keeps the memory. Shrinking below what leases hold: -EBUSY naming the owners.
 * A hugepage reservation the kernel grants only partly is rolled back: -ENOMEM with the amount
 * obtained. On success the new pool is persisted. */
int pool_resize(struct pool *pool, const struct pool_cpuset *cpus, unsigned cpu_count,
		uint64_t memory_mib, char **error);

/* ---- Pool.Get ---------------------------------------------------------------------------- */

struct pool_lease_info {
	char owner[POOL_OWNER_MAX + 1];
	struct pool_cpuset cpus;
	uint64_t memory_mib;
};

struct pool_description {
	struct pool_cpuset cpus_total, cpus_free, cpus_used;
	uint64_t memory_total_mib, memory_free_mib, memory_used_mib;
	uint64_t page_size_kib;	       /* 1048576, 2048, or 4 for ordinary memory */
	enum pool_hugepages hugepages; /* the configured mode */
	int numa_node;		       /* -1 when the pool has no CPUs */
	uint64_t min_enclave_mib;
	enum pool_isolation isolation;
	char isolation_note[256];   /* why pinning, or which cgroup */
	bool memory_locked_by_vmm;  /* ordinary memory: mlock is done by each VMM */
	unsigned cpu_oversubscribe; /* enclaves per pool CPU (1: exclusive) */
	size_t n_leases;
	struct pool_lease_info *leases;
};

int pool_describe(struct pool *pool, struct pool_description *out);
void pool_description_free(struct pool_description *d);
const char *pool_isolation_to_string(enum pool_isolation i);
/* The description as a JSON object text (malloc'd), for tools and logs. */
int pool_description_to_json(const struct pool_description *d, char **out);
