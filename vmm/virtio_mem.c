#include "config.h"

#include "vmm/virtio_mem.h"

#include "common/log.h"
#include "common/util.h"
#include "vmm/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct virtio_mem {
	uint64_t addr, size, block_size;
	uint64_t nr_blocks;
	uint64_t plugged, requested;
	int fd;
	uint64_t fd_offset;
	uint8_t *map;
	virtio_mem_change_fn on_change;
	void *opaque;
	uint64_t *bitmap; /* bit per block: plugged */
	struct virtio_mem_stats stats;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int virtio_mem_layout(uint64_t boot_bytes, uint64_t max_bytes, uint64_t *addr, uint64_t *size)
{
	uint64_t hot, start;

	if (max_bytes <= boot_bytes || (max_bytes - boot_bytes) % VIRTIO_MEM_BLOCK_SIZE != 0) {
		log_error("virtio-mem: maximum memory %llu MiB must be above the boot memory "
			  "(%llu MiB) by a multiple of %llu MiB",
			  (unsigned long long)(max_bytes >> 20),
			  (unsigned long long)(boot_bytes >> 20),
			  (unsigned long long)(VIRTIO_MEM_BLOCK_SIZE >> 20));
		return -EINVAL;
	}
	hot = max_bytes - boot_bytes;
	start = align_up(boot_bytes, VIRTIO_MEM_REGION_ALIGN);
	if (boot_bytes > VMM_MEMORY_LOW_END || start + hot > VMM_MEMORY_LOW_END) {
		uint64_t high_end = VMM_MEMORY_HIGH_BASE;
		if (boot_bytes > VMM_MEMORY_LOW_END)
			high_end += boot_bytes - VMM_MEMORY_LOW_END;
		start = align_up(high_end, VIRTIO_MEM_REGION_ALIGN);
	}
	if (max_bytes > VMM_MEMORY_MAX || start > (1ULL << 46) - hot) {
		log_error(
		    "virtio-mem: maximum memory %llu MiB is above the VMM's limit of %llu GiB",
		    (unsigned long long)(max_bytes >> 20), VMM_MEMORY_MAX >> 30);
		return -EINVAL;
	}
	*addr = start;
	*size = hot;
	return 0;
}

