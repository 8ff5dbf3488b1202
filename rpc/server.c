#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/log.h"
#include "common/util.h"
#include "rpc/internal.h"

static void conn_close(struct rpc_conn *conn);
static void conn_process(struct rpc_conn *conn);

int rpc_server_new(struct event_base *base, struct rpc_server **out)
{
	struct rpc_server *server;
	struct sigaction old, ign = {.sa_handler = SIG_IGN};

	/* libevent writes with write(2), not send(MSG_NOSIGNAL): a client that vanishes with
	 * replies pending would otherwise kill the process. Leave a handler someone set alone. */
	if (sigaction(SIGPIPE, NULL, &old) < 0)
		return -errno;
	if (old.sa_handler == SIG_DFL && sigaction(SIGPIPE, &ign, NULL) < 0)
		return -errno;
	server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	server->base = base;
	server->partial_frames.limit = RPC_SERVER_PARTIAL_FRAMES_MAX;
	server->conns_per_uid = RPC_SERVER_CONNS_PER_UID;
	/* Held back so that, out of fds, the server can still accept a connection to refuse it. */
	server->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	*out = server;
	return 0;
}

void rpc_server_set_conns_per_uid(struct rpc_server *server, size_t limit, bool exempt_root)
{
	server->conns_per_uid = limit;
	server->conns_limit_root = !exempt_root;
}

void rpc_server_free(struct rpc_server *server)
{
	if (!server)
		return;
	for (size_t i = 0; i < server->n_listeners; i++)
		evconnlistener_free(server->listeners[i]);
	free(server->listeners);
	if (server->listen_retry)
		event_free(server->listen_retry);
	if (server->reserve_fd >= 0)
		close(server->reserve_fd);
	while (server->conns)
		conn_close(server->conns);
	for (size_t i = 0; i < server->n_methods; i++) {
		free(server->methods[i].service);
		free(server->methods[i].method);
	}
	free(server->methods);
	free(server);
}

int rpc_server_register(struct rpc_server *server, const char *service, const char *method,
			rpc_handler_fn handler, void *userdata)
{
	struct rpc_method_entry *m;

	for (size_t i = 0; i < server->n_methods; i++)
		if (strcmp(server->methods[i].service, service) == 0 &&
		    strcmp(server->methods[i].method, method) == 0)
			return -EEXIST;
	m = reallocarray(server->methods, server->n_methods + 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	server->methods = m;
	m = &server->methods[server->n_methods];
	m->service = strdup(service);
	m->method = strdup(method);
	if (!m->service || !m->method) {
		free(m->service);
		free(m->method);
		return -ENOMEM;
	}
	m->handler = handler;
	m->userdata = userdata;
	server->n_methods++;
	return 0;
}

void rpc_server_set_accept_hook(struct rpc_server *server, rpc_accept_fn fn, void *userdata)
{
	server->accept_fn = fn;
	server->accept_userdata = userdata;
}

size_t rpc_server_connection_count(const struct rpc_server *server)
{
	return server->n_conns;
}

/* ---- sending ---- */

int rpc_conn_send(struct rpc_conn *conn, uint32_t stream_id, uint8_t type, uint8_t flags,
		  const uint8_t *payload, size_t len)
{
	struct evbuffer *output = bufferevent_get_output(conn->bev);
	struct rpc_frame_header header = {
	    .length = (uint32_t)len, .stream_id = stream_id, .type = type, .flags = flags};
	uint8_t raw[RPC_FRAME_HEADER_SIZE];

	if (conn->dying)
		return -ECONNRESET;
	if (len > RPC_FRAME_MAX)
		return -EMSGSIZE;
	if (evbuffer_get_length(output) + sizeof(raw) + len > RPC_CONN_OUTPUT_MAX) {
		log_warn(
		    "rpc: peer pid %d: over %u bytes of unread replies, dropping the connection",
		    (int)conn->peer.pid, RPC_CONN_OUTPUT_MAX);
		conn->dying = true;
		rpc_conn_kick(conn);
		return -ENOBUFS;
	}
	rpc_frame_header_encode(&header, raw);
	if (evbuffer_add(output, raw, sizeof(raw)) < 0 ||
	    (len && evbuffer_add(output, payload, len) < 0))
		return -ENOMEM;
	return 0;
}

int rpc_conn_send_status(struct rpc_conn *conn, uint32_t stream_id, int code, const char *fmt, ...)
{
	_cleanup_free_ char *message = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&message, fmt, ap);
	va_end(ap);
	if (r < 0) {
		message = NULL;
		return -ENOMEM;
	}
	r = rpc_message_response_encode(code, message, NULL, 0, &buf, &len);
	if (r < 0)
		return r;
	return rpc_conn_send(conn, stream_id, RPC_FRAME_RESPONSE, 0, buf, len);
}

