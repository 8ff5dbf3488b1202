/* virtio-mem (device 24, virtio 1.2 section 5.15): a hotplug region of fixed-size blocks above
 * the enclave's boot memory. The host sets requested_size; the guest driver follows it with
 * PLUG / UNPLUG / UNPLUG_ALL requests and may ask the STATE of a range. Every request is
 * checked against the spec's rules and answered ACK, NACK, BUSY or ERROR; a bitmap records
 * which blocks are plugged.
 *
 * Backing: the region is a range of a memfd (fd, offset). A PLUG allocates the blocks with
 * fallocate (a pool that cannot cover them answers NACK instead of a later SIGBUS); an UNPLUG
 * returns them to the host with FALLOC_FL_PUNCH_HOLE, so what the host holds for the region is
 * exactly plugged_size at every moment.
 *
 * This file is the transport-independent core (unit tests and the fuzzer drive it over fake
 * guest memory); vmm/virtio_mem_mmio.c attaches it to virtio-mmio, KVM and the channel.
 * Event thread only. */
#pragma once

#include "vmm/virtqueue.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTIO_ID_MEM 24u

/* Block size offered to the driver: the x86 THP / pageblock size Linux expects. */
#define VIRTIO_MEM_BLOCK_SIZE (2ULL << 20)
/* Region start alignment (Linux adds hotplugged memory in 128 MiB memory blocks). */
#define VIRTIO_MEM_REGION_ALIGN (128ULL << 20)
#define VIRTIO_MEM_QUEUE_SIZE	64u

#define VIRTIO_MEM_F_ACPI_PXM		    0
#define VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE 1

#define VIRTIO_MEM_REQ_PLUG	  0u
#define VIRTIO_MEM_REQ_UNPLUG	  1u
#define VIRTIO_MEM_REQ_UNPLUG_ALL 2u
#define VIRTIO_MEM_REQ_STATE	  3u

#define VIRTIO_MEM_RESP_ACK   0u
#define VIRTIO_MEM_RESP_NACK  1u
#define VIRTIO_MEM_RESP_BUSY  2u
#define VIRTIO_MEM_RESP_ERROR 3u

#define VIRTIO_MEM_STATE_PLUGGED   0u
#define VIRTIO_MEM_STATE_UNPLUGGED 1u
#define VIRTIO_MEM_STATE_MIXED	   2u

/* Wire sizes (little-endian): request = type u16, pad[3] u16, addr u64, nb_blocks u16,
 * pad[3] u16; response = type u16, pad[3] u16, state u16. Config space: block_size u64,
 * node_id u16, pad[6], addr u64, region_size u64, usable_region_size u64, plugged_size u64,
 * requested_size u64. */
#define VIRTIO_MEM_REQ_SIZE    24u
#define VIRTIO_MEM_RESP_SIZE   10u
#define VIRTIO_MEM_CONFIG_SIZE 56u

#define VIRTIO_MEM_CFG_BLOCK_SIZE     0u
#define VIRTIO_MEM_CFG_NODE_ID	      8u
#define VIRTIO_MEM_CFG_ADDR	      16u
#define VIRTIO_MEM_CFG_REGION_SIZE    24u
#define VIRTIO_MEM_CFG_USABLE_SIZE    32u
#define VIRTIO_MEM_CFG_PLUGGED_SIZE   40u
#define VIRTIO_MEM_CFG_REQUESTED_SIZE 48u

struct virtio_mem;

/* plugged_size or requested_size changed (after the request that changed it). */
typedef void (*virtio_mem_change_fn)(void *opaque, uint64_t plugged, uint64_t requested);

