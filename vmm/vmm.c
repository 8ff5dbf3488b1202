#include "config.h"

#include "vmm/vmm.h"

#include "common/log.h"
#include "vmm/channel.h"
#include "vmm/event.h"
#include "vmm/vcpu.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t end_lock = PTHREAD_MUTEX_INITIALIZER;

void vmm_end(struct vmm *vmm, enum vmm_exit code, const char *fmt, ...)
{
	va_list ap;
	bool first;

	pthread_mutex_lock(&end_lock);
	first = !vmm->ended;
	if (first) {
		vmm->ended = true;
		vmm->exit_code = code;
		va_start(ap, fmt);
		vsnprintf(vmm->exit_reason, sizeof(vmm->exit_reason), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&end_lock);
	if (!first)
		return;
	vmm_vcpus_stop(vmm);
	if (vmm->loop)
		vmm_event_stop(vmm->loop);
}

void vmm_report_heartbeat(struct vmm *vmm)
{
	log_info("enclave %s: heartbeat answered", vmm->config.enclave_id);
	(void)vmm_channel_send_event(vmm, VMM_EVENT_HEARTBEAT, "heartbeat", 0);
}

void vmm_report_guest_entered(struct vmm *vmm)
{
	log_debug("enclave %s: vCPU 0 enters the guest", vmm->config.enclave_id);
	(void)vmm_channel_send_event(vmm, VMM_EVENT_GUEST_ENTERED, "guest entered", 0);
}
