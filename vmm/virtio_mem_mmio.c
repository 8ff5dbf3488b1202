/* virtio-mem on virtio-mmio (after vsock and nsm): the hotplug region is the memfd's range
 * after boot memory, mapped and given to KVM as its own memslot before the sandbox closes KVM
 * to the event thread. Only present when max_memory_bytes > memory_bytes. */
#include "config.h"

#include "vmm/virtio_mem.h"

#include "common/log.h"
#include "common/util.h"
#include "vmm/channel.h"
#include "vmm/event.h"
#include "vmm/kvm.h"
#include "vmm/virtio_mmio.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

/* memory.c uses slots 0 and 1. */
#define MEM_KVM_SLOT	 4u
#define MAX_TEST_RESIZES 16u

struct mem_device {
	struct vmm *vmm;
	struct virtio_mmio_dev *dev;
	struct virtio_mem *core;
	uint8_t *map;
	uint64_t map_size;
	int fault_fd; /* eventfd: a device touched an unplugged block (see on_fault) */
};

/* Only one device per VMM, so the hook and the standalone schedule may be file-level. */
static struct mem_device *the_device;
static struct {
	uint64_t after_ms, total_mib;
} test_resizes[MAX_TEST_RESIZES];
static unsigned nr_test_resizes;

int virtio_mem_test_resize_add(const char *spec)
{
	_cleanup_free_ char *copy = strdup(spec);
	char *colon;
	uint64_t ms, mib;

	if (!copy)
		return -ENOMEM;
	colon = strchr(copy, ':');
	if (!colon || nr_test_resizes >= MAX_TEST_RESIZES)
		return -EINVAL;
	*colon = '\0';
	if (util_parse_u64(copy, 24ULL * 3600 * 1000, &ms) < 0 ||
	    util_parse_u64(colon + 1, VMM_MEMORY_MAX >> 20, &mib) < 0)
		return -EINVAL;
	test_resizes[nr_test_resizes].after_ms = ms;
	test_resizes[nr_test_resizes].total_mib = mib;
	nr_test_resizes++;
	return 0;
}

static void on_change(void *opaque, uint64_t plugged, uint64_t requested)
{
	struct mem_device *d = opaque;

	log_info("virtio-mem: plugged %llu MiB, requested %llu MiB (boot %llu MiB)",
		 (unsigned long long)(plugged >> 20), (unsigned long long)(requested >> 20),
		 (unsigned long long)(d->vmm->config.memory_bytes >> 20));
	if (vmm_channel_send_memory_state(d->vmm, plugged, requested) < 0)
		log_warn("virtio-mem: could not report the memory state to enclaved");
}

int virtio_mem_vmm_set_requested(struct vmm *vmm, uint64_t bytes)
{
	struct mem_device *d = the_device;
	int r;

	if (!d || d->vmm != vmm)
		return -ENODEV;
	r = virtio_mem_set_requested(d->core, bytes);
	if (r > 0)
		virtio_mmio_notify_config(d->dev);
	return r < 0 ? r : 0;
}

static void test_resize(void *opaque)
{
	struct vmm *vmm = opaque;
	uint64_t now = util_now_monotonic_ns() / 1000000;
	static uint64_t start;
	static unsigned done;

	if (!start)
		start = now;
	while (done < nr_test_resizes && now - start >= test_resizes[done].after_ms) {
		uint64_t total = test_resizes[done].total_mib << 20;
		uint64_t boot = vmm->config.memory_bytes;

		log_info("virtio-mem: test resize to %llu MiB",
			 (unsigned long long)test_resizes[done].total_mib);
		if (total < boot || virtio_mem_vmm_set_requested(vmm, total - boot) < 0)
			log_warn("virtio-mem: test resize to %llu MiB refused",
				 (unsigned long long)test_resizes[done].total_mib);
		done++;
	}
}

/* Standalone: SIGUSR1 makes the VMM read <runtime-dir>/mem-request (total MiB, boot + hotplug)
 * and request that size, so tests can resize at moments of their choosing. */