int virtio_mem_new(const struct virtio_mem_params *p, struct virtio_mem **out)
{
	uint64_t bs = p->block_size ? p->block_size : VIRTIO_MEM_BLOCK_SIZE;
	struct virtio_mem *m;

	if (bs < 4096 || (bs & (bs - 1)) != 0 || p->size == 0 || p->size % bs != 0 ||
	    p->addr % bs != 0 || p->size > VMM_MEMORY_MAX || p->fd_offset % 4096 != 0) {
		log_error("virtio-mem: bad region (addr 0x%llx, size %llu, block %llu)",
			  (unsigned long long)p->addr, (unsigned long long)p->size,
			  (unsigned long long)bs);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->addr = p->addr;
	m->size = p->size;
	m->block_size = bs;
	m->nr_blocks = p->size / bs;
	m->fd = p->fd;
	m->fd_offset = p->fd_offset;
	m->map = p->map;
	m->on_change = p->on_change;
	m->opaque = p->opaque;
	m->bitmap = calloc((m->nr_blocks + 63) / 64, sizeof(uint64_t));
	if (!m->bitmap) {
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void virtio_mem_free(struct virtio_mem *m)
{
	if (!m)
		return;
	free(m->bitmap);
	free(m);
}

bool virtio_mem_block_plugged(const struct virtio_mem *m, uint64_t block)
{
	return block < m->nr_blocks && (m->bitmap[block / 64] >> (block % 64)) & 1;
}

static void set_blocks(struct virtio_mem *m, uint64_t first, uint64_t n, bool plugged)
{
	for (uint64_t b = first; b < first + n; b++) {
		if (plugged)
			m->bitmap[b / 64] |= 1ULL << (b % 64);
		else
			m->bitmap[b / 64] &= ~(1ULL << (b % 64));
	}
}

/* How many of [first, first+n) are plugged. */
static uint64_t count_plugged(const struct virtio_mem *m, uint64_t first, uint64_t n)
{
	uint64_t c = 0;

	for (uint64_t b = first; b < first + n; b++)
		c += virtio_mem_block_plugged(m, b);
	return c;
}

bool virtio_mem_range_plugged(const struct virtio_mem *m, uint64_t offset, uint64_t len)
{
	uint64_t first, last;

	if (offset >= m->size || len > m->size - offset)
		return false;
	first = offset / m->block_size;
	last = len ? (offset + len - 1) / m->block_size : first;
	for (uint64_t b = first; b <= last; b++)
		if (!virtio_mem_block_plugged(m, b))
			return false;
	return true;
}

/* Allocate (plug) or release (unplug) the backing of blocks [first, first+n), and open or close
 * the VMM's mapping of them. Closed before the hole is punched, so that no access can bring a
 * page back in between. */
static int back_blocks(struct virtio_mem *m, uint64_t first, uint64_t n, bool plug)
{
	off_t off = (off_t)(m->fd_offset + first * m->block_size);
	off_t len = (off_t)(n * m->block_size);
	uint8_t *at = m->map ? m->map + first * m->block_size : NULL;
	int r;

	if (m->fd < 0)
		return 0;
	if (!plug && at && mprotect(at, (size_t)len, PROT_NONE) < 0)
		log_warn("virtio-mem: closing %lld bytes at region offset %llu: %m", (long long)len,
			 (unsigned long long)(first * m->block_size));
	if (fallocate(m->fd, plug ? 0 : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0) {
		r = -errno;
		log_warn("virtio-mem: %s %lld bytes at region offset %llu: %m",
			 plug ? "allocating" : "releasing", (long long)len,
			 (unsigned long long)(first * m->block_size));
		goto undo;
	}
	if (plug && at && mprotect(at, (size_t)len, PROT_READ | PROT_WRITE) < 0) {
		r = -errno;
		log_warn("virtio-mem: opening %lld bytes at region offset %llu: %m", (long long)len,
			 (unsigned long long)(first * m->block_size));
		goto undo;
	}
	return 0;
undo:
	if (plug) /* give back what a partial allocation got */
		(void)fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	else if (at) /* the blocks stay plugged: the guest keeps them */
		(void)mprotect(at, (size_t)len, PROT_READ | PROT_WRITE);
	return r;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
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

/* The range is block-aligned, non-empty and inside the usable region; else the spec's ERROR. */
static bool range_valid(const struct virtio_mem *m, const char *what, uint64_t addr,
			uint16_t nb_blocks, uint64_t *first)
{
	uint64_t len = (uint64_t)nb_blocks * m->block_size;

	if (nb_blocks == 0 || addr % m->block_size != 0 || addr < m->addr ||
	    addr - m->addr > m->size || len > m->size - (addr - m->addr)) {
		log_debug("virtio-mem: %s of %u blocks at 0x%llx is outside the region "
			  "[0x%llx, +%llu) or not aligned to %llu",
			  what, nb_blocks, (unsigned long long)addr, (unsigned long long)m->addr,
			  (unsigned long long)m->size, (unsigned long long)m->block_size);
		return false;
	}
	*first = (addr - m->addr) / m->block_size;
	return true;
}

static unsigned do_plug(struct virtio_mem *m, uint64_t addr, uint16_t nb, bool plug)
{
	uint64_t first, len = (uint64_t)nb * m->block_size;
	const char *what = plug ? "PLUG" : "UNPLUG";

	if (!range_valid(m, what, addr, nb, &first))
		return VIRTIO_MEM_RESP_ERROR;
	if (count_plugged(m, first, nb) != (plug ? 0 : nb)) {
		log_debug("virtio-mem: %s of %u blocks at 0x%llx: some are already %s", what, nb,
			  (unsigned long long)addr, plug ? "plugged" : "unplugged");
		return VIRTIO_MEM_RESP_ERROR;
	}
	if (plug && m->plugged + len > m->requested) {
		log_debug("virtio-mem: PLUG of %u blocks would pass requested_size %llu", nb,
			  (unsigned long long)m->requested);
		return VIRTIO_MEM_RESP_NACK;
	}
	if (back_blocks(m, first, nb, plug) < 0)
		return plug ? VIRTIO_MEM_RESP_NACK : VIRTIO_MEM_RESP_BUSY;
	set_blocks(m, first, nb, plug);
	m->plugged = plug ? m->plugged + len : m->plugged - len;
	if (m->on_change)
		m->on_change(m->opaque, m->plugged, m->requested);
	return VIRTIO_MEM_RESP_ACK;
}

static unsigned do_unplug_all(struct virtio_mem *m)
{
	if (m->plugged == 0)
		return VIRTIO_MEM_RESP_ACK;
	if (back_blocks(m, 0, m->nr_blocks, false) < 0)
		return VIRTIO_MEM_RESP_BUSY;
	memset(m->bitmap, 0, (m->nr_blocks + 63) / 64 * sizeof(uint64_t));
	m->plugged = 0;
	if (m->on_change)
		m->on_change(m->opaque, m->plugged, m->requested);
	return VIRTIO_MEM_RESP_ACK;
}

unsigned virtio_mem_handle(struct virtio_mem *m, const void *req, size_t len,
			   uint8_t resp[VIRTIO_MEM_RESP_SIZE])
{
	const uint8_t *r = req;
	unsigned type = VIRTIO_MEM_RESP_ERROR;
	uint16_t state = 0;

	m->stats.requests++;
	memset(resp, 0, VIRTIO_MEM_RESP_SIZE);
	if (len < VIRTIO_MEM_REQ_SIZE) {
		m->stats.malformed++;
		log_debug("virtio-mem: request of %zu bytes, need %u", len, VIRTIO_MEM_REQ_SIZE);
		goto out;
	}
	switch (get16(r)) {
	case VIRTIO_MEM_REQ_PLUG:
		type = do_plug(m, get64(r + 8), get16(r + 16), true);
		break;
	case VIRTIO_MEM_REQ_UNPLUG:
		type = do_plug(m, get64(r + 8), get16(r + 16), false);
		break;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		type = do_unplug_all(m);
		break;
	case VIRTIO_MEM_REQ_STATE: {
		uint64_t first, n;
		uint16_t nb = get16(r + 16);

		if (!range_valid(m, "STATE", get64(r + 8), nb, &first))
			break;
		n = count_plugged(m, first, nb);
		state = n == nb	 ? VIRTIO_MEM_STATE_PLUGGED
			: n == 0 ? VIRTIO_MEM_STATE_UNPLUGGED
				 : VIRTIO_MEM_STATE_MIXED;
		type = VIRTIO_MEM_RESP_ACK;
		break;
	}
	default:
		m->stats.malformed++;
		log_debug("virtio-mem: unknown request type %u", get16(r));
		break;
	}
out:
	switch (type) {
	case VIRTIO_MEM_RESP_ACK:
		m->stats.acks++;
		break;
	case VIRTIO_MEM_RESP_NACK:
		m->stats.nacks++;
		break;
	case VIRTIO_MEM_RESP_BUSY:
		m->stats.busy++;
		break;
	default:
		m->stats.errors++;
		break;
	}
	put16(resp, (uint16_t)type);
	put16(resp + 8, state);
	return type;
}

int virtio_mem_process(struct virtio_mem *m, struct virtq *vq)
{
	struct virtq_chain *chain;
	int done = 0, r;

	/* A chain carries up to VIRTQ_CHAIN_MAX_SEGS iovecs: too big for the stack budget. */
	chain = malloc(sizeof(*chain));
	if (!chain)
		return -ENOMEM;
	while ((r = virtq_pop(vq, chain)) > 0) {
		uint8_t req[VIRTIO_MEM_REQ_SIZE], resp[VIRTIO_MEM_RESP_SIZE];
		size_t n = virtq_chain_read(chain, 0, req, sizeof(req));
		size_t w = 0;

		if (chain->in_len < VIRTIO_MEM_RESP_SIZE) {
			/* Nowhere to say whether it happened: do nothing. */
			m->stats.malformed++;
			log_debug("virtio-mem: chain %u has %zu writable bytes, need %u",
				  chain->head, chain->in_len, VIRTIO_MEM_RESP_SIZE);
		} else {
			virtio_mem_handle(m, req, n, resp);
			w = virtq_chain_write(chain, 0, resp, sizeof(resp));
		}
		r = virtq_push(vq, chain->head, (uint32_t)w);
		if (r < 0)
			break;
		done++;
	}
	free(chain);
	return r < 0 ? r : done;
}

void virtio_mem_config_read(const struct virtio_mem *m, uint32_t offset, void *data, uint32_t len)
{
	uint8_t cfg[VIRTIO_MEM_CONFIG_SIZE] = {0};

	put64(cfg + VIRTIO_MEM_CFG_BLOCK_SIZE, m->block_size);
	put64(cfg + VIRTIO_MEM_CFG_ADDR, m->addr);
	put64(cfg + VIRTIO_MEM_CFG_REGION_SIZE, m->size);
	put64(cfg + VIRTIO_MEM_CFG_USABLE_SIZE, m->size);
	put64(cfg + VIRTIO_MEM_CFG_PLUGGED_SIZE, m->plugged);
	put64(cfg + VIRTIO_MEM_CFG_REQUESTED_SIZE, m->requested);
	if (offset > sizeof(cfg) || len > sizeof(cfg) - offset) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, cfg + offset, len);
}

int virtio_mem_set_requested(struct virtio_mem *m, uint64_t bytes)
{
	if (bytes > m->size || bytes % m->block_size != 0) {
		log_warn("virtio-mem: requested size %llu is not a multiple of %llu in [0, %llu]",
			 (unsigned long long)bytes, (unsigned long long)m->block_size,
			 (unsigned long long)m->size);
		return -EINVAL;
	}
	if (bytes == m->requested)
		return 0;
	m->requested = bytes;
	if (m->on_change)
		m->on_change(m->opaque, m->plugged, m->requested);
	return 1;
}

uint64_t virtio_mem_plugged(const struct virtio_mem *m)
{
	return m->plugged;
}

uint64_t virtio_mem_requested(const struct virtio_mem *m)
{
	return m->requested;
}

uint64_t virtio_mem_region_addr(const struct virtio_mem *m)
{
	return m->addr;
}

uint64_t virtio_mem_region_size(const struct virtio_mem *m)
{
	return m->size;
}

uint64_t virtio_mem_block_size(const struct virtio_mem *m)
{
	return m->block_size;
}

void virtio_mem_get_stats(const struct virtio_mem *m, struct virtio_mem_stats *stats)
{
	*stats = m->stats;
}
