/* Topology rules over fake sysfs trees: SMT siblings, NUMA nodes, CPU 0, offline CPUs,
 * automatic choice of whole cores, and hostile sysfs contents. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "enclaved/pool-internal.h"
#include "tests/unit/test-pool-fake.h"

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f || fake_init(f) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fake_cleanup(*state);
	free(*state);
	return 0;
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
	assert_string_equal(text, list);
	free(text);
}

static struct pool_topology *read_ok(struct fake *f)
{
	struct pool_topology *t = NULL;
	char *err = NULL;

	if (pool_topology_read(f->sysfs, &t, &err) < 0)
		fail_msg("topology: %s", err);
	return t;
}

/* The check fails and its message contains needle. */
static void check_fails(struct pool_topology *t, const char *list, bool exclude0,
			const char *needle)
{
	struct pool_cpuset s = set_of(list);
	char *err = NULL;
	int node;

	assert_int_equal(pool_topology_check(t, &s, exclude0, &node, &err), -EINVAL);
	assert_non_null(err);
	if (!strstr(err, needle))
		fail_msg("'%s': error '%s' lacks '%s'", list, err, needle);
	free(err);
}

static void test_read(void **state)
{
	struct fake *f = *state;
	struct pool_topology *t;

	fake_host8(f);
	t = read_ok(f);
	expect_set(&t->online, "0-7");
	expect_set(&t->siblings[0], "0,4");
	expect_set(&t->siblings[7], "3,7");
	assert_true(t->has_nodes);
	assert_int_equal(t->node[5], 0);
	assert_int_equal(t->node[6], 1);
	pool_topology_free(t);
}

static void test_rules(void **state)
{
	struct fake *f = *state;
	struct pool_topology *t;
	struct pool_cpuset s;
	int node = -5;

	fake_host8(f);
	t = read_ok(f);
	s = set_of("2,6");
	assert_int_equal(pool_topology_check(t, &s, true, &node, NULL), 0);
	assert_int_equal(node, 1);
	check_fails(t, "1-3,5-7", true, "one node");
	check_fails(t, "2", true, "sibling 6");
	check_fails(t, "6", true, "sibling 2");
	check_fails(t, "0,4", true, "CPU 0");
	check_fails(t, "4", true, "CPU 0");
	check_fails(t, "9", true, "CPU 9 is not online");
	/* CPU 0's core is allowed when the host says so. */
	s = set_of("0-1,4-5");
	assert_int_equal(pool_topology_check(t, &s, false, &node, NULL), 0);
	assert_int_equal(node, 0);
	pool_topology_free(t);
}

static void test_offline(void **state)
{
	struct fake *f = *state;
	static const char *const sib[] = {"0,4", "1,5", "2,6", "3,7", "0,4", "1,5", "2,6", "3,7"};
	static const char *const nodes[] = {"0-1,4-5", "2-3,6-7"};
	struct pool_topology *t;
	struct pool_cpuset none, out;
	char *err = NULL;

	/* CPU 5 offline: core {1,5} is no longer whole. */
	fake_topology(f, "0-4,6-7\n", sib, 8, nodes, 2);
	t = read_ok(f);
	check_fails(t, "1,5", true, "CPU 5 is not online");
	check_fails(t, "1", true, "sibling 5");
	/* The automatic choice skips the broken core: node 0 has nothing left but CPU 0's. */
	pool_cpuset_zero(&none);
	assert_int_equal(pool_topology_pick(t, 2, &none, &none, 0, true, &out, &err), -ENOSPC);
	assert_non_null(err);
	free(err);
	pool_topology_free(t);
}

