#include "config.h"

#include "vmm/vsock_queue.h"

#include <endian.h>
#include <errno.h>

int vsock_queue_tx(struct vsock_mux *mux, struct virtq *txq)
{
	struct virtq_chain chain;
	int count = 0, r;

	while ((r = virtq_pop(txq, &chain)) > 0) {
		/* Only the device-readable part is a packet; a writable tail is ignored. */
		r = vsock_mux_guest_tx(mux, chain.iov, chain.n_out);
		if (r < 0) {
			virtq_unpop(txq);
			return r;
		}
		r = virtq_push(txq, chain.head, 0);
		if (r < 0)
			return r;
		count++;
	}
	return r < 0 ? r : count;
}

int vsock_queue_rx(struct vsock_mux *mux, struct virtq *rxq)
{
	struct virtq_chain chain;
	int count = 0, r;

	while (vsock_mux_rx_pending(mux)) {
		uint32_t len;

		r = virtq_pop(rxq, &chain);
		if (r <= 0)
			return r < 0 ? r : count;
		r = vsock_mux_guest_rx(mux, chain.iov + chain.n_out, chain.n_in, &len);
		if (r == -EAGAIN) {
			virtq_unpop(rxq);
			break;
		}
		if (r < 0) {
			virtq_unpop(rxq);
			return r;
		}
		r = virtq_push(rxq, chain.head, len);
		if (r < 0)
			return r;
		count++;
	}
	return count;
}

int vsock_queue_event_reset(struct virtq *evq)
{
	struct virtq_chain chain;
	uint32_t id = htole32(VSOCK_EVENT_TRANSPORT_RESET);
	size_t n;
	int r;

	r = virtq_pop(evq, &chain);
	if (r <= 0)
		return r;
	n = virtq_chain_write(&chain, 0, &id, sizeof(id));
	r = virtq_push(evq, chain.head, (uint32_t)n);
	return r < 0 ? r : 1;
}
