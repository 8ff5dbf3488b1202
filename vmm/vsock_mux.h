/* The vsock device's host half: guest packets in, host unix sockets out, and back.
 *
 * Transport-independent: the virtio glue (vsock.c) hands each TX chain over as an iovec array
 * straight into guest memory and offers each RX chain the same way, so payload is copied once,
 * between guest memory and the socket. Host sockets, the listener and the timers sit behind one
 * epoll fd that the VMM's event thread watches (vsock_mux_fd); call vsock_mux_process when it
 * is readable. Single-threaded: everything runs on the event thread. */
#pragma once

#include "vmm/heartbeat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define VSOCK_DEFAULT_MAX_CONNS	 1023u
#define VSOCK_DEFAULT_BUF_ALLOC	 (256u * 1024u)
#define VSOCK_DEFAULT_TIMEOUT_MS 2000u

struct vsock_mux_config {
	uint64_t guest_cid;	 /* >= 3 */
	const char *runtime_dir; /* holds vsock.sock and the guest-initiated vsock.sock_<port> */
	uid_t owner_uid;	 /* (uid_t)-1: leave as created */
	gid_t owner_gid;
	mode_t socket_mode;  /* 0600 or 0660 (0: 0600) */
	uint32_t max_conns;  /* 0: VSOCK_DEFAULT_MAX_CONNS */
	uint32_t buf_alloc;  /* per-connection guest->host buffer; 0: default */
	uint32_t timeout_ms; /* CONNECT line, guest RESPONSE, close linger; 0: default */
	bool no_listener;    /* tests: no vsock.sock */
	heartbeat_fn on_heartbeat;
	void *opaque;
};

/* Why packets or connections were dropped; shown by the daemon. */
enum vsock_counter {
	VSOCK_CNT_TX_PACKETS,
	VSOCK_CNT_RX_PACKETS,
	VSOCK_CNT_CONNS_OPENED,
	VSOCK_CNT_SHORT_HEADER, /* chain shorter than 44 bytes */
	VSOCK_CNT_BAD_LEN,	/* len over 64 KiB or past the chain */
	VSOCK_CNT_BAD_SRC_CID,
	VSOCK_CNT_BAD_DST_CID,
	VSOCK_CNT_BAD_TYPE,
	VSOCK_CNT_BAD_OP,
	VSOCK_CNT_NO_CONN,	    /* packet for an unknown connection */
	VSOCK_CNT_BAD_STATE,	    /* op not valid in the connection's state */
	VSOCK_CNT_CREDIT_VIOLATION, /* guest sent past the credit we gave */
	VSOCK_CNT_CONN_LIMIT,	    /* connection refused: table full */
	VSOCK_CNT_RST_QUEUE_FULL,   /* RST for an unknown connection dropped */
	VSOCK_CNT_RX_BUF_SHORT,	    /* guest RX buffer under 44 bytes */
	VSOCK_CNT_GUEST_REFUSED,    /* guest connect with no host listener */
	VSOCK_CNT_HOST_BAD_CONNECT, /* garbage CONNECT line */
	VSOCK_CNT_HOST_TIMEOUT,	    /* host client silent, or guest never answered */
	VSOCK_CNT_HOST_IO_ERROR,    /* host socket vanished mid-stream */
	VSOCK_CNT_HEARTBEATS,
	VSOCK_CNT_HEARTBEAT_BAD,
	VSOCK_CNT_HOST_GONE, /* host client hung up before its connection reached the guest */
	VSOCK_CNT__MAX,
};

struct vsock_stats {
	uint64_t counters[VSOCK_CNT__MAX];
	uint32_t connections; /* open now */
};

struct vsock_mux;

int vsock_mux_new(const struct vsock_mux_config *config, struct vsock_mux **out);
void vsock_mux_free(struct vsock_mux *mux);

int vsock_mux_fd(const struct vsock_mux *mux);
/* Handle whatever the epoll fd reports, without blocking. */
int vsock_mux_process(struct vsock_mux *mux);

/* One guest TX chain (device-readable). Bad packets are counted and dropped; the return value
 * is negative only for host failures (ENOMEM). */
int vsock_mux_guest_tx(struct vsock_mux *mux, const struct iovec *iov, size_t iovcnt);
/* Fill one guest RX chain (device-writable). 0 and *len set, or -EAGAIN when nothing is owed. */
int vsock_mux_guest_rx(struct vsock_mux *mux, const struct iovec *iov, size_t iovcnt,
		       uint32_t *len);
bool vsock_mux_rx_pending(const struct vsock_mux *mux);

/* Transport reset (VMM start or restore): close every connection without telling the guest,
 * which learns of it from the event queue. */
void vsock_mux_reset(struct vsock_mux *mux);

void vsock_mux_get_stats(const struct vsock_mux *mux, struct vsock_stats *stats);
const char *vsock_counter_name(enum vsock_counter counter);
