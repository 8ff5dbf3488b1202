/* Guest RX: turn what each connection owes the guest into packets, reading host sockets
 * straight into the guest's buffers. */
#include "config.h"

#include "vmm/vsock_mux_internal.h"

#include "common/log.h"
#include "common/util.h"

#include <string.h>
#include <sys/socket.h>

bool vsock_mux_rx_pending(const struct vsock_mux *mux)
{
	return mux->rst_count > 0 || mux->rxq_head != NULL;
}

static void base_hdr(const struct vsock_mux *mux, struct vsock_conn *conn, struct vsock_hdr *h,
		     uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = conn->host_cid;
	h->dst_cid = mux->cfg.guest_cid;
	h->src_port = conn->host_port;
	h->dst_port = conn->guest_port;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->buf_alloc = conn->buf_alloc;
	h->fwd_cnt = conn->fwd_cnt;
	conn->fwd_cnt_sent = conn->fwd_cnt;
}

static void put_hdr(const struct iovec *iov, size_t iovcnt, const struct vsock_hdr *h)
{
	uint8_t raw[VSOCK_HDR_SIZE];

	vsock_hdr_encode(h, raw);
	vsock_iov_write(iov, iovcnt, 0, raw, sizeof(raw));
}

/* Read from the host socket into the guest buffer. Returns 1 with *h filled when a packet
 * (RW, SHUTDOWN or CREDIT_REQUEST) is ready, 0 when there is nothing to send, -1 when the
 * connection was destroyed. */
static int produce_data(struct vsock_mux *mux, struct vsock_conn *conn, const struct iovec *iov,
			size_t iovcnt, size_t room, struct vsock_hdr *h)
{
	uint32_t credit = vsock_conn_peer_free(conn);
	struct iovec slice[64];
	struct msghdr msg = {.msg_iov = slice};
	size_t want, covered;
	ssize_t n;

	if (conn->kind == VSOCK_CONN_HEARTBEAT) {
		static const uint8_t reply = HEARTBEAT_BYTE;
		if (room == 0) /* keep it owed for a buffer with room for the byte */
			return 0;
		conn->pending &= ~VSOCK_PEND_RW;
		if (!conn->heartbeat_due || credit == 0)
			return 0;
		conn->heartbeat_due = false;
		base_hdr(mux, conn, h, VSOCK_OP_RW);
		h->len = 1;
		vsock_iov_write(iov, iovcnt, VSOCK_HDR_SIZE, &reply, 1);
		conn->tx_cnt += 1;
		return 1;
	}
	if (conn->state != VSOCK_CONN_ESTABLISHED || conn->host_eof ||
	    (conn->guest_shutdown & VSOCK_SHUTDOWN_RCV)) {
		conn->pending &= ~VSOCK_PEND_RW;
		return 0;
	}
	if (credit == 0) {
		conn->pending &= ~VSOCK_PEND_RW;
		if (conn->credit_requested)
			return 0;
		conn->credit_requested = true;
		base_hdr(mux, conn, h, VSOCK_OP_CREDIT_REQUEST);
		return 1;
	}
	want = UTIL_MIN(UTIL_MIN(room, (size_t)VSOCK_MAX_PAYLOAD), (size_t)credit);
	if (want == 0) {
		/* A header-only buffer carries no data; keep it owed for a bigger one. */
		mux->counters[VSOCK_CNT_RX_BUF_SHORT]++;
		return 0;
	}
	msg.msg_iovlen = vsock_iov_slice(iov, iovcnt, VSOCK_HDR_SIZE, want, slice,
					 UTIL_ARRAY_SIZE(slice), &covered);
	do
		n = recvmsg(conn->fd, &msg, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN) {
			conn->pending &= ~VSOCK_PEND_RW;
			vsock_mux_update_interest(mux, conn);
			return 0;
		}
		mux->counters[VSOCK_CNT_HOST_IO_ERROR]++;
		base_hdr(mux, conn, h, VSOCK_OP_RST);
		vsock_mux_destroy(mux, conn);
		return -1;
	}
	if (n == 0) {
		/* The host will send nothing more; a full close also means it reads nothing. */
		conn->host_eof = true;
		conn->pending &= ~VSOCK_PEND_RW;
		conn->shutdown_flags =
		    VSOCK_SHUTDOWN_SEND | (conn->host_hup ? VSOCK_SHUTDOWN_RCV : 0);
		base_hdr(mux, conn, h, VSOCK_OP_SHUTDOWN);
		h->flags = conn->shutdown_flags;
		if (conn->shutdown_flags == VSOCK_SHUTDOWN_BOTH &&
		    conn->state != VSOCK_CONN_CLOSING) {
			conn->state = VSOCK_CONN_CLOSING;
			conn->deadline_ns =
			    util_now_monotonic_ns() + (uint64_t)mux->cfg.timeout_ms * 1000000u;
			vsock_mux_arm_deadline(mux, conn->deadline_ns);
		}
		vsock_mux_update_interest(mux, conn);
		return 1;
	}
	base_hdr(mux, conn, h, VSOCK_OP_RW);
	h->len = (uint32_t)n;
	conn->tx_cnt += (uint32_t)n;
	return 1;
}

