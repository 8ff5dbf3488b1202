/* Structures shared by the server's connection code (server.c) and call code (call.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/frame.h"
#include "rpc/message.h"
#include "rpc/rpc.h"

/* A connection stops reading requests while its output holds more than this (the client is not
 * reading its answers) or while this many calls are in flight, and resumes below the low mark. */
#define RPC_CONN_OUTPUT_PAUSE  (1u << 20)
#define RPC_CONN_OUTPUT_RESUME (256u << 10)
#define RPC_CONN_CALLS_MAX     1024u
/* Past this much unsent output (a stream handler outrunning a client that never reads) the
 * connection is dropped. */
#define RPC_CONN_OUTPUT_MAX (16u << 20)
/* What the partial frames of all connections may hold at once (rpc/frame.h). */
#define RPC_SERVER_PARTIAL_FRAMES_MAX (64u << 20)

struct event;
struct bufferevent;
struct evconnlistener;

struct rpc_method_entry {
	char *service;
	char *method;
	rpc_handler_fn handler;
	void *userdata;
};

struct rpc_server {
	struct event_base *base;
	struct rpc_method_entry *methods;
	size_t n_methods;
	rpc_accept_fn accept_fn;
	void *accept_userdata;
	struct evconnlistener **listeners;
	size_t n_listeners;
	struct event *listen_retry;
	int reserve_fd; /* /dev/null, given up to accept-and-refuse when out of fds; -1 if none */
	struct rpc_conn *conns;
	size_t n_conns;
	struct rpc_frame_budget partial_frames;
	size_t conns_per_uid;
	bool conns_limit_root;
};

struct rpc_conn {
	struct rpc_server *server;
	struct rpc_conn *prev, *next;
	struct bufferevent *bev;
	/* Fired (event_active) to resume reading or to close from outside a callback. */
	struct event *resume;
	struct rpc_frame_reader reader;
	struct rpc_peer peer;
	uint32_t last_stream_id;
	struct rpc_call *calls;
	size_t n_calls;
	bool paused;
	bool dying;
};

struct rpc_call {
	/* NULL once detached: the client vanished, the deadline passed, or the server was freed. */
	struct rpc_conn *conn;
	struct rpc_call *prev, *next;
	uint32_t stream_id;
	bool stream;
	bool cancelled;
	struct rpc_peer peer;
	char *service;
	char *method;
	char **metadata; /* key, value, key, value... */
	size_t n_metadata;
	struct event *deadline;
	void (*cancel_fn)(struct rpc_call *call, void *userdata);
	void *cancel_userdata;
};

/* Queue one frame on the connection. -ENOBUFS (and the connection is dropped soon after) when
 * the client has let more than RPC_CONN_OUTPUT_MAX pile up. */
int rpc_conn_send(struct rpc_conn *conn, uint32_t stream_id, uint8_t type, uint8_t flags,
		  const uint8_t *payload, size_t len);
/* Response{status} on a stream that has no call (protocol errors). */
int rpc_conn_send_status(struct rpc_conn *conn, uint32_t stream_id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Ask the loop to look at the connection again (resume reading, or close it if dying). */
void rpc_conn_kick(struct rpc_conn *conn);

/* Takes ownership of nothing; copies what it keeps from req. Links the call into conn. */
int rpc_call_start(struct rpc_conn *conn, uint32_t stream_id, uint8_t flags,
		   const Ttrpc__Request *req, struct rpc_call **out);
struct rpc_call *rpc_call_find(struct rpc_conn *conn, uint32_t stream_id);
/* Detach every call of a closing connection and run their cancel callbacks. */
void rpc_call_cancel_all(struct rpc_conn *conn);
