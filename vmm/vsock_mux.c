#include "config.h"

#include "vmm/vsock_mux_internal.h"

#include "common/log.h"
#include "common/util.h"

#include <inttypes.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static const char *const counter_names[VSOCK_CNT__MAX] = {
    [VSOCK_CNT_TX_PACKETS] = "tx_packets",
    [VSOCK_CNT_RX_PACKETS] = "rx_packets",
    [VSOCK_CNT_CONNS_OPENED] = "connections_opened",
    [VSOCK_CNT_SHORT_HEADER] = "short_header",
    [VSOCK_CNT_BAD_LEN] = "bad_len",
    [VSOCK_CNT_BAD_SRC_CID] = "bad_src_cid",
    [VSOCK_CNT_BAD_DST_CID] = "bad_dst_cid",
    [VSOCK_CNT_BAD_TYPE] = "bad_type",
    [VSOCK_CNT_BAD_OP] = "bad_op",
    [VSOCK_CNT_NO_CONN] = "no_connection",
    [VSOCK_CNT_BAD_STATE] = "bad_state",
    [VSOCK_CNT_CREDIT_VIOLATION] = "credit_violation",
    [VSOCK_CNT_CONN_LIMIT] = "connection_limit",
    [VSOCK_CNT_RST_QUEUE_FULL] = "rst_queue_full",
    [VSOCK_CNT_RX_BUF_SHORT] = "rx_buffer_short",
    [VSOCK_CNT_GUEST_REFUSED] = "guest_connect_refused",
    [VSOCK_CNT_HOST_BAD_CONNECT] = "host_bad_connect",
    [VSOCK_CNT_HOST_TIMEOUT] = "timeout",
    [VSOCK_CNT_HOST_IO_ERROR] = "host_io_error",
    [VSOCK_CNT_HEARTBEATS] = "heartbeats",
    [VSOCK_CNT_HEARTBEAT_BAD] = "heartbeat_bad",
    [VSOCK_CNT_HOST_GONE] = "host_gone_before_connect",
};

const char *vsock_counter_name(enum vsock_counter counter)
{
	return (unsigned)counter < VSOCK_CNT__MAX ? counter_names[counter] : "unknown";
}

int vsock_mux_new(const struct vsock_mux_config *config, struct vsock_mux **out)
{
	struct vsock_mux *mux;
	int r;

	if (config->guest_cid < 3 || config->guest_cid > UINT32_MAX - 1 || !config->runtime_dir) {
		log_error("vsock: invalid guest CID %" PRIu64 " or no runtime directory",
			  config->guest_cid);
		return -EINVAL;
	}
	mux = calloc(1, sizeof(*mux));
	if (!mux)
		return -ENOMEM;
	mux->cfg = *config;
	mux->epfd = mux->listen_fd = mux->timer_fd = -1;
	mux->listener_tag = VSOCK_EP_LISTENER;
	mux->timer_tag = VSOCK_EP_TIMER;
	if (!mux->cfg.max_conns)
		mux->cfg.max_conns = VSOCK_DEFAULT_MAX_CONNS;
	if (!mux->cfg.buf_alloc)
		mux->cfg.buf_alloc = VSOCK_DEFAULT_BUF_ALLOC;
	if (!mux->cfg.timeout_ms)
		mux->cfg.timeout_ms = VSOCK_DEFAULT_TIMEOUT_MS;
	if (!mux->cfg.socket_mode)
		mux->cfg.socket_mode = 0600;
	vsock_port_alloc_init(&mux->ports);
	mux->runtime_dir = strdup(config->runtime_dir);
	mux->cfg.runtime_dir = mux->runtime_dir;
	if (!mux->runtime_dir) {
		r = -ENOMEM;
		goto out;
	}
	r = vsock_conn_table_init(&mux->table, mux->cfg.max_conns);
	if (r < 0)
		goto out;
	r = vsock_host_init(mux);
out:
	if (r < 0) {
		vsock_mux_free(mux);
		return r;
	}
	*out = mux;
	return 0;
}

void vsock_mux_free(struct vsock_mux *mux)
{
	if (!mux)
		return;
	if (mux->table.buckets) {
		while (mux->table.all)
			vsock_mux_destroy(mux, mux->table.all);
		vsock_conn_table_destroy(&mux->table);
	}
	vsock_host_fini(mux);
	free(mux->runtime_dir);
	free(mux);
}

int vsock_mux_fd(const struct vsock_mux *mux)
{
	return mux->epfd;
}

