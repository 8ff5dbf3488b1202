#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "attest/acbor.h"
#include "attest/cose.h"
#include "attest/verify.h"
#include "common/util.h"

static const char *const verify_error_names[] = {
    [VERIFY_OK] = "ok",
    [VERIFY_E_COSE] = "malformed-cose",
    [VERIFY_E_ALGORITHM] = "unsupported-algorithm",
    [VERIFY_E_PAYLOAD] = "malformed-payload",
    [VERIFY_E_CERTIFICATE] = "malformed-certificate",
    [VERIFY_E_CHAIN] = "untrusted-chain",
    [VERIFY_E_VALIDITY] = "certificate-expired",
    [VERIFY_E_KEY_USAGE] = "bad-key-usage",
    [VERIFY_E_SIGNATURE] = "bad-signature",
    [VERIFY_E_PCR] = "pcr-mismatch",
    [VERIFY_E_NONCE] = "nonce-mismatch",
    [VERIFY_E_USER_DATA] = "user-data-mismatch",
    [VERIFY_E_INTERNAL] = "internal-error",
};

const char *verify_error_name(enum verify_error e)
{
	if ((unsigned)e >= UTIL_ARRAY_SIZE(verify_error_names))
		return "internal-error";
	return verify_error_names[e];
}

static int errno_of(enum verify_error e)
{
	switch (e) {
	case VERIFY_OK:
		return 0;
	case VERIFY_E_COSE:
	case VERIFY_E_PAYLOAD:
	case VERIFY_E_CERTIFICATE:
		return -EBADMSG;
	case VERIFY_E_ALGORITHM:
		return -ENOTSUP;
	case VERIFY_E_CHAIN:
	case VERIFY_E_KEY_USAGE:
	case VERIFY_E_SIGNATURE:
		return -EKEYREJECTED;
	case VERIFY_E_VALIDITY:
		return -EKEYEXPIRED;
	case VERIFY_E_PCR:
	case VERIFY_E_NONCE:
	case VERIFY_E_USER_DATA:
		return -EPERM;
	default:
		return -EIO;
	}
}

__attribute__((format(printf, 3, 4))) static int fail(struct verify_result *res,
						      enum verify_error e, const char *fmt, ...)
{
	va_list ap;

	res->error = e;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return errno_of(e);
}

/* Where the signed-over certificates sit inside the payload. */
struct payload_view {
	const uint8_t *cert;
	size_t cert_len;
	const uint8_t *bundle[VERIFY_CABUNDLE_MAX];
	size_t bundle_len[VERIFY_CABUNDLE_MAX];
	size_t bundle_count;
};

static int expect_key(struct acbor_reader *r, struct verify_result *res, const char *key)
{
	const char *s;
	size_t n;
	size_t at = r->off;

	if (acbor_read_tstr(r, &s, &n) < 0 || !acbor_str_eq(s, n, key))
		return fail(res, VERIFY_E_PAYLOAD, "payload: expected key \"%s\" at offset %zu",
			    key, at);
	return 0;
}

static int read_cert_bytes(struct acbor_reader *r, struct verify_result *res, const char *what,
			   const uint8_t **p, size_t *n)
{
	size_t at = r->off;

	if (acbor_read_bstr(r, p, n) < 0)
		return fail(res, VERIFY_E_PAYLOAD, "payload: %s at offset %zu is not bytes", what,
			    at);
	if (*n == 0 || *n > VERIFY_CERT_MAX)
		return fail(res, VERIFY_E_PAYLOAD, "payload: %s is %zu bytes (allowed 1..%d)", what,
			    *n, VERIFY_CERT_MAX);
	return 0;
}

static int read_opt_field(struct acbor_reader *r, struct verify_result *res, const char *key,
			  struct verify_bytes *out)
{
	const uint8_t *p;
	size_t n, at;
	int ret = expect_key(r, res, key);

