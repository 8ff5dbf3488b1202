/* enclaved.conf parsing: defaults, accepted keys, and every kind of error naming file:line. */
#include "config.h"

#include "enclaved/config-file.h"

#include "common/util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static int parse(struct enclaved_config *cfg, const char *text, char **error)
{
	assert_int_equal(config_init(cfg), 0);
	return config_parse_string(cfg, "test.conf", text, error);
}

/* Expect failure with a message that starts with prefix and contains needle. */
static void expect_error(const char *text, const char *prefix, const char *needle)
{
	struct enclaved_config cfg;
	_cleanup_free_ char *error = NULL;

	assert_int_equal(parse(&cfg, text, &error), -EINVAL);
	assert_non_null(error);
	if (strncmp(error, prefix, strlen(prefix)) != 0 || !strstr(error, needle))
		fail_msg("error '%s' does not start with '%s' and contain '%s'", error, prefix,
			 needle);
	/* Failure leaves a usable default config behind. */
	assert_string_equal(cfg.group, CONFIG_DEFAULT_GROUP);
	assert_int_equal(cfg.n_entries, 0);
	config_free(&cfg);
}

static void test_defaults(void **state)
{
	struct enclaved_config cfg;
	_cleanup_free_ char *error = NULL;

	assert_int_equal(parse(&cfg, "", &error), 0);
	assert_null(error);
	assert_string_equal(cfg.group, "enclave");
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	assert_int_equal(cfg.vmm_ping_timeout_ms, 6000);
	config_free(&cfg);
	for (const char *const *ok = (const char *const[]){"10", "10s", "90m", "3h", "1825d", NULL};
	     *ok; ok++) {
		_cleanup_free_ char *text = NULL, *err = NULL;
		assert_true(asprintf(&text, "[attestation]\nleaf_lifetime = %s\n", *ok) > 0);
		assert_int_equal(parse(&cfg, text, &err), 0);
		config_free(&cfg);
	}
}

static void test_full(void **state)
{
	struct enclaved_config cfg;
	_cleanup_free_ char *error = NULL;
	const char *text = "# comment\n"
			   "[daemon]\n"
			   "group = enclave-users\n"
			   "log_level = debug ; inline comment\n"
			   "vmm_ping_timeout_ms = 300\n"
			   "\n"
			   "[pool]\n"
			   "cpu_count = 1\n"
			   "memory_mib = 256\n"
			   "hugepages = none\n"
			   "exclude_cpu0 = no\n"
			   "min_enclave_mib = 4\n";

	assert_int_equal(parse(&cfg, text, &error), 0);
	assert_string_equal(cfg.group, "enclave-users");
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(cfg.vmm_ping_timeout_ms, 300);
	assert_int_equal(cfg.n_entries, 8);
	assert_string_equal(cfg.entries[1].key, "log_level");
	assert_string_equal(cfg.entries[1].value, "debug");
	assert_string_equal(cfg.entries[7].section, "pool");
	config_free(&cfg);
}

