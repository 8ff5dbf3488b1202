#include "config.h"

#include <errno.h>
#include <string.h>

#include <openssl/rand.h>

#include "attest/acbor.h"
#include "attest/nsm.h"
#include "attest/pcr.h"
#include "common/log.h"
#include "common/util.h"

static const char *const nsm_error_names[] = {
    [NSM_E_SUCCESS] = "Success",
    [NSM_E_INVALID_ARGUMENT] = "InvalidArgument",
    [NSM_E_INVALID_INDEX] = "InvalidIndex",
    [NSM_E_INVALID_RESPONSE] = "InvalidResponse",
    [NSM_E_READ_ONLY_INDEX] = "ReadOnlyIndex",
    [NSM_E_INVALID_OPERATION] = "InvalidOperation",
    [NSM_E_BUFFER_TOO_SMALL] = "BufferTooSmall",
    [NSM_E_INPUT_TOO_LARGE] = "InputTooLarge",
    [NSM_E_INTERNAL_ERROR] = "InternalError",
};

const char *nsm_error_name(enum nsm_error e)
{
	if ((unsigned)e >= UTIL_ARRAY_SIZE(nsm_error_names))
		return "InternalError";
	return nsm_error_names[e];
}

int nsm_state_init(struct nsm_state *st, const char *module_id, const uint8_t *pcr0,
		   const uint8_t *pcr1, const uint8_t *pcr2, const uint8_t *pcr8,
		   const char *principal, const char *host_id, bool debug)
{
	const uint8_t *image[3] = {pcr0, pcr1, pcr2};
	int ret;

	memset(st, 0, sizeof(*st));
	if (!module_id || !*module_id || strlen(module_id) > NSM_MODULE_ID_MAX) {
		log_error("nsm: module_id must be 1..%d bytes", NSM_MODULE_ID_MAX);
		return -EINVAL;
	}
	/* It goes out as CBOR text and verifiers print it: keep it to printable ASCII. */
	for (const char *c = module_id; *c; c++)
		if (*c < 0x20 || *c > 0x7e) {
			log_error("nsm: module_id byte %td (0x%02x) is not printable ASCII",
				  c - module_id, (uint8_t)*c);
			return -EINVAL;
		}
	strcpy(st->module_id, module_id);
	st->debug = debug;
	/* Debug enclaves can be inspected from the host, so their image PCRs must not vouch for
	 * them: Nitro reports zeros there and so do we. */
	for (int i = 0; i < 3; i++)
		if (image[i] && !debug)
			memcpy(st->pcrs[i], image[i], NSM_PCR_LEN);
	if (pcr8)
		memcpy(st->pcrs[8], pcr8, NSM_PCR_LEN);
	if (principal) {
		ret = pcr_extend(st->pcrs[3], principal, strlen(principal));
		if (ret < 0)
			return ret;
	}
	if (host_id) {
		ret = pcr_extend(st->pcrs[4], host_id, strlen(host_id));
		if (ret < 0)
			return ret;
	}
	st->locked = (1u << NSM_LOCKED_AT_BOOT) - 1;
	return 0;
}

void nsm_state_set_signer(struct nsm_state *st, nsm_attest_fn attest, void *ctx)
{
	st->attest = attest;
	st->attest_ctx = ctx;
}

/* Shared by every struct-variant parser: the fields of the inner map. */
struct req_fields {
	bool has_index, has_data, has_range;
	uint64_t index, range;
	const uint8_t *data;
	size_t data_len;
	struct nsm_attest_fields att;
	bool seen_ud, seen_nonce, seen_pk;
};

enum field_kind { F_INDEX, F_DATA, F_RANGE, F_ATTEST };

static enum nsm_error read_u16(struct acbor_reader *r, const char *what, uint64_t *v)
{
	int ret = acbor_read_uint(r, v);

	if (ret < 0 || *v > UINT16_MAX) {
		log_debug("nsm: field %s at offset %zu is not a u16", what, r->off);
		return NSM_E_INVALID_ARGUMENT;
	}
	return NSM_E_SUCCESS;
}

static enum nsm_error read_opt_bytes(struct acbor_reader *r, const char *what, bool *seen,
				     struct nsm_bytes *b)
{
	int ret;

	if (*seen) {
		log_debug("nsm: duplicate field %s", what);
		return NSM_E_INVALID_ARGUMENT;
	}
	*seen = true;
	ret = acbor_read_null(r);
	if (ret < 0)
		return NSM_E_INVALID_ARGUMENT;
	if (ret == 1) {
		b->present = false;
		return NSM_E_SUCCESS;
	}
	if (acbor_read_bstr(r, &b->data, &b->len) < 0) {
		log_debug("nsm: field %s at offset %zu is neither bytes nor null", what, r->off);
		return NSM_E_INVALID_ARGUMENT;
	}
	if (b->len > NSM_ATTEST_FIELD_MAX) {
		log_debug("nsm: field %s is %zu bytes, limit %d", what, b->len,
			  NSM_ATTEST_FIELD_MAX);
		return NSM_E_INPUT_TOO_LARGE;
	}
	b->present = true;
	return NSM_E_SUCCESS;
}

