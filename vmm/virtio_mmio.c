#include "config.h"

#include "vmm/virtio_mmio.h"

#include "common/log.h"
#include "common/util.h"
#include "vmm/event.h"
#include "vmm/kvm.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>

#define REG_MAGIC	     0x000
#define REG_VERSION	     0x004
#define REG_DEVICE_ID	     0x008
#define REG_VENDOR_ID	     0x00c
#define REG_DEVICE_FEATURES  0x010
#define REG_DEVICE_FEAT_SEL  0x014
#define REG_DRIVER_FEATURES  0x020
#define REG_DRIVER_FEAT_SEL  0x024
#define REG_QUEUE_SEL	     0x030
#define REG_QUEUE_NUM_MAX    0x034
#define REG_QUEUE_NUM	     0x038
#define REG_QUEUE_READY	     0x044
#define REG_QUEUE_NOTIFY     0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK    0x064
#define REG_STATUS	     0x070
#define REG_QUEUE_DESC_LOW   0x080
#define REG_QUEUE_DESC_HIGH  0x084
#define REG_QUEUE_AVAIL_LOW  0x090
#define REG_QUEUE_AVAIL_HIGH 0x094
#define REG_QUEUE_USED_LOW   0x0a0
#define REG_QUEUE_USED_HIGH  0x0a4
#define REG_CONFIG_GEN	     0x0fc
#define REG_CONFIG	     0x100

#define MMIO_MAGIC  0x74726976u /* "virt" */
#define MMIO_VENDOR 0x4c434e45u /* "ENCL" */

#define INT_USED_BUFFER 1u
#define INT_CONFIG	2u

struct mmio_queue {
	struct virtq vq;
	uint16_t num;
	uint64_t desc, avail, used;
	int notify_fd;
	struct virtio_mmio_dev *dev;
};

struct virtio_mmio_dev {
	struct vmm *vmm;
	const struct virtio_device_ops *ops;
	void *opaque;
	unsigned slot;
	uint64_t base;
	unsigned gsi;
	int irq_fd;
	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t status;
	uint32_t interrupt_status;
	uint32_t config_generation;
	struct mmio_queue q[VIRTIO_MMIO_MAX_QUEUES];
};

static void raise_irq(struct virtio_mmio_dev *dev, uint32_t why)
{
	uint64_t one = 1;

	dev->interrupt_status |= why;
	if (dev->irq_fd >= 0 && write(dev->irq_fd, &one, sizeof(one)) < 0)
		log_warn("virtio-%s: irqfd write: %m", dev->ops->name);
}

static void reset_device(struct virtio_mmio_dev *dev)
{
	for (unsigned i = 0; i < dev->ops->num_queues; i++) {
		struct mmio_queue *q = &dev->q[i];
		virtq_reset(&q->vq);
		q->num = 0;
		q->desc = q->avail = q->used = 0;
	}
	dev->driver_features = 0;
	dev->device_features_sel = dev->driver_features_sel = dev->queue_sel = 0;
	dev->status = 0;
	dev->interrupt_status = 0;
	if (dev->ops->reset)
		dev->ops->reset(dev->opaque);
}

static void queue_kick(struct virtio_mmio_dev *dev, unsigned qi)
{
	if (qi >= dev->ops->num_queues || !dev->q[qi].vq.ready ||
	    !(dev->status & VIRTIO_STATUS_DRIVER_OK))
		return;
	if (dev->ops->queue_notify)
		dev->ops->queue_notify(dev->opaque, qi);
}

static void notify_fd_ready(int fd, uint32_t events, void *opaque)
{
	struct mmio_queue *q = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return;
	queue_kick(q->dev, (unsigned)(q - q->dev->q));
}

