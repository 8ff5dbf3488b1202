/* The pool over fake sysfs and cgroup trees: allocation and release, error kinds,
 * fragmentation, live resize and shrink refusal, partial hugepage grants, persistence, cgroups,
 * and concurrent allocation that never oversubscribes. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "enclaved/pool-internal.h"
#include "tests/unit/test-pool-fake.h"

#define NR2M_NODE0 "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"
#define NR2M_NODE1 "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"

struct env {
	struct fake f;
	struct pool_config cfg;
	struct pool_options opts;
	unsigned grant_cap; /* the fake kernel grants at most this many pages (0: no cap) */
};

/* The fake kernel: writes back less than was asked for. */
static void cap_grant(const char *path, void *userdata)
{
	struct env *e = userdata;
	char buf[32];
	FILE *f;
	unsigned long v = 0;

	if (!e->grant_cap || !(f = fopen(path, "r+")))
		return;
	if (fscanf(f, "%lu", &v) == 1 && v > e->grant_cap) {
		rewind(f);
		snprintf(buf, sizeof(buf), "%u\n", e->grant_cap);
		if (ftruncate(fileno(f), 0) == 0)
			fputs(buf, f);
	}
	fclose(f);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e || fake_init(&e->f) < 0)
		return -1;
	fake_host8(&e->f);
	pool_config_init(&e->cfg);
	assert_int_equal(pool_config_set(&e->cfg, "cpu_pool", "2-3,6-7", NULL), 0);
	assert_int_equal(pool_config_set(&e->cfg, "memory_mib", "512", NULL), 0);
	assert_int_equal(pool_config_set(&e->cfg, "hugepages", "2M", NULL), 0);
	e->opts.sysfs_root = e->f.sysfs;
	e->opts.cgroup_root = e->f.cgroup;
	e->opts.state_dir = e->f.state;
	e->opts.plain_memfd = true;
	e->opts.after_hugepage_write = cap_grant;
	e->opts.hook_userdata = e;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	fake_cleanup(&e->f);
	free(e);
	return 0;
}

static struct pool *new_ok(struct env *e)
{
	struct pool *p = NULL;
	char *err = NULL;

	if (pool_new(&e->cfg, &e->opts, &p, &err) < 0)
		fail_msg("pool_new: %s", err);
	return p;
}

static struct pool_cpuset set_of(const char *list)
{
	struct pool_cpuset s;

	assert_int_equal(pool_cpuset_parse(list, &s, NULL), 0);
	return s;
}

static void expect_set(const struct pool_cpuset *s, const char *list)
{
	char *text = pool_cpuset_format(s);

	assert_non_null(text);
	if (strcmp(text, list) != 0)
		fail_msg("CPU set is '%s', expected '%s'", text, list);
	free(text);
}

/* r is the expected error and the message mentions needle. */
static void expect_error(int got, char **errp, int want, const char *needle)
{
	char *err = *errp;

	*errp = NULL;
	if (got != want)
		fail_msg("got %d (%s), expected %d", got, err ? err : "no message", want);
	assert_non_null(err);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
	free(err);
}

static struct pool_lease *alloc_ok(struct pool *p, const char *owner, unsigned count,
				   const char *cpus, uint64_t mib)
{
	struct pool_cpuset s;
	struct pool_lease *l = NULL;
	char *err = NULL;

	if (cpus)
		s = set_of(cpus);
	if (pool_alloc(p, owner, count, cpus ? &s : NULL, mib, &l, &err) < 0)
		fail_msg("alloc %s: %s", owner, err);
	return l;
}

static int alloc_err(struct pool *p, const char *owner, unsigned count, const char *cpus,
		     uint64_t mib, char **err)
{
	struct pool_cpuset s;
	struct pool_lease *l = NULL;
	int r;

	if (cpus)
		s = set_of(cpus);
	r = pool_alloc(p, owner, count, cpus ? &s : NULL, mib, &l, err);
	assert_null(l);
	return r;
}