static enum nsm_error parse_fields(struct acbor_reader *r, enum field_kind kind,
				   struct req_fields *f)
{
	uint64_t pairs;
	enum nsm_error e;

	if (acbor_read_map(r, &pairs) < 0) {
		log_debug("nsm: request body at offset %zu is not a map", r->off);
		return NSM_E_INVALID_ARGUMENT;
	}
	for (uint64_t i = 0; i < pairs; i++) {
		const char *key;
		size_t klen;

		if (acbor_read_tstr(r, &key, &klen) < 0) {
			log_debug("nsm: field name at offset %zu is not text", r->off);
			return NSM_E_INVALID_ARGUMENT;
		}
		e = NSM_E_SUCCESS;
		if ((kind == F_INDEX || kind == F_DATA) && acbor_str_eq(key, klen, "index")) {
			if (f->has_index)
				return NSM_E_INVALID_ARGUMENT;
			f->has_index = true;
			e = read_u16(r, "index", &f->index);
		} else if (kind == F_DATA && acbor_str_eq(key, klen, "data")) {
			if (f->has_data || acbor_read_bstr(r, &f->data, &f->data_len) < 0) {
				log_debug("nsm: ExtendPCR data is duplicate or not bytes");
				return NSM_E_INVALID_ARGUMENT;
			}
			f->has_data = true;
		} else if (kind == F_RANGE && acbor_str_eq(key, klen, "range")) {
			if (f->has_range)
				return NSM_E_INVALID_ARGUMENT;
			f->has_range = true;
			e = read_u16(r, "range", &f->range);
		} else if (kind == F_ATTEST && acbor_str_eq(key, klen, "user_data")) {
			e = read_opt_bytes(r, "user_data", &f->seen_ud, &f->att.user_data);
		} else if (kind == F_ATTEST && acbor_str_eq(key, klen, "nonce")) {
			e = read_opt_bytes(r, "nonce", &f->seen_nonce, &f->att.nonce);
		} else if (kind == F_ATTEST && acbor_str_eq(key, klen, "public_key")) {
			e = read_opt_bytes(r, "public_key", &f->seen_pk, &f->att.public_key);
		} else if (acbor_skip(r) < 0) {
			/* serde ignores unknown fields; we do too, but they must be well-formed. */
			return NSM_E_INVALID_ARGUMENT;
		}
		if (e != NSM_E_SUCCESS)
			return e;
	}
	return NSM_E_SUCCESS;
}

static void put_error(struct acbor_writer *w, enum nsm_error e)
{
	acbor_put_map(w, 1);
	acbor_put_tstr(w, "Error");
	acbor_put_tstr(w, nsm_error_name(e));
}

static enum nsm_error do_describe_pcr(struct nsm_state *st, const struct req_fields *f,
				      struct acbor_writer *w)
{
	if (!f->has_index)
		return NSM_E_INVALID_ARGUMENT;
	if (f->index >= NSM_MAX_PCRS)
		return NSM_E_INVALID_INDEX;
	acbor_put_map(w, 1);
	acbor_put_tstr(w, "DescribePCR");
	acbor_put_map(w, 2);
	acbor_put_tstr(w, "lock");
	acbor_put_bool(w, nsm_pcr_locked(st, (unsigned)f->index));
	acbor_put_tstr(w, "data");
	acbor_put_bstr(w, st->pcrs[f->index], NSM_PCR_LEN);
	return NSM_E_SUCCESS;
}

static enum nsm_error do_extend_pcr(struct nsm_state *st, const struct req_fields *f,
				    struct acbor_writer *w)
{
	if (!f->has_index || !f->has_data)
		return NSM_E_INVALID_ARGUMENT;
	if (f->index >= NSM_MAX_PCRS)
		return NSM_E_INVALID_INDEX;
	if (nsm_pcr_locked(st, (unsigned)f->index))
		return NSM_E_READ_ONLY_INDEX;
	if (pcr_extend(st->pcrs[f->index], f->data, f->data_len) < 0)
		return NSM_E_INTERNAL_ERROR;
	acbor_put_map(w, 1);
	acbor_put_tstr(w, "ExtendPCR");
	acbor_put_map(w, 1);
	acbor_put_tstr(w, "data");
	acbor_put_bstr(w, st->pcrs[f->index], NSM_PCR_LEN);
	return NSM_E_SUCCESS;
}

