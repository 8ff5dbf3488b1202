/* Frame header codec, the incremental reader, and the envelope encoders/decoders, against
 * bytes worked out by hand from containerd/ttrpc's channel.go and request.proto. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/frame.h"
#include "rpc/message.h"
#include "rpc/rpc.h"

static void test_header_bytes(void **state)
{
	struct rpc_frame_header h = {
	    .length = 0x0102, .stream_id = 0x01020305, .type = 3, .flags = 5};
	const uint8_t want[] = {0, 0, 1, 2, 1, 2, 3, 5, 3, 5};
	uint8_t raw[RPC_FRAME_HEADER_SIZE];
	struct rpc_frame_header back;

	rpc_frame_header_encode(&h, raw);
	assert_memory_equal(raw, want, sizeof(want));
	rpc_frame_header_decode(raw, &back);
	assert_int_equal(back.length, h.length);
	assert_int_equal(back.stream_id, h.stream_id);
	assert_int_equal(back.type, 3);
	assert_int_equal(back.flags, 5);
}

static void test_header_check(void **state)
{
	struct rpc_frame_header h = {
	    .length = RPC_FRAME_MAX, .stream_id = 1, .type = RPC_FRAME_REQUEST};

	assert_int_equal(rpc_frame_header_check(&h), 0);
	h.flags = RPC_FLAG_REMOTE_OPEN | RPC_FLAG_REMOTE_CLOSED;
	assert_int_equal(rpc_frame_header_check(&h), 0);
	h.flags = RPC_FLAG_NO_DATA;
	assert_int_equal(rpc_frame_header_check(&h), -EPROTO);
	h.type = RPC_FRAME_DATA;
	h.flags = RPC_FLAG_NO_DATA | RPC_FLAG_REMOTE_CLOSED;
	assert_int_equal(rpc_frame_header_check(&h), 0);
	h.flags = RPC_FLAG_REMOTE_OPEN;
	assert_int_equal(rpc_frame_header_check(&h), -EPROTO);
	h.type = RPC_FRAME_RESPONSE;
	h.flags = 0;
	assert_int_equal(rpc_frame_header_check(&h), 0);
	h.flags = 1;
	assert_int_equal(rpc_frame_header_check(&h), -EPROTO);
	h.type = 0;
	h.flags = 0;
	assert_int_equal(rpc_frame_header_check(&h), -EPROTO);
	h.type = 4;
	assert_int_equal(rpc_frame_header_check(&h), -EPROTO);
	h.type = RPC_FRAME_REQUEST;
	h.length = RPC_FRAME_MAX + 1;
	assert_int_equal(rpc_frame_header_check(&h), -EMSGSIZE);
}

/* Two frames fed one byte at a time come out whole, in order. */
static void test_reader_byte_by_byte(void **state)
{
	const uint8_t stream[] = {0,   0, 0, 3, 0, 0, 0, 1, 1, 0, 'a', 'b',
				  'c', 0, 0, 0, 0, 0, 0, 0, 3, 3, 5};
	struct rpc_frame_reader r;
	struct rpc_frame f;
	int frames = 0;

	rpc_frame_reader_init(&r);
	assert_true(rpc_frame_reader_idle(&r));
	for (size_t i = 0; i < sizeof(stream); i++) {
		size_t used;
		int ret = rpc_frame_reader_feed(&r, stream + i, 1, &used, &f);

		assert_int_equal(used, 1);
		if (ret == 0) {
			assert_false(rpc_frame_reader_idle(&r));
			continue;
		}
		assert_int_equal(ret, 1);
		assert_false(f.oversized);
		if (frames++ == 0) {
			assert_int_equal(i, 12);
			assert_int_equal(f.header.length, 3);
			assert_int_equal(f.header.type, RPC_FRAME_REQUEST);
			assert_memory_equal(f.payload, "abc", 3);
		} else {
			assert_int_equal(i, sizeof(stream) - 1);
			assert_int_equal(f.header.length, 0);
			assert_null(f.payload);
			assert_int_equal(f.header.stream_id, 3);
			assert_int_equal(f.header.flags, 5);
		}
		free(f.payload);
		assert_true(rpc_frame_reader_idle(&r));
	}
	assert_int_equal(frames, 2);
	rpc_frame_reader_release(&r);
}

