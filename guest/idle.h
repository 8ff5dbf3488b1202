/* Idle strategy: spin a little at ring 3, then sleep in ring 0 (int3 -> LAPIC one-shot timer,
 * `sti; hlt`) until a device interrupt or the timer wakes us. See guest/README.md. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "guest/virtio.h"

#define IDLE_SPINS	 200  /* empty polls before sleeping */
#define IDLE_SLEEP_LIMIT 4000 /* sleeps (about 5 ms each) before a waiter gives up */

enum idle_result {
	IDLE_SPIN,    /* poll again */
	IDLE_SLEEP,   /* re-check for work, then idle_sleep(st->seen) */
	IDLE_GAVE_UP, /* a waiter's limit ran out */
};

struct idle_state {
	uint32_t empty_polls;
	uint32_t sleeps;
	uint64_t seen; /* wake count captured before the caller's last check for work */
};

/* Program the LAPIC (and its timer) and route the devices' GSIs through the IOAPIC. Falls
 * back to pure polling when either is missing. */
void idle_setup(const struct vio_dev *devs, int ndevs);
bool idle_can_sleep(void);
/* Called once per poll; `worked` resets the counters. On IDLE_SLEEP the caller enables and
 * acknowledges its device interrupts, checks once more for work, and only then sleeps: an
 * interrupt that lands in between bumps the wake count and the sleep returns at once. */
enum idle_result idle_step(struct idle_state *st, bool worked, bool limited);
/* Sleep once (or spin a while without an APIC). */
void idle_sleep(struct idle_state *st);
