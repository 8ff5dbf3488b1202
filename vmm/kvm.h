/* The KVM VM: /dev/kvm, the VM fd, the in-kernel irqchip (LAPIC + IOAPIC + PIC), memslots,
 * ioeventfds and irqfds. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vmm/memory.h"

/* Addresses KVM needs for its own use on Intel; inside the MMIO gap, away from our devices. */
#define VMM_KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define VMM_KVM_TSS_ADDR	  0xfffbd000ULL

struct vmm_kvm {
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	bool immediate_exit;
};

/* Open /dev/kvm, check the API version and the capabilities we rely on, create the VM with
 * its TSS and identity-map addresses and the in-kernel irqchip. */
int vmm_kvm_open(struct vmm_kvm **out);
void vmm_kvm_close(struct vmm_kvm *kvm);

/* One memslot per RAM region. */
int vmm_kvm_set_memory(struct vmm_kvm *kvm, const struct vmm_memory *mem);

/* Signal fd on a guest write of len bytes at gpa (equal to datamatch when match is true),
 * without a vCPU exit to userspace. */
int vmm_kvm_ioeventfd(struct vmm_kvm *kvm, uint64_t gpa, uint32_t len, bool match,
		      uint64_t datamatch, int fd);

/* Writing to fd raises GSI gsi (an edge on the IOAPIC pin). */
int vmm_kvm_irqfd(struct vmm_kvm *kvm, unsigned gsi, int fd);

/* Pulse an IRQ line (serial). */
int vmm_kvm_irq_pulse(struct vmm_kvm *kvm, unsigned irq);
