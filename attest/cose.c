#include "config.h"

#include "attest/cose.h"
#include "common/util.h"

#include <cbor.h>
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>

#define COSE_TAG_SIGN1	  18
#define COSE_HDR_ALG	  1
#define COSE_MAX_DEPTH	  16
#define COSE_MAX_SIG_HALF 66

struct alg_info {
	int64_t alg;
	const char *group;
	const char *md;
	size_t half; /* bytes of r and of s */
};

static const struct alg_info algs[] = {
    {COSE_ALG_ES256, "prime256v1", "SHA256", 32},
    {COSE_ALG_ES384, "secp384r1", "SHA384", 48},
    {COSE_ALG_ES512, "secp521r1", "SHA512", 66},
};

static const struct alg_info *alg_lookup(int64_t alg)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(algs); i++)
		if (algs[i].alg == alg)
			return &algs[i];
	return NULL;
}

static const struct alg_info *alg_for_key(EVP_PKEY *key)
{
	char group[64];
	size_t glen = 0;

	if (!key || !EVP_PKEY_is_a(key, "EC"))
		return NULL;
	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					    &glen))
		return NULL;
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(algs); i++)
		if (strcmp(algs[i].group, group) == 0)
			return &algs[i];
	return NULL;
}

int cose_alg_for_key(EVP_PKEY *key, int64_t *alg)
{
	const struct alg_info *a = alg_for_key(key);

	if (!a)
		return -ENOTSUP;
	*alg = a->alg;
	return 0;
}

/* --- CBOR well-formedness pre-check ------------------------------------------------------ */

static int cbor_walk(const uint8_t *buf, size_t len, size_t *pos, unsigned depth,
		     unsigned max_depth)
{
	uint8_t ib, major, ai;
	uint64_t arg = 0;

	if (depth > max_depth || *pos >= len)
		return -EBADMSG;
	ib = buf[(*pos)++];
	major = ib >> 5;
	ai = ib & 31;
	if (ai < 24) {
		arg = ai;
	} else if (ai <= 27) {
		size_t n = (size_t)1 << (ai - 24);
		if (len - *pos < n)
			return -EBADMSG;
		for (size_t i = 0; i < n; i++)
			arg = (arg << 8) | buf[(*pos)++];
	} else {
		/* reserved values and indefinite lengths */
		return -EBADMSG;
	}
	switch (major) {
	case 0:
	case 1:
		return 0;
	case 2:
	case 3:
		if (arg > len - *pos)
			return -EBADMSG;
		*pos += (size_t)arg;
		return 0;
	case 4:
	case 5: {
		uint64_t items = arg;
		if (major == 5) {
			if (arg > (len - *pos) / 2)
				return -EBADMSG;
			items = arg * 2;
		}
		if (items > len - *pos)
			return -EBADMSG;
		for (uint64_t i = 0; i < items; i++) {
			int r = cbor_walk(buf, len, pos, depth + 1, max_depth);
			if (r < 0)
				return r;
		}
		return 0;
	}
	case 6:
		return cbor_walk(buf, len, pos, depth + 1, max_depth);
	default:
		/* simple values and floats; a one-byte simple value below 32 is malformed */
		if (ai == 24 && arg < 32)
			return -EBADMSG;
		return 0;
	}
}

int cose_cbor_wellformed(const uint8_t *buf, size_t len, unsigned max_depth)
{
	size_t pos = 0;
	int r;

	if (!buf || len == 0)
		return -EBADMSG;
	r = cbor_walk(buf, len, &pos, 0, max_depth);
	if (r < 0)
		return r;
	return pos == len ? 0 : -EBADMSG;
}

/* --- encoding helpers -------------------------------------------------------------------- */

static void cbor_decrefp(cbor_item_t **item)
{
	if (*item)
		cbor_decref(item);
}
#define _cleanup_cbor_ __attribute__((cleanup(cbor_decrefp)))

/* Smallest encoding, as serde_cbor and every canonical encoder writes integers. */
static cbor_item_t *build_uint(uint64_t v, bool negative)
{
	cbor_item_t *item;

	if (v <= UINT8_MAX)
		item = negative ? cbor_build_negint8((uint8_t)v) : cbor_build_uint8((uint8_t)v);
	else if (v <= UINT16_MAX)
		item = negative ? cbor_build_negint16((uint16_t)v) : cbor_build_uint16((uint16_t)v);
	else if (v <= UINT32_MAX)
		item = negative ? cbor_build_negint32((uint32_t)v) : cbor_build_uint32((uint32_t)v);
	else
		item = negative ? cbor_build_negint64(v) : cbor_build_uint64(v);
	return item;
}

static cbor_item_t *build_int(int64_t v)
{
	if (v >= 0)
		return build_uint((uint64_t)v, false);
	return build_uint((uint64_t)(-1 - v), true);
}