static void set_status(struct virtio_mmio_dev *dev, uint32_t v)
{
	if (v == 0) {
		reset_device(dev);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(dev->status & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t extra = dev->driver_features & ~dev->device_features;
		if (extra || !(dev->driver_features & (1ULL << VIRTIO_F_VERSION_1))) {
			log_warn("virtio-%s: driver features 0x%llx refused (device offers 0x%llx, "
				 "VERSION_1 required)",
				 dev->ops->name, (unsigned long long)dev->driver_features,
				 (unsigned long long)dev->device_features);
			v &= ~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	bool was_ok = dev->status & VIRTIO_STATUS_DRIVER_OK;
	dev->status = v;
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !was_ok && dev->ops->driver_ok)
		dev->ops->driver_ok(dev->opaque, dev->driver_features);
}

static void set_queue_ready(struct virtio_mmio_dev *dev, struct mmio_queue *q, uint32_t v)
{
	if (!v) {
		virtq_reset(&q->vq);
		return;
	}
	if (q->vq.ready)
		return;
	q->vq.event_idx = dev->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	q->vq.indirect = dev->driver_features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	if (q->num == 0 || q->num > dev->ops->queue_max_size ||
	    virtq_configure(&q->vq, &dev->vmm->mem, q->num, q->desc, q->avail, q->used) < 0) {
		log_warn("virtio-%s: queue %u not enabled (num %u, max %u)", dev->ops->name,
			 (unsigned)(q - dev->q), q->num, dev->ops->queue_max_size);
		virtq_reset(&q->vq);
	}
}

static struct mmio_queue *cur_queue(struct virtio_mmio_dev *dev)
{
	return dev->queue_sel < dev->ops->num_queues ? &dev->q[dev->queue_sel] : NULL;
}

static void set_addr(uint64_t *addr, bool high, uint32_t v)
{
	if (high)
		*addr = (*addr & 0xffffffffULL) | ((uint64_t)v << 32);
	else
		*addr = (*addr & ~0xffffffffULL) | v;
}

static uint32_t reg_read(struct virtio_mmio_dev *dev, uint32_t off)
{
	struct mmio_queue *q = cur_queue(dev);

	switch (off) {
	case REG_MAGIC:
		return MMIO_MAGIC;
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return dev->ops->device_id;
	case REG_VENDOR_ID:
		return MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		return dev->device_features_sel < 2
			   ? (uint32_t)(dev->device_features >> (32 * dev->device_features_sel))
			   : 0;
	case REG_QUEUE_NUM_MAX:
		return q ? dev->ops->queue_max_size : 0;
	case REG_QUEUE_READY:
		return q ? q->vq.ready : 0;
	case REG_INTERRUPT_STATUS:
		return dev->interrupt_status;
	case REG_STATUS:
		return dev->status;
	case REG_CONFIG_GEN:
		return dev->config_generation;
	default:
		return 0;
	}
}

static void reg_write(struct virtio_mmio_dev *dev, uint32_t off, uint32_t v)
{
	struct mmio_queue *q = cur_queue(dev);
	/* Queue layout is fixed once the queue is enabled (virtio 4.2.2.3). */
	bool q_writable = q && !q->vq.ready;

	switch (off) {
	case REG_DEVICE_FEAT_SEL:
		dev->device_features_sel = v;
		break;
	case REG_DRIVER_FEATURES:
		if (dev->driver_features_sel < 2 && !(dev->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned shift = 32 * dev->driver_features_sel;
			dev->driver_features = (dev->driver_features & ~(0xffffffffULL << shift)) |
					       ((uint64_t)v << shift);
		}
		break;
	case REG_DRIVER_FEAT_SEL:
		dev->driver_features_sel = v;
		break;
	case REG_QUEUE_SEL:
		dev->queue_sel = v;
		break;
	case REG_QUEUE_NUM:
		if (q_writable)
			q->num = v <= dev->ops->queue_max_size ? (uint16_t)v : 0;
		break;
	case REG_QUEUE_READY:
		if (q)
			set_queue_ready(dev, q, v);
		break;
	case REG_QUEUE_NOTIFY:
		queue_kick(dev, v);
		break;
	case REG_INTERRUPT_ACK:
		dev->interrupt_status &= ~v;
		break;
	case REG_STATUS:
		set_status(dev, v);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		if (q_writable)
			set_addr(&q->desc, off == REG_QUEUE_DESC_HIGH, v);
		break;
	case REG_QUEUE_AVAIL_LOW:
	case REG_QUEUE_AVAIL_HIGH:
		if (q_writable)
			set_addr(&q->avail, off == REG_QUEUE_AVAIL_HIGH, v);
		break;
	case REG_QUEUE_USED_LOW:
	case REG_QUEUE_USED_HIGH:
		if (q_writable)
			set_addr(&q->used, off == REG_QUEUE_USED_HIGH, v);
		break;
	default:
		log_debug("virtio-%s: write 0x%x to read-only or unknown register 0x%x",
			  dev->ops->name, v, off);
		break;
	}
}

struct mmio_access {
	struct virtio_mmio_dev *dev;
	uint32_t off;
	uint8_t *data;
	uint32_t len;
	bool is_write;
};

static void do_access(void *opaque)
{
	struct mmio_access *a = opaque;
	struct virtio_mmio_dev *dev = a->dev;

	if (a->off >= REG_CONFIG) {
		uint32_t coff = a->off - REG_CONFIG;
		bool ok = (a->len == 1 || a->len == 2 || a->len == 4 || a->len == 8) &&
			  coff <= dev->ops->config_size && a->len <= dev->ops->config_size - coff;
		if (!a->is_write)
			memset(a->data, 0, a->len);
		if (!ok)
			return;
		if (a->is_write && dev->ops->config_write)
			dev->ops->config_write(dev->opaque, coff, a->data, a->len);
		else if (!a->is_write && dev->ops->config_read)
			dev->ops->config_read(dev->opaque, coff, a->data, a->len);
		return;
	}
	if (a->len != 4 || a->off % 4) {
		log_debug("virtio-%s: %u-byte access at register 0x%x ignored", dev->ops->name,
			  a->len, a->off);
		if (!a->is_write)
			memset(a->data, 0, a->len);
		return;
	}
	if (a->is_write) {
		uint32_t v;
		memcpy(&v, a->data, 4);
		reg_write(dev, a->off, v);
	} else {
		uint32_t v = reg_read(dev, a->off);
		memcpy(a->data, &v, 4);
	}
}

bool virtio_mmio_access(struct vmm *vmm, uint64_t gpa, uint8_t *data, uint32_t len, bool is_write)
{
	uint64_t slot;

	if (gpa < VIRTIO_MMIO_BASE)
		return false;
	slot = (gpa - VIRTIO_MMIO_BASE) / VIRTIO_MMIO_SLOT_SIZE;
	if (slot >= vmm->nr_virtio || len > 8)
		return false;
	struct mmio_access a = {.dev = vmm->virtio[slot],
				.off = (uint32_t)((gpa - VIRTIO_MMIO_BASE) % VIRTIO_MMIO_SLOT_SIZE),
				.data = data,
				.len = len,
				.is_write = is_write};
	if (vmm_event_run_sync(vmm->loop, do_access, &a) < 0 && !is_write)
		memset(data, 0xff, len);
	return true;
}

int virtio_mmio_register(struct vmm *vmm, const struct virtio_device_ops *ops, void *opaque,
			 struct virtio_mmio_dev **out)
{
	struct virtio_mmio_dev *dev;
	int r;

	if (vmm->nr_virtio >= VIRTIO_MMIO_MAX_SLOTS ||
	    vmm->nr_virtio >= UTIL_ARRAY_SIZE(vmm->virtio))
		return -ENOSPC;
	if (ops->num_queues > VIRTIO_MMIO_MAX_QUEUES || ops->config_size > 0xf00 ||
	    ops->queue_max_size == 0 || ops->queue_max_size > VIRTQ_MAX_SIZE ||
	    (ops->queue_max_size & (ops->queue_max_size - 1))) {
		log_error("virtio-%s: invalid device description", ops->name);
		return -EINVAL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->vmm = vmm;
	dev->ops = ops;
	dev->opaque = opaque;
	dev->slot = vmm->nr_virtio;
	dev->base = VIRTIO_MMIO_BASE + dev->slot * VIRTIO_MMIO_SLOT_SIZE;
	dev->gsi = VIRTIO_MMIO_GSI_BASE + dev->slot;
	dev->device_features = ops->features | (1ULL << VIRTIO_F_VERSION_1);
	dev->irq_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		dev->q[i].notify_fd = -1;
		dev->q[i].dev = dev;
	}
	vmm->virtio[vmm->nr_virtio++] = dev;

	if (vmm->kvm) {
		dev->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (dev->irq_fd < 0)
			return -errno;
		r = vmm_kvm_irqfd(vmm->kvm, dev->gsi, dev->irq_fd);
		if (r < 0)
			return r;
		for (unsigned i = 0; i < ops->num_queues; i++) {
			struct mmio_queue *q = &dev->q[i];
			q->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (q->notify_fd < 0)
				return -errno;
			r = vmm_kvm_ioeventfd(vmm->kvm, dev->base + REG_QUEUE_NOTIFY, 4, true, i,
					      q->notify_fd);
			if (r < 0)
				return r;
			r = vmm_event_add_fd(vmm->loop, q->notify_fd, EPOLLIN, notify_fd_ready, q);
			if (r < 0)
				return r;
		}
	}
	if (out)
		*out = dev;
	log_debug("virtio-%s: slot %u at 0x%llx, gsi %u", ops->name, dev->slot,
		  (unsigned long long)dev->base, dev->gsi);
	return (int)dev->slot;
}

void virtio_mmio_free_all(struct vmm *vmm)
{
	for (unsigned s = 0; s < vmm->nr_virtio; s++) {
		struct virtio_mmio_dev *dev = vmm->virtio[s];
		for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
			if (dev->q[i].notify_fd >= 0) {
				(void)vmm_event_del_fd(vmm->loop, dev->q[i].notify_fd);
				close(dev->q[i].notify_fd);
			}
		if (dev->irq_fd >= 0)
			close(dev->irq_fd);
		if (dev->ops->destroy)
			dev->ops->destroy(dev->opaque);
		free(dev);
		vmm->virtio[s] = NULL;
	}
	vmm->nr_virtio = 0;
}

struct virtq *virtio_mmio_queue(struct virtio_mmio_dev *dev, unsigned q)
{
	return q < dev->ops->num_queues ? &dev->q[q].vq : NULL;
}

uint64_t virtio_mmio_features(const struct virtio_mmio_dev *dev)
{
	return dev->driver_features;
}

bool virtio_mmio_driver_ok(const struct virtio_mmio_dev *dev)
{
	return dev->status & VIRTIO_STATUS_DRIVER_OK;
}

void virtio_mmio_notify_queue(struct virtio_mmio_dev *dev, unsigned q)
{
	if (q < dev->ops->num_queues && virtq_should_notify(&dev->q[q].vq))
		raise_irq(dev, INT_USED_BUFFER);
}

void virtio_mmio_notify_config(struct virtio_mmio_dev *dev)
{
	dev->config_generation++;
	raise_irq(dev, INT_CONFIG);
}

void virtio_mmio_set_needs_reset(struct virtio_mmio_dev *dev)
{
	if (dev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	dev->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (dev->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_mmio_notify_config(dev);
}

struct vmm *virtio_mmio_vmm(struct virtio_mmio_dev *dev)
{
	return dev->vmm;
}

int virtio_mmio_cmdline(const struct vmm *vmm, char *cmdline, size_t size)
{
	size_t len = strnlen(cmdline, size);

	for (unsigned s = 0; s < vmm->nr_virtio; s++) {
		const struct virtio_mmio_dev *dev = vmm->virtio[s];
		int n = snprintf(cmdline + len, size - len, "%svirtio_mmio.device=4K@0x%llx:%u",
				 len ? " " : "", (unsigned long long)dev->base, dev->gsi);
		if (n < 0 || (size_t)n >= size - len)
			return -ENOSPC;
		len += (size_t)n;
	}
	return 0;
}