	if (ret < 0)
		return ret;
	at = r->off;
	ret = acbor_read_null(r);
	if (ret == 1)
		return 0;
	if (ret < 0 || acbor_read_bstr(r, &p, &n) < 0)
		return fail(res, VERIFY_E_PAYLOAD,
			    "payload: %s at offset %zu is neither bytes nor null", key, at);
	if (n > VERIFY_FIELD_MAX)
		return fail(res, VERIFY_E_PAYLOAD, "payload: %s is %zu bytes, limit %d", key, n,
			    VERIFY_FIELD_MAX);
	out->data = malloc(n ? n : 1);
	if (!out->data)
		return fail(res, VERIFY_E_INTERNAL, "out of memory");
	memcpy(out->data, p, n);
	out->len = n;
	out->present = true;
	return 0;
}

static int read_pcrs(struct acbor_reader *r, struct verify_result *res)
{
	uint64_t count;
	int64_t last = -1;
	int ret = expect_key(r, res, "pcrs");

	if (ret < 0)
		return ret;
	if (acbor_read_map(r, &count) < 0 || count == 0 || count > VERIFY_MAX_PCRS)
		return fail(res, VERIFY_E_PAYLOAD, "payload: pcrs is not a map of 1..%d entries",
			    VERIFY_MAX_PCRS);
	for (uint64_t i = 0; i < count; i++) {
		uint64_t index;
		const uint8_t *p;
		size_t n;

		if (acbor_read_uint(r, &index) < 0 || index >= VERIFY_MAX_PCRS ||
		    (int64_t)index <= last)
			return fail(res, VERIFY_E_PAYLOAD,
				    "payload: PCR index at offset %zu is not an ascending 0..31",
				    r->off);
		last = (int64_t)index;
		if (acbor_read_bstr(r, &p, &n) < 0 || n != res->pcr_len)
			return fail(res, VERIFY_E_PAYLOAD, "payload: PCR %u is not %zu bytes of %s",
				    (unsigned)index, res->pcr_len, res->digest);
		memcpy(res->pcrs[index], p, n);
		res->pcr_mask |= 1u << index;
	}
	return 0;
}

static int parse_payload(const uint8_t *payload, size_t len, struct verify_result *res,
			 struct payload_view *v)
{
	struct acbor_reader r;
	uint64_t pairs, count;
	const char *s;
	size_t n;
	int ret;

	acbor_reader_init(&r, payload, len);
	if (acbor_read_map(&r, &pairs) < 0 || pairs != 9)
		return fail(res, VERIFY_E_PAYLOAD, "payload: not a map of 9 entries");

	if ((ret = expect_key(&r, res, "module_id")) < 0)
		return ret;
	if (acbor_read_tstr(&r, &s, &n) < 0 || n == 0 || n > VERIFY_MODULE_ID_MAX)
		return fail(res, VERIFY_E_PAYLOAD, "payload: module_id is not 1..%d bytes of text",
			    VERIFY_MODULE_ID_MAX);
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return fail(res, VERIFY_E_PAYLOAD,
				    "payload: module_id byte %zu (0x%02x) is not printable ASCII",
				    i, (uint8_t)s[i]);
	memcpy(res->module_id, s, n);
	res->module_id[n] = '\0';

	if ((ret = expect_key(&r, res, "digest")) < 0)
		return ret;
	if (acbor_read_tstr(&r, &s, &n) < 0)
		return fail(res, VERIFY_E_PAYLOAD, "payload: digest is not text");
	if (acbor_str_eq(s, n, "SHA384"))
		res->pcr_len = 48;
	else if (acbor_str_eq(s, n, "SHA256"))
		res->pcr_len = 32;
	else if (acbor_str_eq(s, n, "SHA512"))
		res->pcr_len = 64;
	else
		return fail(res, VERIFY_E_PAYLOAD, "payload: digest is not SHA256/SHA384/SHA512");
	memcpy(res->digest, s, n);
	res->digest[n] = '\0';

	if ((ret = expect_key(&r, res, "timestamp")) < 0)
		return ret;
	if (acbor_read_uint(&r, &res->timestamp_ms) < 0)
		return fail(res, VERIFY_E_PAYLOAD, "payload: timestamp is not an unsigned integer");

	if ((ret = read_pcrs(&r, res)) < 0)
		return ret;

