#include "config.h"

#include <errno.h>
#include <string.h>

#include "attest/acbor.h"
#include "attest/cose.h"
#include "attest/document.h"
#include "common/log.h"
#include "common/util.h"

static void put_opt_bytes(struct acbor_writer *w, const char *key, const struct nsm_bytes *b)
{
	acbor_put_tstr(w, key);
	if (b->present)
		acbor_put_bstr(w, b->data, b->len);
	else
		acbor_put_null(w);
}

static int check_field(const char *name, const struct nsm_bytes *b)
{
	if (b->present && (b->len > NSM_ATTEST_FIELD_MAX || (!b->data && b->len))) {
		log_error("document: %s is %zu bytes, limit %d", name, b->len,
			  NSM_ATTEST_FIELD_MAX);
		return -E2BIG;
	}
	return 0;
}

static size_t payload_bound(const struct doc_input *in)
{
	/* Fixed keys and heads stay well under 512 bytes; the rest is the variable data. */
	size_t n = 512 + strlen(in->module_id) + NSM_MAX_PCRS * (NSM_PCR_LEN + 4);

	n += in->certificate->len;
	for (size_t i = 0; i < in->cabundle_count; i++)
		n += in->cabundle[i].len + 9;
	n += in->fields.user_data.len + in->fields.nonce.len + in->fields.public_key.len;
	return n;
}

int doc_encode_payload(const struct doc_input *in, uint8_t **out, size_t *out_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct acbor_writer w;
	size_t cap;
	int ret;

	if (!in->module_id || !*in->module_id || !in->pcrs || !in->certificate ||
	    !in->certificate->len || !in->cabundle || !in->cabundle_count) {
		log_error("document: module_id, PCRs, certificate and cabundle are required");
		return -EINVAL;
	}
	if ((ret = check_field("user_data", &in->fields.user_data)) < 0 ||
	    (ret = check_field("nonce", &in->fields.nonce)) < 0 ||
	    (ret = check_field("public_key", &in->fields.public_key)) < 0)
		return ret;
	cap = payload_bound(in);
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	acbor_writer_init(&w, buf, cap);
	acbor_put_map(&w, 9);
	acbor_put_tstr(&w, "module_id");
	acbor_put_tstr(&w, in->module_id);
	acbor_put_tstr(&w, "digest");
	acbor_put_tstr(&w, "SHA384");
	acbor_put_tstr(&w, "timestamp");
	acbor_put_uint(&w, in->timestamp_ms);
	acbor_put_tstr(&w, "pcrs");
	acbor_put_map(&w, (size_t)__builtin_popcount(in->pcr_mask));
	for (unsigned i = 0; i < NSM_MAX_PCRS; i++) {
		if (!((in->pcr_mask >> i) & 1u))
			continue;
		acbor_put_uint(&w, i);
		acbor_put_bstr(&w, in->pcrs[i], NSM_PCR_LEN);
	}
	acbor_put_tstr(&w, "certificate");
	acbor_put_bstr(&w, in->certificate->der, in->certificate->len);
	acbor_put_tstr(&w, "cabundle");
	acbor_put_array(&w, in->cabundle_count);
	for (size_t i = 0; i < in->cabundle_count; i++)
		acbor_put_bstr(&w, in->cabundle[i].der, in->cabundle[i].len);
	put_opt_bytes(&w, "public_key", &in->fields.public_key);
	put_opt_bytes(&w, "user_data", &in->fields.user_data);
	put_opt_bytes(&w, "nonce", &in->fields.nonce);
	ret = acbor_writer_finish(&w);
	if (ret < 0) {
		log_error("document: payload bound of %zu bytes too small (bug)", cap);
		return ret;
	}
	*out_len = w.len;
	*out = util_steal_ptr(&buf);
	return 0;
}

int doc_create(EVP_PKEY *key, const struct doc_input *in, uint8_t **doc, size_t *doc_len)
{
	_cleanup_free_ uint8_t *payload = NULL;
	size_t payload_len = 0;
	int64_t alg = 0;
	int ret;

	/* Nitro documents are ES384 only; refuse to emit something verifiers will reject. */
	ret = cose_alg_for_key(key, &alg);
	if (ret < 0 || alg != COSE_ALG_ES384) {
		log_error("document: the signing key must be P-384 (ES384)");
		return -EINVAL;
	}
	ret = doc_encode_payload(in, &payload, &payload_len);
	if (ret < 0)
		return ret;
	ret = cose_sign1_create(key, payload, payload_len, doc, doc_len);
	if (ret < 0)
		log_error("document: COSE_Sign1 signing failed: %s", strerror(-ret));
	return ret;
}

int doc_nsm_attest(void *signer, const struct nsm_state *st, const struct nsm_attest_fields *fields,
		   uint8_t *doc, size_t doc_max, size_t *doc_len)
{
	const struct doc_signer *s = signer;
	_cleanup_free_ uint8_t *out = NULL;
	size_t out_len = 0;
	struct doc_input in = {
	    .module_id = st->module_id,
	    .pcrs = (const uint8_t(*)[NSM_PCR_LEN])st->pcrs,
	    .pcr_mask = st->locked,
	    .fields = *fields,
	};
	int ret;

	if (!s || !s->leaf || !s->leaf->key) {
		log_error("document: %s: no signing key", st->module_id);
		return -EINVAL;
	}
	in.certificate = &s->leaf->cert_der;
	in.cabundle = s->leaf->cabundle;
	in.cabundle_count = s->leaf->cabundle_count;
	in.timestamp_ms = s->clock_ms ? s->clock_ms() : util_now_realtime_ns() / 1000000u;
	ret = doc_create(s->leaf->key, &in, &out, &out_len);
	if (ret < 0)
		return ret;
	if (out_len > doc_max)
		return -ENOBUFS;
	memcpy(doc, out, out_len);
	*doc_len = out_len;
	return 0;
}