static enum nsm_error do_lock_pcr(struct nsm_state *st, const struct req_fields *f,
				  struct acbor_writer *w)
{
	if (!f->has_index)
		return NSM_E_INVALID_ARGUMENT;
	if (f->index >= NSM_MAX_PCRS)
		return NSM_E_INVALID_INDEX;
	if (nsm_pcr_locked(st, (unsigned)f->index))
		return NSM_E_READ_ONLY_INDEX;
	st->locked |= 1u << f->index;
	acbor_put_tstr(w, "LockPCR");
	return NSM_E_SUCCESS;
}

static enum nsm_error do_lock_pcrs(struct nsm_state *st, const struct req_fields *f,
				   struct acbor_writer *w)
{
	if (!f->has_range)
		return NSM_E_INVALID_ARGUMENT;
	if (f->range > NSM_MAX_PCRS)
		return NSM_E_INVALID_INDEX;
	for (uint64_t i = 0; i < f->range; i++)
		st->locked |= 1u << i;
	acbor_put_tstr(w, "LockPCRs");
	return NSM_E_SUCCESS;
}

static enum nsm_error do_describe_nsm(struct nsm_state *st, struct acbor_writer *w)
{
	unsigned nlocked = (unsigned)__builtin_popcount(st->locked);

	acbor_put_map(w, 1);
	acbor_put_tstr(w, "DescribeNSM");
	acbor_put_map(w, 7);
	acbor_put_tstr(w, "version_major");
	acbor_put_uint(w, NSM_VERSION_MAJOR);
	acbor_put_tstr(w, "version_minor");
	acbor_put_uint(w, NSM_VERSION_MINOR);
	acbor_put_tstr(w, "version_patch");
	acbor_put_uint(w, NSM_VERSION_PATCH);
	acbor_put_tstr(w, "module_id");
	acbor_put_tstr(w, st->module_id);
	acbor_put_tstr(w, "max_pcrs");
	acbor_put_uint(w, NSM_MAX_PCRS);
	acbor_put_tstr(w, "locked_pcrs");
	acbor_put_array(w, nlocked);
	for (unsigned i = 0; i < NSM_MAX_PCRS; i++)
		if (nsm_pcr_locked(st, i))
			acbor_put_uint(w, i);
	acbor_put_tstr(w, "digest");
	acbor_put_tstr(w, "SHA384");
	return NSM_E_SUCCESS;
}

static enum nsm_error do_get_random(struct acbor_writer *w)
{
	uint8_t rnd[NSM_RANDOM_LEN];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		log_error("nsm: RAND_bytes failed");
		return NSM_E_INTERNAL_ERROR;
	}
	acbor_put_map(w, 1);
	acbor_put_tstr(w, "GetRandom");
	acbor_put_map(w, 1);
	acbor_put_tstr(w, "random");
	acbor_put_bstr(w, rnd, sizeof(rnd));
	return NSM_E_SUCCESS;
}

/* Room taken by {"Attestation":{"document": bstr-head}} around the document. */
#define ATTEST_ENVELOPE (1 + 12 + 1 + 9 + 3)

static enum nsm_error do_attestation(struct nsm_state *st, const struct req_fields *f,
				     struct acbor_writer *w)
{
	_cleanup_free_ uint8_t *doc = NULL;
	size_t doc_len = 0;
	size_t room;
	int ret;

	if (!st->attest) {
		log_error("nsm: %s: attestation requested but no signer is configured",
			  st->module_id);
		return NSM_E_INTERNAL_ERROR;
	}
	if (w->cap - w->len <= ATTEST_ENVELOPE)
		return NSM_E_BUFFER_TOO_SMALL;
	room = UTIL_MIN(w->cap - w->len - ATTEST_ENVELOPE, (size_t)NSM_RESPONSE_MAX);
	doc = malloc(room);
	if (!doc)
		return NSM_E_INTERNAL_ERROR;
	ret = st->attest(st->attest_ctx, st, &f->att, doc, room, &doc_len);
	if (ret == -ENOBUFS)
		return NSM_E_BUFFER_TOO_SMALL;
	if (ret < 0) {
		log_error("nsm: %s: signing the attestation document failed: %s", st->module_id,
			  strerror(-ret));
		return NSM_E_INTERNAL_ERROR;
	}
	acbor_put_map(w, 1);
	acbor_put_tstr(w, "Attestation");
	acbor_put_map(w, 1);
	acbor_put_tstr(w, "document");
	acbor_put_bstr(w, doc, doc_len);
	return NSM_E_SUCCESS;
}

static enum nsm_error dispatch(struct nsm_state *st, const uint8_t *req, size_t len,
			       struct acbor_writer *w)
{
	struct acbor_reader r, whole;
	enum acbor_major major;
	uint64_t value, pairs;
	const char *name;
	size_t nlen;
	struct req_fields f;
	enum nsm_error e;

