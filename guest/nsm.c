#include "guest/nsm.h"
#include "guest/idle.h"
#include "guest/lib.h"

#include <errno.h>

static struct vio_dev *ndev;
static struct vio_queue nq;
static uint8_t nsm_ring[4096] __attribute__((aligned(4096)));
static uint8_t req_buf[NSM_REQUEST_MAX] __attribute__((aligned(4096)));
static uint8_t resp_buf[NSM_RESPONSE_MAX] __attribute__((aligned(4096)));
static int broken;

int nsm_init(struct vio_dev *dev)
{
	int err = vio_begin(dev, 0);
	if (err < 0)
		return err;
	err = vio_queue_setup(dev, &nq, 0, nsm_ring);
	if (err < 0)
		return err;
	if (nq.num < 2)
		return -ENOSPC;
	vio_queue_set_interrupts(&nq, true);
	err = vio_driver_ok(dev);
	if (err < 0)
		return err;
	ndev = dev;
	return 0;
}

int nsm_call(const uint8_t *req, size_t req_len, const uint8_t **resp, size_t *resp_len)
{
	struct vio_used_elem e;

	if (!ndev || broken)
		return -ENODEV;
	if (req_len > NSM_REQUEST_MAX)
		return -EMSGSIZE;
	memcpy(req_buf, req, req_len);
	nq.desc[0] = (struct vio_desc){.addr = (uintptr_t)req_buf,
				       .len = (uint32_t)req_len,
				       .flags = VIO_DESC_F_NEXT,
				       .next = 1};
	nq.desc[1] = (struct vio_desc){
	    .addr = (uintptr_t)resp_buf, .len = NSM_RESPONSE_MAX, .flags = VIO_DESC_F_WRITE};
	vio_queue_push(&nq, 0);
	vio_queue_kick(&nq);
	/* The answer takes a round trip through the VMM and enclaved: sleep between polls
	 * (a device interrupt wakes us), and give up on a device that never answers. */
	struct idle_state st = {0};
	while (!vio_queue_pop(&nq, &e)) {
		enum idle_result r = idle_step(&st, false, true);
		if (r == IDLE_GAVE_UP) {
			broken = 1;
			return -EIO;
		}
		if (r == IDLE_SLEEP) {
			(void)vio_ack_interrupt(ndev);
			if (!vio_queue_has_used(&nq))
				idle_sleep(&st);
		}
	}
	if (e.id != 0 || e.len > NSM_RESPONSE_MAX) {
		broken = 1;
		return -EIO;
	}
	*resp = resp_buf;
	*resp_len = e.len;
	return 0;
}
