/* virtio-mem request handling: the spec's rules and responses, hostile drivers (outside the
 * region, misaligned, huge counts, double plug, unplug of unplugged, short or unknown requests,
 * chains without room for a response), the layout, the config space, and the backing: a real
 * memfd whose allocated size follows plugged_size (fallocate, punch hole). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/virtio_mem.h"

#define BS	  VIRTIO_MEM_BLOCK_SIZE
#define NBLOCKS	  16u
#define REGION	  (1ULL << 30) /* gpa of the region */
#define MEM_SIZE  (1u << 20)   /* fake guest RAM for the queue tests */
#define QSIZE	  8u
#define DESC_GPA  0x1000u
#define AVAIL_GPA 0x2000u
#define USED_GPA  0x3000u
#define REQ_GPA	  0x10000u
#define RESP_GPA  0x20000u

struct fx {
	int fd;
	struct virtio_mem *m;
	int changes;
	uint64_t last_plugged, last_requested;
};

static void on_change(void *opaque, uint64_t plugged, uint64_t requested)
{
	struct fx *f = opaque;

	f->changes++;
	f->last_plugged = plugged;
	f->last_requested = requested;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_mem_params p = {.addr = REGION, .size = NBLOCKS * BS, .on_change = on_change};

	assert_non_null(f);
	f->fd = memfd_create("test-virtio-mem", MFD_CLOEXEC);
	assert_true(f->fd >= 0);
	/* The region sits at offset 4 MiB of the fd, as it sits after boot memory in the VMM. */
	assert_int_equal(ftruncate(f->fd, (off_t)(4 * BS / 2 + NBLOCKS * BS)), 0);
	p.fd = f->fd;
	p.fd_offset = 4ULL << 20;
	p.opaque = f;
	assert_int_equal(virtio_mem_new(&p, &f->m), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_mem_free(f->m);
	close(f->fd);
	free(f);
	return 0;
}

static uint64_t fd_allocated(const struct fx *f)
{
	struct stat st;

	assert_int_equal(fstat(f->fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void make_req(uint8_t req[VIRTIO_MEM_REQ_SIZE], unsigned type, uint64_t addr, uint16_t nb)
{
	memset(req, 0, VIRTIO_MEM_REQ_SIZE);
	put16(req, (uint16_t)type);
	put64(req + 8, addr);
	put16(req + 16, nb);
}

/* Send one request; returns the response type and checks it matches the buffer. */
static unsigned req(struct fx *f, unsigned type, uint64_t addr, uint16_t nb, uint16_t *state)
{
	uint8_t r[VIRTIO_MEM_REQ_SIZE], resp[VIRTIO_MEM_RESP_SIZE];
	unsigned t;

	make_req(r, type, addr, nb);
	t = virtio_mem_handle(f->m, r, sizeof(r), resp);
	assert_int_equal(get16(resp), t);
	if (state)
		*state = get16(resp + 8);
	return t;
}

#define BLK(i) (REGION + (uint64_t)(i)*BS)

static void test_layout(void **state)
{
	uint64_t addr, size;

	(void)state;
	assert_int_equal(virtio_mem_layout(64ULL << 20, 256ULL << 20, &addr, &size), 0);
	assert_int_equal(addr, 128ULL << 20);
	assert_int_equal(size, 192ULL << 20);
	/* Does not fit below the MMIO gap: above 4 GiB. */
	assert_int_equal(virtio_mem_layout(2ULL << 30, 4ULL << 30, &addr, &size), 0);
	assert_int_equal(addr, 4ULL << 30);
	assert_int_equal(size, 2ULL << 30);
	/* Boot RAM already past 4 GiB: after it. */
	assert_int_equal(virtio_mem_layout(4ULL << 30, 6ULL << 30, &addr, &size), 0);
	assert_int_equal(addr, 5ULL << 30);
	assert_int_equal(virtio_mem_layout(64ULL << 20, 64ULL << 20, &addr, &size), -EINVAL);
	assert_int_equal(virtio_mem_layout(64ULL << 20, 32ULL << 20, &addr, &size), -EINVAL);
	assert_int_equal(virtio_mem_layout(64ULL << 20, (65ULL << 20), &addr, &size), -EINVAL);
	assert_int_equal(virtio_mem_layout(64ULL << 20, 1ULL << 40, &addr, &size), -EINVAL);
}

static void test_bad_params(void **state)
{
	struct virtio_mem *m = NULL;
	struct virtio_mem_params p = {.addr = REGION, .size = BS, .fd = -1};

	(void)state;
	p.addr = REGION + 4096;
	assert_int_equal(virtio_mem_new(&p, &m), -EINVAL);
	p.addr = REGION;
	p.size = 0;
	assert_int_equal(virtio_mem_new(&p, &m), -EINVAL);
	p.size = BS + 4096;
	assert_int_equal(virtio_mem_new(&p, &m), -EINVAL);
	p.size = BS;
	p.block_size = 3 << 20;
	assert_int_equal(virtio_mem_new(&p, &m), -EINVAL);
	assert_null(m);
}

static void test_config(void **state)
{
	struct fx *f = *state;
	uint64_t v;
	uint16_t node;
	uint8_t all[VIRTIO_MEM_CONFIG_SIZE];

	virtio_mem_config_read(f->m, VIRTIO_MEM_CFG_BLOCK_SIZE, &v, 8);
	assert_int_equal(v, BS);
	virtio_mem_config_read(f->m, VIRTIO_MEM_CFG_ADDR, &v, 8);
	assert_int_equal(v, REGION);
	virtio_mem_config_read(f->m, VIRTIO_MEM_CFG_REGION_SIZE, &v, 8);
	assert_int_equal(v, NBLOCKS * BS);
	virtio_mem_config_read(f->m, VIRTIO_MEM_CFG_USABLE_SIZE, &v, 8);
	assert_int_equal(v, NBLOCKS * BS);
	virtio_mem_config_read(f->m, VIRTIO_MEM_CFG_NODE_ID, &node, 2);
	assert_int_equal(node, 0);
	assert_int_equal(virtio_mem_set_requested(f->m, 4 * BS), 1);
	assert_int_equal(virtio_mem_set_requested(f->m, 4 * BS), 0);
	virtio_mem_config_read(f->m, VIRTIO_MEM_CFG_REQUESTED_SIZE, &v, 8);
	assert_int_equal(v, 4 * BS);
	/* 4-byte halves, as a 32-bit driver reads them. */
	virtio_mem_config_read(f->m, 0, all, sizeof(all));
	{
		uint32_t lo, hi;
		virtio_mem_config_read(f->m, VIRTIO_MEM_CFG_ADDR, &lo, 4);
		virtio_mem_config_read(f->m, VIRTIO_MEM_CFG_ADDR + 4, &hi, 4);
		assert_int_equal(((uint64_t)hi << 32) | lo, REGION);
	}
	assert_int_equal(f->changes, 1);
	assert_int_equal(f->last_requested, 4 * BS);
}

static void test_set_requested_bounds(void **state)
{
	struct fx *f = *state;

	assert_int_equal(virtio_mem_set_requested(f->m, BS + 4096), -EINVAL);
	assert_int_equal(virtio_mem_set_requested(f->m, (NBLOCKS + 1) * BS), -EINVAL);
	assert_int_equal(virtio_mem_set_requested(f->m, UINT64_MAX - BS + 1), -EINVAL);
	assert_int_equal(virtio_mem_set_requested(f->m, NBLOCKS * BS), 1);
	assert_int_equal(virtio_mem_requested(f->m), NBLOCKS * BS);
}

static void test_plug_unplug_backing(void **state)
{
	struct fx *f = *state;
	uint16_t st;

	/* Nothing requested: a valid plug is refused with NACK, not ERROR. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, BLK(0), 1, NULL), VIRTIO_MEM_RESP_NACK);
	assert_int_equal(virtio_mem_set_requested(f->m, 6 * BS), 1);
	assert_int_equal(fd_allocated(f), 0);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, BLK(2), 4, NULL), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(virtio_mem_plugged(f->m), 4 * BS);
	assert_int_equal(f->last_plugged, 4 * BS);
	/* The host now holds exactly the plugged blocks. */
	assert_int_equal(fd_allocated(f), 4 * BS);
	assert_true(virtio_mem_block_plugged(f->m, 2));
	assert_true(virtio_mem_block_plugged(f->m, 5));
	assert_false(virtio_mem_block_plugged(f->m, 1));
	assert_false(virtio_mem_block_plugged(f->m, 6));
	/* Beyond requested_size: NACK, nothing changes. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, BLK(8), 3, NULL), VIRTIO_MEM_RESP_NACK);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, BLK(8), 2, NULL), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(fd_allocated(f), 6 * BS);
	/* STATE of plugged, unplugged and mixed ranges. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_STATE, BLK(2), 4, &st), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(st, VIRTIO_MEM_STATE_PLUGGED);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_STATE, BLK(10), 6, &st), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(st, VIRTIO_MEM_STATE_UNPLUGGED);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_STATE, BLK(0), NBLOCKS, &st), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(st, VIRTIO_MEM_STATE_MIXED);
	/* Shrink: unplug is allowed whatever requested_size says, and the host gets it back. */
	assert_int_equal(virtio_mem_set_requested(f->m, 0), 1);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_UNPLUG, BLK(2), 2, NULL), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(virtio_mem_plugged(f->m), 4 * BS);
	assert_int_equal(fd_allocated(f), 4 * BS);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(virtio_mem_plugged(f->m), 0);
	assert_int_equal(fd_allocated(f), 0);
	assert_int_equal(f->last_plugged, 0);
	/* UNPLUG_ALL with nothing plugged is fine too. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL), VIRTIO_MEM_RESP_ACK);
}

/* The permissions /proc/self/maps shows for the page at p ("rw-s", "---s"). */
static void map_perms(const void *p, char out[5])
{
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[512];
	uintptr_t a = (uintptr_t)p;

	assert_non_null(maps);
	strcpy(out, "?");
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
			memcpy(out, perms, 5);
			break;
		}
	}
	fclose(maps);
}

static bool plugged_only(const void *opaque, uint64_t offset, uint64_t len)
{
	return virtio_mem_range_plugged(opaque, offset, len);
}

/* With the VMM's mapping given, unplugged blocks are closed (PROT_NONE) and plugged ones open,
 * and virtio_mem_range_plugged answers for the VMM's own accesses. */
static void test_mapping_follows_plugs(void **state)
{
	struct fx *f = *state;
	struct virtio_mem_params p = {
	    .addr = REGION, .size = NBLOCKS * BS, .fd = f->fd, .fd_offset = 4ULL << 20};
	uint8_t *map = mmap(NULL, NBLOCKS * BS, PROT_NONE, MAP_SHARED, f->fd, 4 << 20);
	char perms[5];

	assert_true(map != MAP_FAILED);
	virtio_mem_free(f->m);
	p.map = map;
	assert_int_equal(virtio_mem_new(&p, &f->m), 0);
	assert_int_equal(virtio_mem_set_requested(f->m, 4 * BS), 1);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, BLK(1), 2, NULL), VIRTIO_MEM_RESP_ACK);
	map_perms(map + 1 * BS, perms);
	assert_string_equal(perms, "rw-s");
	map_perms(map + 3 * BS - 1, perms);
	assert_string_equal(perms, "rw-s");
	map_perms(map, perms);
	assert_string_equal(perms, "---s");
	map_perms(map + 3 * BS, perms);
	assert_string_equal(perms, "---s");
	memset(map + BS, 0xa5, 2 * BS); /* plugged memory is usable */
	/* The devices' view (vmm_memory_ptr) of the region: plugged blocks only. */
	struct vmm_memory mem = {.fd = -1, .nr_regions = 1};
	mem.regions[0] = (struct vmm_memory_region){.gpa = REGION,
						    .size = NBLOCKS * BS,
						    .hva = map,
						    .usable = plugged_only,
						    .usable_opaque = f->m};
	assert_ptr_equal(vmm_memory_ptr(&mem, BLK(1), 2 * BS), map + BS);
	assert_ptr_equal(vmm_memory_ptr(&mem, BLK(2) + 100, 16), map + 2 * BS + 100);
	assert_null(vmm_memory_ptr(&mem, BLK(0), 16));
	assert_null(vmm_memory_ptr(&mem, BLK(3) - 8, 16)); /* straddles into block 3 */
	assert_null(vmm_memory_ptr(&mem, BLK(1), 2 * BS + 1));
	assert_true(virtio_mem_range_plugged(f->m, BS, 2 * BS));
	assert_true(virtio_mem_range_plugged(f->m, 2 * BS + 5, 0));
	assert_false(virtio_mem_range_plugged(f->m, BS - 1, 2));
	assert_false(virtio_mem_range_plugged(f->m, 2 * BS, BS + 1));
	assert_false(virtio_mem_range_plugged(f->m, NBLOCKS * BS, 0));
	assert_false(virtio_mem_range_plugged(f->m, BS, UINT64_MAX));
	/* Unplugged again: closed, and the host holds nothing. */
	assert_int_equal(req(f, VIRTIO_MEM_REQ_UNPLUG, BLK(1), 1, NULL), VIRTIO_MEM_RESP_ACK);
	assert_null(vmm_memory_ptr(&mem, BLK(1), 16));
	assert_non_null(vmm_memory_ptr(&mem, BLK(2), 16));
	map_perms(map + BS, perms);
	assert_string_equal(perms, "---s");
	map_perms(map + 2 * BS, perms);
	assert_string_equal(perms, "rw-s");
	assert_int_equal(map[2 * BS], 0xa5);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL), VIRTIO_MEM_RESP_ACK);
	map_perms(map + 2 * BS, perms);
	assert_string_equal(perms, "---s");
	assert_int_equal(fd_allocated(f), 0);
	assert_false(virtio_mem_range_plugged(f->m, 2 * BS, 1));
	assert_int_equal(munmap(map, NBLOCKS * BS), 0);
}