static void test_alloc_release(void **state)
{
	struct env *e = *state;
	struct pool *p = new_ok(e);
	struct pool_lease *a, *b, *c;
	struct pool_description d;
	struct pool_cpuset cpus;
	struct stat st;
	char *err = NULL;

	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "256");
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE0), "0");
	assert_string_equal(fake_readf(e->f.cgroup, "/enclaved/cpuset.cpus"), "2-3,6-7");
	assert_string_equal(fake_readf(e->f.cgroup, "/enclaved/cpuset.mems"), "1");

	a = alloc_ok(p, "enc-a", 2, NULL, 128);
	pool_lease_cpus(a, &cpus);
	expect_set(&cpus, "2,6");
	assert_int_equal(fstat(pool_lease_memfd(a), &st), 0);
	assert_int_equal(st.st_size, 128 << 20);
	assert_non_null(pool_lease_cgroup(a));
	assert_string_equal(fake_readf(e->f.cgroup, "/enclaved/enc-a/cpuset.cpus"), "2,6");
	assert_int_equal(pool_lease_attach(a, getpid()), 0);
	{
		char pid[32];
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		assert_string_equal(fake_readf(e->f.cgroup, "/enclaved/enc-a/cgroup.procs"), pid);
	}
	b = alloc_ok(p, "enc-b", 0, "3,7", 256);

	expect_error(alloc_err(p, "enc-c", 2, NULL, 64, &err), &err, -ENOSPC,
		     "not enough free CPUs");
	err = NULL;
	expect_error(alloc_err(p, "enc-c", 0, "2,6", 64, &err), &err, -EBUSY, "'enc-a'");
	err = NULL;
	expect_error(alloc_err(p, "enc-c", 0, "1,5", 64, &err), &err, -EINVAL,
		     "CPU 1 is not in the pool");
	err = NULL;
	expect_error(alloc_err(p, "enc-a", 2, NULL, 64, &err), &err, -EEXIST, "enc-a");
	err = NULL;
	expect_error(alloc_err(p, "../x", 2, NULL, 64, &err), &err, -EINVAL, "owner");
	err = NULL;
	expect_error(alloc_err(p, "", 2, NULL, 64, &err), &err, -EINVAL, "owner");
	assert_int_equal(pool_release(b), 0);
	assert_int_equal(access(pool_lease_cgroup(a), F_OK), 0);
	err = NULL;
	expect_error(alloc_err(p, "enc-c", 0, "3", 64, &err), &err, -EINVAL, "whole cores");
	err = NULL;
	expect_error(alloc_err(p, "enc-c", 2, NULL, 65, &err), &err, -EINVAL, "multiple of 2");
	err = NULL;
	expect_error(alloc_err(p, "enc-c", 2, NULL, 32, &err), &err, -EINVAL, "at least 64");
	err = NULL;
	expect_error(alloc_err(p, "enc-c", 2, NULL, 512, &err), &err, -ENOMEM, "384 MiB free");
	err = NULL;
	expect_error(alloc_err(p, "enc-c", 0, NULL, 64, &err), &err, -EINVAL, "CPU");
	c = alloc_ok(p, "enc-c", 2, NULL, 384);

	assert_int_equal(pool_describe(p, &d), 0);
	expect_set(&d.cpus_total, "2-3,6-7");
	expect_set(&d.cpus_used, "2-3,6-7");
	assert_true(pool_cpuset_empty(&d.cpus_free));
	assert_int_equal(d.memory_used_mib, 512);
	assert_int_equal(d.memory_free_mib, 0);
	assert_int_equal(d.page_size_kib, 2048);
	assert_int_equal(d.numa_node, 1);
	assert_int_equal(d.isolation, POOL_ISOLATION_CGROUP);
	assert_false(d.memory_locked_by_vmm);
	assert_int_equal(d.n_leases, 2);
	{
		char *json = NULL;
		assert_int_equal(pool_description_to_json(&d, &json), 0);
		assert_non_null(strstr(json, "\"enc-c\""));
		assert_non_null(strstr(json, "\"isolation\":\"cgroup\""));
		free(json);
	}
	pool_description_free(&d);

	expect_error(pool_teardown(p, &err), &err, -EBUSY, "2 leases");
	assert_int_equal(pool_release(a), 0);
	assert_int_equal(pool_release(c), 0);
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(d.memory_free_mib, 512);
	expect_set(&d.cpus_free, "2-3,6-7");
	assert_int_equal(d.n_leases, 0);
	pool_description_free(&d);
	assert_non_null(fake_readf(e->f.cgroup, "/enclaved/cpuset.cpus"));
	assert_null(fake_readf(e->f.cgroup, "/enclaved/enc-a/cpuset.cpus"));

	assert_int_equal(pool_teardown(p, NULL), 0);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "0");
	assert_null(fake_readf(e->f.cgroup, "/enclaved/cpuset.cpus"));
	pool_free(p);
}

