/* Shared by the NSM handler unit tests (test-nsm*.c): CBOR written out by hand, a state with
 * known image PCRs, and a call/compare harness over one response buffer. */
#pragma once

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "attest/nsm.h"

#define PRINCIPAL "uid=1000 name=alice"
#define HOST_ID	  "0123456789abcdef0123456789abcdef\n"

/* A growable byte string for writing expected CBOR by hand. */
struct bytes {
	uint8_t b[0x4000];
	size_t n;
};

static __attribute__((unused)) void add(struct bytes *x, const void *p, size_t n)
{
	assert_true(x->n + n <= sizeof(x->b));
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

static __attribute__((unused)) void add1(struct bytes *x, uint8_t v)
{
	add(x, &v, 1);
}

/* Text string of length < 24: head 0x60|len, then the bytes. */
static __attribute__((unused)) void add_short_tstr(struct bytes *x, const char *s)
{
	size_t n = strlen(s);

	assert_true(n < 24);
	add1(x, (uint8_t)(0x60 | n));
	add(x, s, n);
}

static __attribute__((unused)) void add_error(struct bytes *x, const char *name)
{
	add1(x, 0xa1);
	add_short_tstr(x, "Error");
	add_short_tstr(x, name);
}

static __attribute__((unused)) void sha384_extend(uint8_t pcr[48], const void *data, size_t len)
{
	uint8_t buf[48 + 256];
	unsigned int out_len = 0;

	assert_true(len <= 256);
	memcpy(buf, pcr, 48);
	memcpy(buf + 48, data, len);
	assert_int_equal(EVP_Digest(buf, 48 + len, pcr, &out_len, EVP_sha384(), NULL), 1);
	assert_int_equal(out_len, 48);
}

static __attribute__((unused)) uint8_t img_pcr0[48], img_pcr1[48], img_pcr2[48], img_pcr8[48];

static __attribute__((unused)) void init_state(struct nsm_state *st, bool debug)
{
	memset(img_pcr0, 0x11, 48);
	memset(img_pcr1, 0x22, 48);
	memset(img_pcr2, 0x33, 48);
	memset(img_pcr8, 0x88, 48);
	assert_int_equal(nsm_state_init(st, "i-0123-enc4567", img_pcr0, img_pcr1, img_pcr2,
					img_pcr8, PRINCIPAL, HOST_ID, debug),
			 0);
}

static __attribute__((unused)) uint8_t resp[NSM_RESPONSE_MAX];
static __attribute__((unused)) size_t resp_len;

static __attribute__((unused)) enum nsm_error call(struct nsm_state *st, const struct bytes *req)
{
	enum nsm_error e = NSM_E_INTERNAL_ERROR;

	assert_int_equal(
	    nsm_handle_request_ex(st, req->b, req->n, resp, sizeof(resp), &resp_len, &e), 0);
	return e;
}

static __attribute__((unused)) void expect_resp(const struct bytes *want)
{
	assert_int_equal(resp_len, want->n);
	assert_memory_equal(resp, want->b, want->n);
}

static __attribute__((unused)) void expect_error(struct nsm_state *st, const struct bytes *req,
						 const char *name)
{
	struct bytes want = {.n = 0};

	(void)call(st, req);
	add_error(&want, name);
	expect_resp(&want);
}

/* {"<variant>":{"<field>":<uint>}} with a small uint encoded as given bytes. */
static __attribute__((unused)) void req_index(struct bytes *x, const char *variant,
					      const char *field, const void *uint_enc,
					      size_t enc_len)
{
	x->n = 0;
	add1(x, 0xa1);
	add_short_tstr(x, variant);
	add1(x, 0xa1);
	add_short_tstr(x, field);
	add(x, uint_enc, enc_len);
}

static __attribute__((unused)) void req_extend(struct bytes *x, uint8_t index, const char *data)
{
	size_t n = strlen(data);

	x->n = 0;
	add1(x, 0xa1);
	add_short_tstr(x, "ExtendPCR");
	add1(x, 0xa2);
	add_short_tstr(x, "index");
	if (index >= 24)
		add1(x, 0x18);
	add1(x, index);
	add_short_tstr(x, "data");
	assert_true(n < 24);
	add1(x, (uint8_t)(0x40 | n));
	add(x, data, n);
}
