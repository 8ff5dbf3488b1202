#include "config.h"

#include <errno.h>
#include <string.h>

#include "attest/acbor.h"

#define ACBOR_MAX_DEPTH 16

void acbor_writer_init(struct acbor_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
}

int acbor_writer_finish(const struct acbor_writer *w)
{
	return w->overflow ? -ENOBUFS : 0;
}

static void put_bytes(struct acbor_writer *w, const void *data, size_t len)
{
	if (w->overflow || len > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	if (len)
		memcpy(w->buf + w->len, data, len);
	w->len += len;
}

void acbor_put_head(struct acbor_writer *w, enum acbor_major major, uint64_t value)
{
	uint8_t head[9];
	size_t n;
	uint8_t mt = (uint8_t)(major << 5);

	if (value < 24) {
		head[0] = mt | (uint8_t)value;
		n = 1;
	} else if (value <= UINT8_MAX) {
		head[0] = mt | 24;
		head[1] = (uint8_t)value;
		n = 2;
	} else if (value <= UINT16_MAX) {
		head[0] = mt | 25;
		head[1] = (uint8_t)(value >> 8);
		head[2] = (uint8_t)value;
		n = 3;
	} else if (value <= UINT32_MAX) {
		head[0] = mt | 26;
		for (int i = 0; i < 4; i++)
			head[1 + i] = (uint8_t)(value >> (24 - 8 * i));
		n = 5;
	} else {
		head[0] = mt | 27;
		for (int i = 0; i < 8; i++)
			head[1 + i] = (uint8_t)(value >> (56 - 8 * i));
		n = 9;
	}
	put_bytes(w, head, n);
}

void acbor_put_uint(struct acbor_writer *w, uint64_t v)
{
	acbor_put_head(w, ACBOR_UINT, v);
}

void acbor_put_nint(struct acbor_writer *w, uint64_t n)
{
	acbor_put_head(w, ACBOR_NINT, n);
}

void acbor_put_bstr(struct acbor_writer *w, const void *data, size_t len)
{
	acbor_put_head(w, ACBOR_BSTR, len);
	put_bytes(w, data, len);
}

void acbor_put_tstrn(struct acbor_writer *w, const char *s, size_t len)
{
	acbor_put_head(w, ACBOR_TSTR, len);
	put_bytes(w, s, len);
}

void acbor_put_tstr(struct acbor_writer *w, const char *s)
{
	acbor_put_tstrn(w, s, strlen(s));
}

void acbor_put_map(struct acbor_writer *w, size_t pairs)
{
	acbor_put_head(w, ACBOR_MAP, pairs);
}

void acbor_put_array(struct acbor_writer *w, size_t items)
{
	acbor_put_head(w, ACBOR_ARRAY, items);
}

void acbor_put_bool(struct acbor_writer *w, bool v)
{
	acbor_put_head(w, ACBOR_SIMPLE, v ? ACBOR_TRUE : ACBOR_FALSE);
}

void acbor_put_null(struct acbor_writer *w)
{
	acbor_put_head(w, ACBOR_SIMPLE, ACBOR_NULL);
}

void acbor_put_raw(struct acbor_writer *w, const void *data, size_t len)
{
	put_bytes(w, data, len);
}

void acbor_reader_init(struct acbor_reader *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->off = 0;
}

bool acbor_at_end(const struct acbor_reader *r)
{
	return r->off >= r->len;
}

/* Decode the head at the current offset; *head_len is its size in bytes. */
static int decode_head(const struct acbor_reader *r, enum acbor_major *major, uint64_t *value,
		       size_t *head_len)
{
	if (r->off >= r->len)
		return -EBADMSG;
	uint8_t ib = r->buf[r->off];
	uint8_t ai = ib & 0x1f;
	size_t extra;

	*major = (enum acbor_major)(ib >> 5);
	if (ai < 24) {
		*value = ai;
		*head_len = 1;
		return 0;
	}
	switch (ai) {
	case 24:
		extra = 1;
		break;
	case 25:
		extra = 2;
		break;
	case 26:
		extra = 4;
		break;
	case 27:
		extra = 8;
		break;
	default:
		/* 28-30 reserved, 31 indefinite length / break: not used by NSM peers. */
		return -EBADMSG;
	}
	if (extra > r->len - r->off - 1)
		return -EBADMSG;
	uint64_t v = 0;
	for (size_t i = 0; i < extra; i++)
		v = (v << 8) | r->buf[r->off + 1 + i];
	/* Simple values below 32 must use the one-byte form (RFC 8949 3.3); floats pass. */
	if (*major == ACBOR_SIMPLE && ai == 24 && v < 32)
		return -EBADMSG;
	*value = v;
	*head_len = 1 + extra;
	return 0;
}

int acbor_peek(const struct acbor_reader *r, enum acbor_major *major, uint64_t *value)
{
	size_t hl;

	return decode_head(r, major, value, &hl);
}

static int read_head_of(struct acbor_reader *r, enum acbor_major want, uint64_t *value)
{
	enum acbor_major major;
	size_t hl;
	int ret = decode_head(r, &major, value, &hl);

	if (ret < 0)
		return ret;
	if (major != want)
		return -EPROTOTYPE;
	r->off += hl;
	return 0;
}

int acbor_read_uint(struct acbor_reader *r, uint64_t *v)
{
	return read_head_of(r, ACBOR_UINT, v);
}

int acbor_read_int(struct acbor_reader *r, int64_t *v)
{
	enum acbor_major major;
	uint64_t value;
	size_t hl;
	int ret = decode_head(r, &major, &value, &hl);

	if (ret < 0)
		return ret;
	if ((major != ACBOR_UINT && major != ACBOR_NINT) || value > INT64_MAX)
		return -EPROTOTYPE;
	*v = major == ACBOR_UINT ? (int64_t)value : -1 - (int64_t)value;
	r->off += hl;
	return 0;
}

static int read_string(struct acbor_reader *r, enum acbor_major want, const uint8_t **data,
		       size_t *len)
{
	enum acbor_major major;
	uint64_t value;
	size_t hl;
	int ret = decode_head(r, &major, &value, &hl);

	if (ret < 0)
		return ret;
	if (major != want)
		return -EPROTOTYPE;
	if (value > r->len - r->off - hl)
		return -EBADMSG;
	*data = r->buf + r->off + hl;
	*len = (size_t)value;
	r->off += hl + (size_t)value;
	return 0;
}

int acbor_read_bstr(struct acbor_reader *r, const uint8_t **data, size_t *len)
{
	return read_string(r, ACBOR_BSTR, data, len);
}

int acbor_read_tstr(struct acbor_reader *r, const char **s, size_t *len)
{
	const uint8_t *p;
	int ret = read_string(r, ACBOR_TSTR, &p, len);

	if (ret == 0)
		*s = (const char *)p;
	return ret;
}

/* A container announcing more items than bytes remain cannot be valid: reject it here so
 * callers may loop over the count without further sanity checks. */
static int read_container(struct acbor_reader *r, enum acbor_major want, uint64_t *count,
			  unsigned per_item)
{
	size_t save = r->off;
	int ret = read_head_of(r, want, count);

	if (ret < 0)
		return ret;
	if (*count > (r->len - r->off) / per_item) {
		r->off = save;
		return -EBADMSG;
	}
	return 0;
}

int acbor_read_map(struct acbor_reader *r, uint64_t *pairs)
{
	return read_container(r, ACBOR_MAP, pairs, 2);
}

int acbor_read_array(struct acbor_reader *r, uint64_t *items)
{
	return read_container(r, ACBOR_ARRAY, items, 1);
}

int acbor_read_bool(struct acbor_reader *r, bool *v)
{
	enum acbor_major major;
	uint64_t value;
	size_t hl;
	int ret = decode_head(r, &major, &value, &hl);

	if (ret < 0)
		return ret;
	if (major != ACBOR_SIMPLE || hl != 1 || (value != ACBOR_TRUE && value != ACBOR_FALSE))
		return -EPROTOTYPE;
	*v = value == ACBOR_TRUE;
	r->off += hl;
	return 0;
}

int acbor_read_null(struct acbor_reader *r)
{
	enum acbor_major major;
	uint64_t value;
	size_t hl;
	int ret = decode_head(r, &major, &value, &hl);

	if (ret < 0)
		return ret;
	if (major != ACBOR_SIMPLE || hl != 1 || value != ACBOR_NULL)
		return 0;
	r->off += hl;
	return 1;
}

static int skip_depth(struct acbor_reader *r, unsigned depth)
{
	enum acbor_major major;
	uint64_t value;
	size_t hl;
	const uint8_t *p;
	size_t len;
	int ret;

	if (depth > ACBOR_MAX_DEPTH)
		return -EBADMSG;
	ret = decode_head(r, &major, &value, &hl);
	if (ret < 0)
		return ret;
	switch (major) {
	case ACBOR_BSTR:
	case ACBOR_TSTR:
		return read_string(r, major, &p, &len);
	case ACBOR_ARRAY:
	case ACBOR_MAP: {
		uint64_t n;
		size_t save = r->off;

		ret = read_container(r, major, &n, major == ACBOR_MAP ? 2 : 1);
		if (ret < 0)
			return ret;
		if (major == ACBOR_MAP)
			n *= 2;
		for (uint64_t i = 0; i < n; i++) {
			ret = skip_depth(r, depth + 1);
			if (ret < 0) {
				r->off = save;
				return ret;
			}
		}
		return 0;
	}
	case ACBOR_TAG: {
		size_t save = r->off;

		r->off += hl;
		ret = skip_depth(r, depth + 1);
		if (ret < 0)
			r->off = save;
		return ret;
	}
	default:
		r->off += hl;
		return 0;
	}
}

int acbor_skip(struct acbor_reader *r)
{
	return skip_depth(r, 0);
}

bool acbor_str_eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}
