/* The sample enclave's hand-written CBOR (guest/gcbor.c), built for the host. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "guest/gcbor.h"

static const uint8_t expected_request_prefix[] = {
    0xa1, 0x6b, 'A', 't', 't', 'e', 's', 't', 'a', 't',	 'i', 'o', 'n', 0xa3, 0x69,
    'u',  's',	'e', 'r', '_', 'd', 'a', 't', 'a', 0x4e, 's', 'a', 'm', 'p',  'l',
    'e',  '-',	'e', 'n', 'c', 'l', 'a', 'v', 'e', 0x65, 'n', 'o', 'n', 'c',  'e',
};
static const uint8_t expected_request_suffix[] = {
    0x6a, 'p', 'u', 'b', 'l', 'i', 'c', '_', 'k', 'e', 'y', 0xf6,
};

static void check_request(size_t nonce_len, const uint8_t *nonce_head, size_t head_len)
{
	uint8_t nonce[GCBOR_MAX_NONCE] = {0}, out[700];
	for (size_t i = 0; i < nonce_len; i++)
		nonce[i] = (uint8_t)(i * 7);
	int n = gcbor_attestation_request(nonce, nonce_len, out, sizeof(out));
	size_t pre = sizeof(expected_request_prefix), suf = sizeof(expected_request_suffix);
	assert_int_equal(n, pre + head_len + nonce_len + suf);
	assert_memory_equal(out, expected_request_prefix, pre);
	assert_memory_equal(out + pre, nonce_head, head_len);
	if (nonce_len)
		assert_memory_equal(out + pre + head_len, nonce, nonce_len);
	assert_memory_equal(out + pre + head_len + nonce_len, expected_request_suffix, suf);
}

static void test_request(void **state)
{
	check_request(0, (const uint8_t[]){0x40}, 1);
	check_request(23, (const uint8_t[]){0x57}, 1);
	check_request(24, (const uint8_t[]){0x58, 24}, 2);
	check_request(512, (const uint8_t[]){0x59, 0x02, 0x00}, 3);
}

static void test_request_limits(void **state)
{
	uint8_t nonce[GCBOR_MAX_NONCE + 1] = {0}, out[1024];
	assert_int_equal(gcbor_attestation_request(nonce, sizeof(nonce), out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(gcbor_attestation_request(nonce, 100, out, 100), -ENOBUFS);
}

static const uint8_t response[] = {
    0xa1,
    0x6b,
    'A',
    't',
    't',
    'e',
    's',
    't',
    'a',
    't',
    'i',
    'o',
    'n',
    0xa2,
    /* an unknown key first, with a nested value, to be skipped */
    0x63,
    'x',
    'y',
    'z',
    0x82,
    0x01,
    0xa1,
    0x01,
    0x40,
    0x68,
    'd',
    'o',
    'c',
    'u',
    'm',
    'e',
    'n',
    't',
    0x58,
    0x20,
    /* 32 document bytes */
    0x84,
    0x44,
    0xa1,
    0x01,
    0x38,
    0x22,
    0xa0,
    0x40,
    0x40,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
};

static void test_document(void **state)
{
	const uint8_t *doc;
	size_t len;
	assert_int_equal(gcbor_attestation_document(response, sizeof(response), &doc, &len), 0);
	assert_int_equal(len, 32);
	assert_ptr_equal(doc, response + sizeof(response) - 32);
}

static void test_truncated_everywhere(void **state)
{
	const uint8_t *doc;
	size_t len;
	for (size_t cut = 0; cut < sizeof(response); cut++)
		assert_int_equal(gcbor_attestation_document(response, cut, &doc, &len), -EBADMSG);
}

static void test_error_and_hostile(void **state)
{
	const uint8_t *doc;
	size_t len;
	static const uint8_t error[] = {0xa1, 0x65, 'E', 'r', 'r', 'o', 'r', 0x6f,
					'I',  'n',  'v', 'a', 'l', 'i', 'd', 'A',
					'r',  'g',  'u', 'm', 'e', 'n', 't'};
	assert_int_equal(gcbor_attestation_document(error, sizeof(error), &doc, &len), -ENOENT);
	static const uint8_t not_map[] = {0x6b, 'A', 't', 't', 'e', 's',
					  't',	'a', 't', 'i', 'o', 'n'};
	assert_int_equal(gcbor_attestation_document(not_map, sizeof(not_map), &doc, &len), -ENOENT);
	/* A map claiming 2^64-1 entries in a few bytes. */
	static const uint8_t huge_map[] = {0xbb, 0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0xff, 0x60};
	assert_int_equal(gcbor_attestation_document(huge_map, sizeof(huge_map), &doc, &len),
			 -EBADMSG);
	/* A bstr longer than the buffer. */
	static const uint8_t long_doc[] = {0xa1, 0x6b, 'A', 't',  't',	'e',  's',  't',  'a', 't',
					   'i',	 'o',  'n', 0xa1, 0x68, 'd',  'o',  'c',  'u', 'm',
					   'e',	 'n',  't', 0x5a, 0xff, 0xff, 0xff, 0xff, 0x00};
	assert_int_equal(gcbor_attestation_document(long_doc, sizeof(long_doc), &doc, &len),
			 -EBADMSG);
	/* Deep nesting under a skipped key stops at the depth limit instead of recursing on. */
	uint8_t deep[200];
	size_t o = 0;
	deep[o++] = 0xa1;
	deep[o++] = 0x61;
	deep[o++] = 'k';
	while (o < sizeof(deep) - 1)
		deep[o++] = 0x81;
	deep[o++] = 0x00;
	assert_int_equal(gcbor_attestation_document(deep, sizeof(deep), &doc, &len), -EBADMSG);
	/* Indefinite-length items are refused. */
	static const uint8_t indefinite[] = {0xbf, 0xff};
	assert_int_equal(gcbor_attestation_document(indefinite, sizeof(indefinite), &doc, &len),
			 -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request),	      cmocka_unit_test(test_request_limits),
	    cmocka_unit_test(test_document),	      cmocka_unit_test(test_truncated_everywhere),
	    cmocka_unit_test(test_error_and_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