/* One node of 8 single-thread cores: CPU 0 for the host, 1-7 for enclaves. */
static void flat8(struct env *e)
{
	static const char *const sib[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
	static const char *const nodes[] = {"0-7"};

	char node1[PATH_MAX * 2];

	snprintf(node1, sizeof(node1), "%s/sys/devices/system/node/node1", e->f.sysfs);
	nftw(node1, fake_rm, 16, FTW_DEPTH | FTW_PHYS);
	fake_topology(&e->f, "0-7\n", sib, 8, nodes, 1);
	pool_config_init(&e->cfg);
	assert_int_equal(pool_config_set(&e->cfg, "cpu_count", "7", NULL), 0);
	assert_int_equal(pool_config_set(&e->cfg, "memory_mib", "448", NULL), 0);
	assert_int_equal(pool_config_set(&e->cfg, "hugepages", "none", NULL), 0);
}

/* cpu_oversubscribe = 2: each CPU may carry two leases, filled evenly; describe says so. */
static void test_oversubscribe(void **state)
{
	struct env *e = *state;
	struct pool_lease *l[9] = {0};
	struct pool_description d;
	struct pool_cpuset cpus;
	char *err = NULL;
	char owner[16];
	struct pool *p;

	assert_int_equal(pool_config_set(&e->cfg, "cpu_oversubscribe", "2", NULL), 0);
	expect_error(pool_config_set(&e->cfg, "cpu_oversubscribe", "0", &err), &err, -EINVAL,
		     "cpu_oversubscribe");
	p = new_ok(e);
	/* Pool 2-3,6-7 (cores {2,6} and {3,7}): four 2-CPU leases fit, two per core. */
	for (int i = 0; i < 4; i++) {
		snprintf(owner, sizeof(owner), "enc-%d", i);
		l[i] = alloc_ok(p, owner, 2, NULL, 64);
		pool_lease_cpus(l[i], &cpus);
		expect_set(&cpus, i % 2 ? "3,7" : "2,6");
	}
	expect_error(alloc_err(p, "enc-x", 2, NULL, 64, &err), &err, -ENOSPC,
		     "not enough free CPUs");
	err = NULL;
	expect_error(alloc_err(p, "enc-x", 0, "2,6", 64, &err), &err, -EBUSY, "held by");
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(d.cpu_oversubscribe, 2);
	assert_int_equal(pool_cpuset_count(&d.cpus_free), 0);
	pool_description_free(&d);
	/* One release frees a share, not the CPUs: they stay used by the other lease. */
	assert_int_equal(pool_release(l[0]), 0);
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(pool_cpuset_count(&d.cpus_used), 4);
	pool_description_free(&d);
	l[0] = alloc_ok(p, "enc-again", 0, "2,6", 64);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pool_release(l[i]), 0);
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(pool_cpuset_count(&d.cpus_used), 0);
	assert_int_equal(d.memory_used_mib, 0);
	pool_description_free(&d);
	pool_free(p);
}

