/* The EIF signature section as nitro-cli writes it (serde_cbor without serde_bytes, so byte
 * strings are arrays of small integers) and its verification. */
#include "config.h"

#include "image/eif.h"
#include "image/eif_internal.h"
#include "attest/cose.h"
#include "common/util.h"

#include <cbor.h>
#include <errno.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define SIG_MAX_DEPTH 8

static void cbor_decrefp(cbor_item_t **item)
{
	if (*item)
		cbor_decref(item);
}
#define _cleanup_cbor_ __attribute__((cleanup(cbor_decrefp)))

static bool string_is(cbor_item_t *item, const char *s)
{
	size_t n = strlen(s);

	return cbor_isa_string(item) && cbor_string_is_definite(item) &&
	       cbor_string_length(item) == n && memcmp(cbor_string_handle(item), s, n) == 0;
}

/* An array of uints <= 255 into a malloc'ed, NUL-terminated buffer. */
static int uint_array_bytes(cbor_item_t *item, const char *what, uint8_t **out, size_t *out_len,
			    char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	cbor_item_t **items;
	size_t n;

	if (!cbor_isa_array(item) || !cbor_array_is_definite(item)) {
		eif_errf(err, errlen, "%s is not an array of bytes", what);
		return -EBADMSG;
	}
	n = cbor_array_size(item);
	items = cbor_array_handle(item);
	buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!cbor_isa_uint(items[i]) || cbor_get_int(items[i]) > UINT8_MAX) {
			eif_errf(err, errlen, "%s[%zu] is not an integer 0..255", what, i);
			return -EBADMSG;
		}
		buf[i] = (uint8_t)cbor_get_int(items[i]);
	}
	buf[n] = 0;
	*out = util_steal_ptr(&buf);
	*out_len = n;
	return 0;
}

static cbor_item_t *bytes_array(const uint8_t *buf, size_t len)
{
	cbor_item_t *arr = cbor_new_definite_array(len);

	if (!arr)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (!cbor_array_push(arr, cbor_move(cbor_build_uint8(buf[i])))) {
			cbor_decref(&arr);
			return NULL;
		}
	}
	return arr;
}

static bool map_put(cbor_item_t *map, const char *key, cbor_item_t *value)
{
	if (!value)
		return false;
	return cbor_map_add(map, (struct cbor_pair){.key = cbor_move(cbor_build_string(key)),
						    .value = cbor_move(value)});
}

