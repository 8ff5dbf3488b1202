#include "guest/gcbor.h"

#include <errno.h>
#include <string.h>

#define MAJOR_UINT   0
#define MAJOR_NINT   1
#define MAJOR_BSTR   2
#define MAJOR_TSTR   3
#define MAJOR_ARRAY  4
#define MAJOR_MAP    5
#define MAJOR_TAG    6
#define MAJOR_SIMPLE 7
#define MAX_DEPTH    16

struct reader {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static size_t put_head(uint8_t *out, uint8_t major, uint64_t arg)
{
	if (arg < 24) {
		out[0] = (uint8_t)(major << 5 | arg);
		return 1;
	}
	if (arg < 0x100) {
		out[0] = (uint8_t)(major << 5 | 24);
		out[1] = (uint8_t)arg;
		return 2;
	}
	out[0] = (uint8_t)(major << 5 | 25);
	out[1] = (uint8_t)(arg >> 8);
	out[2] = (uint8_t)arg;
	return 3;
}

static size_t put_text(uint8_t *out, const char *s)
{
	size_t n = strlen(s);
	size_t h = put_head(out, MAJOR_TSTR, n);
	memcpy(out + h, s, n);
	return h + n;
}

int gcbor_attestation_request(const uint8_t *nonce, size_t nonce_len, uint8_t *out, size_t cap)
{
	/* Worst case: fixed keys and user data (< 64 bytes) plus the nonce and its 3-byte head. */
	if (nonce_len > GCBOR_MAX_NONCE)
		return -EINVAL;
	if (cap < 64 + 3 + nonce_len + sizeof(GCBOR_USER_DATA))
		return -ENOBUFS;
	size_t o = 0;
	o += put_head(out + o, MAJOR_MAP, 1);
	o += put_text(out + o, "Attestation");
	o += put_head(out + o, MAJOR_MAP, 3);
	o += put_text(out + o, "user_data");
	o += put_head(out + o, MAJOR_BSTR, sizeof(GCBOR_USER_DATA) - 1);
	memcpy(out + o, GCBOR_USER_DATA, sizeof(GCBOR_USER_DATA) - 1);
	o += sizeof(GCBOR_USER_DATA) - 1;
	o += put_text(out + o, "nonce");
	o += put_head(out + o, MAJOR_BSTR, nonce_len);
	if (nonce_len)
		memcpy(out + o, nonce, nonce_len);
	o += nonce_len;
	o += put_text(out + o, "public_key");
	out[o++] = 0xf6; /* null */
	return (int)o;
}

/* Read one head. Indefinite lengths are rejected: NSM responses never use them. */
static int read_head(struct reader *r, uint8_t *major, uint64_t *arg)
{
	if (r->off >= r->len)
		return -EBADMSG;
	uint8_t b = r->p[r->off++];
	uint8_t info = b & 0x1f;
	*major = b >> 5;
	if (info < 24) {
		*arg = info;
		return 0;
	}
	if (info > 27)
		return -EBADMSG;
	size_t n = (size_t)1 << (info - 24);
	if (n > r->len - r->off)
		return -EBADMSG;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | r->p[r->off++];
	*arg = v;
	return 0;
}

/* Consume `n` payload bytes of a string. */
static int take(struct reader *r, uint64_t n, const uint8_t **data)
{
	if (n > r->len - r->off)
		return -EBADMSG;
	*data = r->p + r->off;
	r->off += (size_t)n;
	return 0;
}

static int skip_item(struct reader *r, int depth)
{
	uint8_t major;
	uint64_t arg;
	const uint8_t *unused;

	if (depth > MAX_DEPTH)
		return -EBADMSG;
	int err = read_head(r, &major, &arg);
	if (err < 0)
		return err;
	switch (major) {
	case MAJOR_BSTR:
	case MAJOR_TSTR:
		return take(r, arg, &unused);
	case MAJOR_ARRAY:
	case MAJOR_MAP: {
		/* Every item takes at least one byte: a count beyond the bytes left is a lie. */
		if (arg > r->len - r->off)
			return -EBADMSG;
		uint64_t items = major == MAJOR_MAP ? arg * 2 : arg;
		for (uint64_t i = 0; i < items; i++) {
			err = skip_item(r, depth + 1);
			if (err < 0)
				return err;
		}
		return 0;
	}
	case MAJOR_TAG:
		return skip_item(r, depth + 1);
	default:
		return 0;
	}
}

/* Read a map key; *match = whether it is the text string `want`. Other keys are skipped. */
static int read_key(struct reader *r, const char *want, int *match)
{
	uint8_t major;
	uint64_t arg;
	const uint8_t *s;
	size_t start = r->off;

	*match = 0;
	int err = read_head(r, &major, &arg);
	if (err < 0)
		return err;
	if (major != MAJOR_TSTR) {
		r->off = start;
		return skip_item(r, 1);
	}
	err = take(r, arg, &s);
	if (err < 0)
		return err;
	size_t wl = strlen(want);
	*match = arg == wl && memcmp(s, want, wl) == 0;
	return 0;
}

/* Position the reader at the value of `key` in the map that starts at the reader. */
static int find_in_map(struct reader *r, const char *key)
{
	uint8_t major;
	uint64_t count;

	int err = read_head(r, &major, &count);
	if (err < 0)
		return err;
	if (major != MAJOR_MAP)
		return -ENOENT;
	if (count > r->len - r->off)
		return -EBADMSG;
	for (uint64_t i = 0; i < count; i++) {
		int match;
		err = read_key(r, key, &match);
		if (err < 0)
			return err;
		if (match)
			return 0;
		err = skip_item(r, 1);
		if (err < 0)
			return err;
	}
	return -ENOENT;
}

int gcbor_attestation_document(const uint8_t *resp, size_t len, const uint8_t **doc,
			       size_t *doc_len)
{
	struct reader r = {.p = resp, .len = len, .off = 0};
	uint8_t major;
	uint64_t n;

	int err = find_in_map(&r, "Attestation");
	if (err < 0)
		return err;
	err = find_in_map(&r, "document");
	if (err < 0)
		return err;
	err = read_head(&r, &major, &n);
	if (err < 0)
		return err;
	if (major != MAJOR_BSTR)
		return -EBADMSG;
	err = take(&r, n, doc);
	if (err < 0)
		return err;
	*doc_len = (size_t)n;
	return 0;
}
