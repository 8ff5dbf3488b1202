/* The virtio-nsm request path over a fake guest memory: forwarding, asynchronous answers,
 * InputTooLarge, truncation, handler failures, reset with answers in flight, queue limits. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/nsm_dev.h"

#define MEM_SIZE  (1u << 20)
#define QSIZE	  16u
#define DESC_GPA  0x1000u
#define AVAIL_GPA 0x2000u
#define USED_GPA  0x3000u
#define REQ_GPA	  0x10000u
#define RESP_GPA  0x40000u

struct pending_req {
	nsm_reply_fn cb;
	void *opaque;
	uint8_t req[NSM_REQUEST_MAX];
	size_t len;
};

struct fx {
	uint8_t *ram;
	struct vmm_memory mem;
	struct virtq vq;
	uint16_t avail_idx;
	struct nsm_dev *dev;
	int notifies;
	int fail_with; /* handler returns this if non-zero */
	bool answer_now;
	struct pending_req reqs[QSIZE * 2];
	int nreqs;
};

static int handler(void *opaque, const uint8_t *req, size_t len, nsm_reply_fn cb, void *cb_opaque)
{
	struct fx *f = opaque;

	if (f->fail_with)
		return f->fail_with;
	if (f->answer_now) {
		cb(cb_opaque, 0, req, len); /* echo, synchronously */
		return 0;
	}
	f->reqs[f->nreqs].cb = cb;
	f->reqs[f->nreqs].opaque = cb_opaque;
	memcpy(f->reqs[f->nreqs].req, req, len);
	f->reqs[f->nreqs].len = len;
	f->nreqs++;
	return 0;
}