static void test_fragmentation(void **state)
{
	struct env *e = *state;
	struct pool *p;
	struct pool_lease *l[7], *big;
	struct pool_description d;
	struct pool_cpuset cpus;
	char owner[16], *err = NULL;

	flat8(e);
	p = new_ok(e);
	for (int i = 0; i < 7; i++) {
		snprintf(owner, sizeof(owner), "e%d", i);
		l[i] = alloc_ok(p, owner, 1, NULL, 64);
	}
	expect_error(alloc_err(p, "x", 1, NULL, 64, &err), &err, -ENOSPC, "0 of 7 free");
	/* Holes at CPUs 2, 4 and 6: a 3-CPU enclave fits in them, CPUs need not be adjacent. */
	for (int i = 1; i < 7; i += 2)
		assert_int_equal(pool_release(l[i]), 0);
	big = alloc_ok(p, "big", 3, NULL, 192);
	pool_lease_cpus(big, &cpus);
	expect_set(&cpus, "2,4,6");
	err = NULL;
	expect_error(alloc_err(p, "x", 0, "1", 64, &err), &err, -EBUSY, "'e0'");
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(d.memory_free_mib, 0);
	assert_int_equal(d.page_size_kib, 4);
	assert_true(d.memory_locked_by_vmm);
	pool_description_free(&d);
	assert_int_equal(pool_release(big), 0);
	for (int i = 0; i < 7; i += 2)
		assert_int_equal(pool_release(l[i]), 0);
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(d.memory_free_mib, 448);
	assert_int_equal(pool_cpuset_count(&d.cpus_free), 7);
	pool_description_free(&d);
	assert_int_equal(pool_teardown(p, NULL), 0);
	pool_free(p);
}

static void test_resize(void **state)
{
	struct env *e = *state;
	struct pool *p;
	struct pool_lease *a;
	struct pool_description d;
	struct pool_cpuset s;
	char *err = NULL;

	assert_int_equal(pool_config_set(&e->cfg, "min_enclave_mib", "4", NULL), 0);
	e->cfg.cpu_pool = set_of("2,6");
	e->cfg.memory_mib = 256;
	p = new_ok(e);
	a = alloc_ok(p, "enc-a", 2, NULL, 128);

	assert_int_equal(pool_resize(p, NULL, 4, 0, &err), 0);
	assert_int_equal(pool_describe(p, &d), 0);
	expect_set(&d.cpus_total, "2-3,6-7");
	pool_description_free(&d);
	assert_string_equal(fake_readf(e->f.cgroup, "/enclaved/cpuset.cpus"), "2-3,6-7");
	assert_int_equal(pool_resize(p, NULL, 0, 1024, &err), 0);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "512");

	s = set_of("3,7");
	expect_error(pool_resize(p, &s, 0, 0, &err), &err, -EBUSY, "enc-a (CPUs 2,6, 128 MiB)");
	err = NULL;
	expect_error(pool_resize(p, NULL, 0, 64, &err), &err, -EBUSY, "enc-a");
	err = NULL;
	expect_error(pool_resize(p, NULL, 0, 127, &err), &err, -EINVAL, "127");
	err = NULL;
	s = set_of("1,5");
	expect_error(pool_resize(p, &s, 0, 0, &err), &err, -EBUSY, "enc-a");
	err = NULL;
	s = set_of("2");
	expect_error(pool_resize(p, &s, 0, 0, &err), &err, -EINVAL, "sibling 6");
	/* Refusals changed nothing. */
	assert_int_equal(pool_describe(p, &d), 0);
	expect_set(&d.cpus_total, "2-3,6-7");
	assert_int_equal(d.memory_total_mib, 1024);
	pool_description_free(&d);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "512");

	/* Shrink around the lease, then move the empty pool to node 0. */
	assert_int_equal(pool_resize(p, NULL, 2, 128, &err), 0);
	assert_int_equal(pool_describe(p, &d), 0);
	expect_set(&d.cpus_total, "2,6");
	pool_description_free(&d);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "64");
	assert_int_equal(pool_release(a), 0);
	s = set_of("1,5");
	assert_int_equal(pool_resize(p, &s, 0, 0, &err), 0);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "0");
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE0), "64");
	assert_string_equal(fake_readf(e->f.cgroup, "/enclaved/cpuset.mems"), "0");
	assert_int_equal(pool_teardown(p, NULL), 0);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE0), "0");
	pool_free(p);
}

