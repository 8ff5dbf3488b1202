/* The pool over fake sysfs and cgroup trees: allocation and release, error kinds,
 * fragmentation, live resize and shrink refusal, partial hugepage grants, and concurrent
 * allocation that never oversubscribes. Persistence and cgroup-less hosts: test-pool-state.c. */
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

#include "tests/unit/test-pool-env.h"

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
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
