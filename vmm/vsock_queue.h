/* Moving vsock packets between the virtqueues and the mux: TX chains in, RX chains filled,
 * used-ring updates batched (the caller raises one interrupt per batch). */
#pragma once

#include "vmm/virtqueue.h"
#include "vmm/vsock_mux.h"

#define VSOCK_QUEUE_RX	  0u
#define VSOCK_QUEUE_TX	  1u
#define VSOCK_QUEUE_EVENT 2u
#define VSOCK_QUEUE_SIZE  256u

#define VSOCK_EVENT_TRANSPORT_RESET 0u

/* Hand every available TX chain to the mux. Returns the chains consumed, or a negative errno
 * when the guest broke the queue (the caller marks the device as needing a reset). */
int vsock_queue_tx(struct vsock_mux *mux, struct virtq *txq);
/* Fill RX chains while the mux owes packets. Returns the chains pushed, or a negative errno. */
int vsock_queue_rx(struct vsock_mux *mux, struct virtq *rxq);
/* Post a transport-reset event: 1 when delivered, 0 with no event buffer yet, or -errno. */
int vsock_queue_event_reset(struct virtq *evq);
