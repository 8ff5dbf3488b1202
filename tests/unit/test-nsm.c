/* NSM request handler: PCR describe/extend/lock rules, DescribeNSM, GetRandom and every error
 * name, each response compared byte for byte with CBOR written out by hand. Malformed input:
 * test-nsm-malformed.c; Attestation: test-nsm-attest.c. */
#include "config.h"

#include "tests/unit/test-nsm-cbor.h"

static void test_describe_pcr(void **unused)
{
	struct nsm_state st;
	struct bytes req, want = {.n = 0};
	uint8_t idx0 = 0x00, idx3 = 0x03;
	uint8_t pcr3[48] = {0};

	init_state(&st, false);
	req_index(&req, "DescribePCR", "index", &idx0, 1);
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	add1(&want, 0xa1);
	add_short_tstr(&want, "DescribePCR");
	add1(&want, 0xa2);
	add_short_tstr(&want, "lock");
	add1(&want, 0xf5);
	add_short_tstr(&want, "data");
	add1(&want, 0x58);
	add1(&want, 0x30);
	add(&want, img_pcr0, 48);
	expect_resp(&want);

	/* PCR3 measures the launching principal as one raw-string extend. */
	sha384_extend(pcr3, PRINCIPAL, strlen(PRINCIPAL));
	req_index(&req, "DescribePCR", "index", &idx3, 1);
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	assert_memory_equal(resp + resp_len - 48, pcr3, 48);
}

static void test_extend_lock_rules(void **unused)
{
	struct nsm_state st;
	struct bytes req, want = {.n = 0};
	uint8_t pcr16[48] = {0};
	const uint8_t idx16[] = {0x10};
	const uint8_t idx16_long[] = {0x19, 0x00, 0x10}; /* non-shortest u16 form is still 16 */

	init_state(&st, false);
	req_extend(&req, 16, "abc");
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	sha384_extend(pcr16, "abc", 3);
	add1(&want, 0xa1);
	add_short_tstr(&want, "ExtendPCR");
	add1(&want, 0xa1);
	add_short_tstr(&want, "data");
	add1(&want, 0x58);
	add1(&want, 0x30);
	add(&want, pcr16, 48);
	expect_resp(&want);

	/* DescribePCR now shows the new value, unlocked. */
	req_index(&req, "DescribePCR", "index", idx16_long, sizeof(idx16_long));
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	assert_int_equal(resp[1 + 12 + 1 + 5], 0xf4);
	assert_memory_equal(resp + resp_len - 48, pcr16, 48);

	/* LockPCR answers with the bare variant name, then the PCR is read-only. */
	req_index(&req, "LockPCR", "index", idx16, 1);
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	want.n = 0;
	add_short_tstr(&want, "LockPCR");
	expect_resp(&want);
	assert_true(nsm_pcr_locked(&st, 16));

	req_extend(&req, 16, "x");
	expect_error(&st, &req, "ReadOnlyIndex");
	req_index(&req, "LockPCR", "index", idx16, 1);
	expect_error(&st, &req, "ReadOnlyIndex");

	/* 0-15 are locked at boot. */
	for (uint8_t i = 0; i < 16; i++) {
		req_extend(&req, i, "x");
		expect_error(&st, &req, "ReadOnlyIndex");
	}
	req_extend(&req, 31, "x");
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	req_extend(&req, 32, "x");
	expect_error(&st, &req, "InvalidIndex");
}

static void test_invalid_index(void **unused)
{
	struct nsm_state st;
	struct bytes req;
	const uint8_t i32[] = {0x18, 0x20}, i256[] = {0x19, 0x01, 0x00};
	const uint8_t i65535[] = {0x19, 0xff, 0xff}, i65536[] = {0x1a, 0x00, 0x01, 0x00, 0x00};

	init_state(&st, false);
	req_index(&req, "DescribePCR", "index", i32, sizeof(i32));
	expect_error(&st, &req, "InvalidIndex");
	req_index(&req, "LockPCR", "index", i256, sizeof(i256));
	expect_error(&st, &req, "InvalidIndex");
	req_index(&req, "DescribePCR", "index", i65535, sizeof(i65535));
	expect_error(&st, &req, "InvalidIndex");
	/* Beyond u16 does not deserialize at all. */
	req_index(&req, "DescribePCR", "index", i65536, sizeof(i65536));
	expect_error(&st, &req, "InvalidArgument");
}

