/* Guest RAM: one mapping of a memfd (the pool's in daemon mode, an own one standalone), exposed
 * to KVM as one or two memslots (below the 32-bit MMIO gap, and above 4 GiB for the rest).
 *
 * Every access to guest memory from the VMM goes through these helpers: the guest controls every
 * address it hands us, so a range is only usable when it lies entirely inside one RAM region. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Low RAM ends here; the MMIO gap (virtio-mmio, IOAPIC, LAPIC) runs from here to 4 GiB. */
#define VMM_MEMORY_LOW_END   0xc0000000ULL
#define VMM_MEMORY_HIGH_BASE 0x100000000ULL
#define VMM_MEMORY_MAX	     (64ULL << 30)

struct vmm_memory_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	/* NULL, or whether [offset, offset+len) of the region may be touched now (hotplug memory:
	 * only its plugged blocks). */
	bool (*usable)(const void *opaque, uint64_t offset, uint64_t len);
	const void *usable_opaque;
};

struct vmm_memory {
	int fd;	       /* memfd backing the RAM, -1 for a caller's buffer */
	bool owns_map; /* unmap on free */
	uint8_t *map;  /* host mapping of the whole RAM */
	uint64_t size;
	unsigned nr_regions;
	struct vmm_memory_region regions[2];
};

/* Map size bytes of guest RAM. fd >= 0: the caller's memfd (ftruncate'd to size if shorter,
 * the fd is dup'ed); fd < 0: a new memfd. size must be a multiple of 2 MiB, at least 2 MiB. */
int vmm_memory_init(struct vmm_memory *mem, int fd, uint64_t size);

/* Wrap a caller's buffer as guest RAM at gpa 0 (unit tests, fuzzers): no fd, no KVM. */
void vmm_memory_init_buffer(struct vmm_memory *mem, void *buf, uint64_t size);

/* Unmap and close; safe on a zeroed or already freed struct. */
void vmm_memory_free(struct vmm_memory *mem);

/* Host address of [gpa, gpa+len), or NULL unless the whole range (len may be 0) lies inside
 * one RAM region, and in a part of it the region's usable() allows. Overflow-safe for any
 * gpa/len. */
void *vmm_memory_ptr(const struct vmm_memory *mem, uint64_t gpa, uint64_t len);

/* Copy between guest RAM and the host. -EFAULT (and a debug log naming gpa/len) when the
 * range is not RAM. */
int vmm_memory_read(const struct vmm_memory *mem, uint64_t gpa, void *buf, size_t len);
int vmm_memory_write(const struct vmm_memory *mem, uint64_t gpa, const void *buf, size_t len);

/* The guest-physical ranges of RAM, in order (used for the e820 map). */
static inline unsigned vmm_memory_region_count(const struct vmm_memory *mem)
{
	return mem->nr_regions;
}
