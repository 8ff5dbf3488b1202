#include "config.h"

#include "vmm/virtqueue.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <string.h>

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint64_t avail_bytes(uint16_t size)
{
	return 6 + 2ULL * size; /* flags, idx, ring[size], used_event */
}

static uint64_t used_bytes(uint16_t size)
{
	return 6 + 8ULL * size; /* flags, idx, ring[size] of {id, len}, avail_event */
}

int virtq_configure(struct virtq *vq, const struct vmm_memory *mem, uint16_t size,
		    uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa)
{
	if (size == 0 || (size & (size - 1)) != 0) {
		log_warn("virtqueue: size %u is not a power of 2", size);
		return -EINVAL;
	}
	if (desc_gpa % 16 || avail_gpa % 2 || used_gpa % 4) {
		log_warn("virtqueue: misaligned rings desc 0x%llx avail 0x%llx used 0x%llx",
			 (unsigned long long)desc_gpa, (unsigned long long)avail_gpa,
			 (unsigned long long)used_gpa);
		return -EINVAL;
	}
	if (!vmm_memory_ptr(mem, desc_gpa, 16ULL * size) ||
	    !vmm_memory_ptr(mem, avail_gpa, avail_bytes(size)) ||
	    !vmm_memory_ptr(mem, used_gpa, used_bytes(size))) {
		log_warn("virtqueue: rings outside RAM (size %u, desc 0x%llx avail 0x%llx used "
			 "0x%llx)",
			 size, (unsigned long long)desc_gpa, (unsigned long long)avail_gpa,
			 (unsigned long long)used_gpa);
		return -EINVAL;
	}
	bool event_idx = vq->event_idx, indirect = vq->indirect;
	*vq = (struct virtq){.mem = mem,
			     .size = size,
			     .ready = true,
			     .event_idx = event_idx,
			     .indirect = indirect,
			     .desc_gpa = desc_gpa,
			     .avail_gpa = avail_gpa,
			     .used_gpa = used_gpa};
	return 0;
}

void virtq_reset(struct virtq *vq)
{
	*vq = (struct virtq){0};
}

static uint16_t *avail_field(const struct virtq *vq, uint64_t off)
{
	return vmm_memory_ptr(vq->mem, vq->avail_gpa + off, 2);
}

static uint16_t avail_idx(const struct virtq *vq)
{
	return __atomic_load_n(avail_field(vq, 2), __ATOMIC_ACQUIRE);
}

bool virtq_has_avail(const struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	return avail_idx(vq) != vq->last_avail_idx;
}

static int broken(struct virtq *vq, int err, const char *what, unsigned long long v)
{
	log_warn("virtqueue: guest error: %s (0x%llx); queue stopped until reset", what, v);
	vq->broken = true;
	return err;
}

