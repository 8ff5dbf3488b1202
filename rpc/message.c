#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "rpc/message.h"
#include "rpc/rpc.h"

static const char *const code_names[] = {
    [RPC_OK] = "OK",
    [RPC_CANCELLED] = "CANCELLED",
    [RPC_UNKNOWN] = "UNKNOWN",
    [RPC_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
    [RPC_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
    [RPC_NOT_FOUND] = "NOT_FOUND",
    [RPC_ALREADY_EXISTS] = "ALREADY_EXISTS",
    [RPC_PERMISSION_DENIED] = "PERMISSION_DENIED",
    [RPC_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
    [RPC_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
    [RPC_ABORTED] = "ABORTED",
    [RPC_OUT_OF_RANGE] = "OUT_OF_RANGE",
    [RPC_UNIMPLEMENTED] = "UNIMPLEMENTED",
    [RPC_INTERNAL] = "INTERNAL",
    [RPC_UNAVAILABLE] = "UNAVAILABLE",
    [RPC_DATA_LOSS] = "DATA_LOSS",
    [RPC_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *rpc_code_name(int code)
{
	if (code < 0 || (size_t)code >= sizeof(code_names) / sizeof(code_names[0]))
		return "UNKNOWN";
	return code_names[code];
}

/* protobuf-c copies proto3 strings with strdup semantics, so an embedded NUL would silently
 * shorten "svc\0junk" to "svc"; Go rejects invalid UTF-8. Check the raw bytes before trusting
 * the unpacked strings. */
int rpc_message_check_string(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp;

		if (c == 0)
			return -EILSEQ;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return -EILSEQ;
		}
		if (len - i - 1 < n)
			return -EILSEQ;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -EILSEQ;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and values past Unicode are invalid UTF-8. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return -EILSEQ;
		i += n + 1;
	}
	return 0;
}

/* Walks the length-delimited fields of a message, calling check on the string ones. Returns
 * -EBADMSG on malformed wire data (protobuf-c will say the same, this just must not crash). */
struct wire_cursor {
	const uint8_t *p;
	size_t left;
};

static int read_varint(struct wire_cursor *c, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (c->left == 0)
			return -EBADMSG;
		uint8_t b = *c->p++;
		c->left--;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EBADMSG;
}

/* string_fields: bitmask of field numbers (< 32) that are strings; nested_field: a field whose
 * value is a KeyValue (both fields strings), or 0. */
static int check_strings(const uint8_t *data, size_t len, uint32_t string_fields,
			 uint32_t nested_field, const char **bad_field)
{
	struct wire_cursor c = {data, len};

	while (c.left > 0) {
		uint64_t key, n;
		int r = read_varint(&c, &key);

		if (r < 0)
			return r;
		uint64_t field = key >> 3;
		switch (key & 7) {
		case 0:
			r = read_varint(&c, &n);
			if (r < 0)
				return r;
			break;
		case 1:
		case 5: {
			size_t sz = (key & 7) == 1 ? 8 : 4;
			if (c.left < sz)
				return -EBADMSG;
			c.p += sz;
			c.left -= sz;
			break;
		}
		case 2:
			r = read_varint(&c, &n);
			if (r < 0)
				return r;
			if (n > c.left)
				return -EBADMSG;
			if (field < 32 && (string_fields & (1u << field)) &&
			    rpc_message_check_string(c.p, n) < 0) {
				*bad_field = field == 1 ? "service" : "method";
				return -EILSEQ;
			}
			if (nested_field && field == nested_field) {
				r = check_strings(c.p, n, 1u << 1 | 1u << 2, 0, bad_field);
				if (r < 0) {
					*bad_field = "metadata";
					return r;
				}
			}
			c.p += n;
			c.left -= n;
			break;
		default:
			return -EBADMSG;
		}
	}
	return 0;
}

int rpc_message_request_decode(const uint8_t *data, size_t len, Ttrpc__Request **out, char *why,
			       size_t why_len)
{
	const char *bad_field = "";
	Ttrpc__Request *req;
	int r;

	r = check_strings(data, len, 1u << 1 | 1u << 2, 5, &bad_field);
	if (r == -EILSEQ) {
		snprintf(why, why_len, "string field %s contains invalid UTF-8 or NUL", bad_field);
		return -EBADMSG;
	}
	if (r < 0) {
		snprintf(why, why_len, "cannot parse invalid wire-format data");
		return -EBADMSG;
	}
	req = ttrpc__request__unpack(NULL, len, data);
	if (!req) {
		snprintf(why, why_len, "cannot parse invalid wire-format data");
		return -EBADMSG;
	}
	*out = req;
	return 0;
}

int rpc_message_response_encode(int code, const char *message, const uint8_t *payload, size_t len,
				uint8_t **out, size_t *out_len)
{
	Google__Rpc__Status status = GOOGLE__RPC__STATUS__INIT;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	uint8_t *buf;
	size_t size;

	status.code = code;
	status.message = (char *)(message ? message : "");
	resp.status = &status;
	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = len;
	size = ttrpc__response__get_packed_size(&resp);
	if (size > RPC_FRAME_MAX)
		return -EMSGSIZE;
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	ttrpc__response__pack(&resp, buf);
	*out = buf;
	*out_len = size;
	return 0;
}

int rpc_message_request_encode(const char *service, const char *method, const uint8_t *payload,
			       size_t len, int64_t timeout_ns, const char *const *metadata,
			       size_t n_metadata, uint8_t **out, size_t *out_len)
{
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	_cleanup_free_ Ttrpc__KeyValue *kvs = NULL;
	_cleanup_free_ Ttrpc__KeyValue **kv_ptrs = NULL;
	uint8_t *buf;
	size_t size;

	if (n_metadata > 0) {
		kvs = calloc(n_metadata, sizeof(*kvs));
		kv_ptrs = calloc(n_metadata, sizeof(*kv_ptrs));
		if (!kvs || !kv_ptrs)
			return -ENOMEM;
		for (size_t i = 0; i < n_metadata; i++) {
			ttrpc__key_value__init(&kvs[i]);
			kvs[i].key = (char *)metadata[2 * i];
			kvs[i].value = (char *)metadata[2 * i + 1];
			kv_ptrs[i] = &kvs[i];
		}
	}
	req.service = (char *)service;
	req.method = (char *)method;
	req.payload.data = (uint8_t *)payload;
	req.payload.len = len;
	req.timeout_nano = timeout_ns;
	req.n_metadata = n_metadata;
	req.metadata = kv_ptrs;
	size = ttrpc__request__get_packed_size(&req);
	if (size > RPC_FRAME_MAX)
		return -EMSGSIZE;
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	ttrpc__request__pack(&req, buf);
	*out = buf;
	*out_len = size;
	return 0;
}
