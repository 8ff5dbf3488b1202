/* virtio-mem driver: one request queue, one request in flight, answered synchronously (the
 * VMM completes it on its event thread within microseconds).
 *
 * Memory check: after a PLUG is acknowledged, every 64-bit word of the new blocks is written
 * with a pattern derived from its address and a per-plug seed, then every word is read back
 * and compared (so every byte of every page is written and checked, not a sample). A mismatch
 * is reported and the blocks are unplugged again. */
#include "guest/mem.h"

#include "guest/arch.h"
#include "guest/console.h"
#include "guest/lib.h"

#include <errno.h>

#define CFG_BLOCK_SIZE	   0
#define CFG_ADDR	   16
#define CFG_REGION_SIZE	   24
#define CFG_PLUGGED_SIZE   40
#define CFG_REQUESTED_SIZE 48

#define REQ_PLUG       0
#define REQ_UNPLUG     1
#define REQ_UNPLUG_ALL 2
#define RESP_ACK       0
#define RESP_NACK      1
#define RESP_BUSY      2

#define ADDR_LIMIT     0x100000000ull
#define MAX_BLOCKS     32768u /* 64 GiB of 2 MiB blocks */
#define RUN_MAX_BLOCKS 32u    /* blocks per request: bounds the time of one check */
#define WAIT_SPINS     (1u << 30)

struct mem_req {
	uint16_t type;
	uint16_t pad[3];
	uint64_t addr;
	uint16_t nb_blocks;
	uint16_t pad2[3];
};

struct mem_resp {
	uint16_t type;
	uint16_t pad[3];
	uint16_t state;
};

static struct vio_dev *mdev;
static struct vio_queue mq;
static uint8_t ring_page[4096] __attribute__((aligned(4096)));
static struct mem_req req;
static struct mem_resp resp;
static uint64_t block_size, region_addr, nr_blocks, plugged_blocks;
static uint64_t bitmap[MAX_BLOCKS / 64];
static uint64_t seen_wakes = ~0ull;
static uint64_t seed = 0x9e3779b97f4a7c15ull;
static bool broken;

static uint64_t cfg64(uint32_t off)
{
	/* Two halves: re-read if the device changed the value in between. */
	uint64_t hi, lo;

	do {
		hi = vio_config_read32(mdev, off + 4);
		lo = vio_config_read32(mdev, off);
	} while (hi != vio_config_read32(mdev, off + 4));
	return hi << 32 | lo;
}

static bool plugged(uint64_t b)
{
	return (bitmap[b / 64] >> (b % 64)) & 1;
}

static void mark(uint64_t first, uint64_t n, bool on)
{
	for (uint64_t b = first; b < first + n; b++) {
		if (on)
			bitmap[b / 64] |= 1ull << (b % 64);
		else
			bitmap[b / 64] &= ~(1ull << (b % 64));
	}
}

/* -1: no answer (device broken). */
static int submit(uint16_t type, uint64_t addr, uint16_t nb)
{
	struct vio_used_elem e;

	req = (struct mem_req){.type = type, .addr = addr, .nb_blocks = nb};
	resp.type = 0xffff;
	mq.desc[0] = (struct vio_desc){
	    .addr = (uintptr_t)&req, .len = sizeof(req), .flags = VIO_DESC_F_NEXT, .next = 1};
	mq.desc[1] = (struct vio_desc){
	    .addr = (uintptr_t)&resp, .len = sizeof(resp), .flags = VIO_DESC_F_WRITE};
	lib_barrier();
	vio_queue_push(&mq, 0);
	vio_queue_kick(&mq);
	for (uint32_t i = 0; i < WAIT_SPINS; i++) {
		if (vio_queue_pop(&mq, &e)) {
			lib_barrier();
			return e.len >= 2 ? resp.type : -1;
		}
		lib_pause();
	}
	return -1;
}

static void fail(const char *what)
{
	con_puts("sample-enclave: memory ");
	con_puts(what);
	con_puts("\n");
}

/* Write then verify every word of the run; pattern = address ^ seed, rotated per plug. */
static bool check_run(uint64_t first, uint64_t n)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(region_addr + first * block_size);
	uint64_t words = n * block_size / 8;

	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	for (uint64_t i = 0; i < words; i++)
		p[i] = ((uint64_t)(uintptr_t)&p[i]) ^ seed;
	for (uint64_t i = 0; i < words; i++)
		if (p[i] != (((uint64_t)(uintptr_t)&p[i]) ^ seed))
			return false;
	return true;
}

