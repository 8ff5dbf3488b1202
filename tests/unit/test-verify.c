/* Documents and their verification, end to end through the NSM Attestation request with real
 * P-384 keys: the payload byte layout, a document that verifies, and each way to break one
 * rejected with its own reason. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attest/acbor.h"
#include "attest/cose.h"
#include "attest/document.h"
#include "attest/nsm.h"
#include "attest/pki.h"
#include "attest/verify.h"

#define FIXED_MS 1700000000123ull

static struct pki ca, other_ca;
static struct pki_leaf leaf;
static uint8_t img[3][48];

static uint64_t fixed_clock(void)
{
	return FIXED_MS;
}

static int setup(void **unused)
{
	/* A day old, so that a leaf can be issued in the past. */
	if (pki_create(&ca, time(NULL) - 86400) < 0 || pki_create(&other_ca, 0) < 0 ||
	    pki_issue_leaf(&ca, "enc-test", 0, 3600, &leaf) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		memset(img[i], 0xa0 + i, 48);
	return 0;
}

static int teardown(void **unused)
{
	pki_leaf_clear(&leaf);
	pki_clear(&ca);
	pki_clear(&other_ca);
	return 0;
}

/* Ask an NSM for a document and unwrap it from {"Attestation":{"document":bstr}}. */
static void attest(const struct pki_leaf *l, bool debug, const char *nonce, uint8_t **doc,
		   size_t *doc_len)
{
	struct nsm_state st;
	struct doc_signer signer = {.leaf = l, .clock_ms = fixed_clock};
	uint8_t req[256], resp[NSM_RESPONSE_MAX];
	size_t resp_len = 0;
	struct acbor_writer w;
	struct acbor_reader r;
	uint64_t n;
	const char *s;
	size_t slen;
	const uint8_t *d;

	assert_int_equal(nsm_state_init(&st, "i-test-enc1", img[0], img[1], img[2], NULL, "uid=0",
					"host", debug),
			 0);
	nsm_state_set_signer(&st, doc_nsm_attest, &signer);
	acbor_writer_init(&w, req, sizeof(req));
	acbor_put_map(&w, 1);
	acbor_put_tstr(&w, "Attestation");
	acbor_put_map(&w, 3);
	acbor_put_tstr(&w, "user_data");
	acbor_put_bstr(&w, "hello", 5);
	acbor_put_tstr(&w, "nonce");
	if (nonce)
		acbor_put_bstr(&w, nonce, strlen(nonce));
	else
		acbor_put_null(&w);
	acbor_put_tstr(&w, "public_key");
	acbor_put_null(&w);
	assert_int_equal(acbor_writer_finish(&w), 0);
	assert_int_equal(nsm_handle_request(&st, req, w.len, resp, sizeof(resp), &resp_len), 0);

	acbor_reader_init(&r, resp, resp_len);
	assert_int_equal(acbor_read_map(&r, &n), 0);
	assert_int_equal(acbor_read_tstr(&r, &s, &slen), 0);
	assert_true(acbor_str_eq(s, slen, "Attestation"));
	assert_int_equal(acbor_read_map(&r, &n), 0);
	assert_int_equal(acbor_read_tstr(&r, &s, &slen), 0);
	assert_true(acbor_str_eq(s, slen, "document"));
	assert_int_equal(acbor_read_bstr(&r, &d, doc_len), 0);
	assert_true(acbor_at_end(&r));
	*doc = malloc(*doc_len);
	assert_non_null(*doc);
	memcpy(*doc, d, *doc_len);
}

static void base_options(struct verify_options *o)
{
	memset(o, 0, sizeof(*o));
	o->root = ca.root;
	o->pcr_count = 1;
	o->pcrs[0].index = 0;
	o->pcrs[0].len = 48;
	memcpy(o->pcrs[0].value, img[0], 48);
	o->check_nonce = true;
	o->nonce = (const uint8_t *)"nonce-1234";
	o->nonce_len = 10;
	o->check_user_data = true;
	o->user_data = (const uint8_t *)"hello";
	o->user_data_len = 5;
}

static enum verify_error check(const uint8_t *doc, size_t len, const struct verify_options *o)
{
	struct verify_result res;
	int ret = verify_attestation_doc(doc, len, o, &res);
	enum verify_error e = res.error;

	if (ret == 0)
		assert_int_equal(e, VERIFY_OK);
	else
		assert_true(e != VERIFY_OK && res.message[0] != '\0');
	verify_result_clear(&res);
	return e;
}