static int chain_add(struct virtq *vq, struct virtq_chain *c, const struct virtq_desc *d)
{
	void *p;

	if (d->flags & VIRTQ_DESC_F_WRITE) {
		c->n_in++;
		c->in_len += d->len;
	} else {
		if (c->n_in)
			return broken(vq, -EINVAL, "readable descriptor after a writable one",
				      d->addr);
		c->n_out++;
		c->out_len += d->len;
	}
	if (c->n_out + c->n_in > VIRTQ_CHAIN_MAX_SEGS)
		return broken(vq, -E2BIG, "chain has too many segments", c->n_out + c->n_in);
	p = vmm_memory_ptr(vq->mem, d->addr, d->len);
	if (!p)
		return broken(vq, -EFAULT, "buffer outside RAM", d->addr);
	c->iov[c->n_out + c->n_in - 1] = (struct iovec){.iov_base = p, .iov_len = d->len};
	return 0;
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	uint64_t table;
	uint32_t table_size, visited = 0;
	uint16_t idx, head, *ring;
	bool in_indirect = false;
	struct virtq_desc d;

	if (vq->broken)
		return -EIO;
	if (!vq->ready)
		return 0;
	idx = avail_idx(vq);
	if ((uint16_t)(idx - vq->last_avail_idx) > vq->size)
		return broken(vq, -EINVAL, "avail index moved more than the queue size", idx);
	if (idx == vq->last_avail_idx)
		return 0;
	ring = avail_field(vq, 4 + 2ULL * (vq->last_avail_idx % vq->size));
	head = __atomic_load_n(ring, __ATOMIC_RELAXED);
	if (head >= vq->size)
		return broken(vq, -EINVAL, "avail ring head out of range", head);

	c->head = head;
	c->n_out = c->n_in = 0;
	c->out_len = c->in_len = 0;
	table = vq->desc_gpa;
	table_size = vq->size;
	idx = head;
	for (;;) {
		/* Every table holds at most table_size entries, so a longer walk is a loop. */
		if (++visited > table_size)
			return broken(vq, -ELOOP, "descriptor chain longer than its table",
				      visited);
		if (vmm_memory_read(vq->mem, table + 16ULL * idx, &d, sizeof(d)) < 0)
			return broken(vq, -EFAULT, "descriptor outside RAM", table + 16ULL * idx);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect)
				return broken(vq, -EINVAL, "indirect descriptor not negotiated",
					      idx);
			if (in_indirect)
				return broken(vq, -EINVAL, "nested indirect descriptor", idx);
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return broken(vq, -EINVAL, "indirect descriptor with NEXT", idx);
			if (d.len == 0 || d.len % 16 || d.len / 16 > VIRTQ_MAX_SIZE)
				return broken(vq, -EINVAL, "indirect table length", d.len);
			if (d.addr % 16 || !vmm_memory_ptr(vq->mem, d.addr, d.len))
				return broken(vq, -EFAULT, "indirect table outside RAM", d.addr);
			in_indirect = true;
			table = d.addr;
			table_size = d.len / 16;
			visited = 0;
			idx = 0;
			continue;
		}
		int r = chain_add(vq, c, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= table_size)
			return broken(vq, -EINVAL, "next descriptor out of range", d.next);
		idx = d.next;
	}
	vq->last_avail_idx++;
	return 1;
}

void virtq_unpop(struct virtq *vq)
{
	vq->last_avail_idx--;
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	uint64_t slot;
	uint32_t elem[2] = {head, written};
	uint16_t *idx;

	if (!vq->ready || vq->broken)
		return -EIO;
	if (head >= vq->size)
		return -EINVAL;
	slot = vq->used_gpa + 4 + 8ULL * (vq->used_idx % vq->size);
	if (vmm_memory_write(vq->mem, slot, elem, sizeof(elem)) < 0)
		return -EFAULT;
	idx = vmm_memory_ptr(vq->mem, vq->used_gpa + 2, 2);
	vq->used_idx++;
	__atomic_store_n(idx, vq->used_idx, __ATOMIC_RELEASE);
	return 0;
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	bool valid = vq->signalled_used_valid, notify;

	if (!vq->ready)
		return false;
	/* The driver's flags or used_event must be read after our used index store. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = now;
	vq->signalled_used_valid = true;
	if (valid && old == now)
		return false;
	if (vq->event_idx) {
		uint16_t used_event =
		    __atomic_load_n(avail_field(vq, 4 + 2ULL * vq->size), __ATOMIC_RELAXED);
		notify = !valid || (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
	} else {
		notify = !(__atomic_load_n(avail_field(vq, 0), __ATOMIC_RELAXED) &
			   VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	return notify;
}

size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *buf, size_t len)
{
	uint8_t *out = buf;
	size_t done = 0;

	for (unsigned i = 0; i < c->n_out && done < len; i++) {
		size_t seg = c->iov[i].iov_len;
		if (off >= seg) {
			off -= seg;
			continue;
		}
		size_t n = UTIL_MIN(seg - off, len - done);
		memcpy(out + done, (uint8_t *)c->iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t virtq_chain_write(const struct virtq_chain *c, size_t off, const void *buf, size_t len)
{
	const uint8_t *in = buf;
	size_t done = 0;

	for (unsigned i = c->n_out; i < c->n_out + c->n_in && done < len; i++) {
		size_t seg = c->iov[i].iov_len;
		if (off >= seg) {
			off -= seg;
			continue;
		}
		size_t n = UTIL_MIN(seg - off, len - done);
		memcpy((uint8_t *)c->iov[i].iov_base + off, in + done, n);
		done += n;
		off = 0;
	}
	return done;
}