static int serialize(cbor_item_t *item, uint8_t **out, size_t *out_len)
{
	unsigned char *buf = NULL;
	size_t cap = 0, n;

	n = cbor_serialize_alloc(item, &buf, &cap);
	if (n == 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

static cbor_item_t *load_checked(const uint8_t *buf, size_t len)
{
	struct cbor_load_result res;
	cbor_item_t *item;

	if (cose_cbor_wellformed(buf, len, SIG_MAX_DEPTH) < 0)
		return NULL;
	item = cbor_load(buf, len, &res);
	if (item && (res.error.code != CBOR_ERR_NONE || res.read != len))
		cbor_decref(&item);
	return item;
}

int eif_signature_decode(const uint8_t *buf, size_t len, struct eif_signature *sig, char *err,
			 size_t errlen)
{
	_cleanup_cbor_ cbor_item_t *root = NULL;
	struct cbor_pair *pairs;
	cbor_item_t *map;
	int r;

	memset(sig, 0, sizeof(*sig));
	if (len > EIF_MAX_SIGNATURE) {
		eif_errf(err, errlen, "section of %zu bytes exceeds %d", len, EIF_MAX_SIGNATURE);
		return -EFBIG;
	}
	root = load_checked(buf, len);
	if (!root) {
		eif_errf(err, errlen,
			 "not one well-formed CBOR item (definite lengths, depth <= %d)",
			 SIG_MAX_DEPTH);
		return -EBADMSG;
	}
	if (!cbor_isa_array(root) || cbor_array_size(root) != 1) {
		eif_errf(err, errlen, "not a CBOR array of one PcrSignature");
		return -EBADMSG;
	}
	map = cbor_array_handle(root)[0];
	if (!cbor_isa_map(map) || cbor_map_size(map) != 2) {
		eif_errf(err, errlen, "PcrSignature is not a map of two entries");
		return -EBADMSG;
	}
	pairs = cbor_map_handle(map);
	if (!string_is(pairs[0].key, "signing_certificate") ||
	    !string_is(pairs[1].key, "signature")) {
		eif_errf(err, errlen, "PcrSignature keys are not signing_certificate, signature");
		return -EBADMSG;
	}
	r = uint_array_bytes(pairs[0].value, "signing_certificate", &sig->cert_pem, &sig->cert_len,
			     err, errlen);
	if (r == 0)
		r = uint_array_bytes(pairs[1].value, "signature", &sig->cose, &sig->cose_len, err,
				     errlen);
	if (r < 0)
		eif_signature_clear(sig);
	return r;
}

void eif_signature_clear(struct eif_signature *sig)
{
	free(sig->cert_pem);
	free(sig->cose);
	memset(sig, 0, sizeof(*sig));
}

static int encode_pcr_info(const uint8_t pcr0[PCR_DIGEST_LEN], uint8_t **out, size_t *out_len)
{
	_cleanup_cbor_ cbor_item_t *map = cbor_new_definite_map(2);

	if (!map || !map_put(map, "register_index", cbor_build_uint8(0)) ||
	    !map_put(map, "register_value", bytes_array(pcr0, PCR_DIGEST_LEN)))
		return -ENOMEM;
	return serialize(map, out, out_len);
}

int eif_signature_create(EVP_PKEY *key, const uint8_t *cert_pem, size_t cert_len,
			 const uint8_t pcr0[PCR_DIGEST_LEN], uint8_t **out, size_t *out_len)
{
	_cleanup_free_ uint8_t *payload = NULL, *cose = NULL;
	_cleanup_cbor_ cbor_item_t *root = NULL;
	cbor_item_t *map;
	size_t payload_len = 0, cose_len = 0;
	int r;

	r = encode_pcr_info(pcr0, &payload, &payload_len);
	if (r < 0)
		return r;
	r = cose_sign1_create(key, payload, payload_len, &cose, &cose_len);
	if (r < 0)
		return r;
	root = cbor_new_definite_array(1);
	map = cbor_new_definite_map(2);
	if (!root || !map || !cbor_array_push(root, cbor_move(map)) ||
	    !map_put(map, "signing_certificate", bytes_array(cert_pem, cert_len)) ||
	    !map_put(map, "signature", bytes_array(cose, cose_len)))
		return -ENOMEM;
	return serialize(root, out, out_len);
}

static X509 *cert_from_pem(const uint8_t *pem, size_t len)
{
	BIO *bio;
	X509 *x;

	if (len == 0 || len > INT32_MAX)
		return NULL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return NULL;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return x;
}

static int cert_pcr(X509 *x, uint8_t pcr8[PCR_DIGEST_LEN])
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	int r;

	if (len <= 0)
		return -EBADMSG;
	r = pcr_measure(der, (size_t)len, pcr8);
	OPENSSL_free(der);
	return r;
}

int eif_cert_pcr(const uint8_t *cert_pem, size_t cert_len, uint8_t pcr8[PCR_DIGEST_LEN])
{
	X509 *x = cert_from_pem(cert_pem, cert_len);
	int r;

	if (!x)
		return -EBADMSG;
	r = cert_pcr(x, pcr8);
	X509_free(x);
	return r;
}

/* The payload must be exactly {"register_index": 0, "register_value": [48 bytes]}. */
static int payload_matches(const uint8_t *buf, size_t len, const uint8_t pcr0[PCR_DIGEST_LEN],
			   bool *match, char *err, size_t errlen)
{
	_cleanup_cbor_ cbor_item_t *map = load_checked(buf, len);
	_cleanup_free_ uint8_t *value = NULL;
	struct cbor_pair *pairs;
	size_t value_len = 0;
	int r;

	if (!map || !cbor_isa_map(map) || cbor_map_size(map) != 2) {
		eif_errf(err, errlen, "COSE payload is not a map of two entries");
		return -EBADMSG;
	}
	pairs = cbor_map_handle(map);
	if (!string_is(pairs[0].key, "register_index") ||
	    !string_is(pairs[1].key, "register_value") || !cbor_isa_uint(pairs[0].value)) {
		eif_errf(err, errlen, "COSE payload keys are not register_index, register_value");
		return -EBADMSG;
	}
	if (cbor_get_int(pairs[0].value) != 0) {
		eif_errf(err, errlen, "COSE payload register_index is %llu, expected 0",
			 (unsigned long long)cbor_get_int(pairs[0].value));
		return -EBADMSG;
	}
	r = uint_array_bytes(pairs[1].value, "register_value", &value, &value_len, err, errlen);
	if (r < 0)
		return r;
	if (value_len != PCR_DIGEST_LEN) {
		eif_errf(err, errlen, "register_value has %zu bytes, expected %d", value_len,
			 PCR_DIGEST_LEN);
		return -EBADMSG;
	}
	*match = memcmp(value, pcr0, PCR_DIGEST_LEN) == 0;
	return 0;
}

static void cert_info(X509 *x, struct eif_sig_info *info)
{
	const ASN1_BIT_STRING *sig = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	int n;

	if (bio) {
		if (X509_NAME_print_ex(bio, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253) >= 0) {
			n = BIO_read(bio, info->issuer, sizeof(info->issuer) - 1);
			info->issuer[n > 0 ? n : 0] = 0;
		}
		(void)BIO_reset(bio);
		if (ASN1_TIME_print(bio, X509_get0_notBefore(x)) == 1) {
			n = BIO_read(bio, info->not_before, sizeof(info->not_before) - 1);
			info->not_before[n > 0 ? n : 0] = 0;
		}
		(void)BIO_reset(bio);
		if (ASN1_TIME_print(bio, X509_get0_notAfter(x)) == 1) {
			n = BIO_read(bio, info->not_after, sizeof(info->not_after) - 1);
			info->not_after[n > 0 ? n : 0] = 0;
		}
		BIO_free(bio);
	}
	snprintf(info->algorithm, sizeof(info->algorithm), "%s",
		 OBJ_nid2ln(X509_get_signature_nid(x)));
	X509_get0_signature(&sig, NULL, x);
	if (sig) {
		size_t len = UTIL_MIN((size_t)ASN1_STRING_length(sig), (size_t)512);
		util_hex_encode(ASN1_STRING_get0_data(sig), len, info->signature_hex);
	}
}

int eif_signature_check(const struct eif_signature *sig, const uint8_t pcr0[PCR_DIGEST_LEN],
			struct eif_sig_info *info, uint8_t pcr8[PCR_DIGEST_LEN], char *err,
			size_t errlen)
{
	X509 *x = cert_from_pem(sig->cert_pem, sig->cert_len);
	struct cose_sign1 msg = {0};
	EVP_PKEY *pub;
	int r;

	memset(info, 0, sizeof(*info));
	if (!x) {
		eif_errf(err, errlen, "signing_certificate is not a PEM X.509 certificate");
		return -EBADMSG;
	}
	cert_info(x, info);
	r = cert_pcr(x, pcr8);
	if (r < 0) {
		eif_errf(err, errlen, "signing_certificate cannot be encoded as DER");
		goto out;
	}
	info->cert_dates_ok = X509_cmp_current_time(X509_get0_notBefore(x)) < 0 &&
			      X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
	r = cose_sign1_parse(sig->cose, sig->cose_len, &msg);
	if (r < 0) {
		eif_errf(err, errlen, "signature is not a COSE_Sign1 message (%s)", strerror(-r));
		goto out;
	}
	r = payload_matches(msg.payload, msg.payload_len, pcr0, &info->pcr0_matches, err, errlen);
	if (r < 0)
		goto out;
	pub = X509_get0_pubkey(x);
	info->signature_ok = pub && cose_sign1_verify(&msg, pub) == 0 && info->pcr0_matches;
out:
	cose_sign1_clear(&msg);
	X509_free(x);
	return r;
}
