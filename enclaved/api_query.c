/* Enclaves.Describe and Enclaves.List: nitro-cli's describe-enclaves keys plus owner, start
 * time, state reason and the vsock socket. Members see only their own enclaves. */
#include "config.h"

#include "enclaved/api_enclaves.h"

#include "enclaved/enclave.h"
#include "enclaved/enclave-resize.h"

#include "common/util.h"

#include <stdio.h>
#include <string.h>

#define PCR_HASH_ALGORITHM "Sha384 { ... }"

static int add_pcr(Enclaved__V1__Measurements *m, unsigned index, const uint8_t *value)
{
	Enclaved__V1__Pcr *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	enclaved__v1__pcr__init(p);
	p->index = index;
	p->value.data = (uint8_t *)value;
	p->value.len = PCR_DIGEST_LEN;
	m->pcrs[m->n_pcrs++] = p;
	return 0;
}

/* The counters of a running enclave's vsock device, as its VMM last reported them. */
static int vsock_to_pb(const struct enclave *e, Enclaved__V1__Enclave *pb)
{
	Enclaved__V1__VsockStats *v;

	if (!e->have_vsock_stats || !enclave_is_alive(e))
		return 0;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	enclaved__v1__vsock_stats__init(v);
	pb->vsock = v;
	v->open_connections = e->vsock_connections;
	if (!e->n_vsock_counters)
		return 0;
	v->counters = calloc(e->n_vsock_counters, sizeof(*v->counters));
	if (!v->counters)
		return -ENOMEM;
	for (unsigned i = 0; i < e->n_vsock_counters; i++) {
		Enclaved__V1__VsockCounter *c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		enclaved__v1__vsock_counter__init(c);
		c->name = (char *)e->vsock_counters[i].name;
		c->value = e->vsock_counters[i].value;
		v->counters[v->n_counters++] = c;
	}
	return 0;
}

int enclave_to_pb(const struct enclave *e, Enclaved__V1__Enclave *pb, size_t console_tail)
{
	Enclaved__V1__Measurements *m = NULL;
	char *vsock;

	enclaved__v1__enclave__init(pb);
	pb->enclave_name = (char *)e->name;
	pb->enclave_id = (char *)e->id;
	pb->process_id = e->pid;
	pb->enclave_cid = e->cid;
	pb->number_of_cpus = e->n_cpus;
	pb->cpu_ids = (uint32_t *)e->cpu_ids;
	pb->n_cpu_ids = e->n_cpus;
	pb->memory_mib = e->memory_mib + e->plugged_mib;
	pb->state = e->state;
	pb->state_reason = (char *)e->reason;
	pb->debug_mode = e->debug;
	pb->owner_uid = (uint32_t)e->owner_uid;
	pb->start_time_unix_ns = e->start_time_ns;
	pb->eif_path = e->eif_path;
	pb->heartbeat_timeout_ms = e->heartbeat_timeout_ms;
	if (asprintf(&vsock, "%s/vsock.sock", e->runtime_dir) < 0)
		return -ENOMEM;
	pb->vsock_socket_path = vsock;
	if (enclave_resize_to_pb(e, pb) < 0 || vsock_to_pb(e, pb) < 0)
		goto oom;
	m = calloc(1, sizeof(*m));
	if (!m)
		goto oom;
	enclaved__v1__measurements__init(m);
	pb->measurements = m;
	m->hash_algorithm = (char *)PCR_HASH_ALGORITHM;
	m->pcrs = calloc(4, sizeof(*m->pcrs));
	if (!m->pcrs || add_pcr(m, 0, e->measurements.pcr0) < 0 ||
	    add_pcr(m, 1, e->measurements.pcr1) < 0 || add_pcr(m, 2, e->measurements.pcr2) < 0 ||
	    (e->measurements.has_pcr8 && add_pcr(m, 8, e->measurements.pcr8) < 0))
		goto oom;
	if (console_tail && e->debug && e->console_len) {
		uint8_t *tail;
		size_t n;
		if (enclave_console_tail(e, console_tail, &tail, &n) < 0)
			goto oom;
		pb->console_tail.data = tail;
		pb->console_tail.len = n;
	}
	return 0;
oom:
	enclave_pb_clear(pb);
	return -ENOMEM;
}

