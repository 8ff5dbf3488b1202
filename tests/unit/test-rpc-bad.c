/* Hostile and broken clients: each case checks the exact status Go's ttrpc server sends (code
 * and message), and that the server goes on serving other clients afterwards. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpc/internal.h"
#include "tests/unit/test-rpc-harness.h"

/* An Echo on stream id on the raw connection answers OK: the connection survived. */
static void raw_expect_echo(int fd, uint32_t id)
{
	raw_send_request(fd, id, 0, TEST_SERVICE, "Echo", "e", 1, 0);
	raw_expect_status(fd, id, RPC_OK, "");
}

static void test_oversized_frame(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);
	size_t size = RPC_FRAME_MAX + 1;
	uint8_t *junk = calloc(1, size);

	assert_non_null(junk);
	raw_send_frame(fd, (uint32_t)size, 1, RPC_FRAME_REQUEST, 0, junk, size);
	free(junk);
	raw_expect_status(fd, 1, RPC_RESOURCE_EXHAUSTED,
			  "message length 4194305 exceed maximum message size of 4194304");
	raw_expect_echo(fd, 3);
	close(fd);
	harness_check_serving(h);
}

/* Connections that each send most of a 4 MiB frame and stall hold the server-wide budget for
 * partial frames; past it, a large frame elsewhere is read, thrown away and refused, while small
 * requests still pass, and the budget comes back when a holder goes. */
static void test_partial_frames_budget(void **state)
{
	enum { HOLDERS = RPC_SERVER_PARTIAL_FRAMES_MAX / RPC_FRAME_MAX };
	struct harness *h = *state;
	size_t big = 100u << 10;
	uint8_t *junk = calloc(1, RPC_FRAME_MAX);
	int holders[HOLDERS], fd;
	char expected[200];
	uint8_t *request = NULL;
	size_t request_len = 0;

	assert_non_null(junk);
	for (int i = 0; i < HOLDERS; i++) {
		holders[i] = raw_connect(h);
		/* A send of this size returns once the server has read all but a socket buffer. */
		raw_send_frame(holders[i], RPC_FRAME_MAX, 1, RPC_FRAME_REQUEST, 0, junk,
			       RPC_FRAME_MAX - 1);
	}
	assert_int_equal(rpc_message_request_encode(TEST_SERVICE, "Echo", junk, big, 0, NULL, 0,
						    &request, &request_len),
			 0);
	fd = raw_connect(h);
	raw_send_frame(fd, (uint32_t)request_len, 1, RPC_FRAME_REQUEST, 0, request, request_len);
	snprintf(expected, sizeof(expected),
		 "message length %zu: the server is already receiving %u bytes of large messages "
		 "(at most %u at a time); retry later",
		 request_len, RPC_SERVER_PARTIAL_FRAMES_MAX, RPC_SERVER_PARTIAL_FRAMES_MAX);
	raw_expect_status(fd, 1, RPC_RESOURCE_EXHAUSTED, expected);
	raw_expect_echo(fd, 3);
	close(holders[0]);
	assert_int_equal(harness_wait_connections(h, HOLDERS), HOLDERS);
	raw_send_frame(fd, (uint32_t)request_len, 5, RPC_FRAME_REQUEST, 0, request, request_len);
	raw_expect_status(fd, 5, RPC_OK, "");
	for (int i = 1; i < HOLDERS; i++)
		close(holders[i]);
	close(fd);
	free(junk);
	free(request);
	harness_check_serving(h);
}

static void limit_to_three(void *arg)
{
	rpc_server_set_conns_per_uid(arg, 3, false);
}

static void limit_default(void *arg)
{
	rpc_server_set_conns_per_uid(arg, RPC_SERVER_CONNS_PER_UID, true);
}

/* One uid may hold only so many connections: the next is answered RESOURCE_EXHAUSTED and
 * closed, the ones it holds keep working, and a slot freed is a slot usable again. */
