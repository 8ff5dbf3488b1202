/* The virtio-nsm request path (device 33, one queue): each chain is one device-readable request
 * (<= NSM_REQUEST_MAX bytes) and one device-writable response buffer. The raw request goes to
 * a handler (enclaved over the VMM channel); its answer is written back and the chain
 * completed with used len = bytes written. Requests over the limit are answered here with
 * {"Error":"InputTooLarge"}, handler failures with {"Error":"InternalError"}.
 * Event thread only. Transport-independent so unit tests drive it over fake guest memory. */
#pragma once

#include "vmm/virtqueue.h"

#include <stddef.h>
#include <stdint.h>

#define NSM_REQUEST_MAX	 0x1000u
#define NSM_RESPONSE_MAX 0x3000u
#define NSM_QUEUE_SIZE	 64u

typedef void (*nsm_reply_fn)(void *opaque, int status, const uint8_t *resp, size_t len);
/* Same shape as vmm_channel_nsm_request: 0 when cb will run exactly once later (possibly
 * before this returns), or a negative errno and cb never runs. */
typedef int (*nsm_request_fn)(void *opaque, const uint8_t *req, size_t len, nsm_reply_fn cb,
			      void *cb_opaque);
/* Chains were completed: raise the queue interrupt. */
typedef void (*nsm_notify_fn)(void *opaque);

struct nsm_dev_stats {
	uint64_t requests;
	uint64_t too_large;
	uint64_t no_response_buffer; /* chain without a writable part: completed with len 0 */
	uint64_t handler_errors;
	uint64_t truncated; /* response longer than the guest's buffer */
	uint64_t stale;	    /* answers that arrived after a device reset */
};

struct nsm_dev;

int nsm_dev_new(nsm_request_fn request, void *request_opaque, nsm_notify_fn notify,
		void *notify_opaque, struct nsm_dev **out);
/* Answers still in flight are dropped when they arrive. */
void nsm_dev_free(struct nsm_dev *dev);
/* Take every available chain of vq. Negative errno when the guest broke the queue. */
int nsm_dev_process(struct nsm_dev *dev, struct virtq *vq);
/* Device reset: forget in-flight chains (their answers are discarded). */
void nsm_dev_reset(struct nsm_dev *dev);
void nsm_dev_get_stats(const struct nsm_dev *dev, struct nsm_dev_stats *stats);