/* The whole buffer at once: one frame per call, the rest left for the next. */
static void test_reader_many_in_one_buffer(void **state)
{
	uint8_t buf[3 * (RPC_FRAME_HEADER_SIZE + 2)];
	struct rpc_frame_reader r;
	struct rpc_frame f;
	size_t off = 0;

	for (int i = 0; i < 3; i++) {
		struct rpc_frame_header h = {.length = 2, .stream_id = 2 * i + 1, .type = 1};
		uint8_t *p = buf + i * (RPC_FRAME_HEADER_SIZE + 2);

		rpc_frame_header_encode(&h, p);
		p[RPC_FRAME_HEADER_SIZE] = 'x';
		p[RPC_FRAME_HEADER_SIZE + 1] = (uint8_t)('0' + i);
	}
	rpc_frame_reader_init(&r);
	for (int i = 0; i < 3; i++) {
		size_t used;

		assert_int_equal(rpc_frame_reader_feed(&r, buf + off, sizeof(buf) - off, &used, &f),
				 1);
		off += used;
		assert_int_equal(f.header.stream_id, 2 * i + 1);
		assert_int_equal(f.payload[1], '0' + i);
		free(f.payload);
	}
	assert_int_equal(off, sizeof(buf));
	rpc_frame_reader_release(&r);
}

/* An oversized frame is reported only once its payload has been skipped, like Go's
 * bufio.Discard, and the next frame is intact. */
static void test_reader_oversized(void **state)
{
	struct rpc_frame_header big = {.length = RPC_FRAME_MAX + 1, .stream_id = 7, .type = 1};
	struct rpc_frame_header small = {.length = 1, .stream_id = 9, .type = 1};
	static uint8_t junk[65536];
	struct rpc_frame_reader r;
	uint8_t raw[RPC_FRAME_HEADER_SIZE + 1];
	struct rpc_frame f;
	size_t used, left = big.length;

	rpc_frame_reader_init(&r);
	rpc_frame_header_encode(&big, raw);
	assert_int_equal(rpc_frame_reader_feed(&r, raw, RPC_FRAME_HEADER_SIZE, &used, &f), 0);
	while (left > sizeof(junk)) {
		assert_int_equal(rpc_frame_reader_feed(&r, junk, sizeof(junk), &used, &f), 0);
		assert_int_equal(used, sizeof(junk));
		left -= sizeof(junk);
	}
	/* The last junk byte and the next frame arrive together. */
	rpc_frame_header_encode(&small, raw);
	raw[RPC_FRAME_HEADER_SIZE] = 'z';
	uint8_t tail[sizeof(junk)];
	memcpy(tail, junk, left);
	memcpy(tail + left, raw, sizeof(raw));
	assert_int_equal(rpc_frame_reader_feed(&r, tail, left + sizeof(raw), &used, &f), 1);
	assert_int_equal(used, left);
	assert_true(f.oversized);
	assert_null(f.payload);
	assert_int_equal(f.header.length, RPC_FRAME_MAX + 1);
	assert_int_equal(f.header.stream_id, 7);
	assert_int_equal(rpc_frame_reader_feed(&r, raw, sizeof(raw), &used, &f), 1);
	assert_false(f.oversized);
	assert_int_equal(f.payload[0], 'z');
	free(f.payload);
	rpc_frame_reader_release(&r);
}

/* A 4 MiB header with 10 bytes behind it holds a small buffer, not 4 MiB. */
static void test_reader_grows_with_data(void **state)
{
	struct rpc_frame_header h = {.length = RPC_FRAME_MAX, .stream_id = 1, .type = 1};
	uint8_t raw[RPC_FRAME_HEADER_SIZE + 10] = {0};
	struct rpc_frame_reader r;
	struct rpc_frame f;
	size_t used;

	rpc_frame_header_encode(&h, raw);
	rpc_frame_reader_init(&r);
	assert_int_equal(rpc_frame_reader_feed(&r, raw, sizeof(raw), &used, &f), 0);
	assert_true(r.payload_cap < 65536);
	rpc_frame_reader_release(&r);
}

/* Feed a whole frame of `length` zero bytes after its header in 4 KiB pieces; returns the
 * feed's last result. */