int vsock_mux_process(struct vsock_mux *mux)
{
	struct epoll_event events[64];

	/* Bounded rounds so one busy host cannot starve the event thread's other work. */
	for (int round = 0; round < 8; round++) {
		int n = epoll_wait(mux->epfd, events, UTIL_ARRAY_SIZE(events), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			int *tag = events[i].data.ptr;
			switch (*tag) {
			case VSOCK_EP_LISTENER:
				vsock_host_listener_ready(mux);
				break;
			case VSOCK_EP_TIMER:
				vsock_host_timer_ready(mux);
				break;
			case VSOCK_EP_PENDING:
				vsock_host_pending_ready(
				    mux, container_of(tag, struct vsock_pending_client, ep_tag),
				    events[i].events);
				break;
			case VSOCK_EP_CONN:
				vsock_host_conn_ready(mux,
						      container_of(tag, struct vsock_conn, ep_tag),
						      events[i].events);
				break;
			}
		}
		if (n == 0)
			break;
	}
	return 0;
}

void vsock_mux_rxq_push(struct vsock_mux *mux, struct vsock_conn *conn)
{
	if (conn->in_rxq)
		return;
	conn->in_rxq = true;
	conn->rx_next = NULL;
	conn->rx_prev = mux->rxq_tail;
	if (mux->rxq_tail)
		mux->rxq_tail->rx_next = conn;
	else
		mux->rxq_head = conn;
	mux->rxq_tail = conn;
	mux->rxq_len++;
}

static void rxq_unlink(struct vsock_mux *mux, struct vsock_conn *conn)
{
	if (!conn->in_rxq)
		return;
	if (conn->rx_prev)
		conn->rx_prev->rx_next = conn->rx_next;
	else
		mux->rxq_head = conn->rx_next;
	if (conn->rx_next)
		conn->rx_next->rx_prev = conn->rx_prev;
	else
		mux->rxq_tail = conn->rx_prev;
	conn->rx_prev = conn->rx_next = NULL;
	conn->in_rxq = false;
	mux->rxq_len--;
}

void vsock_mux_pend(struct vsock_mux *mux, struct vsock_conn *conn, uint32_t bits)
{
	conn->pending |= bits;
	vsock_mux_rxq_push(mux, conn);
}

void vsock_mux_push_rst(struct vsock_mux *mux, uint64_t src_cid, uint32_t src_port,
			uint32_t dst_port)
{
	struct vsock_stray_rst *r;

	if (mux->rst_count == VSOCK_RST_RING) {
		mux->counters[VSOCK_CNT_RST_QUEUE_FULL]++;
		return;
	}
	r = &mux->rst_ring[(mux->rst_head + mux->rst_count) % VSOCK_RST_RING];
	r->src_cid = src_cid;
	r->src_port = src_port;
	r->dst_port = dst_port;
	mux->rst_count++;
}

void vsock_mux_destroy(struct vsock_mux *mux, struct vsock_conn *conn)
{
	rxq_unlink(mux, conn);
	if (conn->fd >= 0)
		close(conn->fd); /* also leaves the epoll set */
	vsock_conn_remove(&mux->table, conn);
}

void vsock_mux_reset_conn(struct vsock_mux *mux, struct vsock_conn *conn)
{
	vsock_mux_push_rst(mux, conn->host_cid, conn->host_port, conn->guest_port);
	vsock_mux_destroy(mux, conn);
}

void vsock_mux_update_interest(struct vsock_mux *mux, struct vsock_conn *conn)
{
	struct epoll_event ev = {.data.ptr = &conn->ep_tag};
	bool want_in, want_out;
	uint32_t mask;
	int op;

	if (conn->fd < 0)
		return;
	if (conn->state == VSOCK_CONN_CONNECTING) {
		/* Only hang-ups (always reported), once each: a client that is gone before the
		 * guest heard of it must not take one of the guest's connection slots. */
		mask = EPOLLET;
		goto apply;
	}
	want_in = conn->state == VSOCK_CONN_ESTABLISHED && !conn->host_eof &&
		  !(conn->guest_shutdown & VSOCK_SHUTDOWN_RCV) &&
		  !(conn->pending & VSOCK_PEND_RW) && vsock_conn_peer_free(conn) > 0;
	want_out = conn->buf_used > 0;
	mask = (want_in ? EPOLLIN | EPOLLRDHUP : 0) | (want_out ? EPOLLOUT : 0);
apply:
	if (mask == conn->ev_mask)
		return;
	op = mask == 0 ? EPOLL_CTL_DEL : conn->ev_mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	ev.events = mask;
	conn->ep_tag = VSOCK_EP_CONN;
	if (epoll_ctl(mux->epfd, op, conn->fd, &ev) < 0) {
		log_warn("vsock: epoll_ctl for port %u: %m", conn->host_port);
		return;
	}
	conn->ev_mask = mask;
}

