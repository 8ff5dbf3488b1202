#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/util.h"
#include "rpc/internal.h"

static void call_unlink(struct rpc_call *call)
{
	struct rpc_conn *conn = call->conn;

	if (!conn)
		return;
	if (call->prev)
		call->prev->next = call->next;
	else
		conn->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
	call->conn = NULL;
	conn->n_calls--;
	/* A connection paused at RPC_CONN_CALLS_MAX may read again. */
	if (conn->paused)
		rpc_conn_kick(conn);
}

static void call_free(struct rpc_call *call)
{
	call_unlink(call);
	if (call->deadline)
		event_free(call->deadline);
	for (size_t i = 0; i < 2 * call->n_metadata; i++)
		free(call->metadata[i]);
	free(call->metadata);
	free(call->service);
	free(call->method);
	free(call);
}

/* The call is over on the wire (client gone or deadline): detach it and tell the handler once. */
static void call_cancel(struct rpc_call *call)
{
	void (*fn)(struct rpc_call *, void *) = call->cancel_fn;

	call_unlink(call);
	if (call->deadline)
		event_del(call->deadline);
	call->cancelled = true;
	call->cancel_fn = NULL;
	/* Last: fn may finish (and free) the call. */
	if (fn)
		fn(call, call->cancel_userdata);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_call *call = arg;

	/* Go's server answers a handler that returns ctx.Err() with exactly this. */
	if (call->conn && rpc_conn_send_status(call->conn, call->stream_id, RPC_DEADLINE_EXCEEDED,
					       "context deadline exceeded") < 0)
		log_debug("rpc: stream %u: deadline status not sent", call->stream_id);
	call_cancel(call);
}

