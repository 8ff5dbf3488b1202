/* Split virtqueues (virtio 1.x, section 2.7): the device side. The guest owns every byte of the
 * descriptor table, the avail ring and the buffers; nothing read from them is trusted. Every
 * address and length is checked against guest RAM, a chain is at most the queue size long
 * (direct plus indirect; this is also the loop detection), and a malformed queue is marked
 * broken: later pops fail with -EIO until the device is reset.
 *
 * Typical device use, on the event thread:
 *
 *	struct virtq_chain c;
 *	while ((r = virtq_pop(vq, &c)) > 0) {
 *		n = virtq_chain_read(&c, 0, hdr, sizeof hdr);          // from driver-readable part
 *		w = virtq_chain_write(&c, 0, reply, reply_len);        // into driver-writable part
 *		virtq_push(vq, c.head, w);
 *	}
 *	if (r < 0) virtio_mmio_set_needs_reset(dev);
 *	virtio_mmio_notify_queue(dev, q);   // signals the guest if needed (event index aware)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/memory.h"

#define VIRTQ_MAX_SIZE 32768u
/* Segments one popped chain may carry; longer chains are refused (-E2BIG, queue broken). */
#define VIRTQ_CHAIN_MAX_SEGS 128u

#define VIRTQ_DESC_F_NEXT     1u
#define VIRTQ_DESC_F_WRITE    2u
#define VIRTQ_DESC_F_INDIRECT 4u

#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX	    29

struct virtq {
	const struct vmm_memory *mem;
	uint16_t size; /* number of entries, a power of 2, 0 = not configured */
	bool ready;
	bool broken;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail_idx; /* next avail entry to pop */
	uint16_t used_idx;	 /* next used entry to fill */
	uint16_t signalled_used; /* used_idx at the last interrupt (event index) */
	bool signalled_used_valid;
};

/* One descriptor chain: segments readable by the device (driver -> device) first, then the
 * writable ones (device -> driver). iov_base points into guest RAM, already bounds-checked. */
struct virtq_chain {
	uint16_t head;
	unsigned n_out; /* readable segments: iov[0 .. n_out) */
	unsigned n_in;	/* writable segments: iov[n_out .. n_out+n_in) */
	size_t out_len; /* total bytes readable */
	size_t in_len;	/* total bytes writable */
	struct iovec iov[VIRTQ_CHAIN_MAX_SEGS];
};

/* Set up vq from the transport's registers. Checks size (power of 2, <= max), alignment
 * (desc 16, avail 2, used 4) and that all three areas lie in guest RAM. -EINVAL with a log. */
int virtq_configure(struct virtq *vq, const struct vmm_memory *mem, uint16_t size,
		    uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa);

/* Forget everything (device reset). */
void virtq_reset(struct virtq *vq);

/* Pop the next available chain. 1: chain filled; 0: queue empty (or not ready); negative
 * errno: the guest broke the rules (bad index, address, length, loop, too many segments);
 * the queue is then marked broken. */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain);

/* Put a popped chain back so the next pop returns it again (e.g. no room to process it now).
 * Only valid for the most recently popped chain(s), in reverse order. */
void virtq_unpop(struct virtq *vq);

/* Return a chain to the driver with the number of bytes written into its writable part.
 * written is clamped to the chain's writable length by the caller (virtq_chain_write does). */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/* Whether the driver wants an interrupt for what was pushed since the last one (honours
 * VIRTQ_AVAIL_F_NO_INTERRUPT or, with event index, used_event). Updates the signalled mark. */
bool virtq_should_notify(struct virtq *vq);

/* Whether the avail ring holds entries not yet popped. */
bool virtq_has_avail(const struct virtq *vq);

/* Copy from the chain's readable part starting at byte offset off; returns bytes copied
 * (short at the end of the readable part). */
size_t virtq_chain_read(const struct virtq_chain *chain, size_t off, void *buf, size_t len);
/* Copy into the chain's writable part at byte offset off; returns bytes copied. */
size_t virtq_chain_write(const struct virtq_chain *chain, size_t off, const void *buf, size_t len);
