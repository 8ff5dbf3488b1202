/* Ring-3 program of the sample enclave: find the devices named on the command line, bring
 * up NSM and vsock, run the services, idle through ring 0 when there is nothing to do. */
#include "guest/arch.h"
#include "guest/cmdline.h"
#include "guest/console.h"
#include "guest/idle.h"
#include "guest/lib.h"
#include "guest/mem.h"
#include "guest/nsm.h"
#include "guest/vsock.h"
#include "guest/services.h"

#define ZP_CMD_LINE_PTR	     0x228 /* Linux boot_params */
#define ZP_EXT_CMD_LINE_PTR  0x0c8
#define PVH_MAGIC	     0x336ec578
#define PVH_CMDLINE_PADDR    0x18
#define ADDR_LIMIT	     0x100000000ull /* identity-mapped range */
#define IDLE_SELFTEST_SLEEPS 3

static struct vio_dev devs[CMDLINE_MAX_DEVICES];

/* The boot structures come from the VMM or QEMU: check every pointer against the map. */
static const char *find_cmdline(void)
{
	uint64_t info = arch_boot_info, ptr = 0;

	if (!info || info >= ADDR_LIMIT - 0x1000)
		return NULL;
	const uint8_t *p = (const uint8_t *)(uintptr_t)info;
	if (arch_boot_kind == ARCH_BOOT_LINUX) {
		ptr = lib_load_le32(p + ZP_CMD_LINE_PTR) |
		      (uint64_t)lib_load_le32(p + ZP_EXT_CMD_LINE_PTR) << 32;
	} else if (arch_boot_kind == ARCH_BOOT_PVH) {
		if (lib_load_le32(p) != PVH_MAGIC)
			return NULL;
		ptr = lib_load_le64(p + PVH_CMDLINE_PADDR);
	}
	if (!ptr || ptr >= ADDR_LIMIT - CMDLINE_MAX_LEN)
		return NULL;
	return (const char *)(uintptr_t)ptr;
}

static int probe_devices(struct vio_dev **vsock, struct vio_dev **nsm)
{
	struct cmdline_device found[CMDLINE_MAX_DEVICES];
	size_t rejected = 0, n = 0;
	int ndevs = 0;
	const char *cmdline = find_cmdline();

	if (cmdline)
		n = cmdline_parse_devices(cmdline, CMDLINE_MAX_LEN, found, CMDLINE_MAX_DEVICES,
					  &rejected);
	else
		con_puts("sample-enclave: no command line\n");
	if (rejected)
		con_puts("sample-enclave: ignored malformed virtio_mmio.device entries\n");
	for (size_t i = 0; i < n; i++) {
		struct vio_dev *d = &devs[ndevs];
		if (vio_probe(d, (uintptr_t)found[i].addr, found[i].gsi) < 0)
			continue;
		ndevs++;
		if (d->device_id == VIO_ID_VSOCK && !*vsock)
			*vsock = d;
		else if (d->device_id == VIO_ID_NSM && !*nsm)
			*nsm = d;
	}
	return ndevs;
}

/* Without vsock there is nothing to serve (e.g. under QEMU): prove that idling works, then
 * stop. */
static void idle_selftest(void)
{
	uint64_t before = arch_wake_count;
	struct idle_state st = {0};

	for (int i = 0; i < IDLE_SELFTEST_SLEEPS; i++) {
		st.seen = arch_wake_count;
		idle_sleep(&st);
	}
	if (!idle_can_sleep())
		con_puts("sample-enclave: idle by polling (no local APIC)\n");
	else if (arch_wake_count - before >= IDLE_SELFTEST_SLEEPS)
		con_puts("sample-enclave: idle ok\n");
	else
		con_puts("sample-enclave: idle timer did not fire\n");
}

static void serve(void)
{
	struct idle_state st = {0};

	for (;;) {
		bool worked = vsock_poll();
		worked |= mem_poll();
		if (idle_step(&st, worked, false) != IDLE_SLEEP)
			continue;
		if (vsock_prepare_idle()) {
			st.empty_polls = 0;
			continue;
		}
		idle_sleep(&st);
		vsock_after_idle();
	}
}

void main3(void)
{
	struct vio_dev *vsock = NULL, *nsm = NULL;

	con_puts(arch_boot_kind == ARCH_BOOT_PVH ? "sample-enclave: started (pvh)\n"
						 : "sample-enclave: started\n");
	int ndevs = probe_devices(&vsock, &nsm);
	idle_setup(devs, ndevs);
	if (!vsock) {
		con_puts("sample-enclave: no vsock device\n");
		idle_selftest();
		arch_halt();
	}
	if (!nsm)
		con_puts("sample-enclave: no nsm device\n");
	else if (nsm_init(nsm) < 0)
		con_puts("sample-enclave: nsm device failed to start\n");
	for (int i = 0; i < ndevs; i++)
		if (devs[i].device_id == VIO_ID_MEM && mem_init(&devs[i]) < 0)
			con_puts("sample-enclave: memory device failed to start\n");
	if (vsock_init(vsock) < 0) {
		con_puts("sample-enclave: vsock device failed to start\n");
		arch_halt();
	}
	svc_start();
	serve();
}
