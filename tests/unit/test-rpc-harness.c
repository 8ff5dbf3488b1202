#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "common/util.h"
#include "rpc/message.h"
#include "tests/unit/test-rpc-harness.h"

/* ---- handlers (run on the loop thread) ---- */

static void h_echo(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	assert_int_equal(rpc_call_reply(call, p, len), 0);
}

static void h_fail(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	assert_int_equal(rpc_call_fail(call, RPC_NOT_FOUND, "no such thing: %.*s", (int)len, p), 0);
}

static void h_meta(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	char key[64];
	const char *v;

	snprintf(key, sizeof(key), "%.*s", (int)len, p);
	v = rpc_call_metadata(call, key);
	if (v)
		assert_int_equal(rpc_call_reply(call, (const uint8_t *)v, strlen(v)), 0);
	else
		assert_int_equal(rpc_call_fail(call, RPC_NOT_FOUND, "no metadata %s", key), 0);
}

static void on_cancel(struct rpc_call *call, void *ud)
{
	struct harness *h = ud;

	assert_true(rpc_call_is_cancelled(call));
	/* The reply of a cancelled call is dropped, but finishing it must still free it. */
	assert_int_equal(rpc_call_fail(call, RPC_CANCELLED, "cancelled"), 0);
	atomic_fetch_add(&h->cancels, 1);
}

static void h_slow(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	rpc_call_on_cancel(call, on_cancel, ud);
}

struct later {
	struct rpc_call *call;
	struct event *ev;
	uint8_t data[64];
	size_t len;
};

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;

	assert_int_equal(rpc_call_reply(l->call, l->data, l->len), 0);
	event_free(l->ev);
	free(l);
}

/* Finishes after payload[0] milliseconds, from a timer: many calls in flight at once. */
static void h_later(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	struct harness *h = ud;
	struct later *l = calloc(1, sizeof(*l));
	struct timeval tv = {0, (len ? p[0] : 0) * 1000};

	assert_non_null(l);
	assert_true(len <= sizeof(l->data));
	l->call = call;
	memcpy(l->data, p, len);
	l->len = len;
	l->ev = evtimer_new(h->base, later_cb, l);
	assert_non_null(l->ev);
	assert_int_equal(evtimer_add(l->ev, &tv), 0);
}

/* payload = decimal count; sends "msg-0".."msg-(n-1)" then one empty message, then closes. */
static void h_stream(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	char buf[32];
	int n;

	assert_true(rpc_call_is_stream(call));
	snprintf(buf, sizeof(buf), "%.*s", (int)len, p);
	n = atoi(buf);
	for (int i = 0; i < n; i++) {
		int m = snprintf(buf, sizeof(buf), "msg-%d", i);
		assert_int_equal(rpc_call_send(call, (uint8_t *)buf, (size_t)m), 0);
	}
	assert_int_equal(rpc_call_send(call, NULL, 0), 0);
	assert_int_equal(rpc_call_close(call), 0);
}

static void h_stream_fail(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	assert_int_equal(rpc_call_send(call, (const uint8_t *)"one", 3), 0);
	assert_int_equal(rpc_call_fail(call, RPC_ABORTED, "boom"), 0);
}

static void h_peer(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	const struct rpc_peer *peer = rpc_call_peer(call);
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%d %u %u", (int)peer->pid, (unsigned)peer->uid,
			 (unsigned)peer->gid);

	assert_string_equal(rpc_call_service(call), TEST_SERVICE);
	assert_string_equal(rpc_call_method(call), "Peer");
	assert_int_equal(rpc_call_reply(call, (uint8_t *)buf, (size_t)n), 0);
}

static void h_big(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	size_t size = RPC_FRAME_MAX + 1;
	uint8_t *big = calloc(1, size);

	assert_non_null(big);
	assert_int_equal(rpc_call_reply(call, big, size), -EMSGSIZE);
	free(big);
}

/* Sends 64 KiB Data frames until the server refuses to buffer more for a client that reads
 * nothing. */
