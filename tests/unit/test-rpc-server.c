/* The server and client together over real unix sockets with a real libevent loop in a thread:
 * unary calls, errors, metadata, peers, async handlers, streams, deadlines, many clients. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/test-rpc-harness.h"

static void test_unary_ok(void **state)
{
	struct harness *h = *state;
	struct rpc_client *c = harness_client(h);
	struct rpc_status st;
	uint8_t *resp = NULL;
	size_t len = 0;

	for (int i = 0; i < 3; i++) {
		assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Echo", (const uint8_t *)"hello",
						 5, 0, &st, &resp, &len),
				 0);
		assert_int_equal(st.code, RPC_OK);
		assert_int_equal(len, 5);
		assert_memory_equal(resp, "hello", 5);
		free(resp);
	}
	/* An empty payload comes back as no payload. */
	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Echo", NULL, 0, 0, &st, &resp, &len), 0);
	assert_int_equal(st.code, RPC_OK);
	assert_null(resp);
	assert_int_equal(len, 0);
	rpc_client_free(c);
}

static void test_unary_large(void **state)
{
	struct harness *h = *state;
	struct rpc_client *c = harness_client(h);
	size_t size = RPC_FRAME_MAX - 64;
	uint8_t *big = malloc(size);
	struct rpc_status st;
	uint8_t *resp = NULL;
	size_t len = 0;

	assert_non_null(big);
	for (size_t i = 0; i < size; i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Echo", big, size, 0, &st, &resp, &len),
			 0);
	assert_int_equal(st.code, RPC_OK);
	assert_int_equal(len, size);
	assert_memory_equal(resp, big, size);
	free(resp);
	/* Over the frame limit, the client refuses locally as Go's does. */
	free(big);
	big = calloc(1, RPC_FRAME_MAX + 1);
	assert_non_null(big);
	assert_int_equal(
	    rpc_client_call(c, TEST_SERVICE, "Echo", big, RPC_FRAME_MAX + 1, 0, &st, &resp, &len),
	    -EMSGSIZE);
	free(big);
	/* A reply too large for a frame becomes RESOURCE_EXHAUSTED. */
	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Big", NULL, 0, 0, &st, &resp, &len), 0);
	assert_int_equal(st.code, RPC_RESOURCE_EXHAUSTED);
	assert_string_equal(st.message, "message length 4194305 exceed maximum message size of "
					"4194304");
	rpc_status_clear(&st);
	rpc_client_free(c);
}

static void test_error_status(void **state)
{
	struct harness *h = *state;
	struct rpc_client *c = harness_client(h);
	struct rpc_status st;
	uint8_t *resp = (uint8_t *)"not touched";
	size_t len = 0;

	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Fail", (const uint8_t *)"x42", 3, 0, &st,
					 &resp, &len),
			 0);
	assert_int_equal(st.code, RPC_NOT_FOUND);
	assert_string_equal(st.message, "no such thing: x42");
	assert_null(resp);
	rpc_status_clear(&st);
	assert_null(st.message);
	/* Unknown service and method: Go's UNIMPLEMENTED messages. */
	assert_int_equal(rpc_client_call(c, "nope.v1.X", "Echo", NULL, 0, 0, &st, NULL, NULL), 0);
	assert_int_equal(st.code, RPC_UNIMPLEMENTED);
	assert_string_equal(st.message, "service nope.v1.X");
	rpc_status_clear(&st);
	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Nope", NULL, 0, 0, &st, NULL, NULL), 0);
	assert_int_equal(st.code, RPC_UNIMPLEMENTED);
	assert_string_equal(st.message, "method Nope");
	rpc_status_clear(&st);
	rpc_client_free(c);
}

static void test_metadata(void **state)
{
	struct harness *h = *state;
	struct rpc_client *c = harness_client(h);
	const char *md[] = {"X-Trace-Id", "abc123", "other", "1", "x-trace-id", "second"};
	struct rpc_status st;
	uint8_t *resp = NULL;
	size_t len = 0;

	assert_int_equal(rpc_client_set_metadata(c, md, 3), 0);
	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Meta", (const uint8_t *)"x-trace-id", 10,
					 0, &st, &resp, &len),
			 0);
	assert_int_equal(st.code, RPC_OK);
	assert_int_equal(len, 6);
	assert_memory_equal(resp, "abc123", 6);
	free(resp);
	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Meta", (const uint8_t *)"missing", 7, 0,
					 &st, &resp, &len),
			 0);
	assert_int_equal(st.code, RPC_NOT_FOUND);
	assert_string_equal(st.message, "no metadata missing");
	rpc_status_clear(&st);
	rpc_client_free(c);
}

static void test_peer(void **state)
{
	struct harness *h = *state;
	struct rpc_client *c = harness_client(h);
	struct rpc_status st;
	uint8_t *resp = NULL;
	size_t len = 0;
	char want[64];

	snprintf(want, sizeof(want), "%d %u %u", (int)getpid(), (unsigned)getuid(),
		 (unsigned)getgid());
	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Peer", NULL, 0, 0, &st, &resp, &len), 0);
	assert_int_equal(st.code, RPC_OK);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(resp, want, len);
	free(resp);
	rpc_client_free(c);
}

