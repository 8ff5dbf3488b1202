/* Enclaves.Resize: memory only, through the enclave's virtio-mem device. The call sets the
 * request and answers at once with boot/plugged/requested/max memory; `enclavectl
 * resize-enclave --wait` polls Describe until the guest has plugged or unplugged its way there.
 * A vCPU count is refused: it needs ACPI CPU hotplug in the guest. */
#include "config.h"

#include "enclaved/api_enclaves.h"
#include "enclaved/api_events.h"
#include "enclaved/enclave-resize.h"
#include "enclaved/pool-hotplug.h"

#include "common/log.h"
#include "common/util.h"
#include "proto/vmm.pb-c.h"

#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>

int enclave_resize_check_max(uint64_t boot_mib, uint64_t max_mib)
{
	if (max_mib == 0 || max_mib == boot_mib)
		return 0;
	if (max_mib < boot_mib || (max_mib - boot_mib) % 2 ||
	    max_mib > (uint64_t)ENCLAVE_MAX_MEMORY_GIB << 10)
		return -EINVAL;
	return 0;
}

void enclave_resize_init(struct enclave *e, uint64_t max_mib)
{
	e->max_memory_mib = max_mib > e->memory_mib ? max_mib : 0;
	e->requested_mib = e->memory_mib;
	e->plugged_mib = 0;
}

/* What the lease must hold: boot + the larger of plugged and requested. */
static uint64_t accounted_mib(const struct enclave *e)
{
	return UTIL_MAX(e->requested_mib, e->memory_mib + e->plugged_mib);
}

void enclave_on_memory_state(struct enclave *e, uint64_t plugged, uint64_t requested)
{
	_cleanup_free_ char *why = NULL;
	uint64_t max_hot =
	    e->max_memory_mib > e->memory_mib ? e->max_memory_mib - e->memory_mib : 0;

	if (plugged % (2u << 20) || requested % (2u << 20) || plugged >> 20 > max_hot ||
	    requested >> 20 > max_hot) {
		log_warn("%s: VMM reported memory state plugged=%" PRIu64 " requested=%" PRIu64
			 " outside the %" PRIu64 " MiB hotplug region; ignored",
			 e->id, plugged, requested, max_hot);
		return;
	}
	e->plugged_mib = plugged >> 20;
	enclave_emit_event(e, ENCLAVED__V1__ENCLAVE_EVENT_KIND__ENCLAVE_EVENT_KIND_MEMORY);
	if (!e->lease)
		return;
	/* Shrinks always fit; a grow past the reservation cannot happen (the device NACKs
	 * plugs beyond requested_size), but if the pool refuses, say so. */
	if (pool_lease_set_memory(e->lease, accounted_mib(e), &why) < 0)
		log_warn("%s: pool accounting for %" PRIu64 " MiB: %s", e->id, accounted_mib(e),
			 why ? why : "refused");
	log_info("%s: memory plugged %" PRIu64 " MiB above boot %" PRIu64
		 " MiB (requested total %" PRIu64 " MiB)",
		 e->id, e->plugged_mib, e->memory_mib, e->requested_mib);
}

int enclave_resize_to_pb(const struct enclave *e, Enclaved__V1__Enclave *pb)
{
	Enclaved__V1__EnclaveMemory *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	enclaved__v1__enclave_memory__init(m);
	m->boot_mib = e->memory_mib;
	m->plugged_mib = e->plugged_mib;
	m->requested_mib = e->requested_mib ? e->requested_mib : e->memory_mib;
	m->max_mib = e->max_memory_mib;
	pb->memory = m;
	return 0;
}