static void test_pick(void **state)
{
	struct fake *f = *state;
	struct pool_topology *t;
	struct pool_cpuset none, out, cur, keep;
	char *err = NULL;

	fake_host8(f);
	t = read_ok(f);
	pool_cpuset_zero(&none);
	/* Node 0 has one core besides CPU 0's, node 1 two: four CPUs come from node 1. */
	assert_int_equal(pool_topology_pick(t, 4, &none, &none, -1, true, &out, NULL), 0);
	expect_set(&out, "2-3,6-7");
	assert_int_equal(pool_topology_pick(t, 2, &none, &none, -1, true, &out, NULL), 0);
	expect_set(&out, "1,5");
	assert_int_equal(pool_topology_pick(t, 4, &none, &none, -1, false, &out, NULL), 0);
	expect_set(&out, "0-1,4-5");
	/* Odd counts cannot be whole cores; six CPUs cannot be one node. */
	assert_int_equal(pool_topology_pick(t, 3, &none, &none, -1, true, &out, &err), -ENOSPC);
	assert_non_null(strstr(err, "whole cores"));
	free(err);
	err = NULL;
	assert_int_equal(pool_topology_pick(t, 6, &none, &none, -1, false, &out, &err), -ENOSPC);
	free(err);
	/* Grow on the pool's node, shrink keeping leased CPUs. */
	cur = set_of("2,6");
	assert_int_equal(pool_topology_pick(t, 4, &cur, &none, 1, true, &out, NULL), 0);
	expect_set(&out, "2-3,6-7");
	cur = set_of("2-3,6-7");
	keep = set_of("2,6");
	assert_int_equal(pool_topology_pick(t, 2, &cur, &keep, 1, true, &out, NULL), 0);
	expect_set(&out, "2,6");
	keep = set_of("3,7");
	assert_int_equal(pool_topology_pick(t, 2, &cur, &keep, 1, true, &out, NULL), 0);
	expect_set(&out, "3,7");
	/* Whole free cores out of an available set. */
	cur = set_of("2-3,6-7");
	assert_int_equal(pool_topology_take(t, 2, &cur, &out), 0);
	expect_set(&out, "2,6");
	cur = set_of("2-3,6");
	assert_int_equal(pool_topology_take(t, 2, &cur, &out), 0);
	expect_set(&out, "2,6"); /* core {3,7} is not whole in 2-3,6 */
	cur = set_of("2-3");
	assert_int_equal(pool_topology_take(t, 2, &cur, &out), -ENOSPC);
	pool_topology_free(t);
}

static void test_no_numa_no_smt(void **state)
{
	struct fake *f = *state;
	static const char *const sib[] = {NULL, NULL, NULL, NULL};
	struct pool_topology *t;
	struct pool_cpuset none, out;
	int node = 7;

	fake_topology(f, "0-3\n", sib, 4, NULL, 0);
	t = read_ok(f);
	assert_false(t->has_nodes);
	expect_set(&t->siblings[2], "2");
	out = set_of("1-3");
	assert_int_equal(pool_topology_check(t, &out, true, &node, NULL), 0);
	assert_int_equal(node, -1);
	pool_cpuset_zero(&none);
	assert_int_equal(pool_topology_pick(t, 3, &none, &none, -1, true, &out, NULL), 0);
	expect_set(&out, "1-3");
	pool_topology_free(t);
}

static void read_fails(struct fake *f, const char *needle)
{
	struct pool_topology *t = NULL;
	char *err = NULL;

	assert_true(pool_topology_read(f->sysfs, &t, &err) < 0);
	assert_null(t);
	assert_non_null(err);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
	free(err);
}

static void test_hostile_sysfs(void **state)
{
	struct fake *f = *state;

	read_fails(f, "cpu/online"); /* missing */
	fake_host8(f);
	fake_writef(f->sysfs, "0-9999\n", "/sys/devices/system/cpu/online");
	read_fails(f, "beyond");
	fake_writef(f->sysfs, "0-7\n", "/sys/devices/system/cpu/online");
	fake_writef(f->sysfs, "1,5\n",
		    "/sys/devices/system/cpu/cpu4/topology/thread_siblings_list");
	read_fails(f, "not among its own siblings");
	fake_writef(f->sysfs, "0,4\n",
		    "/sys/devices/system/cpu/cpu4/topology/thread_siblings_list");
	fake_writef(f->sysfs, "1-2\n", "/sys/devices/system/node/node1/cpulist");
	read_fails(f, "also on node");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pick, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_numa_no_smt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_sysfs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
