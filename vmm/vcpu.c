#include "config.h"

#include "vmm/vcpu.h"

#include "common/log.h"
#include "common/util.h"
#include "vmm/event.h"
#include "vmm/kvm.h"
#include "vmm/serial.h"
#include "vmm/virtio_mmio.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define VCPU_KICK_SIGNAL SIGUSR2

#define CPUID_1_ECX_MONITOR (1u << 3)
#define CPUID_1_ECX_CX16    (1u << 13)
#define CPUID_1_ECX_HYPERV  (1u << 31)

#define PORT_POWER    0x604 /* QEMU-style ACPI PM1a control: 0x2000 = S5 */
#define PORT_KBD_CMD  0x64  /* 0xfe = pulse reset */
#define PORT_RESET_CF 0xcf9

struct vcpu {
	struct vmm *vmm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	int (*thread_init)(void *, unsigned);
	void *init_opaque;
};

struct vmm_vcpus {
	unsigned n;
	bool stopping; /* atomic */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go;
	int failed_init;
	struct vcpu v[];
};

static void kick_handler(int sig)
{
	(void)sig;
}

static int set_cpuid(struct vmm *vmm, struct vcpu *c)
{
	const unsigned max = 256;
	_cleanup_free_ struct kvm_cpuid2 *cpuid =
	    calloc(1, sizeof(*cpuid) + max * sizeof(struct kvm_cpuid_entry2));

	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = max;
	if (ioctl(vmm->kvm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		return log_error("KVM_GET_SUPPORTED_CPUID: %m"), -errno;
	for (unsigned i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x00ffffffu) | (c->index << 24);
			/* No MONITOR/MWAIT exits here; CMPXCHG16B is not emulated at CPL0 on
			 * this KVM (see kvm-on-this-machine.md), so a guest must not rely on it. */
			e->ecx &= ~(CPUID_1_ECX_MONITOR | CPUID_1_ECX_CX16);
			e->ecx |= CPUID_1_ECX_HYPERV;
			break;
		case 0xa: /* no PMU */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0xb:
		case 0x1f:
			e->edx = c->index;
			break;
		default:
			break;
		}
	}
	if (ioctl(c->fd, KVM_SET_CPUID2, cpuid) < 0) {
		int r = -errno;
		log_error("KVM_SET_CPUID2: %m");
		return r;
	}
	return 0;
}

