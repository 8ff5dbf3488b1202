#include "config.h"

#include "vmm/memory.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define MIB2 (2ULL << 20)

static void memory_layout(struct vmm_memory *mem)
{
	uint64_t low = UTIL_MIN(mem->size, VMM_MEMORY_LOW_END);

	mem->regions[0] = (struct vmm_memory_region){.gpa = 0, .size = low, .hva = mem->map};
	mem->nr_regions = 1;
	if (mem->size > low) {
		mem->regions[1] = (struct vmm_memory_region){
		    .gpa = VMM_MEMORY_HIGH_BASE, .size = mem->size - low, .hva = mem->map + low};
		mem->nr_regions = 2;
	}
}

int vmm_memory_init(struct vmm_memory *mem, int fd, uint64_t size)
{
	_cleanup_close_ int own = -1;
	struct stat st;

	*mem = (struct vmm_memory){.fd = -1};
	if (size < MIB2 || size % MIB2 != 0 || size > VMM_MEMORY_MAX) {
		log_error("guest memory size %llu is not a multiple of 2 MiB in [2 MiB, %llu GiB]",
			  (unsigned long long)size, VMM_MEMORY_MAX >> 30);
		return -EINVAL;
	}
	if (fd >= 0)
		own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	else
		own = memfd_create("enclave-ram", MFD_CLOEXEC);
	if (own < 0 || fstat(own, &st) < 0) {
		int r = -errno;
		log_error("guest memory fd: %m");
		return r;
	}
	if ((uint64_t)st.st_size < size && ftruncate(own, (off_t)size) < 0) {
		int r = -errno;
		log_error("sizing guest memory fd to %llu bytes: %m", (unsigned long long)size);
		return r;
	}
	mem->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, own, 0);
	if (mem->map == MAP_FAILED) {
		int r = -errno;
		mem->map = NULL;
		log_error("mapping %llu bytes of guest memory: %m", (unsigned long long)size);
		return r;
	}
	/* Transparent huge pages make the guest's first touches cheaper; a hint only. */
	(void)madvise(mem->map, size, MADV_HUGEPAGE);
	(void)madvise(mem->map, size, MADV_DONTDUMP);
	mem->owns_map = true;
	mem->size = size;
	mem->fd = util_steal_fd(&own);
	memory_layout(mem);
	return 0;
}

void vmm_memory_init_buffer(struct vmm_memory *mem, void *buf, uint64_t size)
{
	*mem = (struct vmm_memory){.fd = -1, .map = buf, .size = size};
	memory_layout(mem);
}

void vmm_memory_free(struct vmm_memory *mem)
{
	if (mem->owns_map && mem->map)
		munmap(mem->map, mem->size);
	if (mem->fd >= 0)
		close(mem->fd);
	*mem = (struct vmm_memory){.fd = -1};
}

void *vmm_memory_ptr(const struct vmm_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct vmm_memory_region *r = &mem->regions[i];

		if (gpa < r->gpa || gpa - r->gpa > r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		if (r->usable && !r->usable(r->usable_opaque, gpa - r->gpa, len))
			return NULL;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int vmm_memory_read(const struct vmm_memory *mem, uint64_t gpa, void *buf, size_t len)
{
	const void *p = vmm_memory_ptr(mem, gpa, len);

	if (!p) {
		log_debug("guest read of %zu bytes at gpa 0x%llx is outside RAM", len,
			  (unsigned long long)gpa);
		return -EFAULT;
	}
	memcpy(buf, p, len);
	return 0;
}

int vmm_memory_write(const struct vmm_memory *mem, uint64_t gpa, const void *buf, size_t len)
{
	void *p = vmm_memory_ptr(mem, gpa, len);

	if (!p) {
		log_debug("guest write of %zu bytes at gpa 0x%llx is outside RAM", len,
			  (unsigned long long)gpa);
		return -EFAULT;
	}
	memcpy(p, buf, len);
	return 0;
}
