/* vCPU threads: one per vCPU, pinned to its host CPU, running KVM_RUN and dispatching exits
 * (port I/O to the UART and the power ports, MMIO to virtio-mmio). Fatal guest behaviour ends
 * the enclave through vmm_end with a reason; nothing a guest does crashes the VMM. */
#pragma once

#include <stdbool.h>

#include "vmm/boot.h"

struct vmm;

/* Create the vCPUs (KVM fds, filtered CPUID); vCPU 0 starts at boot->entry in 64-bit mode with
 * rsi = zero page, the others wait for INIT/SIPI from the guest. */
int vmm_vcpus_create(struct vmm *vmm, const struct boot_info *boot);

/* Start the threads. Each runs thread_init(opaque, index) first (seccomp filter) and then
 * waits until vmm_vcpus_go. */
int vmm_vcpus_start(struct vmm *vmm, int (*thread_init)(void *opaque, unsigned index),
		    void *opaque);
void vmm_vcpus_go(struct vmm *vmm);

/* Kick every vCPU out of KVM_RUN and make it return (any thread). */
void vmm_vcpus_stop(struct vmm *vmm);

/* Join the threads and free everything. */
void vmm_vcpus_free(struct vmm *vmm);

/* Detect a vCPU 0 halted with interrupts off (the in-kernel irqchip handles hlt without an
 * exit): kick it so its thread can look. Runs from an event-thread timer. */
void vmm_vcpus_poll_halt(struct vmm *vmm);