/* One step towards target blocks; false when nothing more can be done now. */
static bool step(uint64_t target)
{
	uint64_t first, n = 0;
	int r;

	if (plugged_blocks < target) {
		for (first = 0; first < nr_blocks && plugged(first); first++)
			;
		while (first + n < nr_blocks && !plugged(first + n) && n < RUN_MAX_BLOCKS &&
		       plugged_blocks + n < target)
			n++;
		if (n == 0)
			return false;
		r = submit(REQ_PLUG, region_addr + first * block_size, (uint16_t)n);
		if (r != RESP_ACK) {
			if (r != RESP_NACK && r != RESP_BUSY)
				fail(r < 0 ? "device does not answer" : "plug refused");
			broken = r < 0;
			return false;
		}
		mark(first, n, true);
		plugged_blocks += n;
		if (!check_run(first, n)) {
			fail("check failed on newly plugged blocks");
			if (submit(REQ_UNPLUG, region_addr + first * block_size, (uint16_t)n) ==
			    RESP_ACK) {
				mark(first, n, false);
				plugged_blocks -= n;
			}
			broken = true;
			return false;
		}
		return true;
	}
	if (plugged_blocks > target) {
		/* Highest blocks first, so plugged memory stays one run from the start. */
		uint64_t last = nr_blocks;
		while (last > 0 && !plugged(last - 1))
			last--;
		while (n < last && plugged(last - 1 - n) && n < RUN_MAX_BLOCKS &&
		       plugged_blocks - n > target)
			n++;
		if (n == 0)
			return false;
		first = last - n;
		r = submit(REQ_UNPLUG, region_addr + first * block_size, (uint16_t)n);
		if (r != RESP_ACK) {
			if (r != RESP_BUSY)
				fail(r < 0 ? "device does not answer" : "unplug refused");
			broken = r < 0 || r != RESP_BUSY;
			return false;
		}
		mark(first, n, false);
		plugged_blocks -= n;
		return true;
	}
	return false;
}

static void report(void)
{
	con_puts("sample-enclave: memory plugged=");
	con_put_dec(plugged_blocks * block_size >> 20);
	con_puts(" MiB\n");
}

bool mem_poll(void)
{
	uint64_t wakes = arch_wake_count, before = plugged_blocks;
	bool worked = false;

	if (!mdev || broken || wakes == seen_wakes)
		return false;
	seen_wakes = wakes;
	(void)vio_ack_interrupt(mdev);
	for (;;) {
		uint64_t requested = cfg64(CFG_REQUESTED_SIZE);
		uint64_t target = requested / block_size;

		if (target > nr_blocks || !step(target))
			break;
		worked = true;
	}
	if (plugged_blocks != before)
		report();
	return worked;
}

int mem_init(struct vio_dev *dev)
{
	uint64_t region_size;
	int err;

	mdev = dev;
	err = vio_begin(dev, 0);
	if (err < 0)
		goto fail;
	err = vio_queue_setup(dev, &mq, 0, ring_page);
	if (err < 0)
		goto fail;
	vio_queue_set_interrupts(&mq, false);
	block_size = cfg64(CFG_BLOCK_SIZE);
	region_addr = cfg64(CFG_ADDR);
	region_size = cfg64(CFG_REGION_SIZE);
	if (block_size < 4096 || (block_size & (block_size - 1)) || region_size % block_size ||
	    region_size / block_size > MAX_BLOCKS || region_addr % block_size ||
	    region_addr >= ADDR_LIMIT || region_size > ADDR_LIMIT - region_addr) {
		fail("region outside the identity-mapped 4 GiB or malformed; not used");
		err = -ENOTSUP;
		goto fail;
	}
	nr_blocks = region_size / block_size;
	err = vio_driver_ok(dev);
	if (err < 0)
		goto fail;
	/* Left plugged by an earlier driver (e.g. before a reboot): start from nothing. */
	if (cfg64(CFG_PLUGGED_SIZE) != 0 && submit(REQ_UNPLUG_ALL, 0, 0) != RESP_ACK) {
		fail("unplug-all refused");
		err = -EIO;
		goto fail;
	}
	return 0;
fail:
	mdev = NULL;
	return err;
}
