/* vsock connections: the table keyed by (host port, guest port), per-connection state,
 * credit accounting in both directions, and the bounded guest->host buffer.
 * Pure code: no sockets here (vsock_mux.c does the I/O). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum vsock_conn_state {
	VSOCK_CONN_CONNECTING,	/* host-initiated: REQUEST to the guest, waiting for RESPONSE */
	VSOCK_CONN_ESTABLISHED, /* data flows (each direction may be shut down) */
	VSOCK_CONN_CLOSING,	/* full shutdown sent or received: waiting for RST or a flush */
};

enum vsock_conn_kind {
	VSOCK_CONN_SOCKET,    /* bridged to a host unix socket */
	VSOCK_CONN_HEARTBEAT, /* CID 3 port 9000, answered by the VMM */
};

/* Packets owed to the guest, sent by the RX path in this order of priority. */
enum {
	VSOCK_PEND_RST = 1u << 0,
	VSOCK_PEND_REQUEST = 1u << 1,
	VSOCK_PEND_RESPONSE = 1u << 2,
	VSOCK_PEND_CREDIT_UPDATE = 1u << 3,
	VSOCK_PEND_CREDIT_REQUEST = 1u << 4,
	VSOCK_PEND_RW = 1u << 5, /* host socket may be readable (or heartbeat reply due) */
	VSOCK_PEND_SHUTDOWN = 1u << 6,
};

struct vsock_conn {
	uint32_t host_port;  /* our side: the guest's dst_port */
	uint32_t guest_port; /* the guest's src_port */
	uint64_t host_cid;   /* the CID the guest addressed (2 or 3), used as src_cid in replies */
	enum vsock_conn_kind kind;
	enum vsock_conn_state state;
	int fd;
	uint32_t pending;	 /* VSOCK_PEND_* */
	uint32_t shutdown_flags; /* flags of the SHUTDOWN we send (VSOCK_SHUTDOWN_*) */
	uint32_t guest_shutdown; /* flags received from the guest */
	bool host_eof;		 /* host will send nothing more */
	bool host_hup;		 /* host socket fully closed */
	bool host_wr_shut;	 /* we did shutdown(SHUT_WR) after the guest's SEND shutdown */
	bool heartbeat_due;	 /* heartbeat: 0xB7 reply owed */
	uint64_t deadline_ns;	 /* 0: none */
	uint32_t ev_mask;	 /* epoll events currently registered (0: not registered) */

	/* guest -> host: what we advertise */
	uint32_t buf_alloc;
	uint32_t rx_cnt;       /* payload bytes taken from the guest */
	uint32_t fwd_cnt;      /* payload bytes handed to the host socket */
	uint32_t fwd_cnt_sent; /* fwd_cnt as last told to the guest */
	uint8_t *buf;	       /* ring of buf_alloc bytes, allocated on first need */
	uint32_t buf_head;     /* read offset */
	uint32_t buf_used;

	/* host -> guest: the guest's advertisement */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt; /* payload bytes sent to the guest */
	bool credit_requested;

	/* table and lists (owned by vsock_conn_table / vsock_mux) */
	struct vsock_conn *hash_next;
	struct vsock_conn *all_prev, *all_next;
	struct vsock_conn *rx_prev, *rx_next;
	bool in_rxq;
	int ep_tag; /* epoll dispatch tag, set by the mux */
};

struct vsock_conn_table {
	struct vsock_conn **buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t count;
	uint32_t max;
	uint64_t seed;		/* keyed hash: guests choose ports */
	struct vsock_conn *all; /* every connection, for timers and reset */
};

int vsock_conn_table_init(struct vsock_conn_table *table, uint32_t max_conns);
/* Frees every connection's memory; the caller has closed their fds. */
void vsock_conn_table_destroy(struct vsock_conn_table *table);
struct vsock_conn *vsock_conn_lookup(const struct vsock_conn_table *table, uint32_t host_port,
				     uint32_t guest_port);
/* Allocate and insert; -EEXIST for a duplicate key, -EMFILE when the table is full. */
int vsock_conn_add(struct vsock_conn_table *table, uint32_t host_port, uint32_t guest_port,
		   uint64_t host_cid, uint32_t buf_alloc, struct vsock_conn **out);
/* Unlink and free (fd and rx queue are the caller's business). */
void vsock_conn_remove(struct vsock_conn_table *table, struct vsock_conn *conn);

/* Bytes the guest can still take from us (0 when it lies about fwd_cnt). */
uint32_t vsock_conn_peer_free(const struct vsock_conn *conn);
/* Take the credit fields of any guest packet. */
void vsock_conn_update_peer_credit(struct vsock_conn *conn, uint32_t buf_alloc, uint32_t fwd_cnt);
/* Whether the guest may send len more bytes now (our buffer occupancy allows it). */
bool vsock_conn_guest_may_send(const struct vsock_conn *conn, uint32_t len);
/* Whether the guest's view of our free space has shrunk enough to owe it a credit update. */
bool vsock_conn_credit_update_due(const struct vsock_conn *conn);

/* Append len bytes gathered from iov at offset off to the ring; the caller checked room with
 * vsock_conn_guest_may_send. -ENOMEM if the ring cannot be allocated. */
int vsock_conn_buf_append(struct vsock_conn *conn, const struct iovec *iov, size_t iovcnt,
			  size_t off, size_t len);
/* The ring's readable bytes as up to two iovecs; returns the count. */
size_t vsock_conn_buf_peek(const struct vsock_conn *conn, struct iovec out[2]);
void vsock_conn_buf_consume(struct vsock_conn *conn, size_t len);
