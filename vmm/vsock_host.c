/* Host side of the vsock mux: the vsock.sock listener, CONNECT lines, socket readiness and
 * the timers for silent clients, unanswered requests and lingering closes. */
#include "config.h"

#include "vmm/vsock_mux_internal.h"

#include "common/log.h"
#include "common/util.h"

#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

static int ep_add(struct vsock_mux *mux, int fd, uint32_t events, int *tag)
{
	struct epoll_event ev = {.events = events, .data.ptr = tag};

	if (epoll_ctl(mux->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int vsock_host_init(struct vsock_mux *mux)
{
	int r;

	mux->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (mux->epfd < 0)
		return -errno;
	mux->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (mux->timer_fd < 0)
		return -errno;
	r = ep_add(mux, mux->timer_fd, EPOLLIN, &mux->timer_tag);
	if (r < 0)
		return r;
	if (mux->cfg.no_listener)
		return 0;
	r = vsock_bridge_listen(mux->runtime_dir, mux->cfg.owner_uid, mux->cfg.owner_gid,
				mux->cfg.socket_mode, &mux->listen_fd);
	if (r < 0)
		return r;
	return ep_add(mux, mux->listen_fd, EPOLLIN, &mux->listener_tag);
}

static void pending_free(struct vsock_mux *mux, struct vsock_pending_client *client, bool close_fd)
{
	if (client->prev)
		client->prev->next = client->next;
	else
		mux->pending = client->next;
	if (client->next)
		client->next->prev = client->prev;
	mux->npending--;
	if (close_fd)
		close(client->fd);
	else
		epoll_ctl(mux->epfd, EPOLL_CTL_DEL, client->fd, NULL);
	free(client);
}

void vsock_host_fini(struct vsock_mux *mux)
{
	while (mux->pending)
		pending_free(mux, mux->pending, true);
	if (mux->listen_fd >= 0) {
		char path[108];
		if (vsock_bridge_path(mux->runtime_dir, -1, path, sizeof(path)) == 0)
			unlink(path);
		close(mux->listen_fd);
	}
	if (mux->timer_fd >= 0)
		close(mux->timer_fd);
	if (mux->epfd >= 0)
		close(mux->epfd);
}

void vsock_mux_arm_deadline(struct vsock_mux *mux, uint64_t deadline_ns)
{
	struct itimerspec its = {0};

	if (mux->timer_armed_ns && mux->timer_armed_ns <= deadline_ns)
		return;
	mux->timer_armed_ns = deadline_ns;
	its.it_value.tv_sec = (time_t)(deadline_ns / 1000000000u);
	its.it_value.tv_nsec = (long)(deadline_ns % 1000000000u);
	if (timerfd_settime(mux->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn("vsock: timerfd_settime: %m");
}

void vsock_host_listener_ready(struct vsock_mux *mux)
{
	/* Bounded per wakeup; level-triggered epoll brings us back for the rest. */
	for (int i = 0; i < 32; i++) {
		struct vsock_pending_client *client;
		int fd = accept4(mux->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("vsock: accept: %m");
			return;
		}
		if (mux->npending >= VSOCK_MAX_PENDING || mux->table.count >= mux->table.max) {
			mux->counters[VSOCK_CNT_CONN_LIMIT]++;
			close(fd);
			continue;
		}
		client = calloc(1, sizeof(*client));
		if (!client) {
			close(fd);
			continue;
		}
		client->ep_tag = VSOCK_EP_PENDING;
		client->fd = fd;
		client->deadline_ns =
		    util_now_monotonic_ns() + (uint64_t)mux->cfg.timeout_ms * 1000000u;
		if (ep_add(mux, fd, EPOLLIN, &client->ep_tag) < 0) {
			close(fd);
			free(client);
			continue;
		}
		client->next = mux->pending;
		if (mux->pending)
			mux->pending->prev = client;
		mux->pending = client;
		mux->npending++;
		vsock_mux_arm_deadline(mux, client->deadline_ns);
	}
}

/* The CONNECT line is complete: make the connection and send the guest a REQUEST. */
static void pending_connect(struct vsock_mux *mux, struct vsock_pending_client *client)
{
	struct vsock_conn *conn = NULL;
	uint32_t port, host_port = 0;
	int r;

	r = vsock_bridge_parse_connect(client->line, client->len, &port);
	if (r < 0) {
		mux->counters[VSOCK_CNT_HOST_BAD_CONNECT]++;
		pending_free(mux, client, true);
		return;
	}
	for (uint32_t tries = 0; tries <= mux->table.max; tries++) {
		host_port = vsock_port_alloc_next(&mux->ports);
		r = vsock_conn_add(&mux->table, host_port, port, VSOCK_PARENT_CID,
				   mux->cfg.buf_alloc, &conn);
		if (r != -EEXIST)
			break;
	}
	if (r < 0) {
		mux->counters[VSOCK_CNT_CONN_LIMIT]++;
		pending_free(mux, client, true);
		return;
	}
	mux->counters[VSOCK_CNT_CONNS_OPENED]++;
	conn->kind = VSOCK_CONN_SOCKET;
	conn->state = VSOCK_CONN_CONNECTING;
	conn->fd = client->fd;
	conn->deadline_ns = util_now_monotonic_ns() + (uint64_t)mux->cfg.timeout_ms * 1000000u;
	pending_free(mux, client, false);
	vsock_mux_arm_deadline(mux, conn->deadline_ns);
	vsock_mux_pend(mux, conn, VSOCK_PEND_REQUEST);
	vsock_mux_update_interest(mux, conn);
}

void vsock_host_pending_ready(struct vsock_mux *mux, struct vsock_pending_client *client,
			      uint32_t events)
{
	size_t room = sizeof(client->line) - client->len;
	char *nl;
	ssize_t n;

	/* Peek first and take bytes only up to the newline: what follows is stream data. */
	n = recv(client->fd, client->line + client->len, room, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		mux->counters[n == 0 ? VSOCK_CNT_HOST_BAD_CONNECT : VSOCK_CNT_HOST_IO_ERROR]++;
		pending_free(mux, client, true);
		return;
	}
	nl = memchr(client->line + client->len, '\n', (size_t)n);
	if (nl)
		n = nl - (client->line + client->len) + 1;
	if (recv(client->fd, client->line + client->len, (size_t)n, MSG_DONTWAIT) != n) {
		mux->counters[VSOCK_CNT_HOST_IO_ERROR]++;
		pending_free(mux, client, true);
		return;
	}
	client->len += (size_t)n;
	if (nl && (events & (EPOLLHUP | EPOLLERR))) {
		/* Closed both ways already: nobody could read the OK or an answer. Asking the
		 * guest anyway would hold one of its few connection slots for a round trip, and
		 * a burst of such clients makes it refuse the live ones behind them. */
		mux->counters[VSOCK_CNT_HOST_GONE]++;
		pending_free(mux, client, true);
	} else if (nl) {
		pending_connect(mux, client);
	} else if (client->len == sizeof(client->line)) {
		log_debug("vsock: host client sent %zu bytes without a newline", client->len);
		mux->counters[VSOCK_CNT_HOST_BAD_CONNECT]++;
		pending_free(mux, client, true);
	}
}

void vsock_host_conn_ready(struct vsock_mux *mux, struct vsock_conn *conn, uint32_t events)
{
	if (conn->state == VSOCK_CONN_CONNECTING) {
		/* Registered for hang-ups only. Once the REQUEST is out, the guest's RESPONSE
		 * finds the socket gone and answers RST; before that, the guest never hears. */
		if ((events & (EPOLLHUP | EPOLLERR)) && (conn->pending & VSOCK_PEND_REQUEST)) {
			mux->counters[VSOCK_CNT_HOST_GONE]++;
			vsock_mux_destroy(mux, conn);
		}
		return;
	}
	if (events & EPOLLHUP)
		conn->host_hup = true;
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && conn->buf_used > 0) {
		if (vsock_mux_flush(mux, conn))
			return;
	}
	if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && (conn->ev_mask & EPOLLIN))
		vsock_mux_pend(mux, conn, VSOCK_PEND_RW);
	vsock_mux_update_interest(mux, conn);
}

void vsock_host_timer_ready(struct vsock_mux *mux)
{
	uint64_t now = util_now_monotonic_ns(), next = 0, expirations;
	struct vsock_pending_client *client, *cnext;
	struct vsock_conn *conn, *next_conn;

	if (read(mux->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn("vsock: timerfd read: %m");
	mux->timer_armed_ns = 0;
	for (client = mux->pending; client; client = cnext) {
		cnext = client->next;
		if (client->deadline_ns <= now) {
			mux->counters[VSOCK_CNT_HOST_TIMEOUT]++;
			pending_free(mux, client, true);
		} else if (!next || client->deadline_ns < next) {
			next = client->deadline_ns;
		}
	}
	for (conn = mux->table.all; conn; conn = next_conn) {
		next_conn = conn->all_next;
		if (!conn->deadline_ns)
			continue;
		if (conn->deadline_ns <= now) {
			mux->counters[VSOCK_CNT_HOST_TIMEOUT]++;
			vsock_mux_reset_conn(mux, conn);
		} else if (!next || conn->deadline_ns < next) {
			next = conn->deadline_ns;
		}
	}
	if (next)
		vsock_mux_arm_deadline(mux, next);
}
