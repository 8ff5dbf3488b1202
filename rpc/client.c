#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "rpc/frame.h"
#include "rpc/message.h"
#include "rpc/rpc.h"

/* How long past the request's own timeout the client waits for the server's DEADLINE_EXCEEDED
 * before giving up locally with -ETIMEDOUT. */
#define CLIENT_DEADLINE_GRACE_NS 1000000000LL
#define CLIENT_METADATA_MAX	 64

struct rpc_client {
	int fd;
	uint32_t next_stream_id;
	struct rpc_frame_reader reader;
	uint8_t buf[64 << 10];
	size_t buf_len;
	size_t buf_off;
	char *metadata[2 * CLIENT_METADATA_MAX];
	size_t n_metadata;
	/* The server stream being read, if any. */
	uint32_t stream_id;
	bool stream_open;
	uint64_t stream_deadline; /* monotonic ns, 0 = none */
};

void rpc_status_clear(struct rpc_status *status)
{
	if (!status)
		return;
	free(status->message);
	status->message = NULL;
	status->code = RPC_OK;
}

int rpc_client_new_fd(int fd, struct rpc_client **out)
{
	struct rpc_client *client;
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	client = calloc(1, sizeof(*client));
	if (!client) {
		close(fd);
		return -ENOMEM;
	}
	client->fd = fd;
	client->next_stream_id = 1;
	rpc_frame_reader_init(&client->reader);
	*out = client;
	return 0;
}

int rpc_client_connect(const char *path, struct rpc_client **out)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	return rpc_client_new_fd(util_steal_fd(&fd), out);
}

static void clear_metadata(struct rpc_client *client)
{
	for (size_t i = 0; i < 2 * client->n_metadata; i++)
		free(client->metadata[i]);
	client->n_metadata = 0;
}

void rpc_client_free(struct rpc_client *client)
{
	if (!client)
		return;
	clear_metadata(client);
	rpc_frame_reader_release(&client->reader);
	close(client->fd);
	free(client);
}

