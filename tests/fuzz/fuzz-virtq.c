// clang-format off
// fuzz-sources: vmm/virtqueue.c vmm/memory.c common/log.c common/util.c
// fuzz-pkgs: libsystemd
// clang-format on
/* The virtqueue walker over guest memory the fuzzer controls completely: descriptor table,
 * avail ring, indirect tables and buffers. Input: byte 0 = log2(queue size) (mod 9), byte 1 =
 * feature bits (1: indirect, 2: event index), the rest is copied over a 64 KiB guest RAM whose
 * rings sit at 0x0 (desc), 0x1000 (avail), 0x2000 (used). */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/log.h"
#include "vmm/virtqueue.h"

#define RAM_SIZE 0x10000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[RAM_SIZE];
	static struct virtq_chain chain;
	static bool quiet;
	struct vmm_memory mem;
	struct virtq vq = {0};
	uint8_t scratch[512];

	if (!quiet) {
		log_setup("fuzz-virtq", LOG_LEVEL_ERROR);
		quiet = true;
	}
	if (size < 2)
		return 0;
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + 2, size - 2 < RAM_SIZE ? size - 2 : RAM_SIZE);
	vmm_memory_init_buffer(&mem, ram, RAM_SIZE);
	vq.indirect = data[1] & 1;
	vq.event_idx = data[1] & 2;
	if (virtq_configure(&vq, &mem, (uint16_t)(1u << (data[0] % 9)), 0x0, 0x1000, 0x2000) < 0)
		return 0;
	for (int i = 0; i < 64; i++) {
		int r = virtq_pop(&vq, &chain);
		if (r <= 0)
			break;
		/* Every segment must lie inside RAM: touch each byte range through the helpers. */
		for (unsigned s = 0; s < chain.n_out + chain.n_in; s++) {
			uint8_t *b = chain.iov[s].iov_base;
			if (b < ram || b + chain.iov[s].iov_len > ram + RAM_SIZE)
				__builtin_trap();
		}
		size_t got = virtq_chain_read(&chain, i, scratch, sizeof(scratch));
		if (got > chain.out_len)
			__builtin_trap();
		size_t put = virtq_chain_write(&chain, 1, scratch, got);
		if (put > chain.in_len)
			__builtin_trap();
		if (virtq_push(&vq, chain.head, (uint32_t)put) < 0)
			__builtin_trap();
		(void)virtq_should_notify(&vq);
	}
	return 0;
}