static void test_document_verifies(void **unused)
{
	uint8_t *doc;
	size_t len;
	struct verify_options o;
	struct verify_result res;

	attest(&leaf, false, "nonce-1234", &doc, &len);
	/* Untagged COSE_Sign1, protected {1:-35}, empty unprotected, 96-byte signature. */
	static const uint8_t head[] = {0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0, 0x59};
	assert_memory_equal(doc, head, sizeof(head));
	assert_int_equal(doc[len - 98], 0x58);
	assert_int_equal(doc[len - 97], 96);

	base_options(&o);
	assert_int_equal(verify_attestation_doc(doc, len, &o, &res), 0);
	assert_int_equal(res.error, VERIFY_OK);
	assert_string_equal(res.module_id, "i-test-enc1");
	assert_string_equal(res.digest, "SHA384");
	assert_int_equal(res.timestamp_ms, FIXED_MS);
	assert_int_equal(res.pcr_mask, 0xffff);
	assert_memory_equal(res.pcrs[1], img[1], 48);
	assert_true(res.nonce.present);
	assert_memory_equal(res.nonce.data, "nonce-1234", 10);
	assert_true(res.user_data.present);
	assert_false(res.public_key.present);
	verify_result_clear(&res);
	free(doc);
}

static void test_rejections(void **unused)
{
	uint8_t *doc, *null_nonce_doc;
	size_t len, nlen;
	struct verify_options o;
	size_t pcr0_at = 0;

	attest(&leaf, false, "nonce-1234", &doc, &len);
	base_options(&o);

	/* One flipped byte in the signature, then one inside PCR0's value in the payload. */
	doc[len - 1] ^= 0x01;
	assert_int_equal(check(doc, len, &o), VERIFY_E_SIGNATURE);
	doc[len - 1] ^= 0x01;
	for (size_t i = 0; i + 48 <= len; i++)
		if (memcmp(doc + i, img[0], 48) == 0) {
			pcr0_at = i;
			break;
		}
	assert_true(pcr0_at > 0);
	doc[pcr0_at + 7] ^= 0x80;
	assert_int_equal(check(doc, len, &o), VERIFY_E_SIGNATURE);
	doc[pcr0_at + 7] ^= 0x80;
	assert_int_equal(check(doc, len, &o), VERIFY_OK);

	/* Another CA's root. */
	o.root = other_ca.root;
	assert_int_equal(check(doc, len, &o), VERIFY_E_CHAIN);
	o.root = ca.root;

	/* Validity dates against an injected clock. */
	o.now = time(NULL) + 2 * 3600;
	assert_int_equal(check(doc, len, &o), VERIFY_E_VALIDITY);
	o.now = time(NULL) - 3600;
	assert_int_equal(check(doc, len, &o), VERIFY_E_VALIDITY);
	o.now = 0;

	/* Expected values. */
	o.nonce = (const uint8_t *)"nonce-9999";
	assert_int_equal(check(doc, len, &o), VERIFY_E_NONCE);
	base_options(&o);
	o.pcrs[0].value[47] ^= 1;
	assert_int_equal(check(doc, len, &o), VERIFY_E_PCR);
	base_options(&o);
	o.pcrs[0].index = 20; /* unlocked, so not in the document */
	assert_int_equal(check(doc, len, &o), VERIFY_E_PCR);
	base_options(&o);
	o.pcrs[0].len = 32;
	assert_int_equal(check(doc, len, &o), VERIFY_E_PCR);
	base_options(&o);
	o.user_data = (const uint8_t *)"hellO";
	assert_int_equal(check(doc, len, &o), VERIFY_E_USER_DATA);
	base_options(&o);

	/* Every truncation is malformed, none crashes. */
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(check(doc, cut, &o), VERIFY_E_COSE);

	/* A document without a nonce fails a nonce check but passes without one. */
	attest(&leaf, false, NULL, &null_nonce_doc, &nlen);
	assert_int_equal(check(null_nonce_doc, nlen, &o), VERIFY_E_NONCE);
	o.check_nonce = false;
	assert_int_equal(check(null_nonce_doc, nlen, &o), VERIFY_OK);
	free(null_nonce_doc);
	free(doc);
}

static void test_expired_leaf(void **unused)
{
	struct pki_leaf old;
	uint8_t *doc;
	size_t len;
	struct verify_options o;

	assert_int_equal(pki_issue_leaf(&ca, "enc-old", time(NULL) - 7200, 3600, &old), 0);
	attest(&old, false, "nonce-1234", &doc, &len);
	base_options(&o);
	assert_int_equal(check(doc, len, &o), VERIFY_E_VALIDITY);
	o.now = time(NULL) - 5400; /* while it was valid */
	assert_int_equal(check(doc, len, &o), VERIFY_OK);
	free(doc);
	pki_leaf_clear(&old);
}