static void test_partial_grant(void **state)
{
	struct env *e = *state;
	struct pool *p = NULL;
	struct pool_description d;
	char *err = NULL;

	/* Someone else's 10 pages stay untouched throughout. */
	fake_writef(e->f.sysfs, "10\n", NR2M_NODE1);
	e->grant_cap = 110;
	expect_error(pool_new(&e->cfg, &e->opts, &p, &err), &err, -ENOMEM, "granted 100");
	assert_null(p);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "10");
	assert_null(fake_readf(e->f.state, "/pool.json"));

	e->cfg.memory_mib = 128;
	p = new_ok(e);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "74");
	err = NULL;
	expect_error(pool_resize(p, NULL, 0, 512, &err), &err, -ENOMEM, "rolled back to 74");
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "74");
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(d.memory_total_mib, 128);
	pool_description_free(&d);
	assert_non_null(strstr(fake_readf(e->f.state, "/pool.json"), "\"memory_mib\":128"));
	e->grant_cap = 0;
	assert_int_equal(pool_resize(p, NULL, 0, 200, NULL), 0);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "110");
	assert_int_equal(pool_teardown(p, NULL), 0);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "10");
	pool_free(p);
}

static void test_page_choice(void **state)
{
	struct env *e = *state;
	struct pool *p = NULL;
	struct pool_description d;
	char *err = NULL;

	e->cfg.hugepages = POOL_HUGEPAGES_AUTO;
	p = new_ok(e); /* min 64 MiB: 1 GiB pages would waste, 2 MiB it is */
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(d.page_size_kib, 2048);
	pool_description_free(&d);
	assert_int_equal(pool_teardown(p, NULL), 0);
	pool_free(p);

	e->opts.reset = true;
	e->cfg.memory_mib = 2048;
	e->cfg.min_enclave_mib = 1024;
	p = new_ok(e);
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(d.page_size_kib, 1048576);
	pool_description_free(&d);
	assert_string_equal(
	    fake_readf(e->f.sysfs,
		       "/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages"),
	    "2");
	expect_error(alloc_err(p, "x", 2, NULL, 1500, &err), &err, -EINVAL, "multiple of 1024");
	assert_int_equal(pool_teardown(p, NULL), 0);
	pool_free(p);

	e->cfg.hugepages = POOL_HUGEPAGES_1G;
	e->cfg.memory_mib = 1000;
	err = NULL;
	expect_error(pool_new(&e->cfg, &e->opts, &p, &err), &err, -EINVAL, "1024");
}