static int send_requested(struct enclave *e, uint64_t bytes)
{
	Enclaved__Vmm__DaemonMessage m = ENCLAVED__VMM__DAEMON_MESSAGE__INIT;
	Enclaved__Vmm__SetRequestedSize s = ENCLAVED__VMM__SET_REQUESTED_SIZE__INIT;
	uint8_t buf[64];
	size_t len;
	ssize_t n;

	if (e->channel_fd < 0)
		return -ENOTCONN;
	s.bytes = bytes;
	m.msg_case = ENCLAVED__VMM__DAEMON_MESSAGE__MSG_SET_REQUESTED_SIZE;
	m.set_requested_size = &s;
	len = enclaved__vmm__daemon_message__get_packed_size(&m);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	enclaved__vmm__daemon_message__pack(&m, buf);
	do
		n = send(e->channel_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

static void resize(struct enclaved *d, struct rpc_call *call, const struct api_caller *caller,
		   const Enclaved__V1__ResizeEnclaveRequest *req)
{
	Enclaved__V1__ResizeEnclaveResponse resp = ENCLAVED__V1__RESIZE_ENCLAVE_RESPONSE__INIT;
	_cleanup_free_ char *why = NULL;
	Enclaved__V1__Enclave pb;
	bool by_id = req->enclave_id && req->enclave_id[0];
	struct enclave *e = enclave_find(d, req->enclave_id, req->enclave_name);
	uint64_t target = req->memory_mib, old_requested;
	int r;

	if (!e || !enclave_visible_to(e, caller->peer.uid, caller->role == AUTHZ_ROLE_ROOT)) {
		rpc_call_fail(call, RPC_NOT_FOUND, "no enclave %s '%.200s'",
			      by_id ? "with id" : "named",
			      by_id ? req->enclave_id : req->enclave_name);
		return;
	}
	if (req->cpu_count) {
		rpc_call_fail(call, RPC_UNIMPLEMENTED,
			      "cpu_count: changing the vCPU count live needs ACPI CPU hotplug in "
			      "the guest, which enclaves do not have");
		return;
	}
	if (e->state != ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING || !e->lease) {
		rpc_call_fail(call, RPC_FAILED_PRECONDITION, "enclave %s is not running", e->id);
		return;
	}
	if (!e->max_memory_mib) {
		rpc_call_fail(call, RPC_FAILED_PRECONDITION,
			      "enclave %s was started without a maximum memory (--max-memory)",
			      e->id);
		return;
	}
	if (target < e->memory_mib || target % 2) {
		rpc_call_fail(call, target % 2 ? RPC_INVALID_ARGUMENT : RPC_OUT_OF_RANGE,
			      "memory_mib = %" PRIu64 ": must be a multiple of 2 MiB, at least the "
			      "boot memory (%" PRIu64 " MiB)",
			      target, e->memory_mib);
		return;
	}
	if (target > e->max_memory_mib) {
		rpc_call_fail(call, RPC_RESOURCE_EXHAUSTED,
			      "memory_mib = %" PRIu64 ": above the enclave's maximum of %" PRIu64
			      " MiB",
			      target, e->max_memory_mib);
		return;
	}
	old_requested = e->requested_mib;
	e->requested_mib = target;
	r = pool_lease_set_memory(e->lease, accounted_mib(e), &why);
	if (r < 0) {
		e->requested_mib = old_requested;
		rpc_call_fail(call, r == -ENOMEM ? RPC_RESOURCE_EXHAUSTED : RPC_INVALID_ARGUMENT,
			      "pool: %s", why ? why : strerror(-r));
		return;
	}
	r = send_requested(e, (target - e->memory_mib) << 20);
	if (r < 0) {
		e->requested_mib = old_requested;
		(void)pool_lease_set_memory(e->lease, accounted_mib(e), NULL);
		rpc_call_fail(call, RPC_UNAVAILABLE, "enclave %s: VMM channel: %s", e->id,
			      strerror(-r));
		return;
	}
	enclave_emit_event(e, ENCLAVED__V1__ENCLAVE_EVENT_KIND__ENCLAVE_EVENT_KIND_MEMORY);
	log_info("%s: resize to %" PRIu64 " MiB asked by uid %u", e->id, target,
		 (unsigned)caller->peer.uid);
	if (enclave_to_pb(e, &pb, 0) < 0) {
		rpc_call_fail(call, RPC_INTERNAL, "out of memory");
		return;
	}
	resp.enclave = &pb;
	api_reply(call, &resp.base);
	enclave_pb_clear(&pb);
}

API_ENCLAVES_HANDLER(api_enclaves_resize)
{
	Enclaved__V1__ResizeEnclaveRequest *req = (Enclaved__V1__ResizeEnclaveRequest *)api_unpack(
	    call, &enclaved__v1__resize_enclave_request__descriptor, payload, len);

	if (!req)
		return;
	resize(d, call, caller, req);
	enclaved__v1__resize_enclave_request__free_unpacked(req, NULL);
}