	if ((ret = expect_key(&r, res, "certificate")) < 0 ||
	    (ret = read_cert_bytes(&r, res, "certificate", &v->cert, &v->cert_len)) < 0)
		return ret;

	if ((ret = expect_key(&r, res, "cabundle")) < 0)
		return ret;
	if (acbor_read_array(&r, &count) < 0 || count == 0 || count > VERIFY_CABUNDLE_MAX)
		return fail(res, VERIFY_E_PAYLOAD, "payload: cabundle is not an array of 1..%d",
			    VERIFY_CABUNDLE_MAX);
	for (size_t i = 0; i < count; i++)
		if ((ret = read_cert_bytes(&r, res, "cabundle entry", &v->bundle[i],
					   &v->bundle_len[i])) < 0)
			return ret;
	v->bundle_count = (size_t)count;

	if ((ret = read_opt_field(&r, res, "public_key", &res->public_key)) < 0 ||
	    (ret = read_opt_field(&r, res, "user_data", &res->user_data)) < 0 ||
	    (ret = read_opt_field(&r, res, "nonce", &res->nonce)) < 0)
		return ret;
	if (!acbor_at_end(&r))
		return fail(res, VERIFY_E_PAYLOAD, "payload: %zu trailing bytes", len - r.off);
	res->payload_ok = true;
	return 0;
}

int verify_parse_payload(const uint8_t *payload, size_t len, struct verify_result *res)
{
	struct payload_view v = {0};

	memset(res, 0, sizeof(*res));
	return parse_payload(payload, len, res, &v);
}

static X509 *parse_der(const uint8_t *der, size_t len)
{
	const uint8_t *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

static enum verify_error classify_x509_error(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
		return VERIFY_E_VALIDITY;
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_INVALID_EXTENSION:
		return VERIFY_E_KEY_USAGE;
	default:
		return VERIFY_E_CHAIN;
	}
}

static int check_chain(const struct payload_view *v, const struct verify_options *opt,
		       struct verify_result *res, X509 **leaf_out)
{
	X509 *leaf = NULL;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int ret;

