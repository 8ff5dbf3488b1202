/* The pool over fake trees, across restarts: persisted state (and its JSON), adoption of
 * what a previous run left, and hosts without a cpuset cgroup. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
	    cmocka_unit_test(test_state_json),
	    cmocka_unit_test_setup_teardown(test_no_cgroup, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