static void test_persistence(void **state)
{
	struct env *e = *state;
	struct pool *p;
	struct pool_description d;
	char *err = NULL;

	e->cfg.cpu_pool = set_of("2,6");
	e->cfg.memory_mib = 256;
	p = new_ok(e);
	assert_int_equal(pool_resize(p, NULL, 4, 512, NULL), 0);
	pool_free(p); /* a daemon restart: the reservation stays */
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "256");

	/* The persisted pool wins over the config file... */
	e->cfg.cpu_pool = set_of("1,5");
	e->cfg.memory_mib = 128;
	p = new_ok(e);
	assert_int_equal(pool_describe(p, &d), 0);
	expect_set(&d.cpus_total, "2-3,6-7");
	assert_int_equal(d.memory_total_mib, 512);
	pool_description_free(&d);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "256"); /* not counted twice */
	pool_free(p);

	/* ...until an explicit reset, which gives the old reservation back. */
	e->opts.reset = true;
	p = new_ok(e);
	assert_int_equal(pool_describe(p, &d), 0);
	expect_set(&d.cpus_total, "1,5");
	assert_int_equal(d.memory_total_mib, 128);
	pool_description_free(&d);
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE1), "0");
	assert_string_equal(fake_readf(e->f.sysfs, NR2M_NODE0), "64");
	assert_int_equal(pool_teardown(p, NULL), 0);
	pool_free(p);

	/* A damaged pool.json stops the start with a message instead of being replaced. */
	e->opts.reset = false;
	fake_writef(e->f.state, "{\"version\":1,\"cpus\":\"0-99999\"", "/pool.json");
	p = NULL;
	expect_error(pool_new(&e->cfg, &e->opts, &p, &err), &err, -EINVAL, "pool.json");
	assert_null(p);
}

static void state_rejects(const char *json, const char *needle)
{
	struct pool_state st;
	char *err = NULL;

	expect_error(pool_state_from_json(json, &st, &err), &err, -EINVAL, needle);
}

static void test_state_json(void **state)
{
	struct pool_state st, back;
	char *text = NULL;
	const char *good_tail =
	    "\"hugepages\":\"2M\",\"page_kib\":2048,\"min_enclave_mib\":64,"
	    "\"exclude_cpu0\":true,\"node\":1,\"reserved_pages\":4,\"boot_id\":\"x\"}";
	char buf[512];

	(void)state;
	memset(&st, 0, sizeof(st));
	st.cpus = set_of("2-3,6-7");
	st.memory_mib = 512;
	st.hugepages = POOL_HUGEPAGES_AUTO;
	st.page_kib = 2048;
	st.min_enclave_mib = 64;
	st.exclude_cpu0 = true;
	st.node = 1;
	st.reserved_pages = 256;
	snprintf(st.boot_id, sizeof(st.boot_id), "abc");
	assert_int_equal(pool_state_to_json(&st, &text), 0);
	assert_int_equal(pool_state_from_json(text, &back, NULL), 0);
	assert_memory_equal(&st, &back, sizeof(st));
	free(text);

	state_rejects("", "not JSON");
	state_rejects("[1]", "not a JSON object");
	state_rejects("{\"version\":2}", "version 2");
	snprintf(buf, sizeof(buf), "{\"version\":1,\"cpus\":\"3-1\",\"memory_mib\":8,%s",
		 good_tail);
	state_rejects(buf, "backwards");
	snprintf(buf, sizeof(buf), "{\"version\":1,\"cpus\":\"1\",\"memory_mib\":-8,%s", good_tail);
	state_rejects(buf, "'memory_mib' = -8");
	snprintf(buf, sizeof(buf), "{\"version\":1,\"cpus\":\"1\",\"memory_mib\":\"8\",%s",
		 good_tail);
	state_rejects(buf, "'memory_mib' missing or not an integer");
	snprintf(buf, sizeof(buf), "{\"version\":1,\"cpus\":\"1\",\"memory_mib\":8,%s", good_tail);
	buf[strlen(buf) - 20] = '\0';
	state_rejects(buf, "not JSON");
	state_rejects("{\"version\":1,\"cpus\":\"1\",\"memory_mib\":8,\"hugepages\":\"3M\","
		      "\"page_kib\":2048,\"min_enclave_mib\":64,\"exclude_cpu0\":true,\"node\":1,"
		      "\"reserved_pages\":4,\"boot_id\":\"x\"}",
		      "'3M' unknown");
	state_rejects("{\"version\":1,\"cpus\":\"1\",\"memory_mib\":8,\"hugepages\":\"2M\","
		      "\"page_kib\":3,\"min_enclave_mib\":64,\"exclude_cpu0\":true,\"node\":1,"
		      "\"reserved_pages\":4,\"boot_id\":\"x\"}",
		      "no page size");
}