	if (!store || !ctx || !untrusted) {
		ret = fail(res, VERIFY_E_INTERNAL, "out of memory");
		goto out;
	}
	leaf = parse_der(v->cert, v->cert_len);
	if (!leaf) {
		ret = fail(res, VERIFY_E_CERTIFICATE, "certificate: not one DER X.509 certificate");
		goto out;
	}
	/* The chain is [certificate, cabundle[N-1] ... cabundle[0]]. */
	for (size_t i = v->bundle_count; i-- > 0;) {
		X509 *c = parse_der(v->bundle[i], v->bundle_len[i]);

		if (!c) {
			ret = fail(res, VERIFY_E_CERTIFICATE,
				   "cabundle[%zu]: not one DER X.509 certificate", i);
			goto out;
		}
		if (!sk_X509_push(untrusted, c)) {
			X509_free(c);
			ret = fail(res, VERIFY_E_INTERNAL, "out of memory");
			goto out;
		}
	}
	if (X509_STORE_add_cert(store, opt->root) != 1 ||
	    X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
		ret = fail(res, VERIFY_E_INTERNAL, "cannot set up chain verification");
		goto out;
	}
	X509_STORE_CTX_set_time(ctx, 0, opt->now ? opt->now : time(NULL));
	if (X509_verify_cert(ctx) != 1) {
		int err = X509_STORE_CTX_get_error(ctx);

		ret = fail(res, classify_x509_error(err), "certificate chain: %s (depth %d)",
			   X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	/* OpenSSL checked the CAs' basicConstraints and keyCertSign; the leaf is ours to check:
	 * an end entity whose key usage explicitly allows signatures. */
	if (X509_check_ca(leaf) != 0) {
		ret = fail(res, VERIFY_E_KEY_USAGE, "certificate: the leaf is a CA");
		goto out;
	}
	if (!(X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE)) {
		ret = fail(res, VERIFY_E_KEY_USAGE, "certificate: keyUsage lacks digitalSignature");
		goto out;
	}
	*leaf_out = util_steal_ptr(&leaf);
	ret = 0;
out:
	ERR_clear_error();
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ret;
}

static int check_expected(const struct verify_options *opt, struct verify_result *res)
{
	for (size_t i = 0; i < opt->pcr_count; i++) {
		const struct verify_expected_pcr *e = &opt->pcrs[i];
		char got[17] = "", want[17] = "";

		if (e->index >= VERIFY_MAX_PCRS || !((res->pcr_mask >> e->index) & 1u))
			return fail(res, VERIFY_E_PCR, "PCR %u is not in the document", e->index);
		if (e->len != res->pcr_len || memcmp(e->value, res->pcrs[e->index], e->len) != 0) {
			util_hex_encode(res->pcrs[e->index], 8, got);
			util_hex_encode(e->value, UTIL_MIN(e->len, (size_t)8), want);
			return fail(res, VERIFY_E_PCR,
				    "PCR %u is %s... (expected %s..., %zu bytes)", e->index, got,
				    want, e->len);
		}
	}
	if (opt->check_nonce && (!res->nonce.present || res->nonce.len != opt->nonce_len ||
				 memcmp(res->nonce.data, opt->nonce, opt->nonce_len) != 0))
		return fail(res, VERIFY_E_NONCE, "nonce: the document's %s the expected %zu bytes",
			    res->nonce.present ? "nonce differs from" : "nonce is null, not",
			    opt->nonce_len);
	if (opt->check_user_data &&
	    (!res->user_data.present || res->user_data.len != opt->user_data_len ||
	     memcmp(res->user_data.data, opt->user_data, opt->user_data_len) != 0))
		return fail(res, VERIFY_E_USER_DATA,
			    "user_data: the document's differs from the expected %zu bytes",
			    opt->user_data_len);
	return 0;
}

int verify_attestation_doc(const uint8_t *doc, size_t len, const struct verify_options *opt,
			   struct verify_result *res)
{
	struct cose_sign1 msg = {0};
	struct payload_view v = {0};
	X509 *leaf = NULL;
	EVP_PKEY *pub;
	int64_t key_alg = 0;
	int ret;

	memset(res, 0, sizeof(*res));
	if (!opt || !opt->root)
		return fail(res, VERIFY_E_INTERNAL, "no trusted root given");
	ret = cose_sign1_parse(doc, len, &msg);
	if (ret == -ENOTSUP)
		return fail(res, VERIFY_E_ALGORITHM, "COSE: unknown signature algorithm");
	if (ret < 0)
		return fail(res, VERIFY_E_COSE, "COSE: not a well-formed COSE_Sign1 (%s)",
			    strerror(-ret));
	if (msg.alg != COSE_ALG_ES384) {
		ret = fail(res, VERIFY_E_ALGORITHM, "COSE: algorithm %lld is not ES384 (-35)",
			   (long long)msg.alg);
		goto out;
	}
	ret = parse_payload(msg.payload, msg.payload_len, res, &v);
	if (ret < 0)
		goto out;
	ret = check_chain(&v, opt, res, &leaf);
	if (ret < 0)
		goto out;
	pub = X509_get0_pubkey(leaf);
	if (!pub || cose_alg_for_key(pub, &key_alg) < 0 || key_alg != COSE_ALG_ES384) {
		ret = fail(res, VERIFY_E_ALGORITHM, "certificate: the leaf key is not P-384");
		goto out;
	}
	ret = cose_sign1_verify(&msg, pub);
	if (ret == -EKEYREJECTED) {
		ret = fail(res, VERIFY_E_SIGNATURE,
			   "COSE: the ES384 signature does not verify "
			   "with the leaf key");
		goto out;
	}
	if (ret < 0) {
		ret = fail(res, VERIFY_E_INTERNAL, "COSE: signature check failed: %s",
			   strerror(-ret));
		goto out;
	}
	ret = check_expected(opt, res);
out:
	ERR_clear_error();
	X509_free(leaf);
	cose_sign1_clear(&msg);
	return ret;
}

void verify_result_clear(struct verify_result *res)
{
	free(res->public_key.data);
	free(res->user_data.data);
	free(res->nonce.data);
	memset(res, 0, sizeof(*res));
}