static void notify(void *opaque)
{
	((struct fx *)opaque)->notifies++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->ram = calloc(1, MEM_SIZE);
	assert_non_null(f->ram);
	vmm_memory_init_buffer(&f->mem, f->ram, MEM_SIZE);
	assert_int_equal(virtq_configure(&f->vq, &f->mem, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA), 0);
	assert_int_equal(nsm_dev_new(handler, f, notify, f, &f->dev), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	nsm_dev_free(f->dev);
	/* Answers arriving after free are dropped (and free the device at the last one). */
	for (int i = 0; i < f->nreqs; i++)
		if (f->reqs[i].cb)
			f->reqs[i].cb(f->reqs[i].opaque, 0, (const uint8_t *)"x", 1);
	free(f->ram);
	free(f);
	return 0;
}

static void put_desc(struct fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = f->ram + DESC_GPA + 16u * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void offer(struct fx *f, uint16_t head)
{
	memcpy(f->ram + AVAIL_GPA + 4 + 2 * (f->avail_idx % QSIZE), &head, 2);
	f->avail_idx++;
	memcpy(f->ram + AVAIL_GPA + 2, &f->avail_idx, 2);
}

/* Request chain at descriptors (2*slot, 2*slot+1): req_len bytes in, resp_len bytes out. */
static void post(struct fx *f, uint16_t slot, const void *req, uint32_t req_len, uint32_t resp_len)
{
	uint64_t rq = REQ_GPA + 0x2000u * slot, rs = RESP_GPA + 0x3000u * slot;

	if (req && req_len <= 0x2000)
		memcpy(f->ram + rq, req, req_len);
	put_desc(f, (uint16_t)(2 * slot), rq, req_len, resp_len ? VIRTQ_DESC_F_NEXT : 0,
		 (uint16_t)(2 * slot + 1));
	put_desc(f, (uint16_t)(2 * slot + 1), rs, resp_len, VIRTQ_DESC_F_WRITE, 0);
	offer(f, (uint16_t)(2 * slot));
}

static uint16_t used_idx(struct fx *f)
{
	uint16_t v;
	memcpy(&v, f->ram + USED_GPA + 2, 2);
	return v;
}

static void used_elem(struct fx *f, uint16_t i, uint32_t *id, uint32_t *len)
{
	memcpy(id, f->ram + USED_GPA + 4 + 8 * (i % QSIZE), 4);
	memcpy(len, f->ram + USED_GPA + 8 + 8 * (i % QSIZE), 4);
}

static void test_forward_async(void **state)
{
	struct fx *f = *state;
	static const uint8_t req[] = {0x6b, 'D', 'e', 's', 'c', 'r', 'i', 'b', 'e', 'N', 'S', 'M'};
	static const uint8_t resp[] = {0xa1, 0x61, 'X', 0x01};
	uint32_t id, len;

	post(f, 0, req, sizeof(req), NSM_RESPONSE_MAX);
	assert_int_equal(nsm_dev_process(f->dev, &f->vq), 0);
	assert_int_equal(f->nreqs, 1);
	assert_int_equal(f->reqs[0].len, sizeof(req));
	assert_memory_equal(f->reqs[0].req, req, sizeof(req));
	assert_int_equal(used_idx(f), 0); /* not before the answer */
	f->reqs[0].cb(f->reqs[0].opaque, 0, resp, sizeof(resp));
	f->reqs[0].cb = NULL;
	assert_int_equal(used_idx(f), 1);
	used_elem(f, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, sizeof(resp));
	assert_memory_equal(f->ram + RESP_GPA, resp, sizeof(resp));
	assert_int_equal(f->notifies, 1);
}

static void test_too_large(void **state)
{
	struct fx *f = *state;
	static const char expect[] = "\xa1\x65"
				     "Error\x6dInputTooLarge";
	uint32_t id, len;

	post(f, 0, NULL, NSM_REQUEST_MAX + 1, NSM_RESPONSE_MAX);
	assert_int_equal(nsm_dev_process(f->dev, &f->vq), 0);
	assert_int_equal(f->nreqs, 0);
	used_elem(f, 0, &id, &len);
	assert_int_equal(len, sizeof(expect) - 1);
	assert_memory_equal(f->ram + RESP_GPA, expect, sizeof(expect) - 1);
	struct nsm_dev_stats st;
	nsm_dev_get_stats(f->dev, &st);
	assert_int_equal(st.too_large, 1);
	/* Exactly the limit is fine. */
	f->answer_now = true;
	post(f, 1, NULL, NSM_REQUEST_MAX, NSM_RESPONSE_MAX);
	assert_int_equal(nsm_dev_process(f->dev, &f->vq), 0);
	used_elem(f, 1, &id, &len);
	assert_int_equal(len, NSM_REQUEST_MAX);
}

static void test_truncate_and_errors(void **state)
{
	struct fx *f = *state;
	uint8_t big[100];
	uint32_t id, len;
	struct nsm_dev_stats st;

	memset(big, 0x42, sizeof(big));
	f->answer_now = true;
	post(f, 0, big, sizeof(big), 10); /* response buffer smaller than the answer */
	assert_int_equal(nsm_dev_process(f->dev, &f->vq), 0);
	used_elem(f, 0, &id, &len);
	assert_int_equal(len, 10);
	assert_int_equal(f->ram[RESP_GPA + 10], 0); /* nothing past the guest's buffer */
	/* No response buffer: completed empty. */
	post(f, 1, big, 4, 0);
	assert_int_equal(nsm_dev_process(f->dev, &f->vq), 0);
	used_elem(f, 1, &id, &len);
	assert_int_equal(id, 2);
	assert_int_equal(len, 0);
	/* Handler refuses (standalone, channel down): InternalError. */
	f->answer_now = false;
	f->fail_with = -ENOTCONN;
	post(f, 2, big, 4, NSM_RESPONSE_MAX);
	assert_int_equal(nsm_dev_process(f->dev, &f->vq), 0);
	used_elem(f, 2, &id, &len);
	assert_int_equal(len, 21);
	assert_memory_equal(f->ram + RESP_GPA + 2 * 0x3000,
			    "\xa1\x65"
			    "Error\x6dInternalError",
			    21);
	f->fail_with = 0;
	/* Handler answers with an error status later: InternalError too. */
	post(f, 3, big, 4, NSM_RESPONSE_MAX);
	assert_int_equal(nsm_dev_process(f->dev, &f->vq), 0);
	f->reqs[0].cb(f->reqs[0].opaque, -EPIPE, NULL, 0);
	f->reqs[0].cb = NULL;
	used_elem(f, 3, &id, &len);
	assert_int_equal(len, 21);
	nsm_dev_get_stats(f->dev, &st);
	assert_int_equal(st.truncated, 1);
	assert_int_equal(st.no_response_buffer, 1);
	assert_int_equal(st.handler_errors, 2);
	assert_int_equal(st.requests, 4);
}

static void test_reset_in_flight(void **state)
{
	struct fx *f = *state;
	struct nsm_dev_stats st;

	post(f, 0, "a", 1, 16);
	assert_int_equal(nsm_dev_process(f->dev, &f->vq), 0);
	nsm_dev_reset(f->dev);
	virtq_reset(&f->vq);
	f->reqs[0].cb(f->reqs[0].opaque, 0, (const uint8_t *)"late", 4);
	f->reqs[0].cb = NULL;
	nsm_dev_get_stats(f->dev, &st);
	assert_int_equal(st.stale, 1);
	assert_int_equal(f->ram[RESP_GPA], 0); /* never written after the reset */
}

static void test_many_in_flight(void **state)
{
	struct fx *f = *state;

	/* The queue holds 8 two-descriptor chains; all go out at once, each answered in any order.
	 */
	for (uint16_t i = 0; i < 8; i++)
		post(f, i, &i, 2, 16);
	assert_int_equal(nsm_dev_process(f->dev, &f->vq), 0);
	assert_int_equal(f->nreqs, 8);
	for (int i = 7; i >= 0; i--) {
		f->reqs[i].cb(f->reqs[i].opaque, 0, f->reqs[i].req, f->reqs[i].len);
		f->reqs[i].cb = NULL;
	}
	assert_int_equal(used_idx(f), 8);
	for (uint16_t i = 0; i < 8; i++) {
		uint32_t id, len;
		uint16_t v;
		used_elem(f, i, &id, &len);
		assert_int_equal(id, 2u * (7u - i));
		memcpy(&v, f->ram + RESP_GPA + 0x3000u * (7u - i), 2);
		assert_int_equal(v, 7u - i);
	}
}

static void test_hostile_queue(void **state)
{
	struct fx *f = *state;

	/* Descriptor pointing outside guest memory: the queue is broken, nothing forwarded. */
	put_desc(f, 0, MEM_SIZE - 4, 64, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, 1, RESP_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_true(nsm_dev_process(f->dev, &f->vq) < 0);
	assert_int_equal(f->nreqs, 0);
	/* A descriptor loop likewise. */
	virtq_reset(&f->vq);
	nsm_dev_reset(f->dev);
	memset(f->ram, 0, 0x4000);
	f->avail_idx = 0;
	assert_int_equal(virtq_configure(&f->vq, &f->mem, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA), 0);
	put_desc(f, 0, REQ_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, 1, REQ_GPA, 4, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	assert_true(nsm_dev_process(f->dev, &f->vq) < 0);
	assert_int_equal(f->nreqs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_forward_async, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate_and_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_in_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_in_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_queue, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