static void test_conns_per_uid(void **state)
{
	struct harness *h = *state;
	int fds[3], extra;

	harness_on_loop(h, limit_to_three, h->server);
	for (int i = 0; i < 3; i++)
		fds[i] = raw_connect(h);
	assert_int_equal(harness_wait_connections(h, 3), 3);
	extra = raw_connect(h);
	raw_expect_status(extra, 1, RPC_RESOURCE_EXHAUSTED,
			  "uid 0 already has 3 connections open (at most 3 per user)");
	close(extra);
	assert_int_equal(harness_connections(h), 3);
	raw_expect_echo(fds[2], 1);
	close(fds[0]);
	assert_int_equal(harness_wait_connections(h, 2), 2);
	extra = raw_connect(h);
	raw_expect_echo(extra, 1);
	close(extra);
	close(fds[1]);
	close(fds[2]);
	harness_on_loop(h, limit_default, h->server);
}

static void test_truncated_header_then_eof(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);

	assert_int_equal(send(fd, "\0\0\0\5\0", 5, MSG_NOSIGNAL), 5);
	assert_int_equal(harness_wait_connections(h, 1), 1);
	close(fd);
	assert_int_equal(harness_wait_connections(h, 0), 0);
	/* A header announcing a payload that never comes. */
	fd = raw_connect(h);
	raw_send_frame(fd, 100, 1, RPC_FRAME_REQUEST, 0, "abc", 3);
	close(fd);
	assert_int_equal(harness_wait_connections(h, 0), 0);
	harness_check_serving(h);
}

static void test_garbage(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);
	struct rpc_frame f;

	/* An HTTP request read as a header claims ~1.2 GB: discarded until the client leaves. */
	const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(send(fd, http, strlen(http), MSG_NOSIGNAL), (ssize_t)strlen(http));
	shutdown(fd, SHUT_WR);
	/* The server closes without a word (the discard never completes). */
	assert_int_equal(raw_read_frame(fd, &f), 0);
	close(fd);
	/* Unknown frame types and a Response from the client are skipped, as Go does. */
	fd = raw_connect(h);
	raw_send_frame(fd, 3, 1, 0x07, 0xff, "xyz", 3);
	raw_send_frame(fd, 0, 1, 0x00, 0, NULL, 0);
	raw_send_frame(fd, 2, 1, RPC_FRAME_RESPONSE, 0, "\x0a\x00", 2);
	raw_expect_echo(fd, 1);
	close(fd);
	harness_check_serving(h);
}

static void test_even_stream_id(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);

	raw_send_request(fd, 2, 0, TEST_SERVICE, "Echo", "x", 1, 0);
	raw_expect_status(fd, 2, RPC_INVALID_ARGUMENT,
			  "StreamID must be odd for client initiated streams");
	/* Checked before anything else, Data frames included. */
	raw_send_frame(fd, 1, 4, RPC_FRAME_DATA, 0, "x", 1);
	raw_expect_status(fd, 4, RPC_INVALID_ARGUMENT,
			  "StreamID must be odd for client initiated streams");
	raw_send_request(fd, 0, 0, TEST_SERVICE, "Echo", "x", 1, 0);
	raw_expect_status(fd, 0, RPC_INVALID_ARGUMENT,
			  "StreamID must be odd for client initiated streams");
	raw_expect_echo(fd, 1);
	close(fd);
	harness_check_serving(h);
}

static void test_reused_stream_id(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);

	raw_expect_echo(fd, 5);
	raw_send_request(fd, 5, 0, TEST_SERVICE, "Echo", "x", 1, 0);
	raw_expect_status(fd, 5, RPC_INVALID_ARGUMENT,
			  "StreamID cannot be re-used and must increment");
	raw_send_request(fd, 3, 0, TEST_SERVICE, "Echo", "x", 1, 0);
	raw_expect_status(fd, 3, RPC_INVALID_ARGUMENT,
			  "StreamID cannot be re-used and must increment");
	/* A refused id does not move the high-water mark: 7 is still fine, and ids may skip. */
	raw_expect_echo(fd, 7);
	raw_expect_echo(fd, 0xfffffff1u);
	close(fd);
	harness_check_serving(h);
}

