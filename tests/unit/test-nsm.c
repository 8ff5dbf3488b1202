/* NSM request handler: every request and response shape compared byte for byte with CBOR
 * written out by hand here, every error name, and the PCR rules. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "attest/nsm.h"

#define PRINCIPAL "uid=1000 name=alice"
#define HOST_ID	  "0123456789abcdef0123456789abcdef\n"

/* A growable byte string for writing expected CBOR by hand. */
struct bytes {
	uint8_t b[0x4000];
	size_t n;
};

static void add(struct bytes *x, const void *p, size_t n)
{
	assert_true(x->n + n <= sizeof(x->b));
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

static void add1(struct bytes *x, uint8_t v)
{
	add(x, &v, 1);
}

/* Text string of length < 24: head 0x60|len, then the bytes. */
static void add_short_tstr(struct bytes *x, const char *s)
{
	size_t n = strlen(s);

	assert_true(n < 24);
	add1(x, (uint8_t)(0x60 | n));
	add(x, s, n);
}

static void add_error(struct bytes *x, const char *name)
{
	add1(x, 0xa1);
	add_short_tstr(x, "Error");
	add_short_tstr(x, name);
}

static void sha384_extend(uint8_t pcr[48], const void *data, size_t len)
{
	uint8_t buf[48 + 256];
	unsigned int out_len = 0;

	assert_true(len <= 256);
	memcpy(buf, pcr, 48);
	memcpy(buf + 48, data, len);
	assert_int_equal(EVP_Digest(buf, 48 + len, pcr, &out_len, EVP_sha384(), NULL), 1);
	assert_int_equal(out_len, 48);
}

static uint8_t img_pcr0[48], img_pcr1[48], img_pcr2[48], img_pcr8[48];

static void init_state(struct nsm_state *st, bool debug)
{
	memset(img_pcr0, 0x11, 48);
	memset(img_pcr1, 0x22, 48);
	memset(img_pcr2, 0x33, 48);
	memset(img_pcr8, 0x88, 48);
	assert_int_equal(nsm_state_init(st, "i-0123-enc4567", img_pcr0, img_pcr1, img_pcr2,
					img_pcr8, PRINCIPAL, HOST_ID, debug),
			 0);
}

static uint8_t resp[NSM_RESPONSE_MAX];
static size_t resp_len;

static enum nsm_error call(struct nsm_state *st, const struct bytes *req)
{
	enum nsm_error e = NSM_E_INTERNAL_ERROR;

	assert_int_equal(
	    nsm_handle_request_ex(st, req->b, req->n, resp, sizeof(resp), &resp_len, &e), 0);
	return e;
}

static void expect_resp(const struct bytes *want)
{
	assert_int_equal(resp_len, want->n);
	assert_memory_equal(resp, want->b, want->n);
}

static void expect_error(struct nsm_state *st, const struct bytes *req, const char *name)
{
	struct bytes want = {.n = 0};

	(void)call(st, req);
	add_error(&want, name);
	expect_resp(&want);
}

/* {"<variant>":{"<field>":<uint>}} with a small uint encoded as given bytes. */
static void req_index(struct bytes *x, const char *variant, const char *field, const void *uint_enc,
		      size_t enc_len)
{
	x->n = 0;
	add1(x, 0xa1);
	add_short_tstr(x, variant);
	add1(x, 0xa1);
	add_short_tstr(x, field);
	add(x, uint_enc, enc_len);
}

static void req_extend(struct bytes *x, uint8_t index, const char *data)
{
	size_t n = strlen(data);

	x->n = 0;
	add1(x, 0xa1);
	add_short_tstr(x, "ExtendPCR");
	add1(x, 0xa2);
	add_short_tstr(x, "index");
	if (index >= 24)
		add1(x, 0x18);
	add1(x, index);
	add_short_tstr(x, "data");
	assert_true(n < 24);
	add1(x, (uint8_t)(0x40 | n));
	add(x, data, n);
}

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

static void test_malformed(void **unused)
{
	struct nsm_state st;
	struct bytes req;
	static const uint8_t truncated[] = {0xa1, 0x6b, 'D', 'e', 's', 'c'};
	static const uint8_t indefinite[] = {0x7f, 0x61, 'a', 0xff};
	static const uint8_t trailing[] = {0x69, 'G', 'e', 't', 'R', 'a', 'n', 'd', 'o', 'm', 0x00};
	static const uint8_t integer[] = {0x05};
	static const uint8_t two_pairs[] = {0xa2, 0x61, 'a', 0x00, 0x61, 'b', 0x00};
	static const uint8_t deep[40] = {[0 ... 38] = 0x81, [39] = 0x00};
	static const uint8_t huge_map[] = {0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	init_state(&st, false);
	req.n = 0;
	expect_error(&st, &req, "InvalidOperation");
#define RAW(a)                                                                                     \
	do {                                                                                       \
		req.n = 0;                                                                         \
		add(&req, a, sizeof(a));                                                           \
		expect_error(&st, &req, "InvalidOperation");                                       \
	} while (0)
	RAW(truncated);
	RAW(indefinite);
	RAW(trailing);
	RAW(integer);
	RAW(two_pairs);
	RAW(deep);
	RAW(huge_map);
#undef RAW
	/* Unknown requests, as a name and as a map. */
	req.n = 0;
	add_short_tstr(&req, "Reboot");
	expect_error(&st, &req, "InvalidOperation");
	req.n = 0;
	add1(&req, 0xa1);
	add_short_tstr(&req, "Reboot");
	add1(&req, 0xa0);
	expect_error(&st, &req, "InvalidOperation");

	/* Too large, even if it were valid. */
	req.n = 0;
	add1(&req, 0x59);
	add1(&req, 0x10);
	add1(&req, 0x00);
	memset(req.b + 3, 0, 0x1000);
	req.n = 3 + 0x1000;
	expect_error(&st, &req, "InputTooLarge");
}

static void test_wrong_types(void **unused)
{
	struct nsm_state st;
	struct bytes req;
	const uint8_t text_index[] = {0x61, '1'}, neg_index[] = {0x20};

	init_state(&st, false);
	/* A struct variant without its fields. */
	req.n = 0;
	add_short_tstr(&req, "ExtendPCR");
	expect_error(&st, &req, "InvalidArgument");
	/* A unit variant with a body. */
	req.n = 0;
	add1(&req, 0xa1);
	add_short_tstr(&req, "GetRandom");
	add1(&req, 0xa0);
	expect_error(&st, &req, "InvalidArgument");

	req_index(&req, "DescribePCR", "index", text_index, sizeof(text_index));
	expect_error(&st, &req, "InvalidArgument");
	req_index(&req, "LockPCR", "index", neg_index, sizeof(neg_index));
	expect_error(&st, &req, "InvalidArgument");
	/* Missing field. */
	req.n = 0;
	add1(&req, 0xa1);
	add_short_tstr(&req, "DescribePCR");
	add1(&req, 0xa0);
	expect_error(&st, &req, "InvalidArgument");
	/* Body not a map. */
	req.n = 0;
	add1(&req, 0xa1);
	add_short_tstr(&req, "LockPCRs");
	add1(&req, 0x80);
	expect_error(&st, &req, "InvalidArgument");
	/* ExtendPCR data as text, and with the data missing. */
	req.n = 0;
	add1(&req, 0xa1);
	add_short_tstr(&req, "ExtendPCR");
	add1(&req, 0xa2);
	add_short_tstr(&req, "index");
	add1(&req, 0x10);
	add_short_tstr(&req, "data");
	add_short_tstr(&req, "abc");
	expect_error(&st, &req, "InvalidArgument");
	req.n = 0;
	add1(&req, 0xa1);
	add_short_tstr(&req, "ExtendPCR");
	add1(&req, 0xa1);
	add_short_tstr(&req, "index");
	add1(&req, 0x10);
	expect_error(&st, &req, "InvalidArgument");
	/* Duplicate field. */
	req.n = 0;
	add1(&req, 0xa1);
	add_short_tstr(&req, "DescribePCR");
	add1(&req, 0xa2);
	add_short_tstr(&req, "index");
	add1(&req, 0x10);
	add_short_tstr(&req, "index");
	add1(&req, 0x11);
	expect_error(&st, &req, "InvalidArgument");
	/* Unknown fields are ignored, as serde does. */
	req.n = 0;
	add1(&req, 0xa1);
	add_short_tstr(&req, "DescribePCR");
	add1(&req, 0xa2);
	add_short_tstr(&req, "extra");
	add1(&req, 0x82);
	add1(&req, 0x01);
	add1(&req, 0x02);
	add_short_tstr(&req, "index");
	add1(&req, 0x10);
	assert_int_equal(call(&st, &req), NSM_E_SUCCESS);
}

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
	    cmocka_unit_test(test_describe_pcr),
	    cmocka_unit_test(test_extend_lock_rules),
	    cmocka_unit_test(test_invalid_index),
	    cmocka_unit_test(test_lock_pcrs),
	    cmocka_unit_test(test_describe_nsm),
	    cmocka_unit_test(test_get_random),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_attestation_dispatch),
	    cmocka_unit_test(test_small_buffers),
	    cmocka_unit_test(test_debug_zeros),
	    cmocka_unit_test(test_error_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
