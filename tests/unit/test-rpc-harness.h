/* Shared by the rpc tests: a real libevent loop in a thread serving a real unix socket in a
 * temporary directory, test handlers, and a raw-frame client for hostile input. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/frame.h"
#include "rpc/message.h"
#include "rpc/rpc.h"

#define TEST_SERVICE "test.v1.Test"

struct harness {
	struct event_base *base;
	struct rpc_server *server;
	char dir[64];
	char path[128];
	pthread_t thread;
	atomic_int cancels;	 /* cancel callbacks run */
	atomic_int refuse;	 /* the accept hook refuses while set */
	atomic_int flood_result; /* last rpc_call_send result of the Flood handler */
	atomic_int flood_done;
};

/* Starts everything; registers Echo, Fail, Meta, Slow, Later, Stream, StreamFail, Peer, Big,
 * Flood under TEST_SERVICE. */
void harness_start(struct harness *h);
void harness_stop(struct harness *h);
/* cmocka group setup and teardown: a started harness in *state; at the end, no connection
 * may be left open. */
int harness_group_setup(void **state);
int harness_group_teardown(void **state);
/* Run fn(arg) on the loop thread and wait for it. */
void harness_on_loop(struct harness *h, void (*fn)(void *arg), void *arg);
size_t harness_connections(struct harness *h);
/* Wait (bounded, 10 s) until the connection count is n; returns the last count seen. */
size_t harness_wait_connections(struct harness *h, size_t n);
/* Wait (bounded) until *counter >= n; returns its last value. */
int harness_wait_counter(atomic_int *counter, int n);

/* A fresh client connection; asserts success. */
struct rpc_client *harness_client(struct harness *h);
/* One Echo call on a fresh client; asserts it answers OK with the same bytes. */
void harness_check_serving(struct harness *h);

/* Raw protocol helpers. */
int raw_connect(struct harness *h);
void raw_send_frame(int fd, uint32_t length, uint32_t id, uint8_t type, uint8_t flags,
		    const void *payload, size_t payload_len);
void raw_send_request(int fd, uint32_t id, uint8_t flags, const char *service, const char *method,
		      const void *payload, size_t len, int64_t timeout_ns);
/* Read frames until a Response; asserts its stream id, code and (if non-NULL) message. */
void raw_expect_status(int fd, uint32_t id, int code, const char *message);
/* Read one frame (bounded wait); returns 1, or 0 at EOF. */
int raw_read_frame(int fd, struct rpc_frame *frame);
