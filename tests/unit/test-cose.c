/* COSE_Sign1 with real EC keys on each supported curve: round trip, tag-18 input, tampering,
 * wrong key, malformed and hostile CBOR. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <cbor.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "attest/cose.h"
#include "common/util.h"

static const uint8_t payload[] = "register payload";

static void roundtrip(const char *curve, int64_t alg, size_t sig_len)
{
	EVP_PKEY *key = EVP_EC_gen(curve);
	EVP_PKEY *other = EVP_EC_gen(curve);
	struct cose_sign1 msg;
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_non_null(key);
	assert_non_null(other);
	assert_int_equal(cose_sign1_create(key, payload, sizeof(payload), &buf, &len), 0);
	/* untagged array of 4 */
	assert_int_equal(buf[0], 0x84);
	assert_int_equal(cose_sign1_parse(buf, len, &msg), 0);
	assert_int_equal(msg.alg, alg);
	assert_int_equal(msg.signature_len, sig_len);
	assert_int_equal(msg.payload_len, sizeof(payload));
	assert_memory_equal(msg.payload, payload, sizeof(payload));
	assert_int_equal(cose_sign1_verify(&msg, key), 0);
	assert_int_equal(cose_sign1_verify(&msg, other), -EKEYREJECTED);

	/* flip one payload bit */
	msg.payload[0] ^= 1;
	assert_int_equal(cose_sign1_verify(&msg, key), -EKEYREJECTED);
	msg.payload[0] ^= 1;
	/* flip one signature bit */
	msg.signature[sig_len - 1] ^= 0x80;
	assert_int_equal(cose_sign1_verify(&msg, key), -EKEYREJECTED);
	cose_sign1_clear(&msg);
	assert_null(msg.payload);

	/* each single-byte corruption of the encoding is either rejected or fails verification */
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x01;
		if (cose_sign1_parse(buf, len, &msg) == 0) {
			assert_int_not_equal(cose_sign1_verify(&msg, key), 0);
			cose_sign1_clear(&msg);
		}
		buf[i] ^= 0x01;
	}
	free(buf);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void test_p256(void **state)
{
	roundtrip("P-256", COSE_ALG_ES256, 64);
}

static void test_p384(void **state)
{
	roundtrip("P-384", COSE_ALG_ES384, 96);
}

static void test_p521(void **state)
{
	roundtrip("P-521", COSE_ALG_ES512, 132);
}

static void test_protected_header_bytes(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-384");
	uint8_t *buf = NULL;
	size_t len = 0;
	/* [bstr(4) {1: -35}, {}, ...] */
	static const uint8_t head[] = {0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0};

	assert_int_equal(cose_sign1_create(key, payload, sizeof(payload), &buf, &len), 0);
	assert_memory_equal(buf, head, sizeof(head));
	free(buf);
	EVP_PKEY_free(key);
}

static void test_tagged_accepted(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	struct cose_sign1 msg;
	uint8_t *buf = NULL, *tagged;
	size_t len = 0;

	assert_int_equal(cose_sign1_create(key, payload, sizeof(payload), &buf, &len), 0);
	tagged = malloc(len + 1);
	assert_non_null(tagged);
	tagged[0] = 0xd2; /* tag 18 */
	memcpy(tagged + 1, buf, len);
	assert_int_equal(cose_sign1_parse(tagged, len + 1, &msg), 0);
	assert_int_equal(cose_sign1_verify(&msg, key), 0);
	cose_sign1_clear(&msg);
	tagged[0] = 0xd1; /* tag 17 (COSE_Mac0) */
	assert_int_equal(cose_sign1_parse(tagged, len + 1, &msg), -EBADMSG);
	/* trailing garbage */
	assert_int_equal(cose_sign1_parse(buf, len - 1, &msg), -EBADMSG);
	free(tagged);
	free(buf);
	EVP_PKEY_free(key);
}

static void test_wrong_curve(void **state)
{
	EVP_PKEY *k256 = EVP_EC_gen("P-256");
	EVP_PKEY *k384 = EVP_EC_gen("P-384");
	struct cose_sign1 msg;
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(cose_sign1_create(k256, payload, sizeof(payload), &buf, &len), 0);
	assert_int_equal(cose_sign1_parse(buf, len, &msg), 0);
	assert_int_equal(cose_sign1_verify(&msg, k384), -EINVAL);
	cose_sign1_clear(&msg);
	free(buf);
	EVP_PKEY_free(k256);
	EVP_PKEY_free(k384);
}

static void test_non_ec_key(void **state)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_non_null(ed);
	assert_int_equal(cose_sign1_create(ed, payload, sizeof(payload), &buf, &len), -ENOTSUP);
	EVP_PKEY_free(ed);
}

static void test_malformed(void **state)
{
	struct cose_sign1 msg;
	/* array claiming 2^32-1 elements */
	static const uint8_t huge[] = {0x9a, 0xff, 0xff, 0xff, 0xff, 0x00};
	/* indefinite-length array */
	static const uint8_t indef[] = {0x9f, 0x40, 0xa0, 0x40, 0x40, 0xff};
	/* unknown alg 7 */
	static const uint8_t badalg[] = {0x84, 0x43, 0xa1, 0x01, 0x07, 0xa0, 0x40, 0x40};
	/* no alg */
	static const uint8_t noalg[] = {0x84, 0x41, 0xa0, 0xa0, 0x40, 0x40};
	/* unprotected is not a map */
	static const uint8_t notmap[] = {0x84, 0x43, 0xa1, 0x01, 0x26, 0x80, 0x40, 0x40};
	/* three elements */
	static const uint8_t three[] = {0x83, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x40};
	/* text string payload */
	static const uint8_t tstr[] = {0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x60, 0x40};
	uint8_t deep[64];

	assert_int_equal(cose_sign1_parse(huge, sizeof(huge), &msg), -EBADMSG);
	assert_int_equal(cose_sign1_parse(indef, sizeof(indef), &msg), -EBADMSG);
	assert_int_equal(cose_sign1_parse(badalg, sizeof(badalg), &msg), -ENOTSUP);
	assert_int_equal(cose_sign1_parse(noalg, sizeof(noalg), &msg), -EBADMSG);
	assert_int_equal(cose_sign1_parse(notmap, sizeof(notmap), &msg), -EBADMSG);
	assert_int_equal(cose_sign1_parse(three, sizeof(three), &msg), -EBADMSG);
	assert_int_equal(cose_sign1_parse(tstr, sizeof(tstr), &msg), -EBADMSG);
	assert_int_equal(cose_sign1_parse(huge, 0, &msg), -EBADMSG);
	memset(deep, 0x81, sizeof(deep));
	deep[sizeof(deep) - 1] = 0x00;
	assert_int_equal(cose_cbor_wellformed(deep, sizeof(deep), 16), -EBADMSG);
	assert_int_equal(cose_cbor_wellformed(deep, sizeof(deep), 64), 0);
	assert_null(msg.payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_p256),
	    cmocka_unit_test(test_p384),
	    cmocka_unit_test(test_p521),
	    cmocka_unit_test(test_protected_header_bytes),
	    cmocka_unit_test(test_tagged_accepted),
	    cmocka_unit_test(test_wrong_curve),
	    cmocka_unit_test(test_non_ec_key),
	    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
