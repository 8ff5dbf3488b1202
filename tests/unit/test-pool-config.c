/* CPU list syntax and the [pool] configuration keys: accepted forms, strict rejections, and
 * error messages that name key and value. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "enclaved/pool.h"

static void roundtrip(const char *in, const char *canonical, unsigned count)
{
	struct pool_cpuset s;
	char *err = NULL;
	char *out;

	assert_int_equal(pool_cpuset_parse(in, &s, &err), 0);
	assert_null(err);
	assert_int_equal(pool_cpuset_count(&s), count);
	out = pool_cpuset_format(&s);
	assert_non_null(out);
	assert_string_equal(out, canonical);
	free(out);
}

static void test_cpuset_parse_format(void **state)
{
	(void)state;
	roundtrip("2-3,6", "2-3,6", 3);
	roundtrip("0", "0", 1);
	roundtrip("", "", 0);
	roundtrip("0-1\n", "0-1", 2);
	roundtrip("5,1,2,3", "1-3,5", 4);
	roundtrip("1023", "1023", 1);
	roundtrip("0-63,64-127", "0-127", 128);
	roundtrip("62-65", "62-65", 4);
}

static void rejects(const char *in, const char *needle)
{
	struct pool_cpuset s;
	char *err = NULL;

	assert_true(pool_cpuset_parse(in, &s, &err) < 0);
	assert_non_null(err);
	if (!strstr(err, needle))
		fail_msg("error for '%s' is '%s', expected to mention '%s'", in, err, needle);
	free(err);
}

static void test_cpuset_rejects(void **state)
{
	(void)state;
	rejects("1024", "1024");
	rejects("0-1024", "beyond");
	rejects("99999999999999999999999", "too long");
	rejects("3-2", "backwards");
	rejects("1,,2", "offset");
	rejects("1,2,", "trailing");
	rejects(",1", "offset");
	rejects("1-", "offset");
	rejects("-1", "offset");
	rejects("a", "'a'");
	rejects(" 1", "' 1'");
	rejects("+1", "'+1'");
	rejects("1,1", "twice");
	rejects("1-3,2", "twice");
	rejects("1\n\n", "not a CPU id");
}

static void test_cpuset_ops(void **state)
{
	struct pool_cpuset a, b;

	(void)state;
	pool_cpuset_zero(&a);
	assert_true(pool_cpuset_empty(&a));
	assert_int_equal(pool_cpuset_next(&a, 0), -1);
	pool_cpuset_add(&a, 1023);
	pool_cpuset_add(&a, 64);
	pool_cpuset_add(&a, 5000); /* ignored: out of range */
	assert_int_equal(pool_cpuset_count(&a), 2);
	assert_int_equal(pool_cpuset_next(&a, 0), 64);
	assert_int_equal(pool_cpuset_next(&a, 65), 1023);
	assert_int_equal(pool_cpuset_next(&a, 1024), -1);
	b = a;
	pool_cpuset_del(&b, 64);
	assert_true(pool_cpuset_subset(&b, &a));
	assert_false(pool_cpuset_subset(&a, &b));
	assert_false(pool_cpuset_equal(&a, &b));
	assert_false(pool_cpuset_has(&b, 64));
}

static void test_config_defaults_and_keys(void **state)
{
	struct pool_config c;
	char *err = NULL;
	char *list;

	(void)state;
	pool_config_init(&c);
	assert_true(c.exclude_cpu0);
	assert_int_equal(c.min_enclave_mib, 64);
	assert_int_equal(c.hugepages, POOL_HUGEPAGES_AUTO);
	assert_int_equal(c.cpu_count, 2);
	assert_int_equal(c.memory_mib, 512);
	assert_false(c.has_cpu_pool);

	assert_int_equal(pool_config_set(&c, "cpu_pool", "2-3,6", &err), 0);
	assert_true(c.has_cpu_pool);
	list = pool_cpuset_format(&c.cpu_pool);
	assert_string_equal(list, "2-3,6");
	free(list);
	assert_int_equal(pool_config_set(&c, "memory_mib", "4096", &err), 0);
	assert_int_equal(c.memory_mib, 4096);
	assert_int_equal(pool_config_set(&c, "hugepages", "1G", &err), 0);
	assert_int_equal(c.hugepages, POOL_HUGEPAGES_1G);
	assert_int_equal(pool_config_set(&c, "hugepages", "2m", &err), 0);
	assert_int_equal(c.hugepages, POOL_HUGEPAGES_2M);
	assert_int_equal(pool_config_set(&c, "hugepages", "none", &err), 0);
	assert_int_equal(c.hugepages, POOL_HUGEPAGES_NONE);
	assert_int_equal(pool_config_set(&c, "exclude_cpu0", "no", &err), 0);
	assert_false(c.exclude_cpu0);
	assert_int_equal(pool_config_set(&c, "exclude_cpu0", "Yes", &err), 0);
	assert_true(c.exclude_cpu0);
	assert_int_equal(pool_config_set(&c, "min_enclave_mib", "4", &err), 0);
	assert_int_equal(c.min_enclave_mib, 4);
	assert_null(err);
}

static void config_rejects(struct pool_config *c, const char *key, const char *value)
{
	char *err = NULL;

	assert_int_equal(pool_config_set(c, key, value, &err), -EINVAL);
	assert_non_null(err);
	if (!strstr(err, key) || !strstr(err, value))
		fail_msg("error '%s' should name key '%s' and value '%s'", err, key, value);
	free(err);
}

static void test_config_rejects(void **state)
{
	struct pool_config c;

	(void)state;
	pool_config_init(&c);
	config_rejects(&c, "cpu_count", "0");
	config_rejects(&c, "cpu_count", "-1");
	config_rejects(&c, "cpu_count", "2x");
	config_rejects(&c, "cpu_count", "1025");
	config_rejects(&c, "memory_mib", "");
	config_rejects(&c, "memory_mib", "18446744073709551616");
	config_rejects(&c, "hugepages", "4K");
	config_rejects(&c, "exclude_cpu0", "maybe");
	config_rejects(&c, "cpu_pool", "3-1");
	config_rejects(&c, "cpu_pool", "");
	config_rejects(&c, "colour", "blue");

	/* cpu_pool and cpu_count exclude each other, in either order. */
	assert_int_equal(pool_config_set(&c, "cpu_count", "4", NULL), 0);
	config_rejects(&c, "cpu_pool", "2-3");
	pool_config_init(&c);
	assert_int_equal(pool_config_set(&c, "cpu_pool", "2-3", NULL), 0);
	config_rejects(&c, "cpu_count", "4");
	/* A failed set changes nothing. */
	assert_int_equal(c.cpu_count, 0);
	assert_true(c.has_cpu_pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpuset_parse_format),
	    cmocka_unit_test(test_cpuset_rejects),
	    cmocka_unit_test(test_cpuset_ops),
	    cmocka_unit_test(test_config_defaults_and_keys),
	    cmocka_unit_test(test_config_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