static int copy_metadata(struct rpc_call *call, const Ttrpc__Request *req)
{
	if (req->n_metadata == 0)
		return 0;
	call->metadata = calloc(2 * req->n_metadata, sizeof(char *));
	if (!call->metadata)
		return -ENOMEM;
	call->n_metadata = req->n_metadata;
	for (size_t i = 0; i < req->n_metadata; i++) {
		const Ttrpc__KeyValue *kv = req->metadata[i];
		char *key = strdup(kv->key ? kv->key : "");
		char *value = strdup(kv->value ? kv->value : "");

		call->metadata[2 * i] = key;
		call->metadata[2 * i + 1] = value;
		if (!key || !value)
			return -ENOMEM;
		/* Go lowercases keys (metadata.go); lookups here ignore case as Go's MD.Get does.
		 */
		for (char *p = key; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	return 0;
}

int rpc_call_start(struct rpc_conn *conn, uint32_t stream_id, uint8_t flags,
		   const Ttrpc__Request *req, struct rpc_call **out)
{
	struct rpc_call *call = calloc(1, sizeof(*call));
	int r;

	if (!call)
		return -ENOMEM;
	call->stream_id = stream_id;
	call->stream = flags & (RPC_FLAG_REMOTE_CLOSED | RPC_FLAG_REMOTE_OPEN);
	call->peer = conn->peer;
	call->service = strdup(req->service);
	call->method = strdup(req->method);
	if (!call->service || !call->method) {
		r = -ENOMEM;
		goto fail;
	}
	r = copy_metadata(call, req);
	if (r < 0)
		goto fail;
	if (req->timeout_nano != 0) {
		int64_t ns = req->timeout_nano > 0 ? req->timeout_nano : 0;
		struct timeval tv = {.tv_sec = ns / 1000000000, .tv_usec = ns % 1000000000 / 1000};

		call->deadline = evtimer_new(conn->server->base, deadline_cb, call);
		if (!call->deadline || evtimer_add(call->deadline, &tv) < 0) {
			r = -ENOMEM;
			goto fail;
		}
	}
	call->conn = conn;
	call->next = conn->calls;
	if (conn->calls)
		conn->calls->prev = call;
	conn->calls = call;
	conn->n_calls++;
	*out = call;
	return 0;
fail:
	call_free(call);
	return r;
}

struct rpc_call *rpc_call_find(struct rpc_conn *conn, uint32_t stream_id)
{
	for (struct rpc_call *c = conn->calls; c; c = c->next)
		if (c->stream_id == stream_id)
			return c;
	return NULL;
}

void rpc_call_cancel_all(struct rpc_conn *conn)
{
	/* Pop one at a time: a cancel callback may finish other calls of this connection. */
	while (conn->calls)
		call_cancel(conn->calls);
}

const struct rpc_peer *rpc_call_peer(const struct rpc_call *call)
{
	return &call->peer;
}

const char *rpc_call_service(const struct rpc_call *call)
{
	return call->service;
}

const char *rpc_call_method(const struct rpc_call *call)
{
	return call->method;
}

const char *rpc_call_metadata(const struct rpc_call *call, const char *key)
{
	for (size_t i = 0; i < call->n_metadata; i++)
		if (strcasecmp(call->metadata[2 * i], key) == 0)
			return call->metadata[2 * i + 1];
	return NULL;
}

bool rpc_call_is_stream(const struct rpc_call *call)
{
	return call->stream;
}

bool rpc_call_is_cancelled(const struct rpc_call *call)
{
	return call->cancelled;
}

void rpc_call_on_cancel(struct rpc_call *call, void (*fn)(struct rpc_call *call, void *userdata),
			void *userdata)
{
	if (call->cancelled)
		return;
	call->cancel_fn = fn;
	call->cancel_userdata = userdata;
}

static int send_response(struct rpc_call *call, int code, const char *message,
			 const uint8_t *payload, size_t len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t buf_len;
	int r;

	r = rpc_message_response_encode(code, message, payload, len, &buf, &buf_len);
	if (r == -EMSGSIZE) {
		/* Tell the client rather than leave it waiting for an answer that cannot be sent.
		 */
		int r2 = rpc_conn_send_status(
		    call->conn, call->stream_id, RPC_RESOURCE_EXHAUSTED,
		    "message length %zu exceed maximum message size of %u", len, RPC_FRAME_MAX);
		return r2 < 0 ? r2 : r;
	}
	if (r < 0)
		return r;
	return rpc_conn_send(call->conn, call->stream_id, RPC_FRAME_RESPONSE, 0, buf, buf_len);
}

int rpc_call_reply(struct rpc_call *call, const uint8_t *payload, size_t len)
{
	int r = 0;

	if (call->conn) {
		if (call->stream) {
			r = rpc_call_send(call, payload, len);
			if (r >= 0)
				r = rpc_call_close(call);
			else
				call_free(call);
			return r;
		}
		r = send_response(call, RPC_OK, NULL, payload, len);
	}
	call_free(call);
	return r;
}

int rpc_call_fail(struct rpc_call *call, int code, const char *fmt, ...)
{
	_cleanup_free_ char *message = NULL;
	va_list ap;
	int r = 0;

	if (call->conn) {
		va_start(ap, fmt);
		r = vasprintf(&message, fmt, ap);
		va_end(ap);
		if (r < 0) {
			message = NULL;
			r = -ENOMEM;
		} else {
			r = send_response(call, code, message, NULL, 0);
		}
	}
	call_free(call);
	return r;
}

int rpc_call_send(struct rpc_call *call, const uint8_t *payload, size_t len)
{
	if (!call->stream)
		return -EINVAL;
	if (!call->conn)
		return -ECANCELED;
	if (len > RPC_FRAME_MAX)
		return -EMSGSIZE;
	/* A zero-length Data frame without no-data is a valid empty message. */
	return rpc_conn_send(call->conn, call->stream_id, RPC_FRAME_DATA, 0, payload, len);
}

size_t rpc_call_output_pending(const struct rpc_call *call)
{
	if (!call->conn || !call->conn->bev)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(call->conn->bev));
}

int rpc_call_close(struct rpc_call *call)
{
	int r = 0;

	if (!call->stream)
		return rpc_call_fail(call, RPC_INTERNAL, "rpc_call_close on a unary call");
	if (call->conn)
		r = rpc_conn_send(call->conn, call->stream_id, RPC_FRAME_DATA,
				  RPC_FLAG_REMOTE_CLOSED | RPC_FLAG_NO_DATA, NULL, 0);
	call_free(call);
	return r;
}
