/* virtio-nsm on virtio-mmio (slot 1): requests go to enclaved over the VMM channel. */
#include "config.h"

#include "vmm/nsm_dev.h"

#include "vmm/channel.h"
#include "vmm/virtio_mmio.h"
#include "vmm/vmm.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct nsm_device {
	struct vmm *vmm;
	struct virtio_mmio_dev *dev;
	struct nsm_dev *core;
};

static int nsm_forward(void *opaque, const uint8_t *req, size_t len, nsm_reply_fn cb,
		       void *cb_opaque)
{
	struct nsm_device *d = opaque;

	return vmm_channel_nsm_request(d->vmm, req, len, cb, cb_opaque);
}

static void nsm_notify(void *opaque)
{
	struct nsm_device *d = opaque;

	virtio_mmio_notify_queue(d->dev, 0);
}

static void nsm_queue_notify(void *opaque, unsigned q)
{
	struct nsm_device *d = opaque;
	int r = nsm_dev_process(d->core, virtio_mmio_queue(d->dev, 0));

	if (r < 0) {
		log_warn("nsm: guest broke the request queue: %s", strerror(-r));
		virtio_mmio_set_needs_reset(d->dev);
	}
}

static void nsm_reset(void *opaque)
{
	struct nsm_device *d = opaque;

	nsm_dev_reset(d->core);
}

static void nsm_destroy(void *opaque)
{
	struct nsm_device *d = opaque;

	nsm_dev_free(d->core);
	free(d);
}

static const struct virtio_device_ops nsm_ops = {
    .name = "nsm",
    .device_id = VIRTIO_ID_NSM,
    .features = 0,
    .config_size = 0,
    .num_queues = 1,
    .queue_max_size = NSM_QUEUE_SIZE,
    .queue_notify = nsm_queue_notify,
    .reset = nsm_reset,
    .destroy = nsm_destroy,
};

static int nsm_device_init(struct vmm *vmm)
{
	struct nsm_device *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->vmm = vmm;
	r = nsm_dev_new(nsm_forward, d, nsm_notify, d, &d->core);
	if (r < 0) {
		free(d);
		return r;
	}
	r = virtio_mmio_register(vmm, &nsm_ops, d, &d->dev);
	if (r < 0) {
		nsm_dev_free(d->core);
		free(d);
	}
	return r < 0 ? r : 0;
}

VMM_DEVICE_INIT(nsm, 20, nsm_device_init)