static void test_accept_hook_refuses(void **state)
{
	struct harness *h = *state;
	struct rpc_client *c;
	struct rpc_status st;
	int r;

	atomic_store(&h->refuse, 1);
	c = harness_client(h);
	r = rpc_client_call(c, TEST_SERVICE, "Echo", (const uint8_t *)"x", 1, 0, &st, NULL, NULL);
	assert_true(r == -ECONNRESET || r == -EPIPE);
	rpc_client_free(c);
	atomic_store(&h->refuse, 0);
	harness_check_serving(h);
}

struct pair_arg {
	struct harness *h;
	int fd;
	int r;
};

static void add_pair(void *arg)
{
	struct pair_arg *p = arg;

	p->r = rpc_server_add_connection(p->h->server, p->fd);
}

static void test_socketpair(void **state)
{
	struct harness *h = *state;
	struct rpc_client *c = NULL;
	struct rpc_status st;
	int sv[2];
	uint8_t *resp = NULL;
	size_t len = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct pair_arg p = {.h = h, .fd = sv[0]};
	harness_on_loop(h, add_pair, &p);
	assert_int_equal(p.r, 0);
	assert_int_equal(rpc_client_new_fd(sv[1], &c), 0);
	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Echo", (const uint8_t *)"pair", 4, 0,
					 &st, &resp, &len),
			 0);
	assert_int_equal(st.code, RPC_OK);
	assert_memory_equal(resp, "pair", 4);
	free(resp);
	rpc_client_free(c);
}

/* Calls finish out of order from timers; each answer lands on its own stream. */
static void test_many_in_flight(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);
	const uint8_t delays[] = {40, 1, 20, 5, 30};
	int seen[5] = {0};

	for (int i = 0; i < 5; i++)
		raw_send_request(fd, 2 * i + 1, 0, TEST_SERVICE, "Later", &delays[i], 1, 0);
	for (int i = 0; i < 5; i++) {
		struct rpc_frame f;
		Ttrpc__Response *resp;

		assert_int_equal(raw_read_frame(fd, &f), 1);
		assert_int_equal(f.header.type, RPC_FRAME_RESPONSE);
		assert_int_equal(f.header.stream_id % 2, 1);
		int idx = (int)(f.header.stream_id - 1) / 2;
		assert_true(idx >= 0 && idx < 5);
		resp = ttrpc__response__unpack(NULL, f.header.length, f.payload);
		assert_non_null(resp);
		assert_int_equal(resp->status->code, RPC_OK);
		assert_int_equal(resp->payload.len, 1);
		assert_int_equal(resp->payload.data[0], delays[idx]);
		ttrpc__response__free_unpacked(resp, NULL);
		free(f.payload);
		seen[idx]++;
	}
	for (int i = 0; i < 5; i++)
		assert_int_equal(seen[i], 1);
	close(fd);
}

static void test_stream(void **state)
{
	struct harness *h = *state;
	struct rpc_client *c = harness_client(h);
	struct rpc_status st;
	uint8_t *msg;
	size_t len;
	char want[16];

	assert_int_equal(
	    rpc_client_stream_open(c, TEST_SERVICE, "Stream", (const uint8_t *)"3", 1, 0), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rpc_client_stream_recv(c, &st, &msg, &len), 1);
		snprintf(want, sizeof(want), "msg-%d", i);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(msg, want, len);
		free(msg);
	}
	/* A zero-length Data without no-data is an empty message, not the end. */
	assert_int_equal(rpc_client_stream_recv(c, &st, &msg, &len), 1);
	assert_int_equal(len, 0);
	free(msg);
	assert_int_equal(rpc_client_stream_recv(c, &st, &msg, &len), 0);
	assert_int_equal(st.code, RPC_OK);
	assert_null(msg);
	/* After the end, more recv calls stay at the end. */
	assert_int_equal(rpc_client_stream_recv(c, &st, &msg, &len), 0);

	/* A failing stream: one message, then the status as a Response. */
	assert_int_equal(rpc_client_stream_open(c, TEST_SERVICE, "StreamFail", NULL, 0, 0), 0);
	assert_int_equal(rpc_client_stream_recv(c, &st, &msg, &len), 1);
	assert_memory_equal(msg, "one", 3);
	free(msg);
	assert_int_equal(rpc_client_stream_recv(c, &st, &msg, &len), 0);
	assert_int_equal(st.code, RPC_ABORTED);
	assert_string_equal(st.message, "boom");
	rpc_status_clear(&st);
	/* A unary call on the same connection afterwards. */
	assert_int_equal(
	    rpc_client_call(c, TEST_SERVICE, "Echo", (const uint8_t *)"z", 1, 0, &st, &msg, &len),
	    0);
	assert_int_equal(st.code, RPC_OK);
	free(msg);
	rpc_client_free(c);
}