static void test_data_on_unknown_stream(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);

	raw_send_frame(fd, 1, 7, RPC_FRAME_DATA, 0, "x", 1);
	raw_expect_status(fd, 7, RPC_INVALID_ARGUMENT, "StreamID is no longer active");
	raw_send_frame(fd, 0, 9, RPC_FRAME_DATA, RPC_FLAG_REMOTE_CLOSED | RPC_FLAG_NO_DATA, NULL,
		       0);
	raw_expect_status(fd, 9, RPC_INVALID_ARGUMENT, "StreamID is no longer active");
	/* A finished stream is unknown too. */
	raw_expect_echo(fd, 11);
	raw_send_frame(fd, 1, 11, RPC_FRAME_DATA, 0, "x", 1);
	raw_expect_status(fd, 11, RPC_INVALID_ARGUMENT, "StreamID is no longer active");
	close(fd);
	harness_check_serving(h);
}

static void test_unknown_service_method(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);

	raw_send_request(fd, 1, 0, "no.such.Service", "Echo", NULL, 0, 0);
	raw_expect_status(fd, 1, RPC_UNIMPLEMENTED, "service no.such.Service");
	raw_send_request(fd, 3, 0, TEST_SERVICE, "NoSuchMethod", NULL, 0, 0);
	raw_expect_status(fd, 3, RPC_UNIMPLEMENTED, "method NoSuchMethod");
	/* Same for a stream request. */
	raw_send_request(fd, 5, RPC_FLAG_REMOTE_CLOSED, "", "", NULL, 0, 0);
	raw_expect_status(fd, 5, RPC_UNIMPLEMENTED, "service ");
	raw_expect_echo(fd, 7);
	close(fd);
	harness_check_serving(h);
}

static void expect_unmarshal_error(int fd, uint32_t id, const void *payload, size_t len)
{
	struct rpc_frame f;
	Ttrpc__Response *resp;

	raw_send_frame(fd, (uint32_t)len, id, RPC_FRAME_REQUEST, 0, payload, len);
	assert_int_equal(raw_read_frame(fd, &f), 1);
	assert_int_equal(f.header.stream_id, id);
	resp = ttrpc__response__unpack(NULL, f.header.length, f.payload);
	assert_non_null(resp);
	assert_int_equal(resp->status->code, RPC_INVALID_ARGUMENT);
	assert_true(strncmp(resp->status->message, "unmarshal request error: ", 25) == 0);
	ttrpc__response__free_unpacked(resp, NULL);
	free(f.payload);
}

static void test_undecodable_request(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);

	expect_unmarshal_error(fd, 1, "\xff\xff\xff", 3);
	expect_unmarshal_error(fd, 3,
			       "\x0a\x7f"
			       "abc",
			       5);
	/* "test.v1.Test\0x" must not reach the Test service. */
	expect_unmarshal_error(fd, 5,
			       "\x0a\x0e" TEST_SERVICE "\0x"
			       "\x12\x04"
			       "Echo",
			       22);
	expect_unmarshal_error(fd, 7, "\x12\x02\xc3\x28", 4);
	/* A refused Request does not use up its id (Go checks ids after decoding). */
	raw_expect_echo(fd, 7);
	close(fd);
	harness_check_serving(h);
}

static void test_vanish_mid_stream(void **state)
{
	struct harness *h = *state;
	int before = atomic_load(&h->cancels);
	int fd = raw_connect(h);

	raw_send_request(fd, 1, RPC_FLAG_REMOTE_CLOSED, TEST_SERVICE, "Slow", NULL, 0, 0);
	/* Half a frame, then gone. */
	assert_int_equal(send(fd, "\0\0", 2, MSG_NOSIGNAL), 2);
	close(fd);
	assert_int_equal(harness_wait_counter(&h->cancels, before + 1), before + 1);
	assert_int_equal(harness_wait_connections(h, 0), 0);
	harness_check_serving(h);
}

/* timeout_nano extremes: INT64_MAX is merely far away, a negative one has already passed (Go's
 * context.WithTimeout with a negative duration). */