static uint64_t deadline_from_now(const struct vsock_mux *mux)
{
	return util_now_monotonic_ns() + (uint64_t)mux->cfg.timeout_ms * 1000000u;
}

/* Once the guest has shut down both directions and its data reached the host, answer RST. */
static int maybe_finish_close(struct vsock_mux *mux, struct vsock_conn *conn)
{
	if (conn->buf_used > 0)
		return 0;
	if ((conn->guest_shutdown & VSOCK_SHUTDOWN_SEND) && !conn->host_wr_shut && conn->fd >= 0) {
		shutdown(conn->fd, SHUT_WR);
		conn->host_wr_shut = true;
	}
	if (conn->guest_shutdown == VSOCK_SHUTDOWN_BOTH) {
		vsock_mux_reset_conn(mux, conn);
		return 1;
	}
	return 0;
}

int vsock_mux_flush(struct vsock_mux *mux, struct vsock_conn *conn)
{
	while (conn->buf_used > 0) {
		struct iovec iov[2];
		struct msghdr msg = {.msg_iov = iov};
		ssize_t n;

		msg.msg_iovlen = vsock_conn_buf_peek(conn, iov);
		n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			mux->counters[VSOCK_CNT_HOST_IO_ERROR]++;
			log_debug("vsock: host socket for port %u: %m", conn->host_port);
			vsock_mux_reset_conn(mux, conn);
			return 1;
		}
		vsock_conn_buf_consume(conn, (size_t)n);
		conn->fwd_cnt += (uint32_t)n;
		if (conn->deadline_ns)
			conn->deadline_ns = deadline_from_now(mux); /* progress: keep lingering */
	}
	if (vsock_conn_credit_update_due(conn))
		vsock_mux_pend(mux, conn, VSOCK_PEND_CREDIT_UPDATE);
	if (maybe_finish_close(mux, conn))
		return 1;
	vsock_mux_update_interest(mux, conn);
	return 0;
}

/* ---- guest TX ---- */

static void guest_connect(struct vsock_mux *mux, const struct vsock_hdr *h)
{
	bool heartbeat = h->dst_port == HEARTBEAT_PORT;
	struct vsock_conn *conn;
	int fd = -1, r;

	if (mux->table.count >= mux->table.max) {
		mux->counters[VSOCK_CNT_CONN_LIMIT]++;
		vsock_mux_push_rst(mux, h->dst_cid, h->dst_port, h->src_port);
		return;
	}
	if (!heartbeat) {
		r = vsock_bridge_connect_port(mux->runtime_dir, h->dst_port, &fd);
		if (r < 0) {
			mux->counters[VSOCK_CNT_GUEST_REFUSED]++;
			log_debug("vsock: guest port %u -> host port %u: %s", h->src_port,
				  h->dst_port, strerror(-r));
			vsock_mux_push_rst(mux, h->dst_cid, h->dst_port, h->src_port);
			return;
		}
	}
	r = vsock_conn_add(&mux->table, h->dst_port, h->src_port, h->dst_cid, mux->cfg.buf_alloc,
			   &conn);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		mux->counters[VSOCK_CNT_CONN_LIMIT]++;
		vsock_mux_push_rst(mux, h->dst_cid, h->dst_port, h->src_port);
		return;
	}
	mux->counters[VSOCK_CNT_CONNS_OPENED]++;
	conn->kind = heartbeat ? VSOCK_CONN_HEARTBEAT : VSOCK_CONN_SOCKET;
	conn->fd = fd;
	conn->state = VSOCK_CONN_ESTABLISHED;
	vsock_conn_update_peer_credit(conn, h->buf_alloc, h->fwd_cnt);
	vsock_mux_pend(mux, conn, VSOCK_PEND_RESPONSE);
	vsock_mux_update_interest(mux, conn);
}

