/* virtio-mmio (version 2) transport and split virtqueues, driven from ring 3 by polling. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define VIO_ID_VSOCK  19
#define VIO_ID_NSM    33
#define VIO_QUEUE_MAX 64

#define VIO_DESC_F_NEXT	 1
#define VIO_DESC_F_WRITE 2

struct vio_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vio_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vio_dev {
	uintptr_t base;
	uint32_t device_id;
	uint32_t gsi;
};

struct vio_queue {
	struct vio_dev *dev;
	uint16_t index;
	uint16_t num;
	uint16_t avail_idx; /* next free avail slot (free-running) */
	uint16_t last_used; /* next used entry to consume (free-running) */
	bool kick_pending;
	struct vio_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[num] */
	volatile uint16_t *used;  /* flags, idx, then used elements */
};

/* Check magic, version 2 and read the device ID. -ENODEV when there is no usable device. */
int vio_probe(struct vio_dev *dev, uintptr_t base, uint32_t gsi);
/* Reset, acknowledge, negotiate VIRTIO_F_VERSION_1 plus `wanted` (low 32 feature bits). */
int vio_begin(struct vio_dev *dev, uint32_t wanted);
/* Set up queue `index` in the static ring page `ring` (4 KiB, page aligned). */
int vio_queue_setup(struct vio_dev *dev, struct vio_queue *q, uint16_t index, void *ring);
int vio_driver_ok(struct vio_dev *dev);
uint32_t vio_config_read32(struct vio_dev *dev, uint32_t offset);
/* Read and acknowledge the interrupt status (so a level-triggered line drops). */
uint32_t vio_ack_interrupt(struct vio_dev *dev);

/* Make descriptor chain `head` available (descriptors must be filled already). */
void vio_queue_push(struct vio_queue *q, uint16_t head);
/* Notify the device if something was pushed since the last kick and it wants notifications. */
void vio_queue_kick(struct vio_queue *q);
/* Take the next used element; false when none. */
bool vio_queue_pop(struct vio_queue *q, struct vio_used_elem *elem);
bool vio_queue_has_used(const struct vio_queue *q);
/* Ask the device not to interrupt for this queue (busy) or to interrupt again (before idle). */
void vio_queue_set_interrupts(struct vio_queue *q, bool enabled);