static void test_timeout_extremes(void **state)
{
	struct harness *h = *state;
	int before = atomic_load(&h->cancels);
	int fd = raw_connect(h);

	raw_send_request(fd, 1, 0, TEST_SERVICE, "Echo", "e", 1, INT64_MAX);
	raw_expect_status(fd, 1, RPC_OK, "");
	raw_send_request(fd, 3, 0, TEST_SERVICE, "Slow", NULL, 0, -1);
	raw_expect_status(fd, 3, RPC_DEADLINE_EXCEEDED, "context deadline exceeded");
	raw_send_request(fd, 5, 0, TEST_SERVICE, "Slow", NULL, 0, INT64_MIN);
	raw_expect_status(fd, 5, RPC_DEADLINE_EXCEEDED, "context deadline exceeded");
	assert_int_equal(harness_wait_counter(&h->cancels, before + 2), before + 2);
	close(fd);
	harness_check_serving(h);
}

/* A client that sends requests and never reads the answers: the server stops reading it once
 * its output is full instead of buffering without bound. */
static void test_client_never_reads(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);
	size_t payload_len = 512 << 10, sent = 0;
	uint8_t *payload = calloc(1, payload_len);
	uint8_t *req = NULL;
	size_t req_len = 0;
	int stalls = 0;

	assert_non_null(payload);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	/* Stop when the server has not taken a byte for 300 ms, or at 256 MiB. */
	for (uint32_t id = 1; sent < (256u << 20) && stalls < 3; id += 2) {
		assert_int_equal(rpc_message_request_encode(TEST_SERVICE, "Echo", payload,
							    payload_len, 0, NULL, 0, &req,
							    &req_len),
				 0);
		uint8_t *frame = NULL;
		size_t frame_len = 0, off = 0;
		assert_int_equal(
		    rpc_frame_build(id, RPC_FRAME_REQUEST, 0, req, req_len, &frame, &frame_len), 0);
		free(req);
		while (off < frame_len && stalls < 3) {
			ssize_t n = send(fd, frame + off, frame_len - off, MSG_NOSIGNAL);
			if (n > 0) {
				off += (size_t)n;
				sent += (size_t)n;
				stalls = 0;
				continue;
			}
			assert_int_equal(errno, EAGAIN);
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			if (poll(&p, 1, 100) == 0)
				stalls++;
		}
		free(frame);
	}
	free(payload);
	/* Socket buffers, 256 KiB unparsed input, one frame in the reader, ~1 MiB of output:
	 * well under 32 MiB. Without the pause it would swallow all 256 MiB. */
	assert_true(stalls >= 3);
	assert_true(sent < (32u << 20));
	harness_check_serving(h);
	close(fd);
	assert_int_equal(harness_wait_connections(h, 0), 0);
}

/* A stream handler that outruns a client that never reads gets -ENOBUFS and the connection is
 * dropped. */
static void test_stream_flood(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);

	raw_send_request(fd, 1, RPC_FLAG_REMOTE_CLOSED, TEST_SERVICE, "Flood", NULL, 0, 0);
	assert_int_equal(harness_wait_counter(&h->flood_done, 1), 1);
	assert_int_equal(atomic_load(&h->flood_result), -ENOBUFS);
	assert_int_equal(harness_wait_connections(h, 0), 0);
	close(fd);
	harness_check_serving(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oversized_frame),
	    cmocka_unit_test(test_partial_frames_budget),
	    cmocka_unit_test(test_conns_per_uid),
	    cmocka_unit_test(test_truncated_header_then_eof),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_even_stream_id),
	    cmocka_unit_test(test_reused_stream_id),
	    cmocka_unit_test(test_data_on_unknown_stream),
	    cmocka_unit_test(test_unknown_service_method),
	    cmocka_unit_test(test_undecodable_request),
	    cmocka_unit_test(test_vanish_mid_stream),
	    cmocka_unit_test(test_timeout_extremes),
	    cmocka_unit_test(test_client_never_reads),
	    cmocka_unit_test(test_stream_flood),
	};

	return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
