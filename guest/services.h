/* The sample enclave's services (DESIGN.md port table) on top of vsock.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "guest/vsock.h"

enum svc_id {
	SVC_NONE = 0,
	SVC_HEARTBEAT,
	SVC_ECHO,     /* 5000 */
	SVC_ATTEST,   /* 5001 */
	SVC_NSM,      /* 5002 */
	SVC_SINK,     /* 5003 */
	SVC_SOURCE,   /* 5004 */
	SVC_DIALBACK, /* 5005: the host names a port, the enclave connects to it */
	SVC_DIALOUT,  /* the enclave's connection to CID 3 made for SVC_DIALBACK */
};

/* A peer asks to connect to `port`: set up c (svc, buf_alloc) or return -ECONNREFUSED. */
int svc_accept(struct vsock_conn *c, uint32_t port);
void svc_connected(struct vsock_conn *c);
/* Received payload. A negative return resets the connection (e.g. credit overrun). */
int svc_data(struct vsock_conn *c, const uint8_t *data, uint32_t len);
/* The peer will send no more. */
void svc_peer_shutdown(struct vsock_conn *c);
/* The connection is going away (RST, close, transport reset): release what it holds. */
void svc_release(struct vsock_conn *c);
/* Make progress on output and requests. Returns true if anything happened. May free c. */
bool svc_pump(struct vsock_conn *c);
/* The device reset the transport: every connection is about to be dropped (svc_release
 * follows for each), then svc_transport_reset_done runs. A pending heartbeat is retried. */
void svc_transport_reset(void);
void svc_transport_reset_done(void);
/* Boot: connect the heartbeat. */
void svc_start(void);
bool svc_heartbeat_done(void);
