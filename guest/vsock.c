#include "guest/vsock.h"
#include "guest/console.h"
#include "guest/lib.h"
#include "guest/services.h"

#include <errno.h>

#define HDR_LEN 44
/* One packet carries up to 64 KiB: per-packet costs (VM exits, syscalls, kicks) dominate. */
#define PKT_BUF	    (64 * 1024)
#define MAX_PAYLOAD (PKT_BUF - HDR_LEN)
#define RX_BUFS	    VIO_QUEUE_MAX
#define TX_BUFS	    VIO_QUEUE_MAX
#define EVENT_BUFS  4
#define TX_RESERVED 4 /* slots kept for control packets (RESPONSE, RST, credit) */

#define TYPE_STREAM	      1
#define OP_REQUEST	      1
#define OP_RESPONSE	      2
#define OP_RST		      3
#define OP_SHUTDOWN	      4
#define OP_RW		      5
#define OP_CREDIT_UPDATE      6
#define OP_CREDIT_REQUEST     7
#define SHUT_RCV	      1
#define SHUT_SEND	      2
#define EVENT_TRANSPORT_RESET 0

#define EPHEMERAL_PORT_BASE 49152

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

static struct vio_dev *vdev;
static uint64_t local_cid;
static struct vio_queue rxq, txq, evq;
static uint8_t ring_pages[3][4096] __attribute__((aligned(4096)));
static uint8_t rx_bufs[RX_BUFS][PKT_BUF] __attribute__((aligned(4096)));
static uint8_t tx_bufs[TX_BUFS][PKT_BUF] __attribute__((aligned(4096)));
static uint8_t ev_bufs[EVENT_BUFS][8];
static uint16_t tx_free[TX_BUFS];
static uint16_t tx_free_count;
static bool tx_busy[TX_BUFS];
static bool rx_posted[RX_BUFS]; /* a device handing back a buffer twice is ignored */
static struct vsock_conn conns[VSOCK_MAX_CONNS];
static uint32_t next_ephemeral;

static void hdr_decode(const uint8_t *p, struct hdr *h)
{
	h->src_cid = lib_load_le64(p);
	h->dst_cid = lib_load_le64(p + 8);
	h->src_port = lib_load_le32(p + 16);
	h->dst_port = lib_load_le32(p + 20);
	h->len = lib_load_le32(p + 24);
	h->type = lib_load_le16(p + 28);
	h->op = lib_load_le16(p + 30);
	h->flags = lib_load_le32(p + 32);
	h->buf_alloc = lib_load_le32(p + 36);
	h->fwd_cnt = lib_load_le32(p + 40);
}

static void hdr_encode(uint8_t *p, const struct hdr *h)
{
	lib_store_le64(p, h->src_cid);
	lib_store_le64(p + 8, h->dst_cid);
	lib_store_le32(p + 16, h->src_port);
	lib_store_le32(p + 20, h->dst_port);
	lib_store_le32(p + 24, h->len);
	lib_store_le16(p + 28, h->type);
	lib_store_le16(p + 30, h->op);
	lib_store_le32(p + 32, h->flags);
	lib_store_le32(p + 36, h->buf_alloc);
	lib_store_le32(p + 40, h->fwd_cnt);
}

static void rx_post(uint16_t id)
{
	rxq.desc[id].addr = (uintptr_t)rx_bufs[id];
	rxq.desc[id].len = PKT_BUF;
	rxq.desc[id].flags = VIO_DESC_F_WRITE;
	rxq.desc[id].next = 0;
	rx_posted[id] = true;
	vio_queue_push(&rxq, id);
}

static void ev_post(uint16_t id)
{
	evq.desc[id].addr = (uintptr_t)ev_bufs[id];
	evq.desc[id].len = sizeof(ev_bufs[id]);
	evq.desc[id].flags = VIO_DESC_F_WRITE;
	evq.desc[id].next = 0;
	vio_queue_push(&evq, id);
}

