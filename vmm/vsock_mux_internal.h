/* Internals shared by vsock_mux.c (guest side) and vsock_host.c (host side). */
#pragma once

#include "vmm/vsock_bridge.h"
#include "vmm/vsock_conn.h"
#include "vmm/vsock_mux.h"
#include "vmm/vsock_packet.h"

#define VSOCK_RST_RING	  1024u /* RSTs owed for unknown connections */
#define VSOCK_MAX_PENDING 64u	/* host clients that have not finished their CONNECT line */

enum vsock_ep_tag { VSOCK_EP_LISTENER = 1, VSOCK_EP_TIMER, VSOCK_EP_PENDING, VSOCK_EP_CONN };

struct vsock_pending_client {
	int ep_tag;
	int fd;
	char line[VSOCK_BRIDGE_LINE_MAX];
	size_t len;
	uint64_t deadline_ns;
	struct vsock_pending_client *prev, *next;
};

struct vsock_stray_rst {
	uint64_t src_cid;
	uint32_t src_port, dst_port;
};

struct vsock_mux {
	struct vsock_mux_config cfg;
	char *runtime_dir;
	int epfd, listen_fd, timer_fd;
	int listener_tag, timer_tag;
	uint64_t timer_armed_ns;
	struct vsock_conn_table table;
	struct vsock_conn *rxq_head, *rxq_tail;
	uint32_t rxq_len;
	struct vsock_stray_rst rst_ring[VSOCK_RST_RING];
	uint32_t rst_head, rst_count;
	struct vsock_pending_client *pending;
	uint32_t npending;
	struct vsock_port_alloc ports;
	uint64_t counters[VSOCK_CNT__MAX];
};

void vsock_mux_rxq_push(struct vsock_mux *mux, struct vsock_conn *conn);
void vsock_mux_pend(struct vsock_mux *mux, struct vsock_conn *conn, uint32_t bits);
void vsock_mux_push_rst(struct vsock_mux *mux, uint64_t src_cid, uint32_t src_port,
			uint32_t dst_port);
/* Close the host side and forget the connection, without telling the guest. */
void vsock_mux_destroy(struct vsock_mux *mux, struct vsock_conn *conn);
/* RST to the guest, then forget. */
void vsock_mux_reset_conn(struct vsock_mux *mux, struct vsock_conn *conn);
void vsock_mux_update_interest(struct vsock_mux *mux, struct vsock_conn *conn);
void vsock_mux_arm_deadline(struct vsock_mux *mux, uint64_t deadline_ns);
/* Push buffered guest data to the host socket; returns 1 if the connection was destroyed. */
int vsock_mux_flush(struct vsock_mux *mux, struct vsock_conn *conn);

/* vsock_host.c */
int vsock_host_init(struct vsock_mux *mux);
void vsock_host_fini(struct vsock_mux *mux);
void vsock_host_listener_ready(struct vsock_mux *mux);
void vsock_host_pending_ready(struct vsock_mux *mux, struct vsock_pending_client *client,
			      uint32_t events);
void vsock_host_conn_ready(struct vsock_mux *mux, struct vsock_conn *conn, uint32_t events);
void vsock_host_timer_ready(struct vsock_mux *mux);