/* Serialize item into a malloc'ed buffer (libcbor returns 0 on failure). */
static int serialize(cbor_item_t *item, uint8_t **out, size_t *out_len)
{
	unsigned char *buf = NULL;
	size_t cap = 0;
	size_t n;

	if (!item)
		return -ENOMEM;
	n = cbor_serialize_alloc(item, &buf, &cap);
	if (n == 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

static int encode_protected(int64_t alg, uint8_t **out, size_t *out_len)
{
	_cleanup_cbor_ cbor_item_t *map = cbor_new_definite_map(1);

	if (!map || !cbor_map_add(map, (struct cbor_pair){.key = cbor_move(build_int(COSE_HDR_ALG)),
							  .value = cbor_move(build_int(alg))}))
		return -ENOMEM;
	return serialize(map, out, out_len);
}

/* Sig_structure = ["Signature1", protected, external_aad = h'', payload] */
static int encode_sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload,
				size_t payload_len, uint8_t **out, size_t *out_len)
{
	_cleanup_cbor_ cbor_item_t *arr = cbor_new_definite_array(4);

	if (!arr || !cbor_array_push(arr, cbor_move(cbor_build_string("Signature1"))) ||
	    !cbor_array_push(arr, cbor_move(cbor_build_bytestring(prot, prot_len))) ||
	    !cbor_array_push(arr, cbor_move(cbor_build_bytestring(NULL, 0))) ||
	    !cbor_array_push(arr, cbor_move(cbor_build_bytestring(payload, payload_len))))
		return -ENOMEM;
	return serialize(arr, out, out_len);
}

/* --- sign / verify ----------------------------------------------------------------------- */

static int sign_raw(EVP_PKEY *key, const struct alg_info *a, const uint8_t *tbs, size_t tbs_len,
		    uint8_t *raw)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_free_ uint8_t *der = NULL;
	ECDSA_SIG *sig = NULL;
	const uint8_t *p;
	size_t der_len = 0;
	int r = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestSignInit_ex(ctx, NULL, a->md, NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, &der_len, tbs, tbs_len) != 1)
		goto out;
	der = malloc(der_len);
	if (!der) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DigestSign(ctx, der, &der_len, tbs, tbs_len) != 1)
		goto out;
	p = der;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!sig)
		goto out;
	if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, (int)a->half) < 0 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + a->half, (int)a->half) < 0)
		goto out;
	r = 0;
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
	return r;
}

int cose_sign1_create(EVP_PKEY *key, const uint8_t *payload, size_t len, uint8_t **out,
		      size_t *out_len)
{
	const struct alg_info *a = alg_for_key(key);
	_cleanup_free_ uint8_t *prot = NULL, *tbs = NULL;
	_cleanup_cbor_ cbor_item_t *msg = NULL;
	uint8_t raw[2 * COSE_MAX_SIG_HALF];
	size_t prot_len = 0, tbs_len = 0;
	int r;

	if (!a)
		return -ENOTSUP;
	if (!payload && len > 0)
		return -EINVAL;
	r = encode_protected(a->alg, &prot, &prot_len);
	if (r < 0)
		return r;
	r = encode_sig_structure(prot, prot_len, payload, len, &tbs, &tbs_len);
	if (r < 0)
		return r;
	r = sign_raw(key, a, tbs, tbs_len, raw);
	if (r < 0)
		return r;
	msg = cbor_new_definite_array(4);
	if (!msg || !cbor_array_push(msg, cbor_move(cbor_build_bytestring(prot, prot_len))) ||
	    !cbor_array_push(msg, cbor_move(cbor_new_definite_map(0))) ||
	    !cbor_array_push(msg, cbor_move(cbor_build_bytestring(payload, len))) ||
	    !cbor_array_push(msg, cbor_move(cbor_build_bytestring(raw, 2 * a->half))))
		return -ENOMEM;
	return serialize(msg, out, out_len);
}

int cose_sign1_verify(const struct cose_sign1 *msg, EVP_PKEY *pub)
{
	const struct alg_info *a = alg_lookup(msg->alg);
	const struct alg_info *ka = alg_for_key(pub);
	_cleanup_free_ uint8_t *tbs = NULL, *der = NULL;
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *sig = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	size_t tbs_len = 0;
	int der_len, r;

	if (!a)
		return -ENOTSUP;
	if (ka != a)
		return -EINVAL;
	if (msg->signature_len != 2 * a->half)
		return -EKEYREJECTED;
	r = encode_sig_structure(msg->protected_hdr, msg->protected_len, msg->payload,
				 msg->payload_len, &tbs, &tbs_len);
	if (r < 0)
		return r;
	r = -ENOMEM;
	sig = ECDSA_SIG_new();
	br = BN_bin2bn(msg->signature, (int)a->half, NULL);
	bs = BN_bin2bn(msg->signature + a->half, (int)a->half, NULL);
	if (!sig || !br || !bs || ECDSA_SIG_set0(sig, br, bs) != 1) {
		BN_free(br);
		BN_free(bs);
		goto out;
	}
	der_len = i2d_ECDSA_SIG(sig, (unsigned char **)&der);
	if (der_len <= 0)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		goto out;
	r = -EIO;
	if (EVP_DigestVerifyInit_ex(ctx, NULL, a->md, NULL, NULL, pub, NULL) != 1)
		goto out;
	r = EVP_DigestVerify(ctx, der, (size_t)der_len, tbs, tbs_len) == 1 ? 0 : -EKEYREJECTED;
out:
	EVP_MD_CTX_free(ctx);
	ECDSA_SIG_free(sig);
	return r;
}