/* Queue one packet; `min_free` keeps slots back for control packets. */
static int tx_packet(const struct hdr *h, const uint8_t *payload, unsigned min_free)
{
	if (tx_free_count <= min_free)
		return -ENOBUFS;
	uint16_t id = tx_free[--tx_free_count];
	tx_busy[id] = true;
	hdr_encode(tx_bufs[id], h);
	if (h->len)
		memcpy(tx_bufs[id] + HDR_LEN, payload, h->len);
	txq.desc[id].addr = (uintptr_t)tx_bufs[id];
	txq.desc[id].len = HDR_LEN + h->len;
	txq.desc[id].flags = 0;
	txq.desc[id].next = 0;
	vio_queue_push(&txq, id);
	return 0;
}

static void conn_hdr(struct vsock_conn *c, struct hdr *h, uint16_t op, uint32_t len)
{
	h->src_cid = local_cid;
	h->dst_cid = c->peer_cid;
	h->src_port = c->local_port;
	h->dst_port = c->peer_port;
	h->len = len;
	h->type = TYPE_STREAM;
	h->op = op;
	h->flags = 0;
	h->buf_alloc = c->buf_alloc;
	h->fwd_cnt = c->fwd_cnt;
}

static int conn_control(struct vsock_conn *c, uint16_t op, uint32_t flags)
{
	struct hdr h;
	conn_hdr(c, &h, op, 0);
	h.flags = flags;
	int err = tx_packet(&h, NULL, 0);
	if (err == 0)
		c->last_fwd_sent = c->fwd_cnt;
	return err;
}

/* Reply RST to a packet that belongs to no connection. */
static void reply_rst(const struct hdr *in)
{
	struct hdr h = {
	    .src_cid = local_cid,
	    .dst_cid = in->src_cid,
	    .src_port = in->dst_port,
	    .dst_port = in->src_port,
	    .type = TYPE_STREAM,
	    .op = OP_RST,
	};
	(void)tx_packet(&h, NULL, 0); /* best effort: a lost RST only delays the peer */
}

static void conn_free(struct vsock_conn *c)
{
	svc_release(c);
	c->state = VSOCK_FREE;
}

static struct vsock_conn *conn_alloc(void)
{
	for (size_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &conns[i];
		if (c->state != VSOCK_FREE)
			continue;
		/* The 8 KiB receive buffer is left as is: in_len = 0 means empty. */
		memset(c, 0, offsetof(struct vsock_conn, in));
		c->slot = -1;
		return c;
	}
	return NULL;
}

static struct vsock_conn *conn_find(const struct hdr *h)
{
	for (size_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &conns[i];
		if (c->state != VSOCK_FREE && c->peer_cid == h->src_cid &&
		    c->peer_port == h->src_port && c->local_port == h->dst_port)
			return c;
	}
	return NULL;
}

/* Send the closing packet now, or keep the slot until a TX buffer frees up: a lost SHUTDOWN
 * or RST leaves the peer's end open until its timeout (or for good). */
static void conn_finish(struct vsock_conn *c, uint16_t op)
{
	if (conn_control(c, op, op == OP_SHUTDOWN ? SHUT_RCV | SHUT_SEND : 0) == 0) {
		conn_free(c);
		return;
	}
	svc_release(c);
	c->close_op = op;
	c->state = VSOCK_CLOSING;
}

/* VSOCK_CLOSING: retry the owed packet. */
static bool conn_retry_close(struct vsock_conn *c)
{
	uint16_t op = c->close_op;

	if (conn_control(c, op, op == OP_SHUTDOWN ? SHUT_RCV | SHUT_SEND : 0) < 0)
		return false;
	c->state = VSOCK_FREE; /* services were released when the close was deferred */
	return true;
}

void vsock_close(struct vsock_conn *c)
{
	conn_finish(c, OP_SHUTDOWN);
}

void vsock_reset(struct vsock_conn *c)
{
	conn_finish(c, OP_RST);
}

uint32_t vsock_send(struct vsock_conn *c, const uint8_t *data, uint32_t len)
{
	if (c->state != VSOCK_OPEN || c->peer_no_recv || !len)
		return 0;
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	uint32_t credit = in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
	if (!credit) {
		if (!c->credit_requested && conn_control(c, OP_CREDIT_REQUEST, 0) == 0)
			c->credit_requested = true;
		return 0;
	}
	uint32_t n = LIB_MIN(LIB_MIN(len, credit), (uint32_t)MAX_PAYLOAD);
	struct hdr h;
	conn_hdr(c, &h, OP_RW, n);
	if (tx_packet(&h, data, TX_RESERVED) < 0)
		return 0;
	c->tx_cnt += n;
	c->last_fwd_sent = c->fwd_cnt;
	return n;
}

