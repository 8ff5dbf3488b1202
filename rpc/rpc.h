/* ttrpc (containerd's wire protocol) server on libevent and a blocking client.
 *
 * Payloads are opaque protobuf bytes here; callers pack and unpack their own messages.
 * Every function returns 0 or a negative errno unless it says otherwise. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

/* google.rpc.Code values. */
enum rpc_code {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_UNKNOWN = 2,
	RPC_INVALID_ARGUMENT = 3,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_ALREADY_EXISTS = 6,
	RPC_PERMISSION_DENIED = 7,
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_ABORTED = 10,
	RPC_OUT_OF_RANGE = 11,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
	RPC_DATA_LOSS = 15,
	RPC_UNAUTHENTICATED = 16,
};

/* "INVALID_ARGUMENT" etc.; "UNKNOWN" for values outside the table. */
const char *rpc_code_name(int code);

#define RPC_FRAME_MAX (4u << 20)

/* ---- server ---- */

struct rpc_server;
struct rpc_call;

struct rpc_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* A handler owns the call until it finishes it with rpc_call_reply/rpc_call_fail (unary) or
 * rpc_call_close/rpc_call_fail (server stream). It may finish it later, from another libevent
 * callback. payload is valid only during the handler. */
typedef void (*rpc_handler_fn)(struct rpc_call *call, const uint8_t *payload, size_t len,
			       void *userdata);

/* Runs once per accepted connection; a non-zero return closes the connection. Used for
 * SO_PEERCRED checks that must refuse before anything is read. */
typedef int (*rpc_accept_fn)(const struct rpc_peer *peer, void *userdata);

/* Also sets SIGPIPE to SIG_IGN if it is at its default (libevent writes with write(2)). */
int rpc_server_new(struct event_base *base, struct rpc_server **out);
void rpc_server_free(struct rpc_server *server);
/* service is the full name ("enclaved.v1.System"), method the bare name ("Version"). */
int rpc_server_register(struct rpc_server *server, const char *service, const char *method,
			rpc_handler_fn handler, void *userdata);
void rpc_server_set_accept_hook(struct rpc_server *server, rpc_accept_fn fn, void *userdata);
/* Connections one uid may hold at once (default RPC_SERVER_CONNS_PER_UID), root's too unless
 * exempt_root: one user cannot take every fd and lock the others, root included, out. Past it a
 * connection is answered RESOURCE_EXHAUSTED and closed. */
#define RPC_SERVER_CONNS_PER_UID 1024u
void rpc_server_set_conns_per_uid(struct rpc_server *server, size_t limit, bool exempt_root);
/* Serve an already bound and listening unix socket (own or from sd_listen_fds). On success the
 * server owns listen_fd and closes it in rpc_server_free. */
int rpc_server_add_listener(struct rpc_server *server, int listen_fd);
/* Serve one already connected stream socket (a socketpair end, say). Takes the fd in all cases;
 * SO_PEERCRED and the accept hook apply as for accepted connections (-EPERM when refused). */
int rpc_server_add_connection(struct rpc_server *server, int fd);
/* Bind path (unlinking a stale socket first), listen, and serve it. *out_fd (may be NULL) is
 * informational: the server owns and closes that fd. */
int rpc_server_listen_unix(struct rpc_server *server, const char *path, int *out_fd);
/* Connections currently open (for Health and tests). */
size_t rpc_server_connection_count(const struct rpc_server *server);

const struct rpc_peer *rpc_call_peer(const struct rpc_call *call);
/* Full service name and bare method name of the call. */
const char *rpc_call_service(const struct rpc_call *call);
const char *rpc_call_method(const struct rpc_call *call);
/* Value of a request metadata key (case-insensitive, first value), or NULL. */
const char *rpc_call_metadata(const struct rpc_call *call, const char *key);
/* true when the client asked for a stream (Request flags remote-open or remote-closed). */
bool rpc_call_is_stream(const struct rpc_call *call);
/* true once the client went away or the deadline passed; replies are then discarded. */
bool rpc_call_is_cancelled(const struct rpc_call *call);
/* Called once if the client vanishes or timeout_nano passes before the call is finished. The
 * handler must still finish the call (the reply is dropped). */
void rpc_call_on_cancel(struct rpc_call *call, void (*fn)(struct rpc_call *call, void *userdata),
			void *userdata);

/* Unary success: Response{status OK, payload}. Frees the call. On a cancelled call the reply is
 * dropped and 0 returned. A payload too big for a frame answers RESOURCE_EXHAUSTED and returns
 * -EMSGSIZE. On a stream call: one Data frame, then the close. */
int rpc_call_reply(struct rpc_call *call, const uint8_t *payload, size_t len);
/* Error for unary or stream: Response{status code, message}. Frees the call. */
int rpc_call_fail(struct rpc_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Server stream: one Data frame. -ECANCELED once the call is cancelled, -EINVAL on a unary
 * call, -ENOBUFS when the client let RPC_CONN_OUTPUT_MAX (16 MiB) of output pile up unread (the
 * connection is then dropped and the call cancelled). Does not free the call. */
int rpc_call_send(struct rpc_call *call, const uint8_t *payload, size_t len);
/* Bytes queued on the call's connection that the client has not read yet (0 once the call is
 * cancelled): lets a stream handler bound a slow subscriber well below RPC_CONN_OUTPUT_MAX. */
size_t rpc_call_output_pending(const struct rpc_call *call);
/* Server stream: the final Data frame (remote-closed, no-data). Frees the call. */
int rpc_call_close(struct rpc_call *call);

/* ---- client (blocking; one call at a time per client) ---- */

struct rpc_client;

struct rpc_status {
	int code;
	char *message; /* malloc'd or NULL */
};

void rpc_status_clear(struct rpc_status *status);

int rpc_client_connect(const char *path, struct rpc_client **out);
/* Client over an already connected stream socket; takes the fd in all cases. */
int rpc_client_new_fd(int fd, struct rpc_client **out);
void rpc_client_free(struct rpc_client *client);
/* Metadata sent with every following request: n key/value pairs (pairs[2i], pairs[2i+1]),
 * copied, keys lowercased as Go's MD does. At most 64 pairs. */
int rpc_client_set_metadata(struct rpc_client *client, const char *const *pairs, size_t n);

/* Unary call. Returns 0 when a Response arrived (status says OK or not; on OK *resp is the
 * malloc'd payload, NULL when empty; resp may be NULL), or a negative errno for transport
 * failures. timeout_ns 0 = none; it travels as timeout_nano, and the client gives up locally
 * (-ETIMEDOUT) 1 s after it if the server's DEADLINE_EXCEEDED has not come. */
int rpc_client_call(struct rpc_client *client, const char *service, const char *method,
		    const uint8_t *req, size_t req_len, int64_t timeout_ns,
		    struct rpc_status *status, uint8_t **resp, size_t *resp_len);

/* Server-stream call: send the request, then read messages with rpc_client_stream_recv. */
int rpc_client_stream_open(struct rpc_client *client, const char *service, const char *method,
			   const uint8_t *req, size_t req_len, int64_t timeout_ns);
/* 1 and a malloc'd message (non-NULL even when len is 0), 0 at the clean end of the stream, or a
 * negative errno; a status that ends the stream with an error is returned in *status with 0. */
int rpc_client_stream_recv(struct rpc_client *client, struct rpc_status *status, uint8_t **msg,
			   size_t *len);