/* --- parse ------------------------------------------------------------------------------- */

static int copy_bstr(cbor_item_t *item, uint8_t **out, size_t *out_len)
{
	size_t n;

	if (!cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item))
		return -EBADMSG;
	n = cbor_bytestring_length(item);
	*out = malloc(n ? n : 1);
	if (!*out)
		return -ENOMEM;
	if (n)
		memcpy(*out, cbor_bytestring_handle(item), n);
	*out_len = n;
	return 0;
}

static int item_int(cbor_item_t *item, int64_t *v)
{
	uint64_t u;

	if (!cbor_isa_uint(item) && !cbor_isa_negint(item))
		return -EBADMSG;
	u = cbor_get_int(item);
	if (u > INT64_MAX)
		return -ERANGE;
	*v = cbor_isa_uint(item) ? (int64_t)u : -1 - (int64_t)u;
	return 0;
}

static int parse_protected(const uint8_t *buf, size_t len, int64_t *alg)
{
	_cleanup_cbor_ cbor_item_t *map = NULL;
	struct cbor_load_result res;
	struct cbor_pair *pairs;
	bool found = false;

	if (len == 0 || cose_cbor_wellformed(buf, len, COSE_MAX_DEPTH) < 0)
		return -EBADMSG;
	map = cbor_load(buf, len, &res);
	if (!map || res.error.code != CBOR_ERR_NONE || !cbor_isa_map(map))
		return -EBADMSG;
	pairs = cbor_map_handle(map);
	for (size_t i = 0; i < cbor_map_size(map); i++) {
		int64_t key, v;
		if (item_int(pairs[i].key, &key) < 0 || key != COSE_HDR_ALG)
			continue;
		if (found || item_int(pairs[i].value, &v) < 0)
			return -EBADMSG;
		*alg = v;
		found = true;
	}
	if (!found)
		return -EBADMSG;
	return alg_lookup(*alg) ? 0 : -ENOTSUP;
}

int cose_sign1_parse(const uint8_t *buf, size_t len, struct cose_sign1 *msg)
{
	_cleanup_cbor_ cbor_item_t *root = NULL;
	struct cbor_load_result res;
	cbor_item_t *arr, **items;
	int r;

	memset(msg, 0, sizeof(*msg));
	if (!buf || len > COSE_MAX_SIZE)
		return -EBADMSG;
	r = cose_cbor_wellformed(buf, len, COSE_MAX_DEPTH);
	if (r < 0)
		return r;
	/* libcbor 0.8 fails to load tagged items, so strip the tag here: 0xd2, or the
	 * non-minimal 0xd8 0x12 */
	if (len >= 1 && buf[0] == 0xd2) {
		buf += 1;
		len -= 1;
	} else if (len >= 2 && buf[0] == 0xd8 && buf[1] == COSE_TAG_SIGN1) {
		buf += 2;
		len -= 2;
	} else if (len >= 1 && buf[0] >> 5 == 6) {
		return -EBADMSG;
	}
	root = cbor_load(buf, len, &res);
	if (!root || res.error.code != CBOR_ERR_NONE || res.read != len)
		return -EBADMSG;
	arr = root;
	if (!cbor_isa_array(arr) || cbor_array_size(arr) != 4)
		return -EBADMSG;
	items = cbor_array_handle(arr);
	r = cbor_isa_map(items[1]) ? 0 : -EBADMSG;
	if (r == 0)
		r = copy_bstr(items[0], &msg->protected_hdr, &msg->protected_len);
	if (r == 0)
		r = parse_protected(msg->protected_hdr, msg->protected_len, &msg->alg);
	if (r == 0)
		r = copy_bstr(items[2], &msg->payload, &msg->payload_len);
	if (r == 0)
		r = copy_bstr(items[3], &msg->signature, &msg->signature_len);
	if (r < 0)
		cose_sign1_clear(msg);
	return r;
}

void cose_sign1_clear(struct cose_sign1 *msg)
{
	if (!msg)
		return;
	free(msg->protected_hdr);
	free(msg->payload);
	free(msg->signature);
	memset(msg, 0, sizeof(*msg));
}