/* One packet for conn into the buffer: 1 written, 0 nothing owed now, -1 destroyed (an RST
 * may have been written). */
static int produce(struct vsock_mux *mux, struct vsock_conn *conn, const struct iovec *iov,
		   size_t iovcnt, size_t total, uint32_t *len)
{
	struct vsock_hdr h;
	int r;

	if (conn->pending & VSOCK_PEND_REQUEST) {
		conn->pending &= ~VSOCK_PEND_REQUEST;
		base_hdr(mux, conn, &h, VSOCK_OP_REQUEST);
	} else if (conn->pending & VSOCK_PEND_RESPONSE) {
		conn->pending &= ~VSOCK_PEND_RESPONSE;
		base_hdr(mux, conn, &h, VSOCK_OP_RESPONSE);
	} else if (conn->pending & VSOCK_PEND_CREDIT_UPDATE) {
		conn->pending &= ~VSOCK_PEND_CREDIT_UPDATE;
		base_hdr(mux, conn, &h, VSOCK_OP_CREDIT_UPDATE);
	} else if (conn->pending & VSOCK_PEND_CREDIT_REQUEST) {
		conn->pending &= ~VSOCK_PEND_CREDIT_REQUEST;
		base_hdr(mux, conn, &h, VSOCK_OP_CREDIT_REQUEST);
	} else if (conn->pending & VSOCK_PEND_RW) {
		r = produce_data(mux, conn, iov, iovcnt, total - VSOCK_HDR_SIZE, &h);
		if (r <= 0 && !(r < 0 && h.op == VSOCK_OP_RST))
			return r;
		put_hdr(iov, iovcnt, &h);
		*len = VSOCK_HDR_SIZE + h.len;
		return r < 0 ? -1 : 1;
	} else if (conn->pending & VSOCK_PEND_SHUTDOWN) {
		conn->pending &= ~VSOCK_PEND_SHUTDOWN;
		base_hdr(mux, conn, &h, VSOCK_OP_SHUTDOWN);
		h.flags = conn->shutdown_flags;
	} else {
		return 0;
	}
	put_hdr(iov, iovcnt, &h);
	*len = VSOCK_HDR_SIZE;
	return 1;
}

int vsock_mux_guest_rx(struct vsock_mux *mux, const struct iovec *iov, size_t iovcnt, uint32_t *len)
{
	size_t total = vsock_iov_total(iov, iovcnt);
	uint32_t visits;

	if (!vsock_mux_rx_pending(mux))
		return -EAGAIN;
	if (total < VSOCK_HDR_SIZE) {
		/* Unusable buffer: hand it back empty rather than stall the queue on it. */
		mux->counters[VSOCK_CNT_RX_BUF_SHORT]++;
		*len = 0;
		return 0;
	}
	if (mux->rst_count > 0) {
		struct vsock_stray_rst *rst = &mux->rst_ring[mux->rst_head];
		struct vsock_hdr h = {
		    .src_cid = rst->src_cid,
		    .dst_cid = mux->cfg.guest_cid,
		    .src_port = rst->src_port,
		    .dst_port = rst->dst_port,
		    .type = VSOCK_TYPE_STREAM,
		    .op = VSOCK_OP_RST,
		};
		mux->rst_head = (mux->rst_head + 1) % VSOCK_RST_RING;
		mux->rst_count--;
		put_hdr(iov, iovcnt, &h);
		*len = VSOCK_HDR_SIZE;
		mux->counters[VSOCK_CNT_RX_PACKETS]++;
		return 0;
	}
	/* Visit each waiting connection at most once; re-queue at the tail for fairness. */
	for (visits = mux->rxq_len; visits > 0 && mux->rxq_head; visits--) {
		struct vsock_conn *conn = mux->rxq_head;
		int r;

		mux->rxq_head = conn->rx_next;
		if (mux->rxq_head)
			mux->rxq_head->rx_prev = NULL;
		else
			mux->rxq_tail = NULL;
		conn->in_rxq = false;
		conn->rx_next = conn->rx_prev = NULL;
		mux->rxq_len--;

		r = produce(mux, conn, iov, iovcnt, total, len);
		if (r >= 0 && conn->pending)
			vsock_mux_rxq_push(mux, conn);
		if (r != 0) {
			mux->counters[VSOCK_CNT_RX_PACKETS]++;
			return 0;
		}
	}
	return -EAGAIN;
}

void vsock_mux_reset(struct vsock_mux *mux)
{
	while (mux->table.all)
		vsock_mux_destroy(mux, mux->table.all);
	mux->rst_head = mux->rst_count = 0;
}

void vsock_mux_get_stats(const struct vsock_mux *mux, struct vsock_stats *stats)
{
	memcpy(stats->counters, mux->counters, sizeof(stats->counters));
	stats->connections = mux->table.count;
}