/* The frames of a server stream, byte for byte as Go's server sends them. */
static void test_stream_wire(void **state)
{
	struct harness *h = *state;
	int fd = raw_connect(h);
	struct rpc_frame f;

	raw_send_request(fd, 1, RPC_FLAG_REMOTE_CLOSED, TEST_SERVICE, "Stream", "1", 1, 0);
	assert_int_equal(raw_read_frame(fd, &f), 1);
	assert_int_equal(f.header.type, RPC_FRAME_DATA);
	assert_int_equal(f.header.flags, 0);
	assert_int_equal(f.header.stream_id, 1);
	assert_int_equal(f.header.length, 5);
	assert_memory_equal(f.payload, "msg-0", 5);
	free(f.payload);
	assert_int_equal(raw_read_frame(fd, &f), 1);
	assert_int_equal(f.header.type, RPC_FRAME_DATA);
	assert_int_equal(f.header.flags, 0);
	assert_int_equal(f.header.length, 0);
	assert_int_equal(raw_read_frame(fd, &f), 1);
	assert_int_equal(f.header.type, RPC_FRAME_DATA);
	assert_int_equal(f.header.flags, RPC_FLAG_REMOTE_CLOSED | RPC_FLAG_NO_DATA);
	assert_int_equal(f.header.length, 0);
	close(fd);
}

static void test_deadline(void **state)
{
	struct harness *h = *state;
	struct rpc_client *c = harness_client(h);
	struct rpc_status st;
	int before = atomic_load(&h->cancels);

	assert_int_equal(
	    rpc_client_call(c, TEST_SERVICE, "Slow", NULL, 0, 50 * 1000 * 1000, &st, NULL, NULL),
	    0);
	assert_int_equal(st.code, RPC_DEADLINE_EXCEEDED);
	assert_string_equal(st.message, "context deadline exceeded");
	rpc_status_clear(&st);
	assert_int_equal(harness_wait_counter(&h->cancels, before + 1), before + 1);
	/* The same connection keeps working, and a deadline that does not pass changes nothing. */
	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Echo", (const uint8_t *)"a", 1,
					 10LL * 1000 * 1000 * 1000, &st, NULL, NULL),
			 0);
	assert_int_equal(st.code, RPC_OK);
	/* A stream's deadline too. */
	uint8_t *msg;
	size_t len;
	assert_int_equal(rpc_client_stream_open(c, TEST_SERVICE, "Slow", NULL, 0, 20 * 1000 * 1000),
			 0);
	assert_int_equal(rpc_client_stream_recv(c, &st, &msg, &len), 0);
	assert_int_equal(st.code, RPC_DEADLINE_EXCEEDED);
	rpc_status_clear(&st);
	assert_int_equal(harness_wait_counter(&h->cancels, before + 2), before + 2);
	rpc_client_free(c);
}

static void test_client_vanishes(void **state)
{
	struct harness *h = *state;
	int before = atomic_load(&h->cancels);
	int fd = raw_connect(h);
	uint8_t one = 1;

	/* One call parked forever, one finishing in 1 ms; the client leaves before either answer
	 * is read. */
	raw_send_request(fd, 1, 0, TEST_SERVICE, "Slow", NULL, 0, 0);
	raw_send_request(fd, 3, 0, TEST_SERVICE, "Later", &one, 1, 0);
	assert_int_equal(harness_wait_connections(h, 1), 1);
	close(fd);
	assert_int_equal(harness_wait_counter(&h->cancels, before + 1), before + 1);
	assert_int_equal(harness_wait_connections(h, 0), 0);
	harness_check_serving(h);
}

#define N_CLIENTS 100

static void test_many_connections(void **state)
{
	struct harness *h = *state;
	struct rpc_client *c[N_CLIENTS];
	struct rpc_status st;

	for (int i = 0; i < N_CLIENTS; i++)
		c[i] = harness_client(h);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N_CLIENTS; i++) {
			char buf[16];
			int n = snprintf(buf, sizeof(buf), "c%d", i);
			uint8_t *resp = NULL;
			size_t len = 0;

			assert_int_equal(rpc_client_call(c[i], TEST_SERVICE, "Echo", (uint8_t *)buf,
							 (size_t)n, 0, &st, &resp, &len),
					 0);
			assert_int_equal(st.code, RPC_OK);
			assert_memory_equal(resp, buf, (size_t)n);
			free(resp);
		}
	}
	assert_int_equal(harness_connections(h), N_CLIENTS);
	for (int i = 0; i < N_CLIENTS; i++)
		rpc_client_free(c[i]);
	assert_int_equal(harness_wait_connections(h, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unary_ok),
	    cmocka_unit_test(test_unary_large),
	    cmocka_unit_test(test_error_status),
	    cmocka_unit_test(test_metadata),
	    cmocka_unit_test(test_peer),
	    cmocka_unit_test(test_accept_hook_refuses),
	    cmocka_unit_test(test_socketpair),
	    cmocka_unit_test(test_many_in_flight),
	    cmocka_unit_test(test_stream),
	    cmocka_unit_test(test_stream_wire),
	    cmocka_unit_test(test_deadline),
	    cmocka_unit_test(test_client_vanishes),
	    cmocka_unit_test(test_many_connections),
	};

	return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