static void h_flood(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	struct harness *h = ud;
	static uint8_t chunk[64 << 10];
	int r;

	rpc_call_on_cancel(call, on_cancel, h);
	for (int i = 0; i < 10000; i++) {
		r = rpc_call_send(call, chunk, sizeof(chunk));
		if (r < 0)
			break;
	}
	atomic_store(&h->flood_result, r);
	atomic_store(&h->flood_done, 1);
	/* Still ours until finished: the connection is only dropped from the loop later. */
	assert_int_equal(rpc_call_close(call), -ECONNRESET);
}

static int accept_hook(const struct rpc_peer *peer, void *ud)
{
	struct harness *h = ud;

	assert_int_equal(peer->pid, getpid());
	return atomic_load(&h->refuse) ? -EPERM : 0;
}

/* ---- the loop ---- */

static void *loop_main(void *arg)
{
	struct harness *h = arg;

	event_base_loop(h->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

void harness_start(struct harness *h)
{
	static const struct {
		const char *method;
		rpc_handler_fn fn;
	} methods[] = {
	    {"Echo", h_echo},
	    {"Fail", h_fail},
	    {"Meta", h_meta},
	    {"Slow", h_slow},
	    {"Later", h_later},
	    {"Stream", h_stream},
	    {"StreamFail", h_stream_fail},
	    {"Peer", h_peer},
	    {"Big", h_big},
	    {"Flood", h_flood},
	};
	int fd = -1;

	memset(h, 0, sizeof(*h));
	assert_int_equal(evthread_use_pthreads(), 0);
	h->base = event_base_new();
	assert_non_null(h->base);
	assert_int_equal(rpc_server_new(h->base, &h->server), 0);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		assert_int_equal(rpc_server_register(h->server, TEST_SERVICE, methods[i].method,
						     methods[i].fn, h),
				 0);
	assert_int_equal(rpc_server_register(h->server, TEST_SERVICE, "Echo", h_echo, h), -EEXIST);
	rpc_server_set_accept_hook(h->server, accept_hook, h);
	strcpy(h->dir, "/tmp/test-rpc.XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	snprintf(h->path, sizeof(h->path), "%s/rpc.sock", h->dir);
	assert_int_equal(rpc_server_listen_unix(h->server, h->path, &fd), 0);
	assert_true(fd >= 0);
	assert_int_equal(pthread_create(&h->thread, NULL, loop_main, h), 0);
}

static void free_server(void *arg)
{
	struct harness *h = arg;

	rpc_server_free(h->server);
	h->server = NULL;
}

void harness_stop(struct harness *h)
{
	harness_on_loop(h, free_server, h);
	assert_int_equal(event_base_loopbreak(h->base), 0);
	assert_int_equal(pthread_join(h->thread, NULL), 0);
	event_base_free(h->base);
	unlink(h->path);
	assert_int_equal(rmdir(h->dir), 0);
}

struct on_loop {
	void (*fn)(void *arg);
	void *arg;
	sem_t done;
};

static void on_loop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct on_loop *o = arg;

	o->fn(o->arg);
	sem_post(&o->done);
}

void harness_on_loop(struct harness *h, void (*fn)(void *arg), void *arg)
{
	struct on_loop o = {.fn = fn, .arg = arg};
	struct timeval zero = {0, 0};

	sem_init(&o.done, 0, 0);
	assert_int_equal(event_base_once(h->base, -1, EV_TIMEOUT, on_loop_cb, &o, &zero), 0);
	while (sem_wait(&o.done) < 0 && errno == EINTR)
		;
	sem_destroy(&o.done);
}

struct count_arg {
	struct harness *h;
	size_t n;
};

static void count_cb(void *arg)
{
	struct count_arg *c = arg;

	c->n = rpc_server_connection_count(c->h->server);
}

size_t harness_connections(struct harness *h)
{
	struct count_arg c = {.h = h};

	harness_on_loop(h, count_cb, &c);
	return c.n;
}

static void nap(void)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

size_t harness_wait_connections(struct harness *h, size_t n)
{
	size_t now = 0;

	for (int i = 0; i < 1000; i++) {
		now = harness_connections(h);
		if (now == n)
			break;
		nap();
	}
	return now;
}

int harness_wait_counter(atomic_int *counter, int n)
{
	int now = 0;

	for (int i = 0; i < 1000; i++) {
		now = atomic_load(counter);
		if (now >= n)
			break;
		nap();
	}
	return now;
}

struct rpc_client *harness_client(struct harness *h)
{
	struct rpc_client *c = NULL;

	assert_int_equal(rpc_client_connect(h->path, &c), 0);
	return c;
}

void harness_check_serving(struct harness *h)
{
	struct rpc_client *c = harness_client(h);
	struct rpc_status st;
	uint8_t *resp = NULL;
	size_t len = 0;

	assert_int_equal(rpc_client_call(c, TEST_SERVICE, "Echo", (const uint8_t *)"still here", 10,
					 0, &st, &resp, &len),
			 0);
	assert_int_equal(st.code, RPC_OK);
	assert_null(st.message);
	assert_int_equal(len, 10);
	assert_memory_equal(resp, "still here", 10);
	free(resp);
	rpc_client_free(c);
}

/* ---- raw frames ---- */

/* Bytes read but not yet framed, for the one raw connection a test uses at a time. */
static struct {
	struct rpc_frame_reader reader;
	uint8_t buf[65536];
	size_t off, len;
} st;

static void raw_reset(void)
{
	rpc_frame_reader_release(&st.reader);
	st.off = st.len = 0;
}

int raw_connect(struct harness *h)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	raw_reset();
	assert_true(fd >= 0);
	strcpy(addr.sun_path, h->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

void raw_send_frame(int fd, uint32_t length, uint32_t id, uint8_t type, uint8_t flags,
		    const void *payload, size_t payload_len)
{
	struct rpc_frame_header hdr = {
	    .length = length, .stream_id = id, .type = type, .flags = flags};
	uint8_t raw[RPC_FRAME_HEADER_SIZE];

	rpc_frame_header_encode(&hdr, raw);
	assert_int_equal(send(fd, raw, sizeof(raw), MSG_NOSIGNAL), (ssize_t)sizeof(raw));
	if (payload_len)
		assert_int_equal(util_write_full(fd, payload, payload_len), 0);
}

void raw_send_request(int fd, uint32_t id, uint8_t flags, const char *service, const char *method,
		      const void *payload, size_t len, int64_t timeout_ns)
{
	uint8_t *buf = NULL;
	size_t buf_len = 0;

	assert_int_equal(rpc_message_request_encode(service, method, payload, len, timeout_ns, NULL,
						    0, &buf, &buf_len),
			 0);
	raw_send_frame(fd, (uint32_t)buf_len, id, RPC_FRAME_REQUEST, flags, buf, buf_len);
	free(buf);
}

int raw_read_frame(int fd, struct rpc_frame *frame)
{
	for (;;) {
		if (st.off < st.len) {
			size_t used;
			int r = rpc_frame_reader_feed(&st.reader, st.buf + st.off, st.len - st.off,
						      &used, frame);
			st.off += used;
			assert_true(r >= 0);
			if (r == 1)
				return 1;
			continue;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&p, 1, 10000), 1);
		ssize_t n = recv(fd, st.buf, sizeof(st.buf), 0);
		if (n <= 0) {
			raw_reset();
			return 0;
		}
		st.off = 0;
		st.len = (size_t)n;
	}
}

void raw_expect_status(int fd, uint32_t id, int code, const char *message)
{
	struct rpc_frame frame;
	Ttrpc__Response *resp;

	for (;;) {
		assert_int_equal(raw_read_frame(fd, &frame), 1);
		if (frame.header.type == RPC_FRAME_RESPONSE)
			break;
		free(frame.payload);
	}
	assert_int_equal(frame.header.stream_id, id);
	assert_int_equal(frame.header.flags, 0);
	resp = ttrpc__response__unpack(NULL, frame.header.length, frame.payload);
	assert_non_null(resp);
	assert_non_null(resp->status);
	if (resp->status->code != code)
		fail_msg("stream %u: expected %s, got %s \"%s\"", id, rpc_code_name(code),
			 rpc_code_name(resp->status->code), resp->status->message);
	if (message)
		assert_string_equal(resp->status->message, message);
	ttrpc__response__free_unpacked(resp, NULL);
	free(frame.payload);
}

int harness_group_setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));

	if (!h)
		return -1;
	harness_start(h);
	*state = h;
	return 0;
}

int harness_group_teardown(void **state)
{
	struct harness *h = *state;

	assert_int_equal(harness_wait_connections(h, 0), 0);
	harness_stop(h);
	free(h);
	return 0;
}
