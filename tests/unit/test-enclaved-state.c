/* Enclave records (enclaved/state.c): round trip, and every way a torn or damaged file is
 * caught (length, checksum, version, header, id, field ranges) with a message naming it. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "common/util.h"
#include "enclaved/enclave.h"
#include "enclaved/state.h"

#define ID "i-0000000000000000-enc00112233aabbccdd"

static void fill(struct enclave *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), ID);
	snprintf(e->name, sizeof(e->name), "sample \"quoted\"");
	e->eif_path = strdup("/usr/share/enclaved/sample-enclave.eif");
	e->cid = 17;
	e->owner_uid = 1000;
	e->owner_gid = 1001;
	e->debug = true;
	e->memory_mib = 64;
	e->max_memory_mib = 128;
	e->requested_mib = 96;
	e->plugged_mib = 32;
	e->cpu_ids[0] = 2;
	e->cpu_ids[1] = 3;
	e->n_cpus = 2;
	e->start_time_ns = 1234567890123456789ull;
	e->heartbeat_timeout_ms = 60000;
	e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING;
	e->generation = 42;
	e->pid = 4321;
	e->pid_start = 987654;
	memset(e->measurements.pcr0, 0xa0, sizeof(e->measurements.pcr0));
	memset(e->measurements.pcr1, 0xa1, sizeof(e->measurements.pcr1));
	memset(e->measurements.pcr2, 0xa2, sizeof(e->measurements.pcr2));
}

static int decode(const char *text, size_t len, struct enclave *out, char **error)
{
	memset(out, 0, sizeof(*out));
	return state_record_decode(text, len, ID, out, error);
}

static void test_round_trip(void **state)
{
	struct enclave e, back;
	_cleanup_free_ char *text = NULL, *error = NULL;
	size_t len = 0;

	fill(&e);
	assert_int_equal(state_record_encode(&e, &text, &len), 0);
	assert_int_equal(decode(text, len, &back, &error), 0);
	assert_string_equal(back.id, e.id);
	assert_string_equal(back.name, e.name);
	assert_string_equal(back.eif_path, e.eif_path);
	assert_int_equal(back.cid, 17);
	assert_int_equal(back.owner_uid, 1000);
	assert_int_equal(back.owner_gid, 1001);
	assert_true(back.debug);
	assert_int_equal(back.memory_mib, 64);
	assert_int_equal(back.max_memory_mib, 128);
	assert_int_equal(back.requested_mib, 96);
	assert_int_equal(back.plugged_mib, 32);
	assert_int_equal(back.n_cpus, 2);
	assert_int_equal(back.cpu_ids[1], 3);
	assert_int_equal(back.start_time_ns, e.start_time_ns);
	assert_int_equal(back.state, ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING);
	assert_int_equal(back.generation, 42);
	assert_int_equal(back.pid, 4321);
	assert_int_equal(back.pid_start, 987654);
	assert_memory_equal(back.measurements.pcr2, e.measurements.pcr2, PCR_DIGEST_LEN);
	assert_false(back.measurements.has_pcr8);
	free(back.eif_path);
	free(e.eif_path);
}

static void expect_fail(const char *text, size_t len, const char *needle)
{
	struct enclave back;
	_cleanup_free_ char *error = NULL;

	assert_true(decode(text, len, &back, &error) < 0);
	assert_non_null(error);
	if (!strstr(error, needle))
		fail_msg("error '%s' does not mention '%s'", error, needle);
	free(back.eif_path);
}

static void test_torn_and_damaged(void **state)
{
	struct enclave e;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char *nl;

	fill(&e);
	assert_int_equal(state_record_encode(&e, &text, &len), 0);
	/* Torn: any prefix is refused. */
	for (size_t cut = 0; cut < len; cut += 7) {
		struct enclave back;
		char *error = NULL;
		assert_true(decode(text, cut, &back, &error) < 0);
		assert_non_null(error);
		free(error);
		free(back.eif_path);
	}
	expect_fail(text, len - 1, "torn");
	/* One flipped byte in the body: the checksum. */
	nl = strchr(text, '\n');
	nl[10] ^= 0x01;
	expect_fail(text, len, "checksum");
	nl[10] ^= 0x01;
	/* Another version. */
	text[strlen("enclaved-enclave-record ")] = '7';
	expect_fail(text, len, "version 7");
	text[strlen("enclaved-enclave-record ")] = '1';
	expect_fail("garbage\n{}", 10, "header");
	expect_fail("no newline at all", 17, "header line");
	free(e.eif_path);
}

/* A record with a valid checksum over a hostile body is still checked field by field. */
static void expect_body_fail(const char *body, const char *needle)
{
	uint8_t digest[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	_cleanup_free_ char *text = NULL;
	int n;

	SHA256((const uint8_t *)body, strlen(body), digest);
	util_hex_encode(digest, sizeof(digest), hex);
	n = asprintf(&text, "enclaved-enclave-record 1 sha256=%s len=%zu\n%s", hex, strlen(body),
		     body);
	assert_true(n > 0);
	expect_fail(text, (size_t)n, needle);
}

static void test_hostile_fields(void **state)
{
	expect_body_fail("[]", "not a JSON object");
	expect_body_fail("{\"id\":\"i-other\"}", "does not match");
	expect_body_fail("{\"id\":\"" ID "\",\"name\":\"a/b\",\"eif_path\":\"/x\"}", "'/'");
	expect_body_fail("{\"id\":\"" ID "\",\"name\":\"a\",\"eif_path\":\"/x\",\"cid\":2}",
			 "not an enclave CID");
	expect_body_fail("{\"id\":\"" ID "\",\"name\":\"a\",\"eif_path\":\"/x\",\"cid\":-5}",
			 "out of range");
	expect_body_fail("{\"id\":\"" ID "\",\"name\":\"a\\u0001\",\"eif_path\":\"/x\"}",
			 "control character");
}

static void test_pid_start(void **state)
{
	uint64_t a = 0, b = 0;

	_cleanup_free_ char *stat = NULL;
	size_t len = 0;
	unsigned long long want = 0;
	const char *p;

	/* Field 22 of /proc/self/stat, counted from the end of comm. */
	assert_int_equal(util_read_file("/proc/self/stat", 4096, &stat, &len), 0);
	p = strrchr(stat, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2,
				"%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
				"%*s %*s %*s %*s %llu",
				&want),
			 1);
	assert_int_equal(state_pid_start(getpid(), &a), 0);
	assert_int_equal(a, want);
	assert_int_equal(state_pid_start(getpid(), &b), 0);
	assert_true(a > 0);
	assert_int_equal(a, b);
	assert_true(state_pid_start(0x7ffffff0, &a) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_torn_and_damaged),
	    cmocka_unit_test(test_hostile_fields),
	    cmocka_unit_test(test_pid_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