static void test_hostile(void **state)
{
	struct fx *f = *state;
	struct virtio_mem_stats stats;
	uint8_t r[VIRTIO_MEM_REQ_SIZE], resp[VIRTIO_MEM_RESP_SIZE];
	static const struct {
		unsigned type;
		uint64_t addr;
		uint16_t nb;
	} bad[] = {
	    {VIRTIO_MEM_REQ_PLUG, REGION - BS, 1},		/* below the region */
	    {VIRTIO_MEM_REQ_PLUG, REGION - BS, 2},		/* straddles its start */
	    {VIRTIO_MEM_REQ_PLUG, BLK(NBLOCKS), 1},		/* just past its end */
	    {VIRTIO_MEM_REQ_PLUG, BLK(NBLOCKS - 1), 2},		/* straddles its end */
	    {VIRTIO_MEM_REQ_PLUG, BLK(1) + 4096, 1},		/* misaligned */
	    {VIRTIO_MEM_REQ_PLUG, BLK(0), 0},			/* empty */
	    {VIRTIO_MEM_REQ_PLUG, BLK(0), 0xffff},		/* huge count */
	    {VIRTIO_MEM_REQ_PLUG, UINT64_MAX - BS + 1, 0xffff}, /* wraps */
	    {VIRTIO_MEM_REQ_PLUG, 0, 1},
	    {VIRTIO_MEM_REQ_UNPLUG, BLK(3), 1},		 /* not plugged */
	    {VIRTIO_MEM_REQ_UNPLUG, BLK(0), 2},		 /* half plugged */
	    {VIRTIO_MEM_REQ_UNPLUG, BLK(NBLOCKS), 1},	 /* outside */
	    {VIRTIO_MEM_REQ_PLUG, BLK(0), 1},		 /* already plugged */
	    {VIRTIO_MEM_REQ_PLUG, BLK(0), 2},		 /* partly plugged */
	    {VIRTIO_MEM_REQ_STATE, BLK(NBLOCKS - 1), 2}, /* outside */
	    {VIRTIO_MEM_REQ_STATE, BLK(0) + 1, 1},	 /* misaligned */
	    {VIRTIO_MEM_REQ_STATE, BLK(0), 0},		 /* empty */
	    {4, BLK(0), 1},				 /* unknown type */
	    {0xffff, 0, 0},
	};

	assert_int_equal(virtio_mem_set_requested(f->m, NBLOCKS * BS), 1);
	assert_int_equal(req(f, VIRTIO_MEM_REQ_PLUG, BLK(0), 1, NULL), VIRTIO_MEM_RESP_ACK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint16_t st = 0x5555;
		print_message("case %zu\n", i);
		assert_int_equal(req(f, bad[i].type, bad[i].addr, bad[i].nb, &st),
				 VIRTIO_MEM_RESP_ERROR);
		assert_int_equal(st, 0);
	}
	/* Short requests: every length below a whole request. */
	make_req(r, VIRTIO_MEM_REQ_PLUG, BLK(4), 1);
	for (size_t len = 0; len < VIRTIO_MEM_REQ_SIZE; len++)
		assert_int_equal(virtio_mem_handle(f->m, r, len, resp), VIRTIO_MEM_RESP_ERROR);
	/* Nothing of the above changed the state. */
	assert_int_equal(virtio_mem_plugged(f->m), BS);
	assert_int_equal(fd_allocated(f), BS);
	for (unsigned b = 1; b < NBLOCKS; b++)
		assert_false(virtio_mem_block_plugged(f->m, b));
	virtio_mem_get_stats(f->m, &stats);
	assert_int_equal(stats.acks, 1);
	assert_int_equal(stats.errors, sizeof(bad) / sizeof(bad[0]) + VIRTIO_MEM_REQ_SIZE);
	assert_int_equal(stats.malformed, 2 + VIRTIO_MEM_REQ_SIZE);
}

