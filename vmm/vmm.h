/* The per-enclave VMM context shared by every part of enclave-vmm, and the device init
 * registry. One struct vmm per process. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm/memory.h"

struct vmm_event_loop;
struct vmm_channel;
struct vmm_serial;
struct vmm_kvm;
struct vmm_vcpus;

#define VMM_MAX_VCPUS 64u

/* How enclave-vmm exits (its process status), and the Event.exit_code sent to enclaved. */
enum vmm_exit {
	VMM_EXIT_POWEROFF = 0,	   /* guest powered off (port 0x604) */
	VMM_EXIT_ERROR = 1,	   /* VMM setup or runtime error */
	VMM_EXIT_HALTED = 2,	   /* vCPU 0 executed hlt with interrupts disabled */
	VMM_EXIT_TRIPLE_FAULT = 3, /* KVM_EXIT_SHUTDOWN */
	VMM_EXIT_KVM_ERROR = 4,	   /* internal error, failed entry, unknown exit */
	VMM_EXIT_RESET = 5,	   /* guest asked for a reset (0x64/0xcf9) */
	VMM_EXIT_TERMINATED = 6,   /* enclaved sent Terminate, or a signal */
};

struct vmm_config {
	char enclave_id[128];
	char enclave_name[128];
	uint64_t cid;	       /* the guest's vsock CID */
	uint64_t memory_bytes; /* guest RAM */
	uint64_t
	    max_memory_bytes; /* > memory_bytes: virtio-mem hotplug region (vmm/virtio_mem.h) */
	unsigned nr_vcpus;
	int vcpu_cpus[VMM_MAX_VCPUS]; /* host CPU each vCPU thread is pinned to, -1 = unpinned */
	bool debug;		      /* console output allowed to leave the VMM */
	char runtime_dir[256];	      /* where vsock.sock and vsock.sock_<port> live */
	uid_t owner_uid;	      /* owner of the sockets created in runtime_dir */
	gid_t owner_gid;
	uid_t sandbox_uid; /* 0 = do not change uid (standalone default) */
	gid_t sandbox_gid;
	uint64_t generation;
};

struct vmm {
	struct vmm_config config;
	struct vmm_memory mem;
	struct vmm_event_loop *loop;
	struct vmm_channel *channel; /* NULL in standalone mode */
	struct vmm_kvm *kvm;
	struct vmm_serial *serial;
	struct vmm_vcpus *vcpus;
	/* Set once by vmm_end. */
	bool ended;
	enum vmm_exit exit_code;
	char exit_reason[256];
	unsigned nr_virtio;		   /* virtio-mmio slots in use */
	struct virtio_mmio_dev *virtio[8]; /* by slot, see vmm/virtio_mmio.h */
	/* Set by the virtio-mem device when present: SetRequestedSize from enclaved. */
	int (*mem_set_requested)(struct vmm *vmm, uint64_t bytes);
	uint64_t hotplug_gpa, hotplug_size; /* its region; size 0 without the device */
};

/* Device init functions, collected at link time: every object that uses VMM_DEVICE_INIT adds
 * one. They run in ascending order (then by name) on the main thread after memory and the
 * event loop exist and before the sandbox closes the world: create sockets in
 * config.runtime_dir, register with virtio_mmio_register and vmm_event_add_fd here.
 * Return 0 or a negative errno (the VMM then exits with that error).
 * Slot numbers follow the order: vsock uses order 10 (slot 0), nsm order 20 (slot 1). */
struct vmm_device_init {
	const char *name;
	int order;
	int (*init)(struct vmm *vmm);
};

void vmm_device_init_add(const struct vmm_device_init *init);

#define VMM_DEVICE_INIT(name_, order_, fn_)                                                        \
	static const struct vmm_device_init vmm_device_init_##name_ = {                            \
	    .name = #name_, .order = (order_), .init = (fn_)};                                     \
	__attribute__((constructor)) static void vmm_device_init_ctor_##name_(void)                \
	{                                                                                          \
		vmm_device_init_add(&vmm_device_init_##name_);                                     \
	}

/* Run every registered init, in order. */
int vmm_device_init_all(struct vmm *vmm);

/* End the enclave: record why (the first reason wins), stop the vCPUs and the event loop.
 * Any thread. */
void vmm_end(struct vmm *vmm, enum vmm_exit code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The guest answered the boot heartbeat (vsock port 9000): tells enclaved the enclave runs.
 * Event thread. */
void vmm_report_heartbeat(struct vmm *vmm);

/* vCPU 0 is about to enter the guest for the first time. Event thread. */
void vmm_report_guest_entered(struct vmm *vmm);
