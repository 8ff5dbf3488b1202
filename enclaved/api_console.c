/* Enclaves.Console: a server stream of the enclave's UART output (debug mode only, as on
 * Nitro). The buffered tail (up to 1 MiB, kept after the enclave ends) is replayed first; the
 * stream then follows live output and closes when the enclave ends, or cleanly when
 * disconnect_timeout_s passes (nitro-cli's --disconnect-timeout).
 *
 * The watcher list belongs to the enclave (enclave.c closes or drops its calls), so a timer
 * never trusts its call pointer: at expiry it looks the call up among the enclave's watchers,
 * timers of an enclave that ended are dropped from enclave_emit_event, and registering a call
 * drops any stale timer that carried the same pointer. */
#include "config.h"

#include "enclaved/api_enclaves.h"

#include "enclaved/api_events.h"
#include "enclaved/enclave.h"

#include "common/log.h"
#include "common/util.h"

#include <event2/event.h>
#include <string.h>

#define CONSOLE_REPLAY_CHUNK (64u * 1024u)

struct console_timer {
	struct console_timer *next;
	struct enclave *enclave;
	struct rpc_call *call;
	struct event *timer;
};

static struct console_timer *timers;

static void timer_free(struct console_timer **pp)
{
	struct console_timer *t = *pp;

	*pp = t->next;
	event_free(t->timer);
	free(t);
}

static bool drop_watcher(struct enclave *e, struct rpc_call *call)
{
	for (unsigned i = 0; i < e->n_watchers; i++) {
		if (e->console_watchers[i] == call) {
			e->console_watchers[i] = e->console_watchers[--e->n_watchers];
			return true;
		}
	}
	return false;
}

static void drop_timers(const struct enclave *e, const struct rpc_call *call)
{
	for (struct console_timer **pp = &timers; *pp;) {
		if ((e && (*pp)->enclave == e) || (call && (*pp)->call == call))
			timer_free(pp);
		else
			pp = &(*pp)->next;
	}
}

void api_console_enclave_ended(struct enclave *e)
{
	drop_timers(e, NULL);
}

static void on_disconnect_timer(evutil_socket_t fd, short what, void *userdata)
{
	struct console_timer *t = userdata;
	struct enclave *e = t->enclave;
	struct rpc_call *call = t->call;

	drop_timers(NULL, call); /* frees t */
	if (drop_watcher(e, call)) {
		log_debug("%s: console reader disconnected after its timeout", e->id);
		(void)rpc_call_close(call);
	}
}

static int add_timer(struct enclaved *d, struct enclave *e, struct rpc_call *call, uint32_t seconds)
{
	struct timeval tv = {.tv_sec = seconds};
	struct console_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->enclave = e;
	t->call = call;
	t->timer = evtimer_new(d->base, on_disconnect_timer, t);
	if (!t->timer || evtimer_add(t->timer, &tv) < 0) {
		if (t->timer)
			event_free(t->timer);
		free(t);
		return -ENOMEM;
	}
	t->next = timers;
	timers = t;
	return 0;
}

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

	drop_timers(NULL, call);
	if (drop_watcher(e, call))
		(void)rpc_call_close(call);
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
		rpc_call_fail(call, RPC_NOT_FOUND, "no enclave %s '%.200s'",
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
	/* A stale timer may carry this address from a call enclave.c has since freed. */
	drop_timers(NULL, call);
	if (req->disconnect_timeout_s && add_timer(d, e, call, req->disconnect_timeout_s) < 0) {
		rpc_call_fail(call, RPC_INTERNAL, "out of memory");
		goto out;
	}
	e->console_watchers[e->n_watchers++] = call;
	rpc_call_on_cancel(call, on_cancel, e);
out:
	enclaved__v1__console_request__free_unpacked(req, NULL);
}