static void conn_established(struct vsock_mux *mux, struct vsock_conn *conn)
{
	char line[32];
	int n = vsock_bridge_format_ok(conn->host_port, line, sizeof(line));

	conn->state = VSOCK_CONN_ESTABLISHED;
	conn->deadline_ns = 0;
	/* The host client has sent only its CONNECT line, so its socket buffer has room. */
	if (n < 0 || send(conn->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		mux->counters[VSOCK_CNT_HOST_IO_ERROR]++;
		vsock_mux_reset_conn(mux, conn);
		return;
	}
	vsock_mux_update_interest(mux, conn);
}

static void conn_rw(struct vsock_mux *mux, struct vsock_conn *conn, const struct iovec *iov,
		    size_t iovcnt, uint32_t len)
{
	size_t off = VSOCK_HDR_SIZE, written = 0;

	if (conn->state != VSOCK_CONN_ESTABLISHED || (conn->guest_shutdown & VSOCK_SHUTDOWN_SEND)) {
		mux->counters[VSOCK_CNT_BAD_STATE]++;
		vsock_mux_reset_conn(mux, conn);
		return;
	}
	if (!vsock_conn_guest_may_send(conn, len)) {
		mux->counters[VSOCK_CNT_CREDIT_VIOLATION]++;
		log_debug("vsock: guest port %u sent %u bytes past its credit", conn->guest_port,
			  len);
		vsock_mux_reset_conn(mux, conn);
		return;
	}
	if (len == 0)
		return;
	conn->rx_cnt += len;
	if (conn->kind == VSOCK_CONN_HEARTBEAT) {
		uint8_t bytes[2];
		size_t got = vsock_iov_read(iov, iovcnt, off, bytes, UTIL_MIN(len, 2u));
		conn->fwd_cnt += len;
		if (conn->heartbeat_due || got != len || heartbeat_check(bytes, len) < 0) {
			mux->counters[VSOCK_CNT_HEARTBEAT_BAD]++;
			vsock_mux_reset_conn(mux, conn);
			return;
		}
		mux->counters[VSOCK_CNT_HEARTBEATS]++;
		conn->heartbeat_due = true;
		vsock_mux_pend(mux, conn, VSOCK_PEND_RW);
		if (mux->cfg.on_heartbeat)
			mux->cfg.on_heartbeat(mux->cfg.opaque);
		return;
	}
	if (conn->buf_used == 0) {
		struct iovec slice[64];
		size_t covered;
		struct msghdr msg = {.msg_iov = slice};
		ssize_t n;

		msg.msg_iovlen =
		    vsock_iov_slice(iov, iovcnt, off, len, slice, UTIL_ARRAY_SIZE(slice), &covered);
		do
			n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			mux->counters[VSOCK_CNT_HOST_IO_ERROR]++;
			vsock_mux_reset_conn(mux, conn);
			return;
		}
		written = n > 0 ? (size_t)n : 0;
		conn->fwd_cnt += (uint32_t)written;
	}
	if (vsock_conn_buf_append(conn, iov, iovcnt, off + written, len - written) < 0) {
		mux->counters[VSOCK_CNT_HOST_IO_ERROR]++;
		vsock_mux_reset_conn(mux, conn);
		return;
	}
	if (vsock_conn_credit_update_due(conn))
		vsock_mux_pend(mux, conn, VSOCK_PEND_CREDIT_UPDATE);
	vsock_mux_update_interest(mux, conn);
}

static void conn_shutdown(struct vsock_mux *mux, struct vsock_conn *conn, uint32_t flags)
{
	if (conn->state == VSOCK_CONN_CONNECTING) {
		mux->counters[VSOCK_CNT_BAD_STATE]++;
		vsock_mux_reset_conn(mux, conn);
		return;
	}
	conn->guest_shutdown |= flags & VSOCK_SHUTDOWN_BOTH;
	if (conn->kind == VSOCK_CONN_HEARTBEAT) {
		if (conn->guest_shutdown == VSOCK_SHUTDOWN_BOTH)
			vsock_mux_reset_conn(mux, conn);
		return;
	}
	if ((conn->guest_shutdown & VSOCK_SHUTDOWN_RCV) && conn->fd >= 0) {
		/* Nobody will read what the host sends: make its writes fail instead of block. */
		shutdown(conn->fd, SHUT_RD);
		conn->pending &= ~VSOCK_PEND_RW;
	}
	if (conn->guest_shutdown == VSOCK_SHUTDOWN_BOTH && conn->state != VSOCK_CONN_CLOSING) {
		conn->state = VSOCK_CONN_CLOSING;
		conn->deadline_ns = deadline_from_now(mux);
		vsock_mux_arm_deadline(mux, conn->deadline_ns);
	}
	if (maybe_finish_close(mux, conn))
		return;
	vsock_mux_update_interest(mux, conn);
}

