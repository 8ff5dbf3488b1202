#include "config.h"

#include "vmm/vmm.h"

#include "common/log.h"

#include <errno.h>
#include <string.h>

/* Filled by constructors before main, read once by vmm_device_init_all. */
static const struct vmm_device_init *inits[16];
static unsigned nr_inits;
static bool inits_overflow;

void vmm_device_init_add(const struct vmm_device_init *init)
{
	if (nr_inits >= sizeof(inits) / sizeof(inits[0])) {
		inits_overflow = true;
		return;
	}
	inits[nr_inits++] = init;
}

static bool before(const struct vmm_device_init *a, const struct vmm_device_init *b)
{
	return a->order != b->order ? a->order < b->order : strcmp(a->name, b->name) < 0;
}

int vmm_device_init_all(struct vmm *vmm)
{
	if (inits_overflow)
		return -E2BIG;
	for (unsigned i = 1; i < nr_inits; i++)
		for (unsigned j = i; j > 0 && before(inits[j], inits[j - 1]); j--) {
			const struct vmm_device_init *t = inits[j];
			inits[j] = inits[j - 1];
			inits[j - 1] = t;
		}
	for (unsigned i = 0; i < nr_inits; i++) {
		int r = inits[i]->init(vmm);
		if (r < 0) {
			log_error("device %s: init failed: %s", inits[i]->name, strerror(-r));
			return r;
		}
	}
	return 0;
}
