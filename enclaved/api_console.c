/* Enclaves.Console: a server stream of the enclave's UART output (debug mode only, as on
 * Nitro). The buffered tail (up to 1 MiB, kept after the enclave ends) is replayed first; the
 * stream then follows live output and closes when the enclave ends. */
#include "config.h"

#include "enclaved/api_enclaves.h"

#include "enclaved/enclave.h"

#include "common/util.h"

#include <string.h>

#define CONSOLE_REPLAY_CHUNK (64u * 1024u)

static int send_bytes(struct rpc_call *call, const uint8_t *data, size_t len)
{
	Enclaved__V1__ConsoleChunk chunk = ENCLAVED__V1__CONSOLE_CHUNK__INIT;
	size_t plen;
	_cleanup_free_ uint8_t *buf = NULL;

	chunk.data.data = (uint8_t *)data;
	chunk.data.len = len;
	plen = enclaved__v1__console_chunk__get_packed_size(&chunk);
	buf = malloc(plen ? plen : 1);
	if (!buf)
		return -ENOMEM;
	enclaved__v1__console_chunk__pack(&chunk, buf);
	return rpc_call_send(call, buf, plen);
}

static void on_cancel(struct rpc_call *call, void *userdata)
{
	struct enclave *e = userdata;

	for (unsigned i = 0; i < e->n_watchers; i++) {
		if (e->console_watchers[i] == call) {
			e->console_watchers[i] = e->console_watchers[--e->n_watchers];
			(void)rpc_call_close(call);
			return;
		}
	}
}

API_ENCLAVES_HANDLER(api_enclaves_console)
{
	Enclaved__V1__ConsoleRequest *req = (Enclaved__V1__ConsoleRequest *)api_unpack(
	    call, &enclaved__v1__console_request__descriptor, payload, len);
	_cleanup_free_ uint8_t *tail = NULL;
	size_t tail_len = 0, want;
	struct enclave *e;
	bool by_id;

	if (!req)
		return;
	by_id = req->enclave_id && req->enclave_id[0];
	e = enclave_find(d, req->enclave_id, req->enclave_name);
	if (!e || !enclave_visible_to(e, caller->peer.uid, caller->role == AUTHZ_ROLE_ROOT)) {
		rpc_call_fail(call, RPC_NOT_FOUND, "no enclave %s '%s'",
			      by_id ? "with id" : "named",
			      by_id ? req->enclave_id : req->enclave_name);
		goto out;
	}
	if (!e->debug) {
		rpc_call_fail(call, RPC_FAILED_PRECONDITION,
			      "enclave %s was not started in debug mode: it has no console", e->id);
		goto out;
	}
	/* Default: the whole buffer, so a late reader sees the boot. */
	want = req->tail_bytes ? UTIL_MIN(req->tail_bytes, ENCLAVE_CONSOLE_KEEP)
			       : ENCLAVE_CONSOLE_KEEP;
	if (enclave_console_tail(e, want, &tail, &tail_len) < 0) {
		rpc_call_fail(call, RPC_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t off = 0; off < tail_len; off += CONSOLE_REPLAY_CHUNK) {
		if (send_bytes(call, tail + off, UTIL_MIN(CONSOLE_REPLAY_CHUNK, tail_len - off)) <
		    0) {
			rpc_call_fail(call, RPC_CANCELLED, "console reader gone");
			goto out;
		}
	}
	if (!enclave_is_alive(e) || e->n_watchers >= ENCLAVE_MAX_WATCHERS) {
		if (enclave_is_alive(e))
			rpc_call_fail(call, RPC_RESOURCE_EXHAUSTED,
				      "enclave %s already has %d console readers", e->id,
				      ENCLAVE_MAX_WATCHERS);
		else
			rpc_call_close(call);
		goto out;
	}
	e->console_watchers[e->n_watchers++] = call;
	rpc_call_on_cancel(call, on_cancel, e);
out:
	enclaved__v1__console_request__free_unpacked(req, NULL);
}