void vsock_consumed(struct vsock_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
}

struct vsock_conn *vsock_connect(uint64_t cid, uint32_t port, uint8_t svc)
{
	struct vsock_conn *c = conn_alloc();
	if (!c)
		return NULL;
	c->state = VSOCK_CONNECTING;
	c->svc = svc;
	c->peer_cid = cid;
	c->peer_port = port;
	c->local_port = EPHEMERAL_PORT_BASE + (next_ephemeral++ % 16384);
	c->buf_alloc = VSOCK_CONN_BUF;
	if (conn_control(c, OP_REQUEST, 0) < 0) {
		c->state = VSOCK_FREE;
		return NULL;
	}
	return c;
}

static void handle_new(const struct hdr *h)
{
	if (h->op == OP_RST)
		return;
	if (h->op != OP_REQUEST) {
		reply_rst(h);
		return;
	}
	struct vsock_conn *c = conn_alloc();
	if (!c) {
		reply_rst(h);
		return;
	}
	c->peer_cid = h->src_cid;
	c->peer_port = h->src_port;
	c->local_port = h->dst_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (svc_accept(c, h->dst_port) < 0) {
		reply_rst(h);
		return;
	}
	c->state = VSOCK_OPEN;
	if (conn_control(c, OP_RESPONSE, 0) < 0)
		c->state = VSOCK_FREE; /* the peer times out; we have no slot to tell it */
}

static void handle_open(struct vsock_conn *c, const struct hdr *h, const uint8_t *payload)
{
	switch (h->op) {
	case OP_RW:
		if (h->len && svc_data(c, payload, h->len) < 0)
			vsock_reset(c);
		break;
	case OP_CREDIT_UPDATE:
		break;
	case OP_CREDIT_REQUEST:
		(void)conn_control(c, OP_CREDIT_UPDATE, 0);
		break;
	case OP_SHUTDOWN:
		if (h->flags & SHUT_RCV)
			c->peer_no_recv = true;
		if (h->flags & SHUT_SEND)
			c->peer_no_send = true;
		/* Both directions gone: acknowledge with RST, as Linux does. */
		if (c->peer_no_recv && c->peer_no_send)
			vsock_reset(c);
		else if (c->peer_no_send)
			svc_peer_shutdown(c);
		break;
	case OP_RST:
		conn_free(c);
		break;
	default:
		vsock_reset(c);
		break;
	}
}