void enclave_pb_clear(Enclaved__V1__Enclave *pb)
{
	Enclaved__V1__Measurements *m = pb->measurements;

	free(pb->vsock_socket_path);
	pb->vsock_socket_path = NULL;
	if (m) {
		for (size_t i = 0; i < m->n_pcrs; i++)
			free(m->pcrs[i]);
		free(m->pcrs);
		free(m);
		pb->measurements = NULL;
	}
	free(pb->memory);
	pb->memory = NULL;
	if (pb->vsock) {
		for (size_t i = 0; i < pb->vsock->n_counters; i++)
			free(pb->vsock->counters[i]);
		free(pb->vsock->counters);
		free(pb->vsock);
		pb->vsock = NULL;
	}
	free(pb->console_tail.data);
	pb->console_tail.data = NULL;
	pb->console_tail.len = 0;
}

API_ENCLAVES_HANDLER(api_enclaves_describe)
{
	Enclaved__V1__DescribeEnclaveRequest *req =
	    (Enclaved__V1__DescribeEnclaveRequest *)api_unpack(
		call, &enclaved__v1__describe_enclave_request__descriptor, payload, len);
	Enclaved__V1__DescribeEnclaveResponse resp = ENCLAVED__V1__DESCRIBE_ENCLAVE_RESPONSE__INIT;
	Enclaved__V1__Enclave pb;
	struct enclave *e;
	bool by_id;

	if (!req)
		return;
	by_id = req->enclave_id && req->enclave_id[0];
	e = enclave_find(d, req->enclave_id, req->enclave_name);
	if (!e || !enclave_visible_to(e, caller->peer.uid, caller->role == AUTHZ_ROLE_ROOT)) {
		rpc_call_fail(call, RPC_NOT_FOUND, "no enclave %s '%.200s'",
			      by_id ? "with id" : "named",
			      by_id ? req->enclave_id : req->enclave_name);
	} else if (enclave_to_pb(e, &pb, UTIL_MIN(req->console_tail_bytes, ENCLAVE_CONSOLE_KEEP)) <
		   0) {
		rpc_call_fail(call, RPC_INTERNAL, "out of memory");
	} else {
		resp.enclave = &pb;
		api_reply(call, &resp.base);
		enclave_pb_clear(&pb);
	}
	enclaved__v1__describe_enclave_request__free_unpacked(req, NULL);
}

API_ENCLAVES_HANDLER(api_enclaves_list)
{
	Enclaved__V1__ListEnclavesRequest *req = (Enclaved__V1__ListEnclavesRequest *)api_unpack(
	    call, &enclaved__v1__list_enclaves_request__descriptor, payload, len);
	Enclaved__V1__ListEnclavesResponse resp = ENCLAVED__V1__LIST_ENCLAVES_RESPONSE__INIT;
	Enclaved__V1__Enclave *pbs = NULL;
	Enclaved__V1__Enclave **ptrs = NULL;
	size_t n = 0;

	if (!req)
		return;
	pbs = calloc(d->registry.n_enclaves + 1, sizeof(*pbs));
	ptrs = calloc(d->registry.n_enclaves + 1, sizeof(*ptrs));
	if (!pbs || !ptrs) {
		rpc_call_fail(call, RPC_INTERNAL, "out of memory");
		goto out;
	}
	/* Oldest first, as they were started. */
	for (struct enclave *e = d->registry.head; e; e = e->next) {
		if (!enclave_visible_to(e, caller->peer.uid, caller->role == AUTHZ_ROLE_ROOT))
			continue;
		if (enclave_to_pb(e, &pbs[n], 0) < 0) {
			rpc_call_fail(call, RPC_INTERNAL, "out of memory");
			goto out;
		}
		n++;
	}
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &pbs[n - 1 - i];
	resp.enclaves = ptrs;
	resp.n_enclaves = n;
	api_reply(call, &resp.base);
out:
	for (size_t i = 0; pbs && i < n; i++)
		enclave_pb_clear(&pbs[i]);
	free(pbs);
	free(ptrs);
	enclaved__v1__list_enclaves_request__free_unpacked(req, NULL);
}