void rpc_conn_kick(struct rpc_conn *conn)
{
	event_active(conn->resume, EV_TIMEOUT, 0);
}

/* ---- receiving ---- */

static const struct rpc_method_entry *find_method(const struct rpc_server *server,
						  const char *service, const char *method,
						  bool *service_known)
{
	*service_known = false;
	for (size_t i = 0; i < server->n_methods; i++) {
		if (strcmp(server->methods[i].service, service) != 0)
			continue;
		*service_known = true;
		if (strcmp(server->methods[i].method, method) == 0)
			return &server->methods[i];
	}
	return NULL;
}

static int handle_request(struct rpc_conn *conn, const struct rpc_frame *frame)
{
	uint32_t id = frame->header.stream_id;
	Ttrpc__Request *req = NULL;
	const struct rpc_method_entry *m;
	struct rpc_call *call;
	bool service_known;
	char why[128];
	int r;

	r = rpc_message_request_decode(frame->payload, frame->header.length, &req, why,
				       sizeof(why));
	if (r < 0)
		return rpc_conn_send_status(conn, id, RPC_INVALID_ARGUMENT,
					    "unmarshal request error: %s", why);
	/* Same order as Go: the id is checked only once the Request decoded. */
	if (id <= conn->last_stream_id) {
		r = rpc_conn_send_status(conn, id, RPC_INVALID_ARGUMENT,
					 "StreamID cannot be re-used and must increment");
		goto out;
	}
	conn->last_stream_id = id;
	m = find_method(conn->server, req->service, req->method, &service_known);
	if (!m) {
		if (service_known)
			r = rpc_conn_send_status(conn, id, RPC_UNIMPLEMENTED, "method %s",
						 req->method);
		else
			r = rpc_conn_send_status(conn, id, RPC_UNIMPLEMENTED, "service %s",
						 req->service);
		goto out;
	}
	r = rpc_call_start(conn, id, frame->header.flags, req, &call);
	if (r < 0) {
		r = rpc_conn_send_status(conn, id, RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	/* The handler may finish (and free) the call before it returns. */
	m->handler(call, req->payload.data, req->payload.len, m->userdata);
	r = 0;
out:
	ttrpc__request__free_unpacked(req, NULL);
	return r;
}

/* Go's serverConn.run, check for check and message for message. */
static int handle_frame(struct rpc_conn *conn, const struct rpc_frame *frame)
{
	uint32_t id = frame->header.stream_id;

	if (frame->oversized)
		return rpc_conn_send_status(conn, id, RPC_RESOURCE_EXHAUSTED,
					    "message length %u exceed maximum message size of %u",
					    frame->header.length, RPC_FRAME_MAX);
	if (frame->over_budget)
		return rpc_conn_send_status(
		    conn, id, RPC_RESOURCE_EXHAUSTED,
		    "message length %u: the server is already receiving %zu bytes of large "
		    "messages (at most %zu at a time); retry later",
		    frame->header.length, conn->server->partial_frames.used,
		    conn->server->partial_frames.limit);
	if (id % 2 != 1)
		return rpc_conn_send_status(conn, id, RPC_INVALID_ARGUMENT,
					    "StreamID must be odd for client initiated streams");
	if (frame->header.type == RPC_FRAME_DATA) {
		/* Only server streams are served: client Data on a live stream has no reader. */
		if (!rpc_call_find(conn, id))
			return rpc_conn_send_status(conn, id, RPC_INVALID_ARGUMENT,
						    "StreamID is no longer active");
		return 0;
	}
	/* Unknown types are skipped for forward compatibility, as Go does. */
	if (frame->header.type != RPC_FRAME_REQUEST)
		return 0;
	return handle_request(conn, frame);
}

static bool conn_should_pause(const struct rpc_conn *conn)
{
	size_t out = evbuffer_get_length(bufferevent_get_output(conn->bev));

	if (conn->n_calls >= RPC_CONN_CALLS_MAX)
		return true;
	/* Hysteresis: once paused for output, wait until it drained to the low mark. */
	return out > (conn->paused ? RPC_CONN_OUTPUT_RESUME : RPC_CONN_OUTPUT_PAUSE);
}

static void conn_process(struct rpc_conn *conn)
{
	struct evbuffer *input = bufferevent_get_input(conn->bev);

	while (!conn->dying) {
		struct evbuffer_iovec vec;
		struct rpc_frame frame;
		size_t consumed;
		int r;

		if (conn_should_pause(conn))
			break;
		conn->paused = false;
		if (evbuffer_peek(input, -1, NULL, &vec, 1) < 1)
			break;
		r = rpc_frame_reader_feed(&conn->reader, vec.iov_base, vec.iov_len, &consumed,
					  &frame);
		if (evbuffer_drain(input, consumed) < 0 || r < 0) {
			conn->dying = true;
			break;
		}
		if (r == 0)
			continue;
		r = handle_frame(conn, &frame);
		free(frame.payload);
		if (r < 0 && r != -ENOBUFS)
			log_debug("rpc: stream %u: %s", frame.header.stream_id, strerror(-r));
	}
	if (conn->dying) {
		conn_close(conn);
		return;
	}
	conn->paused = conn_should_pause(conn);
	if (conn->paused)
		bufferevent_disable(conn->bev, EV_READ);
	else
		bufferevent_enable(conn->bev, EV_READ);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct rpc_conn *conn = arg;

	if (conn->paused)
		conn_process(conn);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct rpc_conn *conn = arg;

	/* EOF or error: the client is gone; Go cancels every call's context then. */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(conn);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_process(arg);
}

static void conn_close(struct rpc_conn *conn)
{
	struct rpc_server *server = conn->server;

	if (conn->prev)
		conn->prev->next = conn->next;
	else
		server->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	server->n_conns--;
	conn->dying = true;
	rpc_call_cancel_all(conn);
	bufferevent_free(conn->bev);
	event_free(conn->resume);
	rpc_frame_reader_release(&conn->reader);
	free(conn);
}

static int peer_credentials(int fd, struct rpc_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	return 0;
}

static void refuse_connection(int fd, const char *why);

int rpc_server_add_connection(struct rpc_server *server, int fd)
{
	struct rpc_conn *conn;
	struct rpc_peer peer;
	int r;

	r = peer_credentials(fd, &peer);
	if (r < 0) {
		log_warn("rpc: SO_PEERCRED on fd %d: %s; refusing the connection", fd,
			 strerror(-r));
		close(fd);
		return r;
	}
	if (server->accept_fn && server->accept_fn(&peer, server->accept_userdata) != 0) {
		log_info("rpc: connection from pid %d uid %u refused", (int)peer.pid,
			 (unsigned)peer.uid);
		close(fd);
		return -EPERM;
	}
	if (evutil_make_socket_nonblocking(fd) < 0 || evutil_make_socket_closeonexec(fd) < 0) {
		close(fd);
		return -EIO;
	}
	if (peer.uid != 0 || server->conns_limit_root) {
		size_t held = 0;
		char why[160];
		for (const struct rpc_conn *c = server->conns; c; c = c->next)
			held += c->peer.uid == peer.uid;
		if (held >= server->conns_per_uid) {
			snprintf(why, sizeof(why),
				 "uid %u already has %zu connections open (at most %zu per user)",
				 (unsigned)peer.uid, held, server->conns_per_uid);
			log_info("rpc: connection from pid %d refused: %s", (int)peer.pid, why);
			refuse_connection(fd, why);
			return -EPERM;
		}
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		close(fd);
		return -ENOMEM;
	}
	conn->server = server;
	conn->peer = peer;
	rpc_frame_reader_init(&conn->reader);
	rpc_frame_reader_set_budget(&conn->reader, &server->partial_frames);
	conn->bev = bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE);
	conn->resume = event_new(server->base, -1, 0, resume_cb, conn);
	if (!conn->bev || !conn->resume) {
		if (conn->bev)
			bufferevent_free(conn->bev);
		else
			close(fd);
		if (conn->resume)
			event_free(conn->resume);
		free(conn);
		return -ENOMEM;
	}
	bufferevent_setcb(conn->bev, read_cb, write_cb, event_cb, conn);
	bufferevent_setwatermark(conn->bev, EV_WRITE, RPC_CONN_OUTPUT_RESUME, 0);
	/* Bound what sits unparsed in the input buffer; the frame reader holds the rest. */
	bufferevent_setwatermark(conn->bev, EV_READ, 0, 256u << 10);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	conn->next = server->conns;
	if (server->conns)
		server->conns->prev = conn;
	server->conns = conn;
	server->n_conns++;
	return 0;
}

/* ---- listening ---- */

static void accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *addr,
		      int socklen, void *arg)
{
	int r = rpc_server_add_connection(arg, fd);

	if (r < 0 && r != -EPERM)
		log_warn("rpc: accepting a connection: %s", strerror(-r));
}

