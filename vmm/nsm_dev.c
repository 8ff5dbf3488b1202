#include "config.h"

#include "vmm/nsm_dev.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Pre-encoded CBOR {"Error": "<name>"} answers the VMM gives itself. */
static const uint8_t error_input_too_large[] = {0xa1, 0x65, 'E', 'r', 'r', 'o', 'r',
						0x6d, 'I',  'n', 'p', 'u', 't', 'T',
						'o',  'o',  'L', 'a', 'r', 'g', 'e'};
static const uint8_t error_internal[] = {0xa1, 0x65, 'E', 'r', 'r', 'o', 'r', 0x6d, 'I', 'n', 't',
					 'e',  'r',  'n', 'a', 'l', 'E', 'r', 'r',  'o', 'r'};

struct nsm_slot {
	bool busy;
	uint64_t generation;
	struct virtq_chain chain;
};

/* Handed to the request handler; lives until its answer arrives, even past a reset. */
struct nsm_ticket {
	struct nsm_dev *dev;
	unsigned slot;
	uint64_t generation;
};

struct nsm_dev {
	nsm_request_fn request;
	void *request_opaque;
	nsm_notify_fn notify;
	void *notify_opaque;
	struct virtq *vq;
	uint64_t generation;
	unsigned tickets_out; /* answers owed to us; we may not be freed before they arrive */
	bool freed;
	struct nsm_slot slots[NSM_QUEUE_SIZE];
	struct nsm_dev_stats stats;
};

int nsm_dev_new(nsm_request_fn request, void *request_opaque, nsm_notify_fn notify,
		void *notify_opaque, struct nsm_dev **out)
{
	struct nsm_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return -ENOMEM;
	dev->request = request;
	dev->request_opaque = request_opaque;
	dev->notify = notify;
	dev->notify_opaque = notify_opaque;
	dev->generation = 1;
	*out = dev;
	return 0;
}

void nsm_dev_free(struct nsm_dev *dev)
{
	if (!dev)
		return;
	if (dev->tickets_out > 0) {
		/* The last answer frees it. */
		dev->freed = true;
		dev->generation++;
		return;
	}
	free(dev);
}

void nsm_dev_reset(struct nsm_dev *dev)
{
	dev->generation++;
	for (unsigned i = 0; i < NSM_QUEUE_SIZE; i++)
		dev->slots[i].busy = false;
}

void nsm_dev_get_stats(const struct nsm_dev *dev, struct nsm_dev_stats *stats)
{
	*stats = dev->stats;
}

static void complete(struct nsm_dev *dev, struct nsm_slot *slot, const uint8_t *resp, size_t len)
{
	size_t n = virtq_chain_write(&slot->chain, 0, resp, len);

	if (n < len) {
		dev->stats.truncated++;
		log_debug("nsm: response of %zu bytes truncated to the guest's %zu", len, n);
	}
	slot->busy = false;
	if (virtq_push(dev->vq, slot->chain.head, (uint32_t)n) < 0)
		log_warn("nsm: could not complete chain %u", slot->chain.head);
}

static void on_reply(void *opaque, int status, const uint8_t *resp, size_t len)
{
	struct nsm_ticket *t = opaque;
	struct nsm_dev *dev = t->dev;
	struct nsm_slot *slot = &dev->slots[t->slot];
	bool current = !dev->freed && t->generation == dev->generation && slot->busy &&
		       slot->generation == t->generation;

	dev->tickets_out--;
	free(t);
	if (!current) {
		dev->stats.stale++;
		if (dev->freed && dev->tickets_out == 0)
			free(dev);
		return;
	}
	if (status < 0) {
		dev->stats.handler_errors++;
		log_warn("nsm: request failed: %s", strerror(-status));
		resp = error_internal;
		len = sizeof(error_internal);
	}
	complete(dev, slot, resp, len);
	if (dev->notify)
		dev->notify(dev->notify_opaque);
}

static int free_slot(const struct nsm_dev *dev)
{
	for (unsigned i = 0; i < NSM_QUEUE_SIZE; i++)
		if (!dev->slots[i].busy)
			return (int)i;
	return -1;
}

int nsm_dev_process(struct nsm_dev *dev, struct virtq *vq)
{
	uint8_t req[NSM_REQUEST_MAX];
	bool completed = false;
	int r = 0;

	dev->vq = vq;
	for (;;) {
		struct nsm_ticket *t;
		struct nsm_slot *slot;
		int i = free_slot(dev);
		size_t len;

		if (i < 0)
			break; /* every slot waits for an answer: the rest waits in the ring */
		slot = &dev->slots[i];
		r = virtq_pop(vq, &slot->chain);
		if (r <= 0)
			break;
		dev->stats.requests++;
		if (slot->chain.in_len == 0) {
			dev->stats.no_response_buffer++;
			log_debug("nsm: request chain %u has no response buffer", slot->chain.head);
			r = virtq_push(vq, slot->chain.head, 0);
			if (r < 0)
				break;
			completed = true;
			continue;
		}
		if (slot->chain.out_len > NSM_REQUEST_MAX) {
			dev->stats.too_large++;
			log_debug("nsm: request of %zu bytes exceeds %u", slot->chain.out_len,
				  NSM_REQUEST_MAX);
			slot->busy = true;
			complete(dev, slot, error_input_too_large, sizeof(error_input_too_large));
			completed = true;
			continue;
		}
		len = virtq_chain_read(&slot->chain, 0, req, slot->chain.out_len);
		t = malloc(sizeof(*t));
		if (!t) {
			virtq_unpop(vq);
			r = -ENOMEM;
			break;
		}
		t->dev = dev;
		t->slot = (unsigned)i;
		t->generation = dev->generation;
		slot->busy = true;
		slot->generation = dev->generation;
		dev->tickets_out++;
		r = dev->request(dev->request_opaque, req, len, on_reply, t);
		if (r < 0) {
			dev->tickets_out--;
			free(t);
			dev->stats.handler_errors++;
			log_warn("nsm: cannot forward request: %s", strerror(-r));
			complete(dev, slot, error_internal, sizeof(error_internal));
			completed = true;
			r = 0;
		}
	}
	if (completed && dev->notify)
		dev->notify(dev->notify_opaque);
	return r < 0 ? r : 0;
}