struct virtio_mem_params {
	uint64_t addr;	     /* guest-physical start, a multiple of block_size */
	uint64_t size;	     /* region size, a non-zero multiple of block_size */
	uint64_t block_size; /* a power of two >= 4 KiB (0 = VIRTIO_MEM_BLOCK_SIZE) */
	int fd;		     /* backing memfd (not owned), -1 = no backing (tests) */
	uint64_t fd_offset;  /* byte offset of the region in fd, page-aligned */
	/* The VMM's mapping of the region (NULL in tests): blocks are PROT_NONE while unplugged,
	 * so a guest (through KVM) or a device that touches one faults instead of taking host
	 * memory the pool never gave it. The caller maps it PROT_NONE. */
	uint8_t *map;
	virtio_mem_change_fn on_change;
	void *opaque;
};

struct virtio_mem_stats {
	uint64_t requests;
	uint64_t acks, nacks, busy, errors;
	uint64_t malformed; /* too short, unknown type, no room for a response */
};

/* The region for a boot memory of boot_bytes and a maximum of max_bytes: directly above boot
 * memory (128 MiB-aligned) when that stays below the 32-bit MMIO gap, else above all RAM past
 * 4 GiB. *size = max_bytes - boot_bytes. -EINVAL (with a log) when max_bytes is not above
 * boot_bytes, not a multiple of the block size, or the region would pass VMM_MEMORY_MAX. */
int virtio_mem_layout(uint64_t boot_bytes, uint64_t max_bytes, uint64_t *addr, uint64_t *size);

int virtio_mem_new(const struct virtio_mem_params *p, struct virtio_mem **out);
void virtio_mem_free(struct virtio_mem *m);

/* Every block that [offset, offset+len) of the region touches is plugged (len 0: the block at
 * offset). For the VMM's own accesses to guest memory. */
bool virtio_mem_range_plugged(const struct virtio_mem *m, uint64_t offset, uint64_t len);

/* Answer one request of len bytes (hostile): fills resp (VIRTIO_MEM_RESP_SIZE bytes) and
 * returns the response type. Blocks are plugged/unplugged (and backed/punched) here. */
unsigned virtio_mem_handle(struct virtio_mem *m, const void *req, size_t len,
			   uint8_t resp[VIRTIO_MEM_RESP_SIZE]);

/* Drain the request queue: every chain gets a response (chains without room for one are
 * completed with 0 bytes). Returns the number completed, or a negative errno when the queue
 * itself is broken (the caller sets NEEDS_RESET). */
int virtio_mem_process(struct virtio_mem *m, struct virtq *vq);

/* Config space read (offset + len <= VIRTIO_MEM_CONFIG_SIZE, checked by the transport). */
void virtio_mem_config_read(const struct virtio_mem *m, uint32_t offset, void *data, uint32_t len);

/* New requested size (a multiple of the block size, <= the region size); -EINVAL otherwise.
 * Returns 1 when it changed (the caller raises the config interrupt), 0 when it did not. */
int virtio_mem_set_requested(struct virtio_mem *m, uint64_t bytes);

uint64_t virtio_mem_plugged(const struct virtio_mem *m);
uint64_t virtio_mem_requested(const struct virtio_mem *m);
uint64_t virtio_mem_region_addr(const struct virtio_mem *m);
uint64_t virtio_mem_region_size(const struct virtio_mem *m);
uint64_t virtio_mem_block_size(const struct virtio_mem *m);
bool virtio_mem_block_plugged(const struct virtio_mem *m, uint64_t block);
void virtio_mem_get_stats(const struct virtio_mem *m, struct virtio_mem_stats *stats);

/* ---- enclave-vmm glue (vmm/virtio_mem_mmio.c) ---- */
struct vmm;

/* Standalone test hook (--resize-after-ms T:MiB, repeatable): after T ms of the event loop,
 * set requested_size so that boot + plugged = MiB. -EINVAL on a malformed spec. */
int virtio_mem_test_resize_add(const char *spec);

/* SetRequestedSize from enclaved (installed as vmm->mem_set_requested): bytes of the hotplug
 * region the guest should have plugged. -EINVAL beyond the region or misaligned. */
int virtio_mem_vmm_set_requested(struct vmm *vmm, uint64_t bytes);