static int feed_frame(struct rpc_frame_reader *r, uint32_t length, uint32_t stream_id,
		      size_t stop_after, struct rpc_frame *f)
{
	struct rpc_frame_header h = {.length = length, .stream_id = stream_id, .type = 1};
	static uint8_t zeros[4096];
	uint8_t raw[RPC_FRAME_HEADER_SIZE];
	size_t used, sent = 0;
	int ret;

	rpc_frame_header_encode(&h, raw);
	ret = rpc_frame_reader_feed(r, raw, sizeof(raw), &used, f);
	assert_int_equal(used, sizeof(raw));
	while (ret == 0 && sent < stop_after) {
		size_t n = stop_after - sent < sizeof(zeros) ? stop_after - sent : sizeof(zeros);
		ret = rpc_frame_reader_feed(r, zeros, n, &used, f);
		assert_int_equal(used, n);
		sent += n;
	}
	return ret;
}

/* Readers that share a budget: large partial payloads count against it, small ones do not, a
 * frame the budget cannot hold is read and comes back over_budget, and every byte charged is
 * given back. */
static void test_reader_budget(void **state)
{
	struct rpc_frame_budget budget = {.limit = 1u << 20};
	struct rpc_frame_reader a, b;
	struct rpc_frame f;

	rpc_frame_reader_init(&a);
	rpc_frame_reader_init(&b);
	rpc_frame_reader_set_budget(&a, &budget);
	rpc_frame_reader_set_budget(&b, &budget);
	/* a holds 700 KiB of a 700 KiB + 1 frame. */
	assert_int_equal(feed_frame(&a, (700u << 10) + 1, 1, 700u << 10, &f), 0);
	assert_int_equal(budget.used, (700u << 10) + 1);
	/* b: a small frame passes regardless; a 400 KiB one does not fit and is thrown away. */
	assert_int_equal(feed_frame(&b, 60000, 1, 60000, &f), 1);
	assert_false(f.over_budget);
	assert_non_null(f.payload);
	free(f.payload);
	assert_int_equal(feed_frame(&b, 400u << 10, 3, 400u << 10, &f), 1);
	assert_true(f.over_budget);
	assert_false(f.oversized);
	assert_null(f.payload);
	assert_int_equal(f.header.stream_id, 3);
	assert_int_equal(f.header.length, 400u << 10);
	assert_int_equal(budget.used, (700u << 10) + 1);
	/* a completes: its charge goes back, and b's next large frame fits. */
	assert_int_equal(rpc_frame_reader_feed(&a, (const uint8_t *)"x", 1, &(size_t){0}, &f), 1);
	assert_false(f.over_budget);
	free(f.payload);
	assert_int_equal(budget.used, 0);
	assert_int_equal(feed_frame(&b, 400u << 10, 5, 400u << 10, &f), 1);
	assert_false(f.over_budget);
	free(f.payload);
	/* A reader released mid-frame gives its charge back. */
	assert_int_equal(feed_frame(&a, 900u << 10, 7, 300u << 10, &f), 0);
	assert_true(budget.used > 0);
	rpc_frame_reader_release(&a);
	assert_int_equal(budget.used, 0);
	rpc_frame_reader_release(&b);
}

static void test_build(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(rpc_frame_build(5, RPC_FRAME_DATA, RPC_FLAG_REMOTE_CLOSED,
					 (const uint8_t *)"hi", 2, &buf, &len),
			 0);
	assert_int_equal(len, 12);
	assert_memory_equal(buf, "\0\0\0\2\0\0\0\5\3\1hi", 12);
	free(buf);
	assert_int_equal(rpc_frame_build(1, 1, 0, NULL, RPC_FRAME_MAX + 1, &buf, &len), -EMSGSIZE);
}

/* Go marshals Response{Status: &Status{}, Payload: "ok"} to exactly these bytes. */
static void test_response_bytes(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(rpc_message_response_encode(0, NULL, (const uint8_t *)"ok", 2, &buf, &len),
			 0);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "\x0a\x00\x12\x02ok", 6);
	free(buf);
	assert_int_equal(rpc_message_response_encode(12, "service x", NULL, 0, &buf, &len), 0);
	assert_int_equal(len, 15);
	assert_memory_equal(buf, "\x0a\x0d\x08\x0c\x12\x09service x", 15);
	free(buf);
}