int rpc_client_set_metadata(struct rpc_client *client, const char *const *pairs, size_t n)
{
	if (n > CLIENT_METADATA_MAX)
		return -E2BIG;
	clear_metadata(client);
	for (size_t i = 0; i < n; i++) {
		client->metadata[2 * i] = strdup(pairs[2 * i]);
		client->metadata[2 * i + 1] = strdup(pairs[2 * i + 1]);
		client->n_metadata = i + 1;
		if (!client->metadata[2 * i] || !client->metadata[2 * i + 1]) {
			clear_metadata(client);
			return -ENOMEM;
		}
		/* Go's MD lowercases keys when set and looks them up lowercased, but its server
		 * stores received keys verbatim: send them as a Go client would. */
		for (char *p = client->metadata[2 * i]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	return 0;
}

/* Milliseconds for poll until deadline (monotonic ns; 0 = forever), or -ETIMEDOUT. */
static int poll_timeout(uint64_t deadline)
{
	uint64_t now;

	if (deadline == 0)
		return -1;
	now = util_now_monotonic_ns();
	if (now >= deadline)
		return -ETIMEDOUT;
	return (int)UTIL_MIN((deadline - now + 999999) / 1000000, (uint64_t)INT32_MAX);
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int timeout = poll_timeout(deadline);
	int r;

	if (timeout == -ETIMEDOUT)
		return timeout;
	r = poll(&p, 1, timeout);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return 0;
}

static int send_all(struct rpc_client *client, const uint8_t *buf, size_t len, uint64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(client->fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			int r = wait_fd(client->fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_frame(struct rpc_client *client, uint32_t id, uint8_t type, uint8_t flags,
		      const uint8_t *payload, size_t len, uint64_t deadline)
{
	_cleanup_free_ uint8_t *frame = NULL;
	size_t frame_len;
	int r;

	r = rpc_frame_build(id, type, flags, payload, len, &frame, &frame_len);
	if (r < 0)
		return r;
	return send_all(client, frame, frame_len, deadline);
}

/* Next whole frame from the server; 1 on success, else a negative errno (-ECONNRESET at EOF). */
static int read_frame(struct rpc_client *client, uint64_t deadline, struct rpc_frame *frame)
{
	for (;;) {
		if (client->buf_off < client->buf_len) {
			size_t consumed;
			int r = rpc_frame_reader_feed(
			    &client->reader, client->buf + client->buf_off,
			    client->buf_len - client->buf_off, &consumed, frame);
			client->buf_off += consumed;
			if (r != 0)
				return r;
			continue;
		}
		ssize_t n = recv(client->fd, client->buf, sizeof(client->buf), 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			int r = wait_fd(client->fd, POLLIN, deadline);
			if (r < 0)
				return r;
			continue;
		}
		client->buf_len = (size_t)n;
		client->buf_off = 0;
	}
}

static int start_request(struct rpc_client *client, const char *service, const char *method,
			 const uint8_t *req, size_t req_len, int64_t timeout_ns, uint8_t flags,
			 uint32_t *out_id, uint64_t *out_deadline)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t deadline = 0;
	size_t len;
	uint32_t id;
	int r;

	if (timeout_ns < 0)
		return -EINVAL;
	/* Ids are odd and strictly increasing: past the last odd uint32 the connection is done. */
	if (client->next_stream_id == 0)
		return -EOVERFLOW;
	if (timeout_ns > 0)
		deadline =
		    util_now_monotonic_ns() + (uint64_t)timeout_ns + CLIENT_DEADLINE_GRACE_NS;
	r = rpc_message_request_encode(service, method, req, req_len, timeout_ns,
				       (const char *const *)client->metadata, client->n_metadata,
				       &buf, &len);
	if (r < 0)
		return r;
	id = client->next_stream_id;
	client->next_stream_id = id + 2; /* wraps to 0 after 0xffffffff */
	client->stream_open = false;
	r = send_frame(client, id, RPC_FRAME_REQUEST, flags, buf, len, deadline);
	if (r < 0)
		return r;
	*out_id = id;
	*out_deadline = deadline;
	return 0;
}

static int decode_response(const struct rpc_frame *frame, struct rpc_status *status, uint8_t **resp,
			   size_t *resp_len)
{
	Ttrpc__Response *msg;
	int r = 0;

	msg = ttrpc__response__unpack(NULL, frame->header.length, frame->payload);
	if (!msg)
		return -EBADMSG;
	status->code = msg->status ? msg->status->code : RPC_OK;
	status->message = NULL;
	if (msg->status && msg->status->message && msg->status->message[0]) {
		status->message = strdup(msg->status->message);
		if (!status->message)
			r = -ENOMEM;
	}
	if (r == 0 && resp) {
		*resp = NULL;
		*resp_len = 0;
		if (status->code == RPC_OK && msg->payload.len > 0) {
			*resp = malloc(msg->payload.len);
			if (*resp) {
				memcpy(*resp, msg->payload.data, msg->payload.len);
				*resp_len = msg->payload.len;
			} else {
				r = -ENOMEM;
			}
		}
	}
	if (r < 0)
		rpc_status_clear(status);
	ttrpc__response__free_unpacked(msg, NULL);
	return r;
}

int rpc_client_call(struct rpc_client *client, const char *service, const char *method,
		    const uint8_t *req, size_t req_len, int64_t timeout_ns,
		    struct rpc_status *status, uint8_t **resp, size_t *resp_len)
{
	uint64_t deadline;
	uint32_t id;
	int r;

	status->code = RPC_OK;
	status->message = NULL;
	if (resp) {
		*resp = NULL;
		*resp_len = 0;
	}
	r = start_request(client, service, method, req, req_len, timeout_ns, 0, &id, &deadline);
	if (r < 0)
		return r;
	for (;;) {
		struct rpc_frame frame;

		r = read_frame(client, deadline, &frame);
		if (r < 0)
			return r;
		/* Late answers to calls that timed out locally are skipped. */
		if (frame.header.stream_id != id || frame.header.type != RPC_FRAME_RESPONSE ||
		    frame.oversized) {
			free(frame.payload);
			continue;
		}
		r = decode_response(&frame, status, resp, resp_len);
		free(frame.payload);
		return r;
	}
}

int rpc_client_stream_open(struct rpc_client *client, const char *service, const char *method,
			   const uint8_t *req, size_t req_len, int64_t timeout_ns)
{
	uint64_t deadline;
	uint32_t id;
	int r;

	/* Server stream only: the client's side is closed with the Request, as Go sends it. */
	r = start_request(client, service, method, req, req_len, timeout_ns, RPC_FLAG_REMOTE_CLOSED,
			  &id, &deadline);
	if (r < 0)
		return r;
	client->stream_id = id;
	client->stream_open = true;
	client->stream_deadline = deadline;
	return 0;
}

int rpc_client_stream_recv(struct rpc_client *client, struct rpc_status *status, uint8_t **msg,
			   size_t *len)
{
	status->code = RPC_OK;
	status->message = NULL;
	*msg = NULL;
	*len = 0;
	if (!client->stream_open)
		return 0;
	for (;;) {
		struct rpc_frame frame;
		int r = read_frame(client, client->stream_deadline, &frame);

		if (r < 0)
			return r;
		if (frame.header.stream_id != client->stream_id || frame.oversized) {
			free(frame.payload);
			continue;
		}
		if (frame.header.type == RPC_FRAME_RESPONSE) {
			client->stream_open = false;
			r = decode_response(&frame, status, NULL, NULL);
			free(frame.payload);
			return r;
		}
		if (frame.header.type != RPC_FRAME_DATA) {
			free(frame.payload);
			continue;
		}
		if (frame.header.flags & RPC_FLAG_REMOTE_CLOSED)
			client->stream_open = false;
		if (frame.header.flags & RPC_FLAG_NO_DATA) {
			free(frame.payload);
			if (!client->stream_open)
				return 0;
			continue;
		}
		*msg = frame.payload;
		*len = frame.header.length;
		/* An empty message is still a message: hand out a non-NULL buffer. */
		if (!*msg) {
			*msg = malloc(1);
			if (!*msg)
				return -ENOMEM;
		}
		return 1;
	}
}
