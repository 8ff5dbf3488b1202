/* Enclaves.Attest: a document for a running enclave, asked for by its owner on the host. */
#include "config.h"

#include "enclaved/api_attest.h"

#include "common/util.h"
#include "enclaved/api.h"
#include "enclaved/enclave.h"
#include "enclaved/state.h"

#include <stdlib.h>
#include <string.h>

static bool field_ok(struct rpc_call *call, const char *name, const ProtobufCBinaryData *f,
		     size_t max)
{
	if (f->len <= max)
		return true;
	rpc_call_fail(call, RPC_INVALID_ARGUMENT, "%s is %zu bytes (at most %zu)", name, f->len,
		      max);
	return false;
}

/* proto3 cannot tell an empty bytes field from an absent one; both mean null. */
static const uint8_t *present(const ProtobufCBinaryData *f)
{
	return f->len ? f->data : NULL;
}

void api_attest_reply(struct rpc_call *call, struct attestation_enclave *e,
		      const Enclaved__V1__AttestRequest *req)
{
	Enclaved__V1__AttestResponse resp = ENCLAVED__V1__ATTEST_RESPONSE__INIT;
	_cleanup_free_ uint8_t *doc = NULL;
	size_t doc_len = 0;
	int r;

	if (!field_ok(call, "nonce", &req->nonce, ATTESTATION_NONCE_MAX) ||
	    !field_ok(call, "user_data", &req->user_data, ATTESTATION_USER_DATA_MAX) ||
	    !field_ok(call, "public_key", &req->public_key, ATTESTATION_PUBLIC_KEY_MAX))
		return;
	r = attestation_document(e, present(&req->nonce), req->nonce.len, present(&req->user_data),
				 req->user_data.len, present(&req->public_key), req->public_key.len,
				 &doc, &doc_len);
	if (r < 0) {
		rpc_call_fail(call, RPC_INTERNAL, "cannot sign the attestation document: %s",
			      strerror(-r));
		return;
	}
	resp.document.data = doc;
	resp.document.len = doc_len;
	api_reply(call, &resp.base);
}

void api_enclaves_attest(struct enclaved *d, struct rpc_call *call, const struct api_caller *caller,
			 const struct api_method *method, const uint8_t *payload, size_t len)
{
	Enclaved__V1__AttestRequest *req = (Enclaved__V1__AttestRequest *)api_unpack(
	    call, &enclaved__v1__attest_request__descriptor, payload, len);
	const char *what;
	struct enclave *e;

	if (!req)
		return;
	what = req->enclave_id[0] ? req->enclave_id : req->enclave_name;
	if (!what[0]) {
		rpc_call_fail(call, RPC_INVALID_ARGUMENT, "enclave_id or enclave_name is required");
		goto out;
	}
	e = enclave_find(d, req->enclave_id, req->enclave_name);
	/* Members see only their own enclaves: someone else's does not exist for them. */
	if (!e || !enclave_visible_to(e, caller->peer.uid, caller->role == AUTHZ_ROLE_ROOT)) {
		rpc_call_fail(call, RPC_NOT_FOUND, "no enclave %.200s", what);
		goto out;
	}
	if (!enclave_is_alive(e) || !e->attestation) {
		rpc_call_fail(call, RPC_FAILED_PRECONDITION,
			      "enclave %s is not running, so it has no attestation identity",
			      e->id);
		goto out;
	}
	api_attest_reply(call, e->attestation, req);
	(void)state_attestation_sync(e); /* the leaf may have been renewed */
out:
	protobuf_c_message_free_unpacked(&req->base, NULL);
}
