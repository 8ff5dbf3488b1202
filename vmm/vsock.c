/* virtio-vsock on virtio-mmio: glue between the transport (ioeventfd kicks and irqfd
 * interrupts on the event thread) and the mux. */
#include "config.h"

#include "vmm/vsock.h"

#include "vmm/event.h"
#include "vmm/virtio_mmio.h"
#include "vmm/vmm.h"
#include "vmm/vsock_queue.h"

#include "common/log.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct vsock_device {
	struct vmm *vmm;
	struct virtio_mmio_dev *dev;
	struct vsock_mux *mux;
	bool reset_event_owed;
};

static struct vsock_device *the_device;

static void vsock_config_read(void *opaque, uint32_t offset, void *data, uint32_t len)
{
	struct vsock_device *d = opaque;
	uint64_t cid = htole64(d->vmm->config.cid);

	/* The transport checked offset + len <= config_size (8). */
	memcpy(data, (const uint8_t *)&cid + offset, len);
}

static void check_queue(struct vsock_device *d, int r, const char *what)
{
	if (r < 0) {
		log_warn("vsock: guest broke the %s queue: %s", what, strerror(-r));
		virtio_mmio_set_needs_reset(d->dev);
	}
}

static void pump_rx(struct vsock_device *d)
{
	struct virtq *rxq = virtio_mmio_queue(d->dev, VSOCK_QUEUE_RX);
	int r;

	if (!rxq || !rxq->ready || !virtio_mmio_driver_ok(d->dev))
		return;
	r = vsock_queue_rx(d->mux, rxq);
	check_queue(d, r, "rx");
	if (r > 0)
		virtio_mmio_notify_queue(d->dev, VSOCK_QUEUE_RX);
}

static void pump_event(struct vsock_device *d)
{
	struct virtq *evq = virtio_mmio_queue(d->dev, VSOCK_QUEUE_EVENT);
	int r;

	if (!d->reset_event_owed || !evq || !evq->ready || !virtio_mmio_driver_ok(d->dev))
		return;
	r = vsock_queue_event_reset(evq);
	check_queue(d, r, "event");
	if (r > 0) {
		d->reset_event_owed = false;
		virtio_mmio_notify_queue(d->dev, VSOCK_QUEUE_EVENT);
	}
}

static void vsock_queue_notify(void *opaque, unsigned q)
{
	struct vsock_device *d = opaque;

	if (q == VSOCK_QUEUE_TX) {
		struct virtq *txq = virtio_mmio_queue(d->dev, VSOCK_QUEUE_TX);
		int r = vsock_queue_tx(d->mux, txq);
		check_queue(d, r, "tx");
		if (r > 0)
			virtio_mmio_notify_queue(d->dev, VSOCK_QUEUE_TX);
	} else if (q == VSOCK_QUEUE_EVENT) {
		pump_event(d);
	}
	/* TX replies and freed credit, or new RX buffers: fill what we can. */
	pump_rx(d);
}

static void vsock_driver_ok(void *opaque, uint64_t features)
{
	struct vsock_device *d = opaque;

	pump_event(d);
	pump_rx(d);
}

static void vsock_reset(void *opaque)
{
	struct vsock_device *d = opaque;

	vsock_mux_reset(d->mux);
}

static void vsock_host_ready(int fd, uint32_t events, void *opaque)
{
	struct vsock_device *d = opaque;
	int r = vsock_mux_process(d->mux);

	if (r < 0)
		log_warn("vsock: host side: %s", strerror(-r));
	pump_rx(d);
}

static void vsock_heartbeat(void *opaque)
{
	struct vsock_device *d = opaque;

	log_info("vsock: heartbeat received");
	vmm_report_heartbeat(d->vmm);
}

static const struct virtio_device_ops vsock_ops = {
    .name = "vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .features = 0,
    .config_size = 8,
    .num_queues = 3,
    .queue_max_size = VSOCK_QUEUE_SIZE,
    .config_read = vsock_config_read,
    .queue_notify = vsock_queue_notify,
    .driver_ok = vsock_driver_ok,
    .reset = vsock_reset,
};

static int vsock_device_init(struct vmm *vmm)
{
	struct vsock_mux_config cfg = {
	    .guest_cid = vmm->config.cid,
	    .runtime_dir = vmm->config.runtime_dir,
	    .owner_uid = vmm->config.owner_uid,
	    .owner_gid = vmm->config.owner_gid,
	    .socket_mode = 0600,
	    .on_heartbeat = vsock_heartbeat,
	};
	struct vsock_device *d;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->vmm = vmm;
	d->reset_event_owed = true; /* a (re)started VMM owns no connection the guest may hold */
	cfg.opaque = d;
	r = vsock_mux_new(&cfg, &d->mux);
	if (r < 0)
		goto fail;
	r = virtio_mmio_register(vmm, &vsock_ops, d, &d->dev);
	if (r < 0)
		goto fail;
	r = vmm_event_add_fd(vmm->loop, vsock_mux_fd(d->mux), EPOLLIN, vsock_host_ready, d);
	if (r < 0)
		goto fail; /* registered devices live until the VMM ends; it is about to */
	the_device = d;
	log_debug("vsock: guest CID %" PRIu64 ", sockets in %s", vmm->config.cid,
		  vmm->config.runtime_dir);
	return 0;
fail:
	if (r < 0 && !d->dev) {
		vsock_mux_free(d->mux);
		free(d);
	}
	return r;
}

VMM_DEVICE_INIT(vsock, 10, vsock_device_init)

int vsock_device_stats(struct vsock_stats *out)
{
	if (!the_device)
		return -ENODEV;
	vsock_mux_get_stats(the_device->mux, out);
	return 0;
}

void vsock_device_transport_reset(void)
{
	if (!the_device)
		return;
	vsock_mux_reset(the_device->mux);
	the_device->reset_event_owed = true;
	pump_event(the_device);
}