static void test_ca_as_leaf(void **unused)
{
	/* Signed by the intermediate itself: the chain holds, but a CA must not sign documents. */
	struct pki_leaf fake = {0};
	uint8_t *doc;
	size_t len;
	struct verify_options o;

	fake.key = ca.intermediate_key;
	assert_int_equal(pki_cert_to_der(ca.intermediate, &fake.cert_der), 0);
	assert_int_equal(pki_cert_to_der(ca.root, &fake.cabundle[0]), 0);
	fake.cabundle_count = 1;
	attest(&fake, false, "nonce-1234", &doc, &len);
	base_options(&o);
	assert_int_equal(check(doc, len, &o), VERIFY_E_KEY_USAGE);
	free(doc);
	OPENSSL_free(fake.cert_der.der);
	OPENSSL_free(fake.cabundle[0].der);
}

static void test_wrong_algorithm(void **unused)
{
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t *payload = NULL, *doc = NULL;
	size_t plen = 0, len = 0;
	uint8_t pcrs[NSM_MAX_PCRS][NSM_PCR_LEN] = {{0}};
	struct doc_input in = {
	    .module_id = "m",
	    .pcrs = (const uint8_t(*)[NSM_PCR_LEN])pcrs,
	    .pcr_mask = 1,
	    .certificate = &leaf.cert_der,
	    .cabundle = leaf.cabundle,
	    .cabundle_count = leaf.cabundle_count,
	};
	struct verify_options o;

	assert_non_null(p256);
	/* The library refuses to sign documents with anything but P-384 ... */
	assert_int_equal(doc_create(p256, &in, &doc, &len), -EINVAL);
	/* ... and the verifier rejects an ES256 one made by hand. */
	assert_int_equal(doc_encode_payload(&in, &payload, &plen), 0);
	assert_int_equal(cose_sign1_create(p256, payload, plen, &doc, &len), 0);
	base_options(&o);
	o.pcr_count = 0;
	o.check_nonce = o.check_user_data = false;
	assert_int_equal(check(doc, len, &o), VERIFY_E_ALGORITHM);
	free(doc);
	/* Not COSE at all. */
	assert_int_equal(check(payload, plen, &o), VERIFY_E_COSE);
	free(payload);
	EVP_PKEY_free(p256);
}

static void add_tstr(struct acbor_writer *w, const char *s)
{
	acbor_put_tstr(w, s);
}

