#include "guest/virtio.h"
#include "guest/lib.h"

#include <errno.h>

#define REG_MAGIC	   0x000
#define REG_VERSION	   0x004
#define REG_DEVICE_ID	   0x008
#define REG_DEV_FEATURES   0x010
#define REG_DEV_FEAT_SEL   0x014
#define REG_DRV_FEATURES   0x020
#define REG_DRV_FEAT_SEL   0x024
#define REG_QUEUE_SEL	   0x030
#define REG_QUEUE_NUM_MAX  0x034
#define REG_QUEUE_NUM	   0x038
#define REG_QUEUE_READY	   0x044
#define REG_QUEUE_NOTIFY   0x050
#define REG_INT_STATUS	   0x060
#define REG_INT_ACK	   0x064
#define REG_STATUS	   0x070
#define REG_QUEUE_DESC_LO  0x080
#define REG_QUEUE_DESC_HI  0x084
#define REG_QUEUE_AVAIL_LO 0x090
#define REG_QUEUE_AVAIL_HI 0x094
#define REG_QUEUE_USED_LO  0x0a0
#define REG_QUEUE_USED_HI  0x0a4
#define REG_CONFIG	   0x100

#define MAGIC_VIRT	   0x74726976
#define STATUS_ACK	   1
#define STATUS_DRIVER	   2
#define STATUS_DRIVER_OK   4
#define STATUS_FEATURES_OK 8
#define F_VERSION_1_HI	   1 /* bit 32 */

#define AVAIL_F_NO_INTERRUPT 1
#define USED_F_NO_NOTIFY     1

/* Ring page layout for up to VIO_QUEUE_MAX entries. */
#define RING_AVAIL_OFF 1024
#define RING_USED_OFF  2048

static uint32_t rd(struct vio_dev *dev, uint32_t reg)
{
	return lib_mmio_read32(dev->base + reg);
}

static void wr(struct vio_dev *dev, uint32_t reg, uint32_t v)
{
	lib_mmio_write32(dev->base + reg, v);
}

int vio_probe(struct vio_dev *dev, uintptr_t base, uint32_t gsi)
{
	dev->base = base;
	dev->gsi = gsi;
	if (rd(dev, REG_MAGIC) != MAGIC_VIRT || rd(dev, REG_VERSION) != 2)
		return -ENODEV;
	dev->device_id = rd(dev, REG_DEVICE_ID);
	return dev->device_id ? 0 : -ENODEV;
}

int vio_begin(struct vio_dev *dev, uint32_t wanted)
{
	wr(dev, REG_STATUS, 0);
	wr(dev, REG_STATUS, STATUS_ACK);
	wr(dev, REG_STATUS, STATUS_ACK | STATUS_DRIVER);
	wr(dev, REG_DEV_FEAT_SEL, 1);
	if (!(rd(dev, REG_DEV_FEATURES) & F_VERSION_1_HI))
		return -ENOTSUP;
	wr(dev, REG_DEV_FEAT_SEL, 0);
	uint32_t lo = rd(dev, REG_DEV_FEATURES) & wanted;
	wr(dev, REG_DRV_FEAT_SEL, 0);
	wr(dev, REG_DRV_FEATURES, lo);
	wr(dev, REG_DRV_FEAT_SEL, 1);
	wr(dev, REG_DRV_FEATURES, F_VERSION_1_HI);
	wr(dev, REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK);
	if (!(rd(dev, REG_STATUS) & STATUS_FEATURES_OK))
		return -EPROTO;
	return 0;
}

int vio_queue_setup(struct vio_dev *dev, struct vio_queue *q, uint16_t index, void *ring)
{
	uint8_t *page = ring;

	wr(dev, REG_QUEUE_SEL, index);
	if (rd(dev, REG_QUEUE_READY))
		return -EBUSY;
	uint32_t max = rd(dev, REG_QUEUE_NUM_MAX);
	if (max == 0)
		return -ENOENT;
	uint16_t num = VIO_QUEUE_MAX;
	while (num > max)
		num >>= 1;
	memset(page, 0, 4096);
	q->dev = dev;
	q->index = index;
	q->num = num;
	q->avail_idx = 0;
	q->last_used = 0;
	q->kick_pending = false;
	q->desc = (struct vio_desc *)page;
	q->avail = (volatile uint16_t *)(page + RING_AVAIL_OFF);
	q->used = (volatile uint16_t *)(page + RING_USED_OFF);
	uintptr_t d = (uintptr_t)q->desc, a = (uintptr_t)q->avail, u = (uintptr_t)q->used;
	wr(dev, REG_QUEUE_NUM, num);
	wr(dev, REG_QUEUE_DESC_LO, (uint32_t)d);
	wr(dev, REG_QUEUE_DESC_HI, (uint32_t)((uint64_t)d >> 32));
	wr(dev, REG_QUEUE_AVAIL_LO, (uint32_t)a);
	wr(dev, REG_QUEUE_AVAIL_HI, (uint32_t)((uint64_t)a >> 32));
	wr(dev, REG_QUEUE_USED_LO, (uint32_t)u);
	wr(dev, REG_QUEUE_USED_HI, (uint32_t)((uint64_t)u >> 32));
	wr(dev, REG_QUEUE_READY, 1);
	return 0;
}

int vio_driver_ok(struct vio_dev *dev)
{
	wr(dev, REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
	return (rd(dev, REG_STATUS) & 0x40) ? -EIO : 0; /* DEVICE_NEEDS_RESET */
}

uint32_t vio_config_read32(struct vio_dev *dev, uint32_t offset)
{
	return rd(dev, REG_CONFIG + offset);
}

uint32_t vio_ack_interrupt(struct vio_dev *dev)
{
	uint32_t s = rd(dev, REG_INT_STATUS);
	if (s)
		wr(dev, REG_INT_ACK, s);
	return s;
}

void vio_queue_push(struct vio_queue *q, uint16_t head)
{
	q->avail[2 + (q->avail_idx & (q->num - 1))] = head;
	lib_barrier();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	q->kick_pending = true;
}

void vio_queue_kick(struct vio_queue *q)
{
	if (!q->kick_pending)
		return;
	q->kick_pending = false;
	lib_mfence();
	if (q->used[0] & USED_F_NO_NOTIFY)
		return;
	wr(q->dev, REG_QUEUE_NOTIFY, q->index);
}

bool vio_queue_has_used(const struct vio_queue *q)
{
	return q->used[1] != q->last_used;
}

bool vio_queue_pop(struct vio_queue *q, struct vio_used_elem *elem)
{
	uint16_t idx = q->used[1];
	/* A device claiming more used entries than the ring holds is broken: stop consuming. */
	if (idx == q->last_used || (uint16_t)(idx - q->last_used) > q->num)
		return false;
	lib_barrier();
	const volatile uint32_t *ring = (const volatile uint32_t *)(q->used + 2);
	uint16_t slot = q->last_used & (q->num - 1);
	elem->id = ring[2 * slot];
	elem->len = ring[2 * slot + 1];
	q->last_used++;
	return true;
}

void vio_queue_set_interrupts(struct vio_queue *q, bool enabled)
{
	q->avail[0] = enabled ? 0 : AVAIL_F_NO_INTERRUPT;
}