static void handle_packet(const uint8_t *buf, uint32_t used_len)
{
	struct hdr h;

	if (used_len < HDR_LEN)
		return;
	hdr_decode(buf, &h);
	if (h.len > used_len - HDR_LEN || h.dst_cid != local_cid)
		return; /* a broken device: nothing sensible to answer */
	if (h.type != TYPE_STREAM) {
		if (h.op != OP_RST)
			reply_rst(&h);
		return;
	}
	struct vsock_conn *c = conn_find(&h);
	if (!c) {
		handle_new(&h);
		return;
	}
	if (c->state == VSOCK_CLOSING) {
		/* We are closing it anyway; an RST or a new REQUEST means the peer forgot it. */
		if (h.op == OP_RST || h.op == OP_REQUEST)
			c->state = VSOCK_FREE;
		if (h.op == OP_REQUEST)
			handle_new(&h);
		return;
	}
	if (h.op == OP_REQUEST && c->state == VSOCK_OPEN) {
		/* The peer reuses a port we still consider open: it forgot the old
		 * connection, so do we. */
		conn_free(c);
		handle_new(&h);
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	c->credit_requested = false;
	if (c->state == VSOCK_CONNECTING) {
		if (h.op == OP_RESPONSE) {
			c->state = VSOCK_OPEN;
			svc_connected(c);
		} else if (h.op == OP_RST) {
			conn_free(c);
		} else {
			vsock_reset(c);
		}
		return;
	}
	handle_open(c, &h, buf + HDR_LEN);
}

static void reset_all(void)
{
	for (size_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		if (conns[i].state == VSOCK_CLOSING)
			conns[i].state = VSOCK_FREE; /* already released */
		else if (conns[i].state != VSOCK_FREE)
			conn_free(&conns[i]);
	}
}

static uint64_t read_cid(void)
{
	uint64_t lo = vio_config_read32(vdev, 0), hi = vio_config_read32(vdev, 4);
	return lo | hi << 32;
}

bool vsock_poll(void)
{
	struct vio_used_elem e;
	bool worked = false;

	while (vio_queue_pop(&txq, &e)) {
		worked = true;
		if (e.id < TX_BUFS && tx_busy[e.id]) {
			tx_busy[e.id] = false;
			tx_free[tx_free_count++] = (uint16_t)e.id;
		}
	}
	/* A received packet needs at most one control packet back (RESPONSE, RST, credit). With
	 * the TX ring full, leave the rest in the used ring until the device returns TX buffers:
	 * a dropped RESPONSE or RST would leave the peer waiting for its timeout. */
	while (tx_free_count > 0 && vio_queue_pop(&rxq, &e)) {
		worked = true;
		if (e.id >= rxq.num || !rx_posted[e.id])
			continue; /* not a buffer the device holds: ignore it */
		rx_posted[e.id] = false;
		handle_packet(rx_bufs[e.id], LIB_MIN(e.len, (uint32_t)PKT_BUF));
		rx_post((uint16_t)e.id);
	}
	while (vio_queue_pop(&evq, &e)) {
		worked = true;
		if (e.id >= EVENT_BUFS || e.id >= evq.num)
			continue;
		if (e.len >= 4 && lib_load_le32(ev_bufs[e.id]) == EVENT_TRANSPORT_RESET) {
			svc_transport_reset();
			reset_all();
			local_cid = read_cid();
			svc_transport_reset_done();
		}
		ev_post((uint16_t)e.id);
	}
	/* Owed closes first: they free slots, and the peer is waiting for them. */
	for (size_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		if (conns[i].state == VSOCK_CLOSING && conn_retry_close(&conns[i]))
			worked = true;
	}
	for (size_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &conns[i];
		if (c->state != VSOCK_OPEN)
			continue;
		if (svc_pump(c))
			worked = true;
		/* Give credit back before the peer could run dry (sink consumes on arrival). */
		if (c->state == VSOCK_OPEN && c->fwd_cnt - c->last_fwd_sent >= c->buf_alloc / 4 &&
		    c->fwd_cnt != c->last_fwd_sent)
			(void)conn_control(c, OP_CREDIT_UPDATE, 0);
	}
	vio_queue_kick(&rxq);
	vio_queue_kick(&txq);
	vio_queue_kick(&evq);
	return worked;
}

bool vsock_prepare_idle(void)
{
	vio_queue_set_interrupts(&rxq, true);
	vio_queue_set_interrupts(&txq, true);
	vio_queue_set_interrupts(&evq, true);
	lib_mfence();
	(void)vio_ack_interrupt(vdev);
	return vio_queue_has_used(&rxq) || vio_queue_has_used(&txq) || vio_queue_has_used(&evq);
}

void vsock_after_idle(void)
{
	vio_queue_set_interrupts(&rxq, false);
	vio_queue_set_interrupts(&txq, false);
	vio_queue_set_interrupts(&evq, false);
}

uint64_t vsock_local_cid(void)
{
	return local_cid;
}

int vsock_init(struct vio_dev *dev)
{
	int err;

	vdev = dev;
	err = vio_begin(dev, 1); /* VIRTIO_VSOCK_F_STREAM if offered */
	if (err < 0)
		return err;
	struct vio_queue *qs[3] = {&rxq, &txq, &evq};
	for (uint16_t i = 0; i < 3; i++) {
		err = vio_queue_setup(dev, qs[i], i, ring_pages[i]);
		if (err < 0)
			return err;
	}
	local_cid = read_cid();
	for (uint16_t i = 0; i < rxq.num; i++)
		rx_post(i);
	for (uint16_t i = 0; i < EVENT_BUFS && i < evq.num; i++)
		ev_post(i);
	tx_free_count = 0;
	for (uint16_t i = txq.num; i > 0; i--)
		tx_free[tx_free_count++] = (uint16_t)(i - 1);
	vsock_after_idle();
	err = vio_driver_ok(dev);
	if (err < 0)
		return err;
	vio_queue_kick(&rxq);
	vio_queue_kick(&evq);
	return 0;
}
