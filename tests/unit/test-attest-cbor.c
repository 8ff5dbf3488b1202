/* The minimal CBOR codec under attest/: shortest-form heads at every size boundary, and a
 * reader that refuses what NSM peers never send (indefinite lengths, reserved values, deep
 * nesting, counts the input cannot hold) without reading past its buffer. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "attest/acbor.h"

static void expect_uint_encoding(uint64_t v, const uint8_t *want, size_t want_len)
{
	uint8_t buf[16];
	struct acbor_writer w;
	struct acbor_reader r;
	uint64_t back = ~v;

	acbor_writer_init(&w, buf, sizeof(buf));
	acbor_put_uint(&w, v);
	assert_int_equal(acbor_writer_finish(&w), 0);
	assert_int_equal(w.len, want_len);
	assert_memory_equal(buf, want, want_len);
	acbor_reader_init(&r, buf, w.len);
	assert_int_equal(acbor_read_uint(&r, &back), 0);
	assert_true(back == v);
	assert_true(acbor_at_end(&r));
}

static void test_head_sizes(void **unused)
{
	expect_uint_encoding(0, (const uint8_t[]){0x00}, 1);
	expect_uint_encoding(23, (const uint8_t[]){0x17}, 1);
	expect_uint_encoding(24, (const uint8_t[]){0x18, 0x18}, 2);
	expect_uint_encoding(255, (const uint8_t[]){0x18, 0xff}, 2);
	expect_uint_encoding(256, (const uint8_t[]){0x19, 0x01, 0x00}, 3);
	expect_uint_encoding(65535, (const uint8_t[]){0x19, 0xff, 0xff}, 3);
	expect_uint_encoding(65536, (const uint8_t[]){0x1a, 0x00, 0x01, 0x00, 0x00}, 5);
	expect_uint_encoding(0xffffffffull, (const uint8_t[]){0x1a, 0xff, 0xff, 0xff, 0xff}, 5);
	expect_uint_encoding(0x100000000ull, (const uint8_t[]){0x1b, 0, 0, 0, 1, 0, 0, 0, 0}, 9);
	expect_uint_encoding(
	    UINT64_MAX, (const uint8_t[]){0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9);
}

static void test_writer_types(void **unused)
{
	uint8_t buf[64];
	struct acbor_writer w;
	static const uint8_t want[] = {0xa2, 0x61, 'k',	 0xf5, 0x38, 0x22, 0x82,
				       0xf6, 0xf4, 0x43, 1,    2,    3,	   0x40};

	acbor_writer_init(&w, buf, sizeof(buf));
	acbor_put_map(&w, 2);
	acbor_put_tstr(&w, "k");
	acbor_put_bool(&w, true);
	acbor_put_nint(&w, 34); /* -35, the ES384 alg */
	acbor_put_array(&w, 2);
	acbor_put_null(&w);
	acbor_put_bool(&w, false);
	acbor_put_bstr(&w, "\x01\x02\x03", 3);
	acbor_put_bstr(&w, NULL, 0);
	assert_int_equal(acbor_writer_finish(&w), 0);
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	/* Overflow is sticky and reported once at the end; nothing is written past cap. */
	memset(buf, 0xee, sizeof(buf));
	acbor_writer_init(&w, buf, 4);
	acbor_put_bstr(&w, "abcdef", 6);
	acbor_put_uint(&w, 1);
	assert_int_equal(acbor_writer_finish(&w), -ENOBUFS);
	assert_int_equal(buf[4], 0xee);
}

static void test_reader_refuses(void **unused)
{
	struct acbor_reader r;
	uint64_t v;
	const uint8_t *p;
	size_t n;
	bool b;
	int64_t i;

	/* Indefinite-length string, reserved additional info, break on its own. */
	acbor_reader_init(&r, (const uint8_t[]){0x5f, 0x41, 0x00, 0xff}, 4);
	assert_int_equal(acbor_skip(&r), -EBADMSG);
	acbor_reader_init(&r, (const uint8_t[]){0x1c}, 1);
	assert_int_equal(acbor_read_uint(&r, &v), -EBADMSG);
	acbor_reader_init(&r, (const uint8_t[]){0xff}, 1);
	assert_int_equal(acbor_skip(&r), -EBADMSG);
	/* Two-byte simple value below 32 is not well-formed. */
	acbor_reader_init(&r, (const uint8_t[]){0xf8, 0x15}, 2);
	assert_int_equal(acbor_skip(&r), -EBADMSG);
	/* Truncated head and truncated string body. */
	acbor_reader_init(&r, (const uint8_t[]){0x19, 0x01}, 2);
	assert_int_equal(acbor_read_uint(&r, &v), -EBADMSG);
	acbor_reader_init(&r, (const uint8_t[]){0x45, 1, 2}, 3);
	assert_int_equal(acbor_read_bstr(&r, &p, &n), -EBADMSG);
	assert_int_equal(r.off, 0);
	/* A string claiming 2^64-1 bytes. */
	acbor_reader_init(
	    &r, (const uint8_t[]){0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9);
	assert_int_equal(acbor_read_bstr(&r, &p, &n), -EBADMSG);
	/* Counts the remaining bytes cannot hold. */
	acbor_reader_init(&r, (const uint8_t[]){0x83, 0x00, 0x00}, 3);
	assert_int_equal(acbor_read_array(&r, &v), -EBADMSG);
	acbor_reader_init(&r, (const uint8_t[]){0xa2, 0x00, 0x00, 0x00}, 4);
	assert_int_equal(acbor_read_map(&r, &v), -EBADMSG);
	/* Wrong type is a different error and consumes nothing. */
	acbor_reader_init(&r, (const uint8_t[]){0x61, 'x'}, 2);
	assert_int_equal(acbor_read_bstr(&r, &p, &n), -EPROTOTYPE);
	assert_int_equal(acbor_read_bool(&r, &b), -EPROTOTYPE);
	assert_int_equal(acbor_read_null(&r), 0);
	assert_int_equal(r.off, 0);
	/* Integers outside int64_t. */
	acbor_reader_init(&r, (const uint8_t[]){0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9);
	assert_int_equal(acbor_read_int(&r, &i), -EPROTOTYPE);
	acbor_reader_init(&r, (const uint8_t[]){0x38, 0x22}, 2);
	assert_int_equal(acbor_read_int(&r, &i), 0);
	assert_int_equal(i, -35);
	/* Empty input. */
	acbor_reader_init(&r, NULL, 0);
	assert_int_equal(acbor_skip(&r), -EBADMSG);
}

static void test_nesting_limit(void **unused)
{
	uint8_t buf[40];
	struct acbor_reader r;

	/* 16 levels of arrays around a 0 are fine, 17 and more are not. */
	memset(buf, 0x81, sizeof(buf));
	buf[16] = 0x00;
	acbor_reader_init(&r, buf, 17);
	assert_int_equal(acbor_skip(&r), 0);
	assert_true(acbor_at_end(&r));
	memset(buf, 0x81, sizeof(buf));
	buf[17] = 0x00;
	acbor_reader_init(&r, buf, 18);
	assert_int_equal(acbor_skip(&r), -EBADMSG);
	assert_int_equal(r.off, 0);
	/* Tags count as a level too and are skipped with their content. */
	acbor_reader_init(&r, (const uint8_t[]){0xd2, 0x80}, 2);
	assert_int_equal(acbor_skip(&r), 0);
	assert_true(acbor_at_end(&r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_head_sizes),
	    cmocka_unit_test(test_writer_types),
	    cmocka_unit_test(test_reader_refuses),
	    cmocka_unit_test(test_nesting_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
