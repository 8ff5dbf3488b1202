/* Minimal CBOR (RFC 8949) writer and bounds-checked reader for the NSM wire format and the
 * attestation payload. Hand-rolled rather than libcbor so that encodings are exactly the
 * shortest forms serde_cbor emits (byte compatibility with nsm-api) and so that decoding
 * hostile guest bytes never allocates or recurses without a bound. Definite lengths only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum acbor_major {
	ACBOR_UINT = 0,
	ACBOR_NINT = 1,
	ACBOR_BSTR = 2,
	ACBOR_TSTR = 3,
	ACBOR_ARRAY = 4,
	ACBOR_MAP = 5,
	ACBOR_TAG = 6,
	ACBOR_SIMPLE = 7,
};

#define ACBOR_FALSE 20
#define ACBOR_TRUE  21
#define ACBOR_NULL  22

/* Writer: appends into a caller buffer; on overflow it stops writing and remembers it, so a
 * sequence of puts needs one check at the end (acbor_writer_finish). */
struct acbor_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void acbor_writer_init(struct acbor_writer *w, uint8_t *buf, size_t cap);
/* 0, or -ENOBUFS when anything did not fit. */
int acbor_writer_finish(const struct acbor_writer *w);

void acbor_put_head(struct acbor_writer *w, enum acbor_major major, uint64_t value);
void acbor_put_uint(struct acbor_writer *w, uint64_t v);
/* Negative integer -1 - n. */
void acbor_put_nint(struct acbor_writer *w, uint64_t n);
void acbor_put_bstr(struct acbor_writer *w, const void *data, size_t len);
void acbor_put_tstr(struct acbor_writer *w, const char *s);
void acbor_put_tstrn(struct acbor_writer *w, const char *s, size_t len);
void acbor_put_map(struct acbor_writer *w, size_t pairs);
void acbor_put_array(struct acbor_writer *w, size_t items);
void acbor_put_bool(struct acbor_writer *w, bool v);
void acbor_put_null(struct acbor_writer *w);
/* Bytes already CBOR-encoded. */
void acbor_put_raw(struct acbor_writer *w, const void *data, size_t len);

/* Reader over [buf, buf+len). Every read checks bounds; errors are -EBADMSG (malformed or
 * truncated) or -EPROTOTYPE (well-formed but not the type asked for), and leave the offset
 * where it was. */
struct acbor_reader {
	const uint8_t *buf;
	size_t len;
	size_t off;
};

void acbor_reader_init(struct acbor_reader *r, const void *buf, size_t len);
bool acbor_at_end(const struct acbor_reader *r);

/* Major type and argument of the next item without consuming it. Indefinite lengths and
 * reserved additional-info values are -EBADMSG. */
int acbor_peek(const struct acbor_reader *r, enum acbor_major *major, uint64_t *value);

int acbor_read_uint(struct acbor_reader *r, uint64_t *v);
/* Either sign; the value must fit int64_t. */
int acbor_read_int(struct acbor_reader *r, int64_t *v);
/* Points into the input buffer; no copy. */
int acbor_read_bstr(struct acbor_reader *r, const uint8_t **data, size_t *len);
int acbor_read_tstr(struct acbor_reader *r, const char **s, size_t *len);
int acbor_read_map(struct acbor_reader *r, uint64_t *pairs);
int acbor_read_array(struct acbor_reader *r, uint64_t *items);
int acbor_read_bool(struct acbor_reader *r, bool *v);
/* 1 and consumed when the next item is null, 0 when it is something else. */
int acbor_read_null(struct acbor_reader *r);
/* Skip one whole item (nested to at most 16 levels). */
int acbor_skip(struct acbor_reader *r);

/* Does a text string equal the NUL-terminated literal? */
bool acbor_str_eq(const char *s, size_t len, const char *lit);