static void listen_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_server *server = arg;

	for (size_t i = 0; i < server->n_listeners; i++)
		evconnlistener_enable(server->listeners[i]);
}

/* Answer a connection the server will not serve (out of fds, or its uid holds too many) with
 * RESOURCE_EXHAUSTED on the stream of the first request if it is already there (else stream 1,
 * a client's first), then close it. The request bytes already sent are read off first: closing
 * a unix socket with unread data makes the peer's read fail with ECONNRESET before it sees the
 * answer. */
static void refuse_connection(int fd, const char *why)
{
	uint8_t buf[4096];
	struct rpc_frame_header h = {.stream_id = 1};
	_cleanup_free_ uint8_t *resp = NULL, *frame = NULL;
	size_t resp_len, frame_len, total = 0;
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n >= RPC_FRAME_HEADER_SIZE)
		rpc_frame_header_decode(buf, &h);
	while (n > 0 && (total += (size_t)n) < (64u << 10))
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (rpc_message_response_encode(RPC_RESOURCE_EXHAUSTED, why, NULL, 0, &resp, &resp_len) ==
		0 &&
	    rpc_frame_build(h.stream_id, RPC_FRAME_RESPONSE, 0, resp, resp_len, &frame,
			    &frame_len) == 0 &&
	    send(fd, frame, frame_len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("rpc: answering a refused connection: %s", strerror(errno));
	close(fd);
}

/* Out of fds: give up the reserve fd to accept and refuse what is queued, so clients get an
 * answer instead of hanging in the backlog. Returns false when that is not possible. */
static bool refuse_pending(struct rpc_server *server, struct evconnlistener *listener)
{
	unsigned refused = 0;
	int fd;

	if (server->reserve_fd < 0)
		return false;
	close(server->reserve_fd);
	server->reserve_fd = -1;
	while (refused < 64 &&
	       (fd = accept4(evconnlistener_get_fd(listener), NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		refuse_connection(fd, "the daemon is out of file descriptors; try again later");
		refused++;
	}
	server->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_warn("rpc: out of file descriptors: refused %u new connection(s) with "
		 "RESOURCE_EXHAUSTED",
		 refused);
	return server->reserve_fd >= 0;
}

/* Out of fds (EMFILE): refuse what waits, then back off instead of spinning on a listener that
 * stays readable. */
static void accept_error_cb(struct evconnlistener *listener, void *arg)
{
	struct rpc_server *server = arg;
	struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
	int err = EVUTIL_SOCKET_ERROR();

	if ((err == EMFILE || err == ENFILE) && refuse_pending(server, listener))
		return;
	log_warn("rpc: accept: %s; pausing for 100 ms", strerror(err));
	if (!server->listen_retry)
		server->listen_retry = evtimer_new(server->base, listen_retry_cb, server);
	if (!server->listen_retry)
		return;
	for (size_t i = 0; i < server->n_listeners; i++)
		evconnlistener_disable(server->listeners[i]);
	if (evtimer_add(server->listen_retry, &tv) < 0)
		listen_retry_cb(-1, 0, server);
}

int rpc_server_add_listener(struct rpc_server *server, int listen_fd)
{
	struct evconnlistener **l;

	l = reallocarray(server->listeners, server->n_listeners + 1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	server->listeners = l;
	if (evutil_make_socket_nonblocking(listen_fd) < 0)
		return -EIO;
	l[server->n_listeners] =
	    evconnlistener_new(server->base, accept_cb, server,
			       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (!l[server->n_listeners])
		return -ENOMEM;
	evconnlistener_set_error_cb(l[server->n_listeners], accept_error_cb);
	server->n_listeners++;
	return 0;
}

int rpc_server_listen_unix(struct rpc_server *server, const char *path, int *out_fd)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	if (listen(fd, SOMAXCONN) < 0)
		return -errno;
	r = rpc_server_add_listener(server, fd);
	if (r < 0)
		return r;
	if (out_fd)
		*out_fd = fd;
	fd = -1;
	return 0;
}