static int set_boot_regs(struct vcpu *c, const struct boot_info *boot)
{
	struct kvm_sregs s;
	struct kvm_regs regs = {0};
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	struct kvm_segment code = {.base = 0,
				   .limit = 0xffffffff,
				   .selector = BOOT_CODE64_SEL,
				   .type = 11,
				   .present = 1,
				   .dpl = 0,
				   .db = 0,
				   .s = 1,
				   .l = 1,
				   .g = 1};
	struct kvm_segment data = {.base = 0,
				   .limit = 0xffffffff,
				   .selector = BOOT_DATA_SEL,
				   .type = 3,
				   .present = 1,
				   .dpl = 0,
				   .db = 1,
				   .s = 1,
				   .l = 0,
				   .g = 1};

	if (ioctl(c->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct kvm_segment){
	    .base = BOOT_TSS, .limit = 0x67, .selector = BOOT_TSS_SEL, .type = 11, .present = 1};
	s.ldt = (struct kvm_segment){.type = 2, .present = 1, .limit = 0xffff};
	s.gdt.base = BOOT_GDT;
	s.gdt.limit = 6 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = 0x80050033; /* PG WP NE ET MP PE */
	s.cr3 = BOOT_PAGE_TABLES;
	s.cr4 = 0x620;	/* PAE OSFXSR OSXMMEXCPT */
	s.efer = 0x500; /* LME LMA */
	regs.rip = boot->entry;
	regs.rsi = BOOT_ZERO_PAGE;
	regs.rsp = BOOT_STACK_TOP;
	regs.rbp = BOOT_STACK_TOP;
	regs.rflags = 0x2;
	if (ioctl(c->fd, KVM_SET_SREGS, &s) < 0 || ioctl(c->fd, KVM_SET_REGS, &regs) < 0 ||
	    ioctl(c->fd, KVM_SET_FPU, &fpu) < 0) {
		int r = -errno;
		log_error("vCPU %u: setting the boot registers: %m", c->index);
		return r;
	}
	return 0;
}

int vmm_vcpus_create(struct vmm *vmm, const struct boot_info *boot)
{
	struct vmm_vcpus *vs;
	struct sigaction sa = {.sa_handler = kick_handler};
	int r;

	vs = calloc(1, sizeof(*vs) + vmm->config.nr_vcpus * sizeof(struct vcpu));
	if (!vs)
		return -ENOMEM;
	pthread_mutex_init(&vs->lock, NULL);
	pthread_cond_init(&vs->cond, NULL);
	vmm->vcpus = vs;
	/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	for (unsigned i = 0; i < vmm->config.nr_vcpus; i++) {
		struct vcpu *c = &vs->v[i];
		c->vmm = vmm;
		c->index = i;
		c->fd = ioctl(vmm->kvm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (c->fd < 0) {
			r = -errno;
			log_error("KVM_CREATE_VCPU %u: %m", i);
			return r;
		}
		vs->n++;
		c->run = mmap(NULL, (size_t)vmm->kvm->vcpu_mmap_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, c->fd, 0);
		if (c->run == MAP_FAILED) {
			c->run = NULL;
			return -errno;
		}
		r = set_cpuid(vmm, c);
		if (r < 0)
			return r;
		if (i == 0) {
			r = set_boot_regs(c, boot);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static bool stopping(struct vmm_vcpus *vs)
{
	return __atomic_load_n(&vs->stopping, __ATOMIC_ACQUIRE);
}

static void handle_io(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	uint16_t port = run->io.port;

	if (run->io.data_offset + (uint64_t)run->io.size * run->io.count >
	    (uint64_t)c->vmm->kvm->vcpu_mmap_size)
		return;
	for (uint32_t n = 0; n < run->io.count; n++, data += run->io.size) {
		if (run->io.size == 1 && c->vmm->serial &&
		    vmm_serial_io(c->vmm->serial, port, data, out))
			continue;
		if (!out) {
			memset(data, 0xff, run->io.size);
			continue;
		}
		uint32_t v = 0;
		memcpy(&v, data, UTIL_MIN(run->io.size, sizeof(v)));
		if (port == PORT_POWER && run->io.size == 2 && (v & 0x3c00) == 0x2000)
			vmm_end(c->vmm, VMM_EXIT_POWEROFF, "guest powered off");
		else if ((port == PORT_KBD_CMD && v == 0xfe) ||
			 (port == PORT_RESET_CF && (v & 0x4)))
			vmm_end(c->vmm, VMM_EXIT_RESET, "guest requested a reset (port 0x%x)",
				port);
	}
}

static void handle_mmio(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	uint32_t len = UTIL_MIN(run->mmio.len, (uint32_t)sizeof(run->mmio.data));

	if (virtio_mmio_access(c->vmm, run->mmio.phys_addr, run->mmio.data, len,
			       run->mmio.is_write))
		return;
	/* Unplugged hotplug memory is closed in the VMM's mapping: depending on the host, KVM
	 * then fails KVM_RUN (EFAULT, see vcpu_thread) or reports the access as MMIO. Either way
	 * the guest broke the virtio-mem rules, and it alone pays. */
	if (run->mmio.phys_addr - c->vmm->hotplug_gpa < c->vmm->hotplug_size) {
		vmm_end(c->vmm, VMM_EXIT_KVM_ERROR,
			"vCPU %u: the guest touched hotplug memory it has not plugged (%s at gpa "
			"0x%llx)",
			c->index, run->mmio.is_write ? "write" : "read",
			(unsigned long long)run->mmio.phys_addr);
		return;
	}
	log_debug("vCPU %u: %s of %u bytes at unbacked gpa 0x%llx", c->index,
		  run->mmio.is_write ? "write" : "read", len,
		  (unsigned long long)run->mmio.phys_addr);
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xff, len);
}

static void check_halted(struct vcpu *c)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;

	if (ioctl(c->fd, KVM_GET_MP_STATE, &mp) < 0 || mp.mp_state != KVM_MP_STATE_HALTED)
		return;
	if (ioctl(c->fd, KVM_GET_REGS, &regs) < 0 || (regs.rflags & 0x200))
		return;
	vmm_end(c->vmm, VMM_EXIT_HALTED, "vCPU %u halted with interrupts disabled at rip 0x%llx",
		c->index, (unsigned long long)regs.rip);
}

static void report_fatal(struct vcpu *c, enum vmm_exit code, const char *what)
{
	struct kvm_regs regs = {0};

	(void)ioctl(c->fd, KVM_GET_REGS, &regs);
	if (c->run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		vmm_end(c->vmm, code, "vCPU %u: %s (suberror %u) at rip 0x%llx", c->index, what,
			c->run->internal.suberror, (unsigned long long)regs.rip);
	else if (c->run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		vmm_end(c->vmm, code, "vCPU %u: %s (hardware reason 0x%llx)", c->index, what,
			(unsigned long long)c->run->fail_entry.hardware_entry_failure_reason);
	else
		vmm_end(c->vmm, code, "vCPU %u: %s at rip 0x%llx", c->index, what,
			(unsigned long long)regs.rip);
}

static void report_entered(void *opaque)
{
	struct vmm *vmm = opaque;
	vmm_report_guest_entered(vmm);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *c = arg;
	struct vmm_vcpus *vs = c->vmm->vcpus;
	int cpu = c->vmm->config.vcpu_cpus[c->index];
	sigset_t set;
	int r = 0;

	if (cpu >= 0) {
		cpu_set_t cs;
		CPU_ZERO(&cs);
		CPU_SET(cpu, &cs);
		r = pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs);
		if (r)
			log_warn("vCPU %u: pinning to CPU %d: %s", c->index, cpu, strerror(r));
	}
	if (c->thread_init)
		r = c->thread_init(c->init_opaque, c->index);
	pthread_mutex_lock(&vs->lock);
	if (r < 0)
		vs->failed_init = r;
	while (!vs->go)
		pthread_cond_wait(&vs->cond, &vs->lock);
	pthread_mutex_unlock(&vs->lock);
	if (r < 0 || stopping(vs))
		return NULL;
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (c->index == 0)
		(void)vmm_event_run_sync(c->vmm->loop, report_entered, c->vmm);

	while (!stopping(vs)) {
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_RELAXED);
				if (!stopping(vs))
					check_halted(c);
				continue;
			}
			if (errno == EFAULT && c->vmm->mem_set_requested)
				/* The only guest memory KVM cannot map is closed hotplug memory. */
				vmm_end(c->vmm, VMM_EXIT_KVM_ERROR,
					"vCPU %u: the guest touched hotplug memory it has not "
					"plugged (KVM_RUN: %s)",
					c->index, strerror(errno));
			else
				vmm_end(c->vmm, VMM_EXIT_KVM_ERROR, "vCPU %u: KVM_RUN: %s",
					c->index, strerror(errno));
			break;
		}
		switch (c->run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(c);
			break;
		case KVM_EXIT_MMIO:
			handle_mmio(c);
			break;
		case KVM_EXIT_INTR:
			check_halted(c);
			break;
		case KVM_EXIT_HLT: /* only without an in-kernel irqchip */
			vmm_end(c->vmm, VMM_EXIT_HALTED, "vCPU %u halted", c->index);
			break;
		case KVM_EXIT_SHUTDOWN:
			report_fatal(c, VMM_EXIT_TRIPLE_FAULT, "triple fault (shutdown)");
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			if (c->run->system_event.type == KVM_SYSTEM_EVENT_RESET)
				vmm_end(c->vmm, VMM_EXIT_RESET, "guest requested a reset");
			else
				vmm_end(c->vmm, VMM_EXIT_POWEROFF, "guest system event %u",
					c->run->system_event.type);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			report_fatal(c, VMM_EXIT_KVM_ERROR, "KVM internal error");
			break;
		case KVM_EXIT_FAIL_ENTRY:
			report_fatal(c, VMM_EXIT_KVM_ERROR, "VM entry failed");
			break;
		default:
			report_fatal(c, VMM_EXIT_KVM_ERROR, "unexpected KVM exit");
			log_error("vCPU %u: exit reason %u", c->index, c->run->exit_reason);
			break;
		}
	}
	return NULL;
}

int vmm_vcpus_start(struct vmm *vmm, int (*thread_init)(void *opaque, unsigned index), void *opaque)
{
	struct vmm_vcpus *vs = vmm->vcpus;
	sigset_t set, old;
	int r = 0;

	/* Threads start with the kick signal blocked and unblock it once they run. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (unsigned i = 0; i < vs->n; i++) {
		struct vcpu *c = &vs->v[i];
		c->thread_init = thread_init;
		c->init_opaque = opaque;
		r = -pthread_create(&c->thread, NULL, vcpu_thread, c);
		if (r < 0)
			break;
		c->thread_started = true;
	}
	return r;
}

void vmm_vcpus_go(struct vmm *vmm)
{
	struct vmm_vcpus *vs = vmm->vcpus;

	pthread_mutex_lock(&vs->lock);
	vs->go = true;
	pthread_cond_broadcast(&vs->cond);
	pthread_mutex_unlock(&vs->lock);
}

static void kick(struct vcpu *c)
{
	if (!c->thread_started || !c->run)
		return;
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_kill(c->thread, VCPU_KICK_SIGNAL);
}

void vmm_vcpus_stop(struct vmm *vmm)
{
	struct vmm_vcpus *vs = vmm->vcpus;

	if (!vs)
		return;
	__atomic_store_n(&vs->stopping, true, __ATOMIC_RELEASE);
	vmm_vcpus_go(vmm);
	for (unsigned i = 0; i < vs->n; i++)
		if (!pthread_equal(vs->v[i].thread, pthread_self()))
			kick(&vs->v[i]);
}

void vmm_vcpus_poll_halt(struct vmm *vmm)
{
	struct vmm_vcpus *vs = vmm->vcpus;

	if (vs && vs->n && vs->go && !stopping(vs))
		kick(&vs->v[0]);
}

void vmm_vcpus_free(struct vmm *vmm)
{
	struct vmm_vcpus *vs = vmm->vcpus;

	if (!vs)
		return;
	vmm_vcpus_stop(vmm);
	for (unsigned i = 0; i < vs->n; i++) {
		struct vcpu *c = &vs->v[i];
		if (c->thread_started)
			pthread_join(c->thread, NULL);
		if (c->run)
			munmap(c->run, (size_t)vmm->kvm->vcpu_mmap_size);
		if (c->fd >= 0)
			close(c->fd);
	}
	pthread_mutex_destroy(&vs->lock);
	pthread_cond_destroy(&vs->cond);
	free(vs);
	vmm->vcpus = NULL;
}
