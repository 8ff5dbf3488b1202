/* NSM request handler against malformed requests: truncated, indefinite, trailing or deeply
 * nested CBOR and wrong field types all get the NSM API's error, byte for byte. */
#include "config.h"

#include "tests/unit/test-nsm-cbor.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_wrong_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