	if (len > NSM_REQUEST_MAX) {
		log_debug("nsm: request of %zu bytes exceeds %d", len, NSM_REQUEST_MAX);
		return NSM_E_INPUT_TOO_LARGE;
	}
	/* One complete, well-formed item and nothing after it. */
	acbor_reader_init(&whole, req, len);
	if (acbor_skip(&whole) < 0 || !acbor_at_end(&whole)) {
		log_debug("nsm: request is not a single well-formed CBOR item");
		return NSM_E_INVALID_OPERATION;
	}
	acbor_reader_init(&r, req, len);
	if (acbor_peek(&r, &major, &value) < 0)
		return NSM_E_INVALID_OPERATION;
	if (major == ACBOR_TSTR) {
		if (acbor_read_tstr(&r, &name, &nlen) < 0)
			return NSM_E_INVALID_OPERATION;
		if (acbor_str_eq(name, nlen, "DescribeNSM"))
			return do_describe_nsm(st, w);
		if (acbor_str_eq(name, nlen, "GetRandom"))
			return do_get_random(w);
		if (acbor_str_eq(name, nlen, "DescribePCR") ||
		    acbor_str_eq(name, nlen, "ExtendPCR") || acbor_str_eq(name, nlen, "LockPCR") ||
		    acbor_str_eq(name, nlen, "LockPCRs") ||
		    acbor_str_eq(name, nlen, "Attestation")) {
			log_debug("nsm: %.*s needs fields", (int)nlen, name);
			return NSM_E_INVALID_ARGUMENT;
		}
		log_debug("nsm: unknown request (%zu-byte name)", nlen);
		return NSM_E_INVALID_OPERATION;
	}
	if (major != ACBOR_MAP || acbor_read_map(&r, &pairs) < 0 || pairs != 1 ||
	    acbor_read_tstr(&r, &name, &nlen) < 0) {
		log_debug("nsm: request is neither a name nor a one-entry map keyed by a name");
		return NSM_E_INVALID_OPERATION;
	}
	memset(&f, 0, sizeof(f));
	if (acbor_str_eq(name, nlen, "DescribePCR")) {
		e = parse_fields(&r, F_INDEX, &f);
		return e != NSM_E_SUCCESS ? e : do_describe_pcr(st, &f, w);
	}
	if (acbor_str_eq(name, nlen, "ExtendPCR")) {
		e = parse_fields(&r, F_DATA, &f);
		return e != NSM_E_SUCCESS ? e : do_extend_pcr(st, &f, w);
	}
	if (acbor_str_eq(name, nlen, "LockPCR")) {
		e = parse_fields(&r, F_INDEX, &f);
		return e != NSM_E_SUCCESS ? e : do_lock_pcr(st, &f, w);
	}
	if (acbor_str_eq(name, nlen, "LockPCRs")) {
		e = parse_fields(&r, F_RANGE, &f);
		return e != NSM_E_SUCCESS ? e : do_lock_pcrs(st, &f, w);
	}
	if (acbor_str_eq(name, nlen, "Attestation")) {
		e = parse_fields(&r, F_ATTEST, &f);
		return e != NSM_E_SUCCESS ? e : do_attestation(st, &f, w);
	}
	if (acbor_str_eq(name, nlen, "DescribeNSM") || acbor_str_eq(name, nlen, "GetRandom")) {
		log_debug("nsm: %.*s takes no fields", (int)nlen, name);
		return NSM_E_INVALID_ARGUMENT;
	}
	log_debug("nsm: unknown request (%zu-byte name)", nlen);
	return NSM_E_INVALID_OPERATION;
}

int nsm_handle_request_ex(struct nsm_state *st, const uint8_t *req, size_t len, uint8_t *resp,
			  size_t resp_max, size_t *resp_len, enum nsm_error *outcome)
{
	struct acbor_writer w;
	enum nsm_error e;

	acbor_writer_init(&w, resp, resp_max);
	e = dispatch(st, req, len, &w);
	if (e == NSM_E_SUCCESS && acbor_writer_finish(&w) < 0)
		e = NSM_E_BUFFER_TOO_SMALL;
	if (e != NSM_E_SUCCESS) {
		acbor_writer_init(&w, resp, resp_max);
		put_error(&w, e);
		if (acbor_writer_finish(&w) < 0) {
			log_error("nsm: response buffer of %zu bytes cannot hold an error",
				  resp_max);
			return -ENOBUFS;
		}
	}
	*resp_len = w.len;
	if (outcome)
		*outcome = e;
	return 0;
}

int nsm_handle_request(struct nsm_state *st, const uint8_t *req, size_t len, uint8_t *resp,
		       size_t resp_max, size_t *resp_len)
{
	return nsm_handle_request_ex(st, req, len, resp, resp_max, resp_len, NULL);
}
