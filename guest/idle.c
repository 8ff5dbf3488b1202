#include "guest/idle.h"
#include "guest/arch.h"
#include "guest/lib.h"

#define LAPIC_ID	0x20
#define LAPIC_VERSION	0x30
#define LAPIC_TPR	0x80
#define LAPIC_SVR	0xf0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TDCR	0x3e0
#define SVR_ENABLE	0x100
#define TDCR_DIV1	0xb

#define IOAPIC_SEL   0x00
#define IOAPIC_WIN   0x10
#define IOAPIC_VER   0x01
#define IOAPIC_REDIR 0x10

#define IDLE_TICKS_WITH_IRQS 50000000 /* 50 ms at KVM's 1 GHz APIC bus */

/* Without an APIC the "sleep" is a bounded spin at ring 3. */
#define NO_APIC_SPIN 20000

static bool lapic_ok;

static uint32_t lapic_read(uint32_t reg)
{
	return lib_mmio_read32(ARCH_LAPIC_BASE + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	lib_mmio_write32(ARCH_LAPIC_BASE + reg, v);
}

static uint32_t ioapic_read(uint32_t reg)
{
	lib_mmio_write32(ARCH_IOAPIC_BASE + IOAPIC_SEL, reg);
	return lib_mmio_read32(ARCH_IOAPIC_BASE + IOAPIC_WIN);
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
	lib_mmio_write32(ARCH_IOAPIC_BASE + IOAPIC_SEL, reg);
	lib_mmio_write32(ARCH_IOAPIC_BASE + IOAPIC_WIN, v);
}

void idle_setup(const struct vio_dev *devs, int ndevs)
{
	/* An absent APIC reads as all ones (QEMU) or zero (a VMM without it). */
	uint32_t ver = lapic_read(LAPIC_VERSION);
	if ((ver & 0xff) < 0x10 || (ver & 0xff) > 0x1f)
		return;
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, SVR_ENABLE | 0xff);
	lapic_write(LAPIC_TDCR, TDCR_DIV1);
	lapic_write(LAPIC_LVT_TIMER, ARCH_VEC_TIMER); /* one-shot, unmasked */
	lapic_ok = true;
	arch_lapic_ok = 1;

	uint32_t iover = ioapic_read(IOAPIC_VER);
	if (iover == 0xffffffff || (iover & 0xff) < 0x01 || (iover & 0xff) > 0x2f)
		return;
	uint32_t pins = ((iover >> 16) & 0xff) + 1;
	uint32_t dest = lapic_read(LAPIC_ID) >> 24;
	for (int i = 0; i < ndevs; i++) {
		if (devs[i].gsi >= pins)
			continue;
		/* Edge-triggered: the driver acknowledges the device before each sleep, so a
		 * level-holding VMM still produces a fresh edge for the next event. */
		ioapic_write(IOAPIC_REDIR + 2 * devs[i].gsi + 1, dest << 24);
		ioapic_write(IOAPIC_REDIR + 2 * devs[i].gsi, ARCH_VEC_DEVICE);
		/* Device interrupts now wake us at once: the timer is only a safety net, and
		 * every wake-up costs a few VM exits, so make it rare. */
		arch_idle_ticks = IDLE_TICKS_WITH_IRQS;
	}
}

bool idle_can_sleep(void)
{
	return lapic_ok;
}

enum idle_result idle_step(struct idle_state *st, bool worked, bool limited)
{
	if (worked) {
		st->empty_polls = 0;
		st->sleeps = 0;
		return IDLE_SPIN;
	}
	if (++st->empty_polls < IDLE_SPINS) {
		lib_pause();
		return IDLE_SPIN;
	}
	if (limited && lapic_ok && st->sleeps >= IDLE_SLEEP_LIMIT)
		return IDLE_GAVE_UP;
	st->seen = arch_wake_count;
	return IDLE_SLEEP;
}

void idle_sleep(struct idle_state *st)
{
	st->sleeps++;
	if (!lapic_ok) {
		for (int i = 0; i < NO_APIC_SPIN; i++)
			lib_pause();
		return;
	}
	arch_idle(st->seen);
}