static void test_payload_layout(void **unused)
{
	uint8_t pcrs[NSM_MAX_PCRS][NSM_PCR_LEN];
	struct pki_der cert = {(uint8_t *)"\x01\x02\x03", 3};
	struct pki_der bundle[2] = {{(uint8_t *)"\x04", 1}, {(uint8_t *)"\x05\x06", 2}};
	struct doc_input in = {
	    .module_id = "i-1",
	    .timestamp_ms = 0x0102030405ull,
	    .pcrs = (const uint8_t(*)[NSM_PCR_LEN])pcrs,
	    .pcr_mask = (1u << 0) | (1u << 17),
	    .certificate = &cert,
	    .cabundle = bundle,
	    .cabundle_count = 2,
	    .fields = {.nonce = {true, (const uint8_t *)"N", 1}},
	};
	uint8_t *got = NULL;
	size_t got_len = 0;
	uint8_t want[512];
	size_t n = 0;
	struct verify_result res;

	memset(pcrs[0], 0x00, 48);
	memset(pcrs[17], 0x17, 48);
	/* Written out by hand: serde's field order, shortest heads, nulls for absent fields. */
#define B(...)                                                                                     \
	do {                                                                                       \
		const uint8_t b_[] = {__VA_ARGS__};                                                \
		memcpy(want + n, b_, sizeof(b_));                                                  \
		n += sizeof(b_);                                                                   \
	} while (0)
#define T(s)                                                                                       \
	do {                                                                                       \
		B((uint8_t)(0x60 | strlen(s)));                                                    \
		memcpy(want + n, s, strlen(s));                                                    \
		n += strlen(s);                                                                    \
	} while (0)
	B(0xa9);
	T("module_id");
	T("i-1");
	T("digest");
	T("SHA384");
	T("timestamp");
	B(0x1b, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05);
	T("pcrs");
	B(0xa2, 0x00, 0x58, 0x30);
	memcpy(want + n, pcrs[0], 48);
	n += 48;
	B(0x11, 0x58, 0x30);
	memcpy(want + n, pcrs[17], 48);
	n += 48;
	T("certificate");
	B(0x43, 1, 2, 3);
	T("cabundle");
	B(0x82, 0x41, 4, 0x42, 5, 6);
	T("public_key");
	B(0xf6);
	T("user_data");
	B(0xf6);
	T("nonce");
	B(0x41, 'N');
#undef B
#undef T
	assert_int_equal(doc_encode_payload(&in, &got, &got_len), 0);
	assert_int_equal(got_len, n);
	assert_memory_equal(got, want, n);

	/* The strict parser reads it back. */
	assert_int_equal(verify_parse_payload(got, got_len, &res), 0);
	assert_true(res.payload_ok);
	assert_int_equal(res.pcr_mask, (1u << 0) | (1u << 17));
	assert_int_equal(res.timestamp_ms, 0x0102030405ull);
	verify_result_clear(&res);
	/* ... and refuses it truncated or with a trailing byte. */
	assert_int_equal(verify_parse_payload(got, got_len - 1, &res), -EBADMSG);
	assert_int_equal(res.error, VERIFY_E_PAYLOAD);
	verify_result_clear(&res);
	memcpy(want, got, got_len);
	want[got_len] = 0x00;
	assert_int_equal(verify_parse_payload(want, got_len + 1, &res), -EBADMSG);
	assert_non_null(strstr(res.message, "trailing"));
	verify_result_clear(&res);
	free(got);

	in.fields.user_data = (struct nsm_bytes){true, want, NSM_ATTEST_FIELD_MAX + 1};
	assert_int_equal(doc_encode_payload(&in, &got, &got_len), -E2BIG);
	in.fields.user_data.len = 0;
	in.certificate = NULL;
	assert_int_equal(doc_encode_payload(&in, &got, &got_len), -EINVAL);

	/* Out-of-order keys. */
	{
		uint8_t buf[64];
		struct acbor_writer w;

		acbor_writer_init(&w, buf, sizeof(buf));
		acbor_put_map(&w, 9);
		add_tstr(&w, "digest");
		add_tstr(&w, "SHA384");
		for (int i = 0; i < 8; i++) {
			add_tstr(&w, "x");
			acbor_put_null(&w);
		}
		assert_int_equal(verify_parse_payload(buf, w.len, &res), -EBADMSG);
		assert_non_null(strstr(res.message, "module_id"));
		verify_result_clear(&res);
	}
}

static void test_debug_zeros(void **unused)
{
	uint8_t *doc;
	size_t len;
	struct verify_options o;
	struct verify_result res;
	uint8_t zero[48] = {0};

	attest(&leaf, true, "nonce-1234", &doc, &len);
	base_options(&o);
	o.pcr_count = 0;
	assert_int_equal(verify_attestation_doc(doc, len, &o, &res), 0);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(res.pcrs[i], zero, 48);
	assert_memory_not_equal(res.pcrs[4], zero, 48);
	verify_result_clear(&res);
	/* Expecting the image's PCR0 fails for a debug enclave, as on Nitro. */
	base_options(&o);
	assert_int_equal(check(doc, len, &o), VERIFY_E_PCR);
	free(doc);
}

static void test_error_names(void **unused)
{
	assert_string_equal(verify_error_name(VERIFY_E_SIGNATURE), "bad-signature");
	assert_string_equal(verify_error_name(VERIFY_E_CHAIN), "untrusted-chain");
	assert_string_equal(verify_error_name(VERIFY_E_VALIDITY), "certificate-expired");
	assert_string_equal(verify_error_name(VERIFY_E_NONCE), "nonce-mismatch");
	assert_string_equal(verify_error_name((enum verify_error)1000), "internal-error");
	/* All distinct. */
	for (int i = 0; i <= VERIFY_E_INTERNAL; i++)
		for (int j = i + 1; j <= VERIFY_E_INTERNAL; j++)
			assert_string_not_equal(verify_error_name(i), verify_error_name(j));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_document_verifies), cmocka_unit_test(test_rejections),
	    cmocka_unit_test(test_expired_leaf),      cmocka_unit_test(test_ca_as_leaf),
	    cmocka_unit_test(test_wrong_algorithm),   cmocka_unit_test(test_payload_layout),
	    cmocka_unit_test(test_debug_zeros),	      cmocka_unit_test(test_error_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