static void test_request_round_trip(void **state)
{
	const char *md[] = {"k", "v", "k2", "v2"};
	Ttrpc__Request *req = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[128];

	assert_int_equal(rpc_message_request_encode("a.v1.S", "M", (const uint8_t *)"p", 1, 99, md,
						    2, &buf, &len),
			 0);
	/* service, method, payload, timeout, then the two KeyValues. */
	assert_memory_equal(buf,
			    "\x0a\x06"
			    "a.v1.S"
			    "\x12\x01M"
			    "\x1a\x01p"
			    "\x20\x63",
			    16);
	assert_int_equal(rpc_message_request_decode(buf, len, &req, why, sizeof(why)), 0);
	assert_string_equal(req->service, "a.v1.S");
	assert_string_equal(req->method, "M");
	assert_int_equal(req->timeout_nano, 99);
	assert_int_equal(req->n_metadata, 2);
	assert_string_equal(req->metadata[1]->value, "v2");
	ttrpc__request__free_unpacked(req, NULL);
	free(buf);
}

static void expect_bad_request(const uint8_t *data, size_t len, const char *why_part)
{
	Ttrpc__Request *req = NULL;
	char why[128] = "";

	assert_int_equal(rpc_message_request_decode(data, len, &req, why, sizeof(why)), -EBADMSG);
	assert_null(req);
	assert_non_null(strstr(why, why_part));
}

static void test_request_hostile(void **state)
{
	/* service "a\0b": protobuf-c would hand back "a". */
	expect_bad_request((const uint8_t *)"\x0a\x03"
					    "a\0b",
			   5, "service");
	/* method with a lone continuation byte. */
	expect_bad_request((const uint8_t *)"\x12\x01\x80", 3, "method");
	/* metadata key with an overlong '/' (C0 AF). */
	expect_bad_request((const uint8_t *)"\x2a\x04\x0a\x02\xc0\xaf", 6, "metadata");
	/* a length running past the end. */
	expect_bad_request((const uint8_t *)"\x0a\x10"
					    "abc",
			   5, "wire-format");
	/* a varint that never ends. */
	expect_bad_request((const uint8_t *)"\x20\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12,
			   "wire-format");
	/* wire type 3 (group) is not in the message. */
	expect_bad_request((const uint8_t *)"\x0b", 1, "wire-format");
	/* field 1 (string) sent as a varint. */
	expect_bad_request((const uint8_t *)"\x08\x01", 2, "wire-format");
	/* Valid UTF-8 beyond ASCII is fine. */
	Ttrpc__Request *req = NULL;
	char why[64];
	assert_int_equal(rpc_message_request_decode((const uint8_t *)"\x0a\x04\xc3\xa9\xe2\x82", 6,
						    &req, why, sizeof(why)),
			 -EBADMSG);
	assert_int_equal(rpc_message_request_decode((const uint8_t *)"\x0a\x05\xc3\xa9\xe2\x82\xac",
						    7, &req, why, sizeof(why)),
			 0);
	assert_string_equal(req->service, "\xc3\xa9\xe2\x82\xac");
	ttrpc__request__free_unpacked(req, NULL);
}

static void test_code_names(void **state)
{
	assert_string_equal(rpc_code_name(RPC_OK), "OK");
	assert_string_equal(rpc_code_name(RPC_INVALID_ARGUMENT), "INVALID_ARGUMENT");
	assert_string_equal(rpc_code_name(RPC_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
	assert_string_equal(rpc_code_name(RPC_UNAUTHENTICATED), "UNAUTHENTICATED");
	assert_string_equal(rpc_code_name(17), "UNKNOWN");
	assert_string_equal(rpc_code_name(-1), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_bytes),
	    cmocka_unit_test(test_header_check),
	    cmocka_unit_test(test_reader_byte_by_byte),
	    cmocka_unit_test(test_reader_many_in_one_buffer),
	    cmocka_unit_test(test_reader_oversized),
	    cmocka_unit_test(test_reader_grows_with_data),
	    cmocka_unit_test(test_reader_budget),
	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_response_bytes),
	    cmocka_unit_test(test_request_round_trip),
	    cmocka_unit_test(test_request_hostile),
	    cmocka_unit_test(test_code_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