/* A hole punch the backing refuses (a read-only... here: an fd that is not a memfd) answers
 * BUSY and keeps the blocks plugged; a failed allocation answers NACK. */
static void test_backing_failure(void **state)
{
	struct virtio_mem *m;
	struct virtio_mem_params p = {.addr = REGION, .size = 4 * BS};
	int pipefd[2];
	uint8_t r[VIRTIO_MEM_REQ_SIZE], resp[VIRTIO_MEM_RESP_SIZE];

	(void)state;
	assert_int_equal(pipe(pipefd), 0);
	p.fd = pipefd[0];
	assert_int_equal(virtio_mem_new(&p, &m), 0);
	assert_int_equal(virtio_mem_set_requested(m, 4 * BS), 1);
	make_req(r, VIRTIO_MEM_REQ_PLUG, REGION, 1);
	assert_int_equal(virtio_mem_handle(m, r, sizeof(r), resp), VIRTIO_MEM_RESP_NACK);
	assert_int_equal(virtio_mem_plugged(m), 0);
	virtio_mem_free(m);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* ---- the queue path over fake guest memory ---- */

struct qfx {
	uint8_t *ram;
	struct vmm_memory mem;
	struct virtq vq;
	uint16_t avail_idx;
};

static void qsetup(struct qfx *q)
{
	q->ram = calloc(1, MEM_SIZE);
	assert_non_null(q->ram);
	vmm_memory_init_buffer(&q->mem, q->ram, MEM_SIZE);
	assert_int_equal(virtq_configure(&q->vq, &q->mem, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA), 0);
	q->vq.ready = true;
}

static void set_desc(struct qfx *q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = q->ram + DESC_GPA + 16 * i;

	put64(d, addr);
	d[8] = (uint8_t)len;
	d[9] = (uint8_t)(len >> 8);
	d[10] = (uint8_t)(len >> 16);
	d[11] = (uint8_t)(len >> 24);
	put16(d + 12, flags);
	put16(d + 14, next);
}

static void publish(struct qfx *q, uint16_t head)
{
	put16(q->ram + AVAIL_GPA + 4 + 2 * (q->avail_idx % QSIZE), head);
	q->avail_idx++;
	put16(q->ram + AVAIL_GPA + 2, q->avail_idx);
}

static uint32_t used_len(struct qfx *q, unsigned i)
{
	const uint8_t *u = q->ram + USED_GPA + 4 + 8 * i + 4;

	return (uint32_t)(u[0] | u[1] << 8 | u[2] << 16 | (uint32_t)u[3] << 24);
}

static void test_queue(void **state)
{
	struct fx *f = *state;
	struct qfx q = {0};

	qsetup(&q);
	assert_int_equal(virtio_mem_set_requested(f->m, 2 * BS), 1);
	/* 0: a PLUG with a response buffer. */
	make_req(q.ram + REQ_GPA, VIRTIO_MEM_REQ_PLUG, BLK(7), 2);
	set_desc(&q, 0, REQ_GPA, VIRTIO_MEM_REQ_SIZE, VIRTQ_DESC_F_NEXT, 1);
	set_desc(&q, 1, RESP_GPA, VIRTIO_MEM_RESP_SIZE, VIRTQ_DESC_F_WRITE, 0);
	publish(&q, 0);
	/* 2: a PLUG without room for the response: not executed, completed with 0 bytes. */
	make_req(q.ram + REQ_GPA + 64, VIRTIO_MEM_REQ_UNPLUG, BLK(7), 2);
	set_desc(&q, 2, REQ_GPA + 64, VIRTIO_MEM_REQ_SIZE, VIRTQ_DESC_F_NEXT, 3);
	set_desc(&q, 3, RESP_GPA + 64, 4, VIRTQ_DESC_F_WRITE, 0);
	publish(&q, 2);
	assert_int_equal(virtio_mem_process(f->m, &q.vq), 2);
	assert_int_equal(used_len(&q, 0), VIRTIO_MEM_RESP_SIZE);
	assert_int_equal(get16(q.ram + RESP_GPA), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(used_len(&q, 1), 0);
	assert_int_equal(virtio_mem_plugged(f->m), 2 * BS);
	/* 4: a descriptor pointing outside guest RAM breaks the queue. */
	set_desc(&q, 4, MEM_SIZE - 8, VIRTIO_MEM_REQ_SIZE, 0, 0);
	publish(&q, 4);
	assert_true(virtio_mem_process(f->m, &q.vq) < 0);
	assert_int_equal(virtio_mem_plugged(f->m), 2 * BS);
	free(q.ram);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_bad_params),
	    cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_requested_bounds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plug_unplug_backing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mapping_follows_plugs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	    cmocka_unit_test(test_backing_failure),
	    cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
