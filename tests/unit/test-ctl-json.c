/* enclavectl's JSON shapes (nitro-cli keys), flag parsers and exit-code table. */
#include "config.h"

#include "ctl/ctl.h"

#include "common/util.h"
#include "rpc/rpc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static const char *get_string(struct json_object *obj, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(obj, key, &v));
	return json_object_get_string(v);
}

static int64_t get_int(struct json_object *obj, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(obj, key, &v));
	return json_object_get_int64(v);
}

static void test_enclave_run_keys(void **state)
{
	Enclaved__V1__Enclave e = ENCLAVED__V1__ENCLAVE__INIT;
	uint32_t cpus[] = {2, 3};
	struct json_object *obj;

	e.enclave_name = "demo";
	e.enclave_id = "i-0000000000000000-enc1";
	e.process_id = 4242;
	e.enclave_cid = 16;
	e.number_of_cpus = 2;
	e.n_cpu_ids = 2;
	e.cpu_ids = cpus;
	e.memory_mib = 512;
	obj = ctl_json_enclave(&e, false);
	assert_string_equal(get_string(obj, "EnclaveName"), "demo");
	assert_string_equal(get_string(obj, "EnclaveID"), "i-0000000000000000-enc1");
	assert_int_equal(get_int(obj, "ProcessID"), 4242);
	assert_int_equal(get_int(obj, "EnclaveCID"), 16);
	assert_int_equal(get_int(obj, "NumberOfCPUs"), 2);
	assert_int_equal(get_int(obj, "MemoryMiB"), 512);
	assert_string_equal(json_object_to_json_string_ext(json_object_object_get(obj, "CPUIDs"),
							   JSON_C_TO_STRING_PLAIN),
			    "[2,3]");
	/* run-enclave prints exactly nitro-cli's seven keys. */
	assert_int_equal(json_object_object_length(obj), 7);
	json_object_put(obj);
}

static void test_enclave_describe_keys(void **state)
{
	Enclaved__V1__Enclave e = ENCLAVED__V1__ENCLAVE__INIT;
	Enclaved__V1__Measurements m = ENCLAVED__V1__MEASUREMENTS__INIT;
	Enclaved__V1__Pcr pcr0 = ENCLAVED__V1__PCR__INIT, pcr8 = ENCLAVED__V1__PCR__INIT;
	Enclaved__V1__Pcr *pcrs[] = {&pcr0, &pcr8};
	uint8_t digest[48];
	struct json_object *obj, *meas;

	memset(digest, 0xab, sizeof(digest));
	pcr0.index = 0;
	pcr0.value.data = digest;
	pcr0.value.len = sizeof(digest);
	pcr8.index = 8;
	pcr8.value.data = digest;
	pcr8.value.len = 2;
	m.n_pcrs = 2;
	m.pcrs = pcrs;
	e.measurements = &m;
	e.state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING;
	e.debug_mode = true;
	obj = ctl_json_enclave(&e, true);
	assert_string_equal(get_string(obj, "State"), "RUNNING");
	assert_string_equal(get_string(obj, "Flags"), "DEBUG_MODE");
	meas = json_object_object_get(obj, "Measurements");
	assert_non_null(meas);
	assert_string_equal(get_string(meas, "HashAlgorithm"), "Sha384 { ... }");
	assert_int_equal(strlen(get_string(meas, "PCR0")), 96);
	assert_string_equal(get_string(meas, "PCR8"), "abab");
	/* No metadata asked for: no ImageName. */
	assert_false(json_object_object_get_ex(obj, "ImageName", NULL));
	json_object_put(obj);

	e.state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_UNSPECIFIED;
	e.debug_mode = false;
	obj = ctl_json_enclave(&e, true);
	assert_string_equal(get_string(obj, "State"), "EMPTY");
	assert_string_equal(get_string(obj, "Flags"), "NONE");
	json_object_put(obj);
}

static void test_metadata_passes_json_through(void **state)
{
	Enclaved__V1__ImageMetadata m = ENCLAVED__V1__IMAGE_METADATA__INIT;
	struct json_object *obj, *custom;

	m.custom_metadata_json = "{\"team\": \"x\"}";
	m.docker_info_json = "not json";
	obj = ctl_json_metadata(&m);
	custom = json_object_object_get(obj, "CustomMetadata");
	assert_true(json_object_is_type(custom, json_type_object));
	assert_string_equal(get_string(custom, "team"), "x");
	assert_string_equal(get_string(obj, "DockerInfo"), "not json");
	json_object_put(obj);
}

static void test_cpu_list(void **state)
{
	_cleanup_free_ uint32_t *ids = NULL;
	size_t n = 0;

	assert_int_equal(ctl_parse_cpu_list("t", "1,3-5, 7", &ids, &n), CTL_EXIT_OK);
	assert_int_equal(n, 5);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 3);
	assert_int_equal(ids[3], 5);
	assert_int_equal(ids[4], 7);
	assert_int_equal(ctl_parse_cpu_list("t", "5-3", &ids, &n), CTL_EXIT_USAGE);
	assert_int_equal(ctl_parse_cpu_list("t", "x", &ids, &n), CTL_EXIT_USAGE);
	assert_int_equal(ctl_parse_cpu_list("t", "1-", &ids, &n), CTL_EXIT_USAGE);
	assert_int_equal(ctl_parse_cpu_list("t", "99999", &ids, &n), CTL_EXIT_USAGE);
}

static void test_exit_codes(void **state)
{
	assert_int_equal(ctl_exit_for_status(RPC_PERMISSION_DENIED), 17);
	assert_int_equal(ctl_exit_for_status(RPC_UNIMPLEMENTED), 22);
	assert_int_equal(ctl_exit_for_status(RPC_UNAVAILABLE), 24);
	/* Out-of-table codes are UNKNOWN, never success or a usage error. */
	assert_int_equal(ctl_exit_for_status(0), 12);
	assert_int_equal(ctl_exit_for_status(99), 12);
	assert_int_equal(ctl_exit_for_status(-1), 12);
}

static void test_socket_choice(void **state)
{
	setenv("ENCLAVED_SOCKET", "/tmp/from-env.sock", 1);
	assert_string_equal(ctl_socket(), "/tmp/from-env.sock");
	ctl_set_socket("/tmp/flag.sock");
	assert_string_equal(ctl_socket(), "/tmp/flag.sock");
	ctl_set_socket(NULL);
	unsetenv("ENCLAVED_SOCKET");
	assert_string_equal(ctl_socket(), CTL_DEFAULT_SOCKET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_enclave_run_keys),
	    cmocka_unit_test(test_enclave_describe_keys),
	    cmocka_unit_test(test_metadata_passes_json_through),
	    cmocka_unit_test(test_cpu_list),
	    cmocka_unit_test(test_exit_codes),
	    cmocka_unit_test(test_socket_choice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
