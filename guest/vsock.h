/* virtio-vsock driver (virtio 1.2 §5.10): stream connections over the rx/tx/event queues,
 * credit-based flow control. Polled from ring 3; services plug in through services.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "guest/virtio.h"

#define VSOCK_MAX_CONNS 80
#define VSOCK_CONN_BUF	8192 /* per-connection receive buffer: one full NSM request fits */
#define VSOCK_HOST_CID	2

enum vsock_state {
	VSOCK_FREE = 0,
	VSOCK_CONNECTING,
	VSOCK_OPEN,
	VSOCK_CLOSING, /* our SHUTDOWN or RST waits for a TX buffer; the slot is kept until sent */
};

struct vsock_conn {
	uint8_t state;
	uint8_t svc;	   /* services.h SVC_* */
	bool peer_no_send; /* peer said SHUTDOWN_SEND: no more data will come */
	bool peer_no_recv; /* peer said SHUTDOWN_RCV: drop what we would send */
	bool credit_requested;
	uint64_t peer_cid;
	uint32_t local_port, peer_port;
	uint32_t buf_alloc;	/* ours, advertised */
	uint32_t fwd_cnt;	/* bytes we consumed */
	uint32_t last_fwd_sent; /* fwd_cnt in the last packet we sent */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_cnt;   /* payload bytes we sent */
	uint16_t close_op; /* VSOCK_CLOSING: the packet still owed */

	/* Service state (services.c). */
	uint32_t in_len;
	uint8_t prefix[8];
	uint8_t prefix_len, prefix_off;
	int8_t slot; /* response slot in use, or -1 */
	bool close_when_done;
	const uint8_t *out;
	uint32_t out_len, out_off;
	uint64_t count; /* sink: bytes received; source: bytes left to send */
	uint64_t src_sent;
	uint8_t in[VSOCK_CONN_BUF];
};

int vsock_init(struct vio_dev *dev);
uint64_t vsock_local_cid(void);
/* One pass over the queues and connections. Returns true if anything happened. */
bool vsock_poll(void);
/* Before idling: let the device interrupt us again and acknowledge what is pending. Returns
 * true if work arrived meanwhile (do not idle). */
bool vsock_prepare_idle(void);
void vsock_after_idle(void);

/* For services. */
struct vsock_conn *vsock_connect(uint64_t cid, uint32_t port, uint8_t svc);
/* Send up to `len` bytes as one RW packet within the peer's credit. Returns bytes sent. */
uint32_t vsock_send(struct vsock_conn *c, const uint8_t *data, uint32_t len);
/* The service consumed `n` received bytes: they count towards the credit we give back. */
void vsock_consumed(struct vsock_conn *c, uint32_t n);
/* Graceful close (SHUTDOWN both ways) and abortive close (RST); both free the connection. */
void vsock_close(struct vsock_conn *c);
void vsock_reset(struct vsock_conn *c);
