/* NSM request handler: Attestation requests reach the signer with exactly the right fields,
 * small response buffers, and a debug enclave's zero PCRs. */
#include "config.h"

#include "tests/unit/test-nsm-cbor.h"

/* Records what the handler passes to the signer. */
struct seen_fields {
	int calls;
	struct nsm_attest_fields f;
	int ret;
};

static int record_signer(void *ctx, const struct nsm_state *st,
			 const struct nsm_attest_fields *fields, uint8_t *doc, size_t doc_max,
			 size_t *doc_len)
{
	struct seen_fields *seen = ctx;

	seen->calls++;
	seen->f = *fields;
	if (seen->ret)
		return seen->ret;
	if (doc_max < 30)
		return -ENOBUFS;
	memset(doc, 0xd0, 30);
	*doc_len = 30;
	return 0;
}

static void req_attest(struct bytes *x, size_t ud_len, bool nonce_null, bool with_pk)
{
	x->n = 0;
	add1(x, 0xa1);
	add_short_tstr(x, "Attestation");
	add1(x, with_pk ? 0xa3 : 0xa2);
	add_short_tstr(x, "user_data");
	add1(x, 0x59);
	add1(x, (uint8_t)(ud_len >> 8));
	add1(x, (uint8_t)ud_len);
	for (size_t i = 0; i < ud_len; i++)
		add1(x, 'u');
	add_short_tstr(x, "nonce");
	if (nonce_null) {
		add1(x, 0xf6);
	} else {
		add1(x, 0x43);
		add(x, "n0n", 3);
	}
	if (with_pk) {
		add_short_tstr(x, "public_key");
		add1(x, 0x07);
	}
}

static void test_attestation_dispatch(void **unused)
{
	struct nsm_state st;
	struct bytes req, want = {.n = 0};
	struct seen_fields seen = {0};
	uint8_t doc[30];

	init_state(&st, false);
	req_attest(&req, 5, false, false);
	/* No signer configured: the guest sees InternalError, the handler does not crash. */
	expect_error(&st, &req, "InternalError");

	nsm_state_set_signer(&st, record_signer, &seen);
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	assert_int_equal(seen.calls, 1);
	assert_true(seen.f.user_data.present);
	assert_int_equal(seen.f.user_data.len, 5);
	assert_true(seen.f.nonce.present);
	assert_memory_equal(seen.f.nonce.data, "n0n", 3);
	assert_false(seen.f.public_key.present); /* absent means null */
	memset(doc, 0xd0, sizeof(doc));
	add1(&want, 0xa1);
	add_short_tstr(&want, "Attestation");
	add1(&want, 0xa1);
	add_short_tstr(&want, "document");
	add1(&want, 0x58);
	add1(&want, 30);
	add(&want, doc, 30);
	expect_resp(&want);

	req_attest(&req, 1024, true, false);
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
	assert_false(seen.f.nonce.present);
	req_attest(&req, 1025, true, false);
	expect_error(&st, &req, "InputTooLarge");
	assert_int_equal(seen.calls, 2);
	req_attest(&req, 1, true, true);
	expect_error(&st, &req, "InvalidArgument");

	seen.ret = -EIO;
	req_attest(&req, 1, true, false);
	expect_error(&st, &req, "InternalError");
}

static void test_small_buffers(void **unused)
{
	struct nsm_state st;
	struct bytes req = {.n = 0};
	uint8_t small[40];
	size_t len = 0;
	enum nsm_error e;

	init_state(&st, false);
	add_short_tstr(&req, "GetRandom");
	assert_int_equal(nsm_handle_request_ex(&st, req.b, req.n, small, sizeof(small), &len, &e),
			 0);
	assert_int_equal(e, NSM_E_BUFFER_TOO_SMALL);
	assert_int_equal(len, 1 + 6 + 15);
	assert_memory_equal(small + 7,
			    "\x6e"
			    "BufferTooSmall",
			    15);
	assert_int_equal(nsm_handle_request(&st, req.b, req.n, small, 10, &len), -ENOBUFS);
}

static void test_debug_zeros(void **unused)
{
	struct nsm_state st;
	uint8_t zero[48] = {0}, pcr4[48] = {0};

	init_state(&st, true);
	assert_true(st.debug);
	assert_memory_equal(st.pcrs[0], zero, 48);
	assert_memory_equal(st.pcrs[1], zero, 48);
	assert_memory_equal(st.pcrs[2], zero, 48);
	assert_memory_equal(st.pcrs[8], img_pcr8, 48);
	sha384_extend(pcr4, HOST_ID, strlen(HOST_ID));
	assert_memory_equal(st.pcrs[4], pcr4, 48);
	assert_int_equal(st.locked, 0xffffu);

	init_state(&st, false);
	assert_memory_equal(st.pcrs[0], img_pcr0, 48);
	assert_memory_equal(st.pcrs[2], img_pcr2, 48);
	assert_memory_equal(st.pcrs[5], zero, 48);

	assert_int_equal(nsm_state_init(&st, "", NULL, NULL, NULL, NULL, NULL, NULL, false),
			 -EINVAL);
	assert_int_equal(nsm_state_init(&st, "bad\nid", NULL, NULL, NULL, NULL, NULL, NULL, false),
			 -EINVAL);
	assert_int_equal(nsm_state_init(&st, "m", NULL, NULL, NULL, NULL, NULL, NULL, false), 0);
	assert_memory_equal(st.pcrs[3], zero, 48); /* no principal: zero, as nsm-check expects */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_attestation_dispatch),
	    cmocka_unit_test(test_small_buffers),
	    cmocka_unit_test(test_debug_zeros),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