static void on_sigusr1(int fd, uint32_t events, void *opaque)
{
	struct vmm *vmm = opaque;
	struct signalfd_siginfo si;
	char path[sizeof(vmm->config.runtime_dir) + 16];
	_cleanup_free_ char *text = NULL;
	uint64_t mib;
	size_t len;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	snprintf(path, sizeof(path), "%s/mem-request", vmm->config.runtime_dir);
	if (util_read_file(path, 32, &text, &len) < 0 || len == 0) {
		log_warn("virtio-mem: SIGUSR1 but no readable %s", path);
		return;
	}
	text[strcspn(text, "\n")] = '\0';
	if (util_parse_u64(text, VMM_MEMORY_MAX >> 20, &mib) < 0 ||
	    (mib << 20) < vmm->config.memory_bytes ||
	    virtio_mem_vmm_set_requested(vmm, (mib << 20) - vmm->config.memory_bytes) < 0) {
		log_warn("virtio-mem: %s: '%s' is not a total size in MiB in [boot, max]", path,
			 text);
		return;
	}
	log_info("virtio-mem: request of %llu MiB from %s", (unsigned long long)mib, path);
}

static int standalone_signal(struct vmm *vmm)
{
	sigset_t set;
	int fd, r;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	/* Before any vCPU thread exists, so every thread inherits the mask. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	r = vmm_event_add_fd(vmm->loop, fd, EPOLLIN, on_sigusr1, vmm);
	if (r < 0)
		close(fd);
	return r;
}

static void mem_queue_notify(void *opaque, unsigned q)
{
	struct mem_device *d = opaque;
	int r = virtio_mem_process(d->core, virtio_mmio_queue(d->dev, q));

	if (r < 0) {
		log_warn("virtio-mem: guest broke the request queue: %s", strerror(-r));
		virtio_mmio_set_needs_reset(d->dev);
		return;
	}
	virtio_mmio_notify_queue(d->dev, q);
}

static void mem_config_read(void *opaque, uint32_t offset, void *data, uint32_t len)
{
	struct mem_device *d = opaque;

	virtio_mem_config_read(d->core, offset, data, len);
}

static bool region_usable(const void *opaque, uint64_t offset, uint64_t len)
{
	return virtio_mem_range_plugged(opaque, offset, len);
}

/* A device's access to an unplugged (PROT_NONE) block: only a chain the guest posted in a block
 * it then unplugged gets here, since every new access checks region_usable first. Put throwaway
 * memory under that one block so the access completes, and end the enclave from the event
 * loop: the guest broke the rules and is the only one to pay. Any other fault keeps its
 * default action. Runs in a signal handler: syscalls and atomics only. */
static void on_fault(int sig, siginfo_t *si, void *context)
{
	struct mem_device *d = the_device;
	uint8_t *p = si->si_addr;
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	(void)context;
	if (d && d->map && p >= d->map && p < d->map + d->map_size) {
		uint8_t *block =
		    d->map + (uint64_t)(p - d->map) / VIRTIO_MEM_BLOCK_SIZE * VIRTIO_MEM_BLOCK_SIZE;
		uint64_t one = 1;

		if (mmap(block, VIRTIO_MEM_BLOCK_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
			 0) != MAP_FAILED &&
		    write(d->fault_fd, &one, sizeof(one)) == sizeof(one))
			return;
	}
	(void)sigaction(sig, &dfl, NULL);
}

static void on_fault_event(int fd, uint32_t events, void *opaque)
{
	struct mem_device *d = opaque;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	vmm_end(d->vmm, VMM_EXIT_ERROR,
		"the guest unplugged hotplug memory that a device was still using");
}

static int catch_faults(struct mem_device *d)
{
	struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
	int r;

	d->fault_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->fault_fd < 0)
		return -errno;
	r = vmm_event_add_fd(d->vmm->loop, d->fault_fd, EPOLLIN, on_fault_event, d);
	if (r < 0)
		return r;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/* Once the guest runs, the hotplug region becomes RAM for the devices too (virtqueues and
 * buffers may live in plugged memory). Not earlier: the e820 map is built from the regions. */
static void mem_driver_ok(void *opaque, uint64_t features)
{
	struct mem_device *d = opaque;
	struct vmm_memory *mem = &d->vmm->mem;

	if (mem->nr_regions >= UTIL_ARRAY_SIZE(mem->regions))
		return; /* boot RAM above 4 GiB: devices cannot reach hotplugged memory */
	for (unsigned i = 0; i < mem->nr_regions; i++)
		if (mem->regions[i].hva == d->map)
			return;
	mem->regions[mem->nr_regions++] =
	    (struct vmm_memory_region){.gpa = virtio_mem_region_addr(d->core),
				       .size = d->map_size,
				       .hva = d->map,
				       .usable = region_usable,
				       .usable_opaque = d->core};
}

static const struct virtio_device_ops mem_ops = {
    .name = "mem",
    .device_id = VIRTIO_ID_MEM,
    .features = 0,
    .config_size = VIRTIO_MEM_CONFIG_SIZE,
    .num_queues = 1,
    .queue_max_size = VIRTIO_MEM_QUEUE_SIZE,
    .config_read = mem_config_read,
    .queue_notify = mem_queue_notify,
    .driver_ok = mem_driver_ok,
};

static int map_region(struct mem_device *d, uint64_t gpa, uint64_t size)
{
	struct vmm *vmm = d->vmm;
	uint64_t off = vmm->config.memory_bytes;
	struct kvm_userspace_memory_region region;
	struct stat st;

	if (vmm->mem.fd < 0 || fstat(vmm->mem.fd, &st) < 0)
		return -EBADF;
	if ((uint64_t)st.st_size < off + size && ftruncate(vmm->mem.fd, (off_t)(off + size)) < 0) {
		int r = -errno;
		log_error("virtio-mem: sizing the memory fd to %llu bytes: %m",
			  (unsigned long long)(off + size));
		return r;
	}
	/* Holes until plugged, and closed: a guest that touches a block it did not plug makes
	 * KVM_RUN fail (EFAULT) and ends; it cannot take memory the pool did not give it. */
	d->map = mmap(NULL, size, PROT_NONE, MAP_SHARED | MAP_NORESERVE, vmm->mem.fd, (off_t)off);
	if (d->map == MAP_FAILED) {
		int r = -errno;
		d->map = NULL;
		log_error("virtio-mem: mapping %llu bytes: %m", (unsigned long long)size);
		return r;
	}
	d->map_size = size;
	(void)madvise(d->map, size, MADV_DONTDUMP);
	region = (struct kvm_userspace_memory_region){
	    .slot = MEM_KVM_SLOT,
	    .guest_phys_addr = gpa,
	    .memory_size = size,
	    .userspace_addr = (uintptr_t)d->map,
	};
	if (ioctl(vmm->kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		int r = -errno;
		log_error("virtio-mem: KVM memslot at 0x%llx (%llu bytes): %m",
			  (unsigned long long)gpa, (unsigned long long)size);
		return r;
	}
	return 0;
}

static void mem_device_free(struct mem_device *d)
{
	if (!d)
		return;
	if (d->map)
		munmap(d->map, d->map_size);
	if (d->fault_fd >= 0)
		close(d->fault_fd);
	virtio_mem_free(d->core);
	free(d);
}

static int mem_device_init(struct vmm *vmm)
{
	struct virtio_mem_params p = {.fd = vmm->mem.fd, .fd_offset = vmm->config.memory_bytes};
	struct mem_device *d;
	int r;

	if (vmm->config.max_memory_bytes == 0) {
		if (!nr_test_resizes)
			return 0;
		log_error("virtio-mem: --resize-after-ms needs --max-memory-mib");
		return -EINVAL;
	}
	r = virtio_mem_layout(vmm->config.memory_bytes, vmm->config.max_memory_bytes, &p.addr,
			      &p.size);
	if (r < 0)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->vmm = vmm;
	d->fault_fd = -1;
	p.on_change = on_change;
	p.opaque = d;
	r = map_region(d, p.addr, p.size);
	if (r == 0) {
		p.map = d->map;
		r = virtio_mem_new(&p, &d->core);
	}
	if (r < 0 || (r = virtio_mmio_register(vmm, &mem_ops, d, &d->dev)) < 0) {
		mem_device_free(d);
		return r;
	}
	/* The device lives as long as the process (the slot keeps pointing at it). */
	the_device = d;
	if ((r = catch_faults(d)) < 0)
		return r;
	vmm->mem_set_requested = virtio_mem_vmm_set_requested;
	vmm->hotplug_gpa = p.addr;
	vmm->hotplug_size = p.size;
	log_debug("virtio-mem: %llu MiB at 0x%llx in %llu MiB blocks",
		  (unsigned long long)(p.size >> 20), (unsigned long long)p.addr,
		  (unsigned long long)(VIRTIO_MEM_BLOCK_SIZE >> 20));
	if (!vmm->channel && vmm->config.runtime_dir[0] && (r = standalone_signal(vmm)) < 0)
		return r;
	if (nr_test_resizes) {
		test_resize(vmm);
		r = vmm_event_add_timer(vmm->loop, 10ULL * 1000 * 1000, 10ULL * 1000 * 1000,
					test_resize, vmm);
		if (r < 0)
			return r;
	}
	return 0;
}

VMM_DEVICE_INIT(mem, 30, mem_device_init)
