// clang-format off
// fuzz-sources: vmm/virtio_mem.c vmm/virtqueue.c vmm/memory.c common/log.c common/util.c
// fuzz-pkgs: libsystemd
// clang-format on
/* virtio-mem request parsing and state. Input byte 0: bit 7 selects the queue path (the rest
 * becomes a 64 KiB guest RAM with rings at 0x0/0x1000/0x2000, requests taken from there),
 * else a stream of records: 1 byte requested_size in blocks, then a request of up to 24 bytes.
 * Invariants after every step: plugged_size equals the bitmap's count times the block size,
 * stays inside the region, and an ACKed PLUG never passes requested_size. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/log.h"
#include "vmm/virtio_mem.h"

#define RAM_SIZE 0x10000u
#define BS	 4096u
#define NBLOCKS	 64u
#define ADDR	 0x100000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct virtio_mem *m)
{
	uint64_t n = 0;

	for (uint64_t b = 0; b < NBLOCKS + 8; b++)
		n += virtio_mem_block_plugged(m, b);
	if (n * BS != virtio_mem_plugged(m) || virtio_mem_plugged(m) > NBLOCKS * BS)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[RAM_SIZE];
	static bool quiet;
	struct virtio_mem_params p = {
	    .addr = ADDR, .size = NBLOCKS * BS, .block_size = BS, .fd = -1};
	struct virtio_mem *m;

	if (!quiet) {
		log_setup("fuzz-virtio-mem", LOG_LEVEL_ERROR);
		quiet = true;
	}
	if (size < 1 || virtio_mem_new(&p, &m) < 0)
		return 0;
	if (data[0] & 0x80) {
		struct vmm_memory mem;
		struct virtq vq = {0};

		memset(ram, 0, sizeof(ram));
		memcpy(ram, data + 1, size - 1 < RAM_SIZE ? size - 1 : RAM_SIZE);
		vmm_memory_init_buffer(&mem, ram, RAM_SIZE);
		(void)virtio_mem_set_requested(m, (uint64_t)(data[0] & 0x7f) % (NBLOCKS + 1) * BS);
		if (virtq_configure(&vq, &mem, 64, 0x0, 0x1000, 0x2000) == 0) {
			vq.ready = true;
			(void)virtio_mem_process(m, &vq);
		}
		check(m);
	} else {
		size_t off = 1;

		while (off < size) {
			uint8_t resp[VIRTIO_MEM_RESP_SIZE];
			uint64_t before = virtio_mem_plugged(m);
			size_t len = size - off - 1 < VIRTIO_MEM_REQ_SIZE ? size - off - 1
									  : VIRTIO_MEM_REQ_SIZE;
			unsigned t;

			(void)virtio_mem_set_requested(m, (uint64_t)data[off] % (NBLOCKS + 1) * BS);
			off++;
			t = virtio_mem_handle(m, data + off, len, resp);
			off += len;
			if (t > VIRTIO_MEM_RESP_ERROR ||
			    (t != VIRTIO_MEM_RESP_ACK && virtio_mem_plugged(m) != before) ||
			    (t == VIRTIO_MEM_RESP_ACK && virtio_mem_plugged(m) > before &&
			     virtio_mem_plugged(m) > virtio_mem_requested(m)))
				__builtin_trap();
			check(m);
		}
	}
	virtio_mem_free(m);
	return 0;
}