static void conn_packet(struct vsock_mux *mux, struct vsock_conn *conn, const struct vsock_hdr *h,
			const struct iovec *iov, size_t iovcnt)
{
	if (h->op == VSOCK_OP_RST) {
		vsock_mux_destroy(mux, conn);
		return;
	}
	vsock_conn_update_peer_credit(conn, h->buf_alloc, h->fwd_cnt);
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		if (conn->state != VSOCK_CONN_CONNECTING)
			break;
		conn_established(mux, conn);
		return;
	case VSOCK_OP_SHUTDOWN:
		conn_shutdown(mux, conn, h->flags);
		return;
	case VSOCK_OP_RW:
		conn_rw(mux, conn, iov, iovcnt, h->len);
		return;
	case VSOCK_OP_CREDIT_UPDATE:
		if (conn->heartbeat_due)
			vsock_mux_pend(mux, conn, VSOCK_PEND_RW);
		vsock_mux_update_interest(mux, conn);
		return;
	case VSOCK_OP_CREDIT_REQUEST:
		vsock_mux_pend(mux, conn, VSOCK_PEND_CREDIT_UPDATE);
		return;
	default: /* REQUEST on an open connection */
		break;
	}
	mux->counters[VSOCK_CNT_BAD_STATE]++;
	log_debug("vsock: %s from guest port %u in state %d", vsock_op_name(h->op),
		  conn->guest_port, conn->state);
	vsock_mux_reset_conn(mux, conn);
}

int vsock_mux_guest_tx(struct vsock_mux *mux, const struct iovec *iov, size_t iovcnt)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	struct vsock_hdr h;
	struct vsock_conn *conn;
	size_t total = vsock_iov_total(iov, iovcnt);

	mux->counters[VSOCK_CNT_TX_PACKETS]++;
	if (total < VSOCK_HDR_SIZE) {
		mux->counters[VSOCK_CNT_SHORT_HEADER]++;
		return 0;
	}
	vsock_iov_read(iov, iovcnt, 0, raw, sizeof(raw));
	vsock_hdr_decode(raw, &h);
	if (h.src_cid != mux->cfg.guest_cid) {
		/* Not from this guest's address: no reply, it could only go astray. */
		mux->counters[VSOCK_CNT_BAD_SRC_CID]++;
		return 0;
	}
	if (h.dst_cid != VSOCK_HOST_CID && h.dst_cid != VSOCK_PARENT_CID) {
		mux->counters[VSOCK_CNT_BAD_DST_CID]++;
		if (h.op != VSOCK_OP_RST)
			vsock_mux_push_rst(mux, h.dst_cid, h.dst_port, h.src_port);
		return 0;
	}
	conn = vsock_conn_lookup(&mux->table, h.dst_port, h.src_port);
	if (h.type != VSOCK_TYPE_STREAM || h.op == VSOCK_OP_INVALID ||
	    h.op > VSOCK_OP_CREDIT_REQUEST || h.len > VSOCK_MAX_PAYLOAD ||
	    h.len > total - VSOCK_HDR_SIZE) {
		mux->counters[h.type != VSOCK_TYPE_STREAM ? VSOCK_CNT_BAD_TYPE
			      : h.len > VSOCK_MAX_PAYLOAD || h.len > total - VSOCK_HDR_SIZE
				  ? VSOCK_CNT_BAD_LEN
				  : VSOCK_CNT_BAD_OP]++;
		log_debug("vsock: dropped packet type %u op %u len %u (chain %zu bytes)", h.type,
			  h.op, h.len, total);
		if (conn)
			vsock_mux_reset_conn(mux, conn);
		else if (h.op != VSOCK_OP_RST)
			vsock_mux_push_rst(mux, h.dst_cid, h.dst_port, h.src_port);
		return 0;
	}
	if (!conn) {
		if (h.op == VSOCK_OP_REQUEST) {
			guest_connect(mux, &h);
			return 0;
		}
		mux->counters[VSOCK_CNT_NO_CONN]++;
		if (h.op != VSOCK_OP_RST)
			vsock_mux_push_rst(mux, h.dst_cid, h.dst_port, h.src_port);
		return 0;
	}
	conn_packet(mux, conn, &h, iov, iovcnt);
	return 0;
}
