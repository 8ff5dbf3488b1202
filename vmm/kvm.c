#include "config.h"

#include "vmm/kvm.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

static int need_cap(int fd, long cap, const char *name)
{
	if (ioctl(fd, KVM_CHECK_EXTENSION, cap) <= 0) {
		log_error("KVM lacks %s", name);
		return -EOPNOTSUPP;
	}
	return 0;
}

int vmm_kvm_open(struct vmm_kvm **out)
{
	struct vmm_kvm *kvm;
	int r, version;
	uint64_t identity = VMM_KVM_IDENTITY_MAP_ADDR;

	kvm = calloc(1, sizeof(*kvm));
	if (!kvm)
		return -ENOMEM;
	kvm->vm_fd = -1;
	kvm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm->kvm_fd < 0) {
		r = -errno;
		log_error("open /dev/kvm: %m");
		goto out;
	}
	version = ioctl(kvm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		log_error("KVM API version %d, expected %d", version, KVM_API_VERSION);
		r = -EOPNOTSUPP;
		goto out;
	}
	if ((r = need_cap(kvm->kvm_fd, KVM_CAP_IRQCHIP, "IRQCHIP")) < 0 ||
	    (r = need_cap(kvm->kvm_fd, KVM_CAP_IRQFD, "IRQFD")) < 0 ||
	    (r = need_cap(kvm->kvm_fd, KVM_CAP_IOEVENTFD, "IOEVENTFD")) < 0 ||
	    (r = need_cap(kvm->kvm_fd, KVM_CAP_USER_MEMORY, "USER_MEMORY")) < 0 ||
	    (r = need_cap(kvm->kvm_fd, KVM_CAP_EXT_CPUID, "EXT_CPUID")) < 0)
		goto out;
	kvm->immediate_exit = ioctl(kvm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) > 0;
	kvm->vcpu_mmap_size = ioctl(kvm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		log_error("KVM_GET_VCPU_MMAP_SIZE: %d", kvm->vcpu_mmap_size);
		r = -EOPNOTSUPP;
		goto out;
	}
	kvm->vm_fd = ioctl(kvm->kvm_fd, KVM_CREATE_VM, 0);
	if (kvm->vm_fd < 0) {
		r = -errno;
		log_error("KVM_CREATE_VM: %m");
		goto out;
	}
	if (ioctl(kvm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VMM_KVM_TSS_ADDR) < 0 ||
	    ioctl(kvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0 ||
	    ioctl(kvm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		r = -errno;
		log_error("KVM VM setup (TSS, identity map, irqchip): %m");
		goto out;
	}
	*out = util_steal_ptr(&kvm);
	r = 0;
out:
	vmm_kvm_close(kvm);
	return r;
}

void vmm_kvm_close(struct vmm_kvm *kvm)
{
	if (!kvm)
		return;
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	if (kvm->kvm_fd >= 0)
		close(kvm->kvm_fd);
	free(kvm);
}

int vmm_kvm_set_memory(struct vmm_kvm *kvm, const struct vmm_memory *mem)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		struct kvm_userspace_memory_region region = {
		    .slot = i,
		    .guest_phys_addr = mem->regions[i].gpa,
		    .memory_size = mem->regions[i].size,
		    .userspace_addr = (uintptr_t)mem->regions[i].hva,
		};
		if (ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
			int r = -errno;
			log_error("KVM memslot %u (gpa 0x%llx, %llu bytes): %m", i,
				  (unsigned long long)region.guest_phys_addr,
				  (unsigned long long)region.memory_size);
			return r;
		}
	}
	return 0;
}

int vmm_kvm_ioeventfd(struct vmm_kvm *kvm, uint64_t gpa, uint32_t len, bool match,
		      uint64_t datamatch, int fd)
{
	struct kvm_ioeventfd ioev = {
	    .datamatch = datamatch,
	    .addr = gpa,
	    .len = len,
	    .fd = fd,
	    .flags = match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0,
	};

	if (ioctl(kvm->vm_fd, KVM_IOEVENTFD, &ioev) < 0) {
		int r = -errno;
		log_error("KVM_IOEVENTFD at 0x%llx: %m", (unsigned long long)gpa);
		return r;
	}
	return 0;
}

int vmm_kvm_irqfd(struct vmm_kvm *kvm, unsigned gsi, int fd)
{
	struct kvm_irqfd irqfd = {.fd = (uint32_t)fd, .gsi = gsi};

	if (ioctl(kvm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		int r = -errno;
		log_error("KVM_IRQFD gsi %u: %m", gsi);
		return r;
	}
	return 0;
}

int vmm_kvm_irq_pulse(struct vmm_kvm *kvm, unsigned irq)
{
	struct kvm_irq_level level = {.irq = irq, .level = 1};

	if (ioctl(kvm->vm_fd, KVM_IRQ_LINE, &level) < 0)
		return -errno;
	level.level = 0;
	if (ioctl(kvm->vm_fd, KVM_IRQ_LINE, &level) < 0)
		return -errno;
	return 0;
}
