/* Unary ttrpc round trips (client -> server on a libevent loop thread -> client, over a unix
 * socket) against a plain unix-socket ping-pong that moves the same bytes, in the same run.
 * Usage: rpc-latency [--calls N] [--results bench/RESULTS.md] */
#include "config.h"

#include "bench/results.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/util.h"
#include "rpc/message.h"
#include "rpc/rpc.h"

#define LABEL	     "| ttrpc unary round trip"
#define PAYLOAD_SIZE 32
#define WARMUP	     1000

static void echo(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	if (rpc_call_reply(call, p, len) < 0)
		fprintf(stderr, "rpc-latency: reply failed\n");
}

static void *loop_main(void *arg)
{
	event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

struct pingpong {
	int fd;
	size_t req_len, resp_len;
};

/* The reference server: read a request's worth of bytes, write a response's worth back. */
static void *pong_main(void *arg)
{
	struct pingpong *pp = arg;
	uint8_t buf[4096];

	for (;;) {
		if (util_read_full(pp->fd, buf, pp->req_len) < 0)
			break;
		if (util_write_full(pp->fd, buf, pp->resp_len) < 0)
			break;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t percentile(uint64_t *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[(size_t)(p * (double)(n - 1))];
}

int main(int argc, char **argv)
{
	const char *results = NULL;
	size_t calls = 10000;
	char dir[] = "/tmp/rpc-latency.XXXXXX", path[64];
	uint8_t payload[PAYLOAD_SIZE];
	struct event_base *base;
	struct rpc_server *server;
	struct rpc_client *client;
	pthread_t loop, pong;
	uint64_t *rpc_ns, *ref_ns;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
			calls = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--results") == 0 && i + 1 < argc)
			results = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--calls N] [--results FILE]\n", argv[0]);
			return 2;
		}
	}
	if (calls < 100)
		calls = 100;
	memset(payload, 0xa5, sizeof(payload));
	rpc_ns = calloc(calls, sizeof(*rpc_ns));
	ref_ns = calloc(calls, sizeof(*ref_ns));
	if (!rpc_ns || !ref_ns || !mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/rpc.sock", dir);

	if (evthread_use_pthreads() < 0 || !(base = event_base_new()))
		return 1;
	r = rpc_server_new(base, &server);
	if (r == 0)
		r = rpc_server_register(server, "bench.v1.Bench", "Echo", echo, NULL);
	if (r == 0)
		r = rpc_server_listen_unix(server, path, NULL);
	if (r == 0)
		r = -pthread_create(&loop, NULL, loop_main, base);
	if (r == 0)
		r = rpc_client_connect(path, &client);
	if (r < 0) {
		fprintf(stderr, "rpc-latency: setup: %s\n", strerror(-r));
		return 1;
	}

	for (size_t i = 0; i < WARMUP + calls; i++) {
		struct rpc_status st;
		uint8_t *resp = NULL;
		size_t len = 0;
		uint64_t t0 = util_now_monotonic_ns();

		r = rpc_client_call(client, "bench.v1.Bench", "Echo", payload, sizeof(payload), 0,
				    &st, &resp, &len);
		uint64_t t1 = util_now_monotonic_ns();
		if (r < 0 || st.code != RPC_OK || len != sizeof(payload)) {
			fprintf(stderr, "rpc-latency: call %zu failed: %d code %d\n", i, r,
				st.code);
			return 1;
		}
		free(resp);
		if (i >= WARMUP)
			rpc_ns[i - WARMUP] = t1 - t0;
	}

	/* The same bytes on the wire: a request frame one way, a response frame back. */
	_cleanup_free_ uint8_t *req = NULL;
	_cleanup_free_ uint8_t *resp_msg = NULL;
	size_t req_len, resp_len;
	if (rpc_message_request_encode("bench.v1.Bench", "Echo", payload, sizeof(payload), 0, NULL,
				       0, &req, &req_len) < 0 ||
	    rpc_message_response_encode(0, NULL, payload, sizeof(payload), &resp_msg, &resp_len) <
		0)
		return 1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	struct pingpong pp = {.fd = sv[1], .req_len = req_len + 10, .resp_len = resp_len + 10};
	if (pthread_create(&pong, NULL, pong_main, &pp) != 0)
		return 1;
	uint8_t buf[4096] = {0};
	for (size_t i = 0; i < WARMUP + calls; i++) {
		uint64_t t0 = util_now_monotonic_ns();

		if (util_write_full(sv[0], buf, pp.req_len) < 0 ||
		    util_read_full(sv[0], buf, pp.resp_len) < 0)
			return 1;
		uint64_t t1 = util_now_monotonic_ns();
		if (i >= WARMUP)
			ref_ns[i - WARMUP] = t1 - t0;
	}
	close(sv[0]);
	pthread_join(pong, NULL);
	close(sv[1]);

	rpc_client_free(client);
	event_base_loopbreak(base);
	pthread_join(loop, NULL);
	rpc_server_free(server);
	event_base_free(base);
	unlink(path);
	rmdir(dir);

	double p50 = percentile(rpc_ns, calls, 0.50) / 1000.0;
	double p99 = percentile(rpc_ns, calls, 0.99) / 1000.0;
	double r50 = percentile(ref_ns, calls, 0.50) / 1000.0;
	double r99 = percentile(ref_ns, calls, 0.99) / 1000.0;
	char row[512];
	snprintf(row, sizeof(row),
		 LABEL " (%zu calls, %d B payload, %zu B request frame) | p50 %.1f µs, p99 %.1f µs"
		       " vs a unix-socket ping-pong of the same bytes (blocking thread, reference,"
		       " same run) p50 %.1f µs, p99 %.1f µs = p50 ×%.2f, p99 ×%.2f"
		       " | `build/<dir>/bench/rpc-latency --results bench/RESULTS.md` |",
		 calls, PAYLOAD_SIZE, req_len + 10, p50, p99, r50, r99, p50 / r50, p99 / r99);
	printf("%s\n", row);
	if (results) {
		r = bench_results_update(results, LABEL, row);
		if (r < 0) {
			fprintf(stderr, "rpc-latency: %s: %s\n", results, strerror(-r));
			return 1;
		}
	}
	free(rpc_ns);
	free(ref_ns);
	return 0;
}
