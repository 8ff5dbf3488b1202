/* virtio-mmio transport, version 2 (virtio 1.x, section 4.2.2). Slot i sits at
 * VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SLOT_SIZE with GSI VIRTIO_MMIO_GSI_BASE + i, announced to
 * Linux as virtio_mmio.device=4K@<base>:<gsi> on the command line.
 *
 * A device model fills a struct virtio_device_ops and registers it from its init function
 * (see VMM_DEVICE_INIT in vmm/vmm.h). Every callback runs on the event thread, so device code
 * needs no locks: register reads and writes made by the guest on a vCPU are forwarded there.
 * QueueNotify arrives through an ioeventfd per queue (no vCPU exit); interrupts leave through
 * an irqfd on the slot's GSI. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/virtqueue.h"

#define VIRTIO_MMIO_BASE       0xd0000000ULL
#define VIRTIO_MMIO_SLOT_SIZE  0x1000ULL
#define VIRTIO_MMIO_GSI_BASE   5u
#define VIRTIO_MMIO_MAX_SLOTS  8u
#define VIRTIO_MMIO_MAX_QUEUES 8u

#define VIRTIO_F_VERSION_1 32

#define VIRTIO_ID_VSOCK 19u
#define VIRTIO_ID_NSM	33u

/* Device status bits (section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER	  2u
#define VIRTIO_STATUS_DRIVER_OK	  4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED	  128u

struct virtio_mmio_dev;
struct vmm;

struct virtio_device_ops {
	const char *name; /* for logs */
	uint32_t device_id;
	/* Device feature bits offered; the transport adds VIRTIO_F_VERSION_1 (required). */
	uint64_t features;
	uint32_t config_size;	 /* bytes of device config space at 0x100, <= 0xf00 */
	unsigned num_queues;	 /* <= VIRTIO_MMIO_MAX_QUEUES */
	uint16_t queue_max_size; /* QueueNumMax, a power of 2 <= VIRTQ_MAX_SIZE */

	/* Config space access; offset + len <= config_size is checked by the transport, len is
	 * 1, 2, 4 or 8. data is little-endian guest data. Either may be NULL (reads give zeros,
	 * writes are ignored). */
	void (*config_read)(void *opaque, uint32_t offset, void *data, uint32_t len);
	void (*config_write)(void *opaque, uint32_t offset, const void *data, uint32_t len);

	/* The driver kicked queue q (q < num_queues, and the queue is ready). */
	void (*queue_notify)(void *opaque, unsigned q);

	/* Optional: the driver set DRIVER_OK; the negotiated features are final. */
	void (*driver_ok)(void *opaque, uint64_t features);

	/* Device reset (Status written 0): drop all in-flight state. The transport has already
	 * reset its queues. Optional. */
	void (*reset)(void *opaque);

	/* Optional: the VMM is shutting down; free what the device's init allocated. */
	void (*destroy)(void *opaque);
};

/* Register a device in the next free slot. ops must outlive the device. Call before the vCPUs
 * start (from a VMM_DEVICE_INIT function). Returns the slot index or a negative errno. */
int virtio_mmio_register(struct vmm *vmm, const struct virtio_device_ops *ops, void *opaque,
			 struct virtio_mmio_dev **out);

/* Queue q of the device (NULL if q is out of range). Its fields are valid while ready. */
struct virtq *virtio_mmio_queue(struct virtio_mmio_dev *dev, unsigned q);

/* Features the driver accepted (meaningful once DRIVER_OK). */
uint64_t virtio_mmio_features(const struct virtio_mmio_dev *dev);

/* Whether the driver set DRIVER_OK (and has not reset since). */
bool virtio_mmio_driver_ok(const struct virtio_mmio_dev *dev);

/* After virtq_push: raise the used-buffer interrupt if the queue's driver wants one. */
void virtio_mmio_notify_queue(struct virtio_mmio_dev *dev, unsigned q);

/* Raise the configuration-change interrupt (bumps ConfigGeneration). */
void virtio_mmio_notify_config(struct virtio_mmio_dev *dev);

/* The guest broke the virtqueue rules: set DEVICE_NEEDS_RESET and tell the driver. */
void virtio_mmio_set_needs_reset(struct virtio_mmio_dev *dev);

/* The vmm this device belongs to (memory, event loop, config, channel). */
struct vmm *virtio_mmio_vmm(struct virtio_mmio_dev *dev);

/* ---- used by the rest of the VMM, not by device models ---- */

/* A guest MMIO access inside the virtio-mmio window, from a vCPU thread: executed on the event
 * thread. Returns false if gpa is not in a registered slot. */
bool virtio_mmio_access(struct vmm *vmm, uint64_t gpa, uint8_t *data, uint32_t len, bool is_write);

/* Append " virtio_mmio.device=4K@0x...:N" for every registered slot to cmdline (NUL-terminated,
 * size bytes). -ENOSPC when it does not fit. */
int virtio_mmio_cmdline(const struct vmm *vmm, char *cmdline, size_t size);

/* Unregister and free every device (end of the VMM). */
void virtio_mmio_free_all(struct vmm *vmm);
