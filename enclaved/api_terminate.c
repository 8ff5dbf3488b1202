/* Enclaves.Terminate: by id, by name or --all. The reply waits until every selected VMM is
 * reaped and its resources are back in the pool; an enclave that already ended is reported
 * with Terminated = true and no error (idempotent). */
#include "config.h"

#include "enclaved/api_enclaves.h"

#include "enclaved/enclave.h"

#include "common/log.h"
#include "common/util.h"

#include <string.h>

struct enclave_terminate_op {
	struct rpc_call *call;
	size_t pending;
	size_t n;
	Enclaved__V1__TerminatedEnclave *items;
	char (*ids)[ENCLAVE_ID_MAX];
	char (*names)[ENCLAVE_NAME_MAX];
};

static void op_reply(struct enclave_terminate_op *op)
{
	Enclaved__V1__TerminateEnclaveResponse resp =
	    ENCLAVED__V1__TERMINATE_ENCLAVE_RESPONSE__INIT;
	_cleanup_free_ Enclaved__V1__TerminatedEnclave **ptrs = calloc(op->n + 1, sizeof(*ptrs));

	if (!ptrs) {
		rpc_call_fail(op->call, RPC_INTERNAL, "out of memory");
	} else {
		for (size_t i = 0; i < op->n; i++) {
			op->items[i].enclave_id = op->ids[i];
			op->items[i].enclave_name = op->names[i];
			ptrs[i] = &op->items[i];
		}
		resp.enclaves = ptrs;
		resp.n_enclaves = op->n;
		api_reply(op->call, &resp.base);
	}
	free(op->items);
	free(op->ids);
	free(op->names);
	free(op);
}

void enclave_terminate_op_done(struct enclave_terminate_op *op, struct enclave *e)
{
	for (size_t i = 0; i < op->n; i++)
		if (strcmp(op->ids[i], e->id) == 0)
			op->items[i].terminated = true;
	if (--op->pending == 0)
		op_reply(op);
}

static bool selected(const struct enclave *e, const Enclaved__V1__TerminateEnclaveRequest *req)
{
	if (req->all)
		return true;
	if (req->enclave_id && req->enclave_id[0])
		return strcmp(e->id, req->enclave_id) == 0;
	return strcmp(e->name, req->enclave_name) == 0;
}

API_ENCLAVES_HANDLER(api_enclaves_terminate)
{
	Enclaved__V1__TerminateEnclaveRequest *req =
	    (Enclaved__V1__TerminateEnclaveRequest *)api_unpack(
		call, &enclaved__v1__terminate_enclave_request__descriptor, payload, len);
	struct enclave_terminate_op *op = NULL;
	bool is_root = caller->role == AUTHZ_ROLE_ROOT;
	size_t max = 0;

	if (!req)
		return;
	if (!req->all && !(req->enclave_id && req->enclave_id[0]) &&
	    !(req->enclave_name && req->enclave_name[0])) {
		rpc_call_fail(call, RPC_INVALID_ARGUMENT,
			      "give one of enclave_id, enclave_name and all");
		goto out;
	}
	op = calloc(1, sizeof(*op));
	max = d->registry.n_enclaves + 1;
	if (!op || !(op->items = calloc(max, sizeof(*op->items))) ||
	    !(op->ids = calloc(max, sizeof(*op->ids))) ||
	    !(op->names = calloc(max, sizeof(*op->names)))) {
		rpc_call_fail(call, RPC_INTERNAL, "out of memory");
		goto fail;
	}
	op->call = call;
	/* By name: the live one if any, else the newest finished one (idempotence). */
	for (struct enclave *e = d->registry.head; e; e = e->next) {
		if (!selected(e, req) || !enclave_visible_to(e, caller->peer.uid, is_root))
			continue;
		if (!req->all && !enclave_is_alive(e) && enclave_find(d, NULL, e->name) != e &&
		    !(req->enclave_id && req->enclave_id[0]))
			continue;
		if (req->all && !enclave_is_alive(e))
			continue;
		enclaved__v1__terminated_enclave__init(&op->items[op->n]);
		snprintf(op->ids[op->n], ENCLAVE_ID_MAX, "%s", e->id);
		snprintf(op->names[op->n], ENCLAVE_NAME_MAX, "%s", e->name);
		op->items[op->n].terminated = !enclave_is_alive(e);
		op->n++;
		if (enclave_is_alive(e)) {
			if (e->n_terminate_ops >= UTIL_ARRAY_SIZE(e->terminate_ops)) {
				rpc_call_fail(call, RPC_RESOURCE_EXHAUSTED,
					      "too many Terminate calls waiting on %s", e->id);
				goto fail;
			}
			e->terminate_ops[e->n_terminate_ops++] = op;
			op->pending++;
			e->terminate_requested = true;
			log_info("%s (%s): terminate requested by uid %u", e->id, e->name,
				 (unsigned)caller->peer.uid);
			enclave_request_terminate(e, "terminated on request");
		}
		if (!req->all)
			break;
	}
	if (op->n == 0 && !req->all) {
		rpc_call_fail(call, RPC_NOT_FOUND, "no enclave %s '%.200s'",
			      req->enclave_id && req->enclave_id[0] ? "with id" : "named",
			      req->enclave_id && req->enclave_id[0] ? req->enclave_id
								    : req->enclave_name);
		goto fail;
	}
	if (op->pending == 0)
		op_reply(op);
	goto out;
fail:
	/* Only reached before any enclave holds op. */
	if (op) {
		free(op->items);
		free(op->ids);
		free(op->names);
		free(op);
	}
out:
	enclaved__v1__terminate_enclave_request__free_unpacked(req, NULL);
}