static void test_errors(void **state)
{
	expect_error("[daemon]\ngroup = x\n[bogus]\nkey = 1\n", "test.conf:3: ", "[bogus]");
	/* An empty unknown section is still an error (inih would not report it). */
	expect_error("[daemon]\n[empty]\n", "test.conf:2: ", "unknown section [empty]");
	expect_error("[daemon]\nlog_level = info\ncolour = blue\n",
		     "test.conf:3: ", "unknown key 'colour' in [daemon]");
	expect_error("[daemon]\nlog_level = loud\n", "test.conf:2: ", "'loud' is not one of");
	expect_error("[daemon]\ngroup = ../etc\n", "test.conf:2: ", "invalid group name");
	expect_error("[daemon]\nvmm_ping_timeout_ms = 299\n",
		     "test.conf:2: ", "'299' is not a number of milliseconds from 300 to 600000");
	expect_error("[daemon]\nvmm_ping_timeout_ms = 600001\n", "test.conf:2: ", "600001");
	expect_error("[daemon]\nvmm_ping_timeout_ms = 5s\n", "test.conf:2: ", "'5s'");
	expect_error("[attestation]\nleaf_lifetime = 9s\n",
		     "test.conf:2: [attestation] leaf_lifetime: ",
		     "'9s' is not a lifetime from 10s to 1825d");
	expect_error("[attestation]\nleaf_lifetime = 1826d\n", "test.conf:2: ", "'1826d'");
	expect_error("[attestation]\nleaf_lifetime = 3y\n", "test.conf:2: ", "'3y'");
	expect_error("[attestation]\nleaf_lifetime = d\n", "test.conf:2: ", "'d'");
	expect_error("[daemon]\ngroup =\n", "test.conf:2: ", "invalid group name");
	expect_error("group = x\n", "test.conf:1: ", "outside any section");
	expect_error("[daemon]\ngroup = a\ngroup = b\n", "test.conf:3: ", "duplicate key 'group'");
	expect_error("[daemon]\njust words\n", "test.conf:2: ", "syntax error");
	expect_error("[daemon\n", "test.conf:1: ", "unknown section");
	/* [pool] values are checked by the pool module; its message is kept. */
	expect_error("[pool]\ncpu_count = 1\nhugepages = sometimes\n",
		     "test.conf:3: [pool] hugepages: ", "sometimes");
	expect_error("[pool]\nno_such_key = 1\n", "test.conf:2: [pool] no_such_key: ", "");
}

static void test_long_line(void **state)
{
	char text[512];

	snprintf(text, sizeof(text), "[daemon]\n\ngroup = %0300d\n", 0);
	expect_error(text, "test.conf:3: ", "characters long");
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/test-enclaved-config.XXXXXX";
	char path[64];
	struct enclaved_config cfg;
	_cleanup_free_ char *error = NULL;
	_cleanup_free_ char *error2 = NULL;
	_cleanup_free_ char *error3 = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/enclaved.conf", dir);
	assert_int_equal(config_init(&cfg), 0);
	assert_int_equal(config_load(&cfg, path, &error), -ENOENT);
	assert_non_null(strstr(error, path));

	assert_int_equal(util_write_file_atomic(path, "[daemon]\nlog_level=warning\n", 27, 0600),
			 0);
	assert_int_equal(config_load(&cfg, path, &error2), 0);
	assert_int_equal(cfg.log_level, LOG_LEVEL_WARNING);
	config_free(&cfg);

	assert_int_equal(util_write_file_atomic(path, "[daemon]\n\0x", 11, 0600), 0);
	assert_int_equal(config_init(&cfg), 0);
	assert_int_equal(config_load(&cfg, path, &error3), -EINVAL);
	assert_non_null(strstr(error3, "NUL byte at offset 9"));
	config_free(&cfg);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

struct diff_log {
	char text[512];
};

static void record_diff(const char *section, const char *key, const char *old_value,
			const char *new_value, void *userdata)
{
	struct diff_log *log = userdata;
	size_t used = strlen(log->text);

	snprintf(log->text + used, sizeof(log->text) - used, "[%s]%s:%s->%s;", section, key,
		 old_value ? old_value : "-", new_value ? new_value : "-");
}

static void test_diff(void **state)
{
	struct enclaved_config a, b;
	_cleanup_free_ char *e1 = NULL;
	_cleanup_free_ char *e2 = NULL;
	struct diff_log log = {""};

	assert_int_equal(parse(&a, "[daemon]\ngroup=g\nlog_level=info\n[pool]\ncpu_count=1\n", &e1),
			 0);
	assert_int_equal(
	    parse(&b, "[daemon]\ngroup=g\nlog_level=debug\n[pool]\nmemory_mib=64\n", &e2), 0);
	config_diff(&a, &b, record_diff, &log);
	assert_string_equal(log.text, "[daemon]log_level:info->debug;[pool]cpu_count:1->-;"
				      "[pool]memory_mib:-->64;");
	config_free(&a);
	config_free(&b);
}

static void test_log_level_names(void **state)
{
	enum log_level l;

	assert_int_equal(config_parse_log_level("error", &l), 0);
	assert_int_equal(l, LOG_LEVEL_ERROR);
	assert_string_equal(config_log_level_name(LOG_LEVEL_WARNING), "warning");
	assert_int_equal(config_parse_log_level("INFO", &l), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_errors),	    cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_load_file),	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_log_level_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