static void test_lock_pcrs(void **unused)
{
	struct nsm_state st;
	struct bytes req, want = {.n = 0};
	const uint8_t r20[] = {0x14}, r32[] = {0x18, 0x20}, r33[] = {0x18, 0x21};

	init_state(&st, false);
	req_index(&req, "LockPCRs", "range", r33, sizeof(r33));
	expect_error(&st, &req, "InvalidIndex");
	assert_false(nsm_pcr_locked(&st, 16));

	req_index(&req, "LockPCRs", "range", r20, sizeof(r20));
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	add_short_tstr(&want, "LockPCRs");
	expect_resp(&want);
	assert_true(nsm_pcr_locked(&st, 19));
	assert_false(nsm_pcr_locked(&st, 20));

	req_index(&req, "LockPCRs", "range", r32, sizeof(r32));
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	assert_int_equal(st.locked, 0xffffffffu);
}

static void test_describe_nsm(void **unused)
{
	struct nsm_state st;
	struct bytes req = {.n = 0}, want = {.n = 0};
	const uint8_t idx17[] = {0x11};

	init_state(&st, false);
	req_index(&req, "LockPCR", "index", idx17, 1);
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);

	req.n = 0;
	add_short_tstr(&req, "DescribeNSM");
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	add1(&want, 0xa1);
	add_short_tstr(&want, "DescribeNSM");
	add1(&want, 0xa7);
	add_short_tstr(&want, "version_major");
	add1(&want, 0x01);
	add_short_tstr(&want, "version_minor");
	add1(&want, 0x00);
	add_short_tstr(&want, "version_patch");
	add1(&want, 0x00);
	add_short_tstr(&want, "module_id");
	add_short_tstr(&want, "i-0123-enc4567");
	add_short_tstr(&want, "max_pcrs");
	add1(&want, 0x18);
	add1(&want, 0x20);
	add_short_tstr(&want, "locked_pcrs");
	add1(&want, 0x91); /* 17 entries: 0..15 and 17 */
	for (uint8_t i = 0; i < 16; i++)
		add1(&want, i);
	add1(&want, 0x11);
	add_short_tstr(&want, "digest");
	add_short_tstr(&want, "SHA384");
	expect_resp(&want);
}

static void test_get_random(void **unused)
{
	struct nsm_state st;
	struct bytes req = {.n = 0}, want = {.n = 0};
	uint8_t first[256];

	init_state(&st, false);
	add_short_tstr(&req, "GetRandom");
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	add1(&want, 0xa1);
	add_short_tstr(&want, "GetRandom");
	add1(&want, 0xa1);
	add_short_tstr(&want, "random");
	/* 256 bytes: the 0x59 form the Linux driver's parser accepts. */
	add1(&want, 0x59);
	add1(&want, 0x01);
	add1(&want, 0x00);
	assert_int_equal(resp_len, want.n + 256);
	assert_memory_equal(resp, want.b, want.n);
	memcpy(first, resp + want.n, 256);
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	assert_memory_not_equal(first, resp + want.n, 256);
}

static void test_error_names(void **unused)
{
	static const char *const names[] = {
	    "Success",	       "InvalidArgument", "InvalidIndex",
	    "InvalidResponse", "ReadOnlyIndex",	  "InvalidOperation",
	    "BufferTooSmall",  "InputTooLarge",	  "InternalError",
	};

	for (unsigned i = 0; i < 9; i++)
		assert_string_equal(nsm_error_name((enum nsm_error)i), names[i]);
	assert_string_equal(nsm_error_name((enum nsm_error)99), "InternalError");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_describe_pcr),  cmocka_unit_test(test_extend_lock_rules),
	    cmocka_unit_test(test_invalid_index), cmocka_unit_test(test_lock_pcrs),
	    cmocka_unit_test(test_describe_nsm),  cmocka_unit_test(test_get_random),
	    cmocka_unit_test(test_error_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