static void test_no_cgroup(void **state)
{
	struct env *e = *state;
	struct pool *p;
	struct pool_lease *a;
	struct pool_description d;

	e->opts.cgroup_root = "none";
	p = new_ok(e);
	a = alloc_ok(p, "a", 2, NULL, 64);
	assert_null(pool_lease_cgroup(a));
	assert_int_equal(pool_lease_attach(a, getpid()), 0);
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(d.isolation, POOL_ISOLATION_PINNING);
	assert_non_null(strstr(d.isolation_note, "disabled"));
	pool_description_free(&d);
	assert_int_equal(pool_release(a), 0);
	assert_int_equal(pool_teardown(p, NULL), 0);
	pool_free(p);

	/* A directory without a cpuset controller: pinning, and pool output says why. */
	e->opts.cgroup_root = e->f.state;
	p = new_ok(e);
	assert_int_equal(pool_describe(p, &d), 0);
	assert_int_equal(d.isolation, POOL_ISOLATION_PINNING);
	assert_non_null(strstr(d.isolation_note, "no cpuset"));
	pool_description_free(&d);
	assert_int_equal(pool_teardown(p, NULL), 0);
	pool_free(p);
}

/* ---- concurrency ---- */

#define THREADS	   8
#define ITERATIONS 300

struct stress {
	struct pool *pool;
	_Atomic uint64_t held_cpus; /* bit per CPU, claimed by whoever got it */
	_Atomic uint64_t held_mib;
	_Atomic int violations;
	_Atomic int successes;
	uint64_t total_mib;
};

struct worker {
	struct stress *s;
	int id;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned seed = (unsigned)w->id * 7919u;
	char owner[16];

	snprintf(owner, sizeof(owner), "t%d", w->id);
	for (int i = 0; i < ITERATIONS; i++) {
		struct pool_lease *l = NULL;
		struct pool_cpuset cpus;
		unsigned count = 1 + (unsigned)(rand_r(&seed) % 3);
		uint64_t mib = 64 * (1 + (uint64_t)(rand_r(&seed) % 3));
		uint64_t mask = 0;

		if (pool_alloc(s->pool, owner, count, NULL, mib, &l, NULL) < 0)
			continue;
		pool_lease_cpus(l, &cpus);
		mask = cpus.bits[0];
		if (atomic_fetch_or(&s->held_cpus, mask) & mask)
			atomic_fetch_add(&s->violations, 1);
		if (atomic_fetch_add(&s->held_mib, mib) + mib > s->total_mib)
			atomic_fetch_add(&s->violations, 1);
		if (pool_cpuset_count(&cpus) != count)
			atomic_fetch_add(&s->violations, 1);
		atomic_fetch_add(&s->successes, 1);
		sched_yield();
		atomic_fetch_and(&s->held_cpus, ~mask);
		atomic_fetch_sub(&s->held_mib, mib);
		if (pool_release(l) != 0)
			atomic_fetch_add(&s->violations, 1);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct env *e = *state;
	struct stress s = {0};
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct pool_description d;

	flat8(e);
	e->opts.cgroup_root = "none"; /* keep the hot path on accounting */
	s.pool = new_ok(e);
	s.total_mib = 448;
	for (int i = 0; i < THREADS; i++) {
		w[i].s = &s;
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(atomic_load(&s.violations), 0);
	assert_true(atomic_load(&s.successes) > 0);
	assert_int_equal(pool_describe(s.pool, &d), 0);
	assert_int_equal(d.memory_free_mib, 448);
	assert_int_equal(d.n_leases, 0);
	pool_description_free(&d);
	assert_int_equal(pool_teardown(s.pool, NULL), 0);
	pool_free(s.pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_alloc_release, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fragmentation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversubscribe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resize, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partial_grant, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_page_choice, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
	    cmocka_unit_test(test_state_json),
	    cmocka_unit_test_setup_teardown(test_no_cgroup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
