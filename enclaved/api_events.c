/* Enclaves.Events (see api_events.h). Subscribers live in one list for the process: there is
 * one daemon per process, and each subscriber remembers its daemon so that a unit test with two
 * never crosses them. Everything runs on the libevent thread. */
#include "config.h"

#include "enclaved/api_events.h"
#include "enclaved/enclave-resize.h"

#include "common/log.h"
#include "common/util.h"

#include <string.h>

struct events_sub {
	struct events_sub *next;
	struct enclaved *daemon;
	struct rpc_call *call;
	uid_t uid;
	bool root;
	char enclave_id[ENCLAVE_ID_MAX]; /* "" = every enclave the caller may see */
};

static struct events_sub *subs;
static size_t n_subs;

size_t api_events_subscriber_count(void)
{
	return n_subs;
}

static void unlink_sub(struct events_sub *sub)
{
	for (struct events_sub **pp = &subs; *pp; pp = &(*pp)->next) {
		if (*pp == sub) {
			*pp = sub->next;
			n_subs--;
			return;
		}
	}
}

static bool sub_wants(const struct events_sub *sub, const struct enclave *e)
{
	if (sub->daemon != e->daemon || !enclave_visible_to(e, sub->uid, sub->root))
		return false;
	return !sub->enclave_id[0] || strcmp(sub->enclave_id, e->id) == 0;
}

static const char *event_reason(const struct enclave *e)
{
	if (e->reason[0])
		return e->reason;
	if (e->state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_STARTING)
		return "VMM started, waiting for the boot heartbeat";
	return "";
}

/* The packed EnclaveEvent for e as it is now (malloc'd). */
static int pack_event(const struct enclave *e, Enclaved__V1__EnclaveEventKind kind, uint8_t **out,
		      size_t *out_len)
{
	Enclaved__V1__EnclaveEvent ev = ENCLAVED__V1__ENCLAVE_EVENT__INIT;
	Enclaved__V1__Enclave pb = ENCLAVED__V1__ENCLAVE__INIT;
	uint8_t *buf;
	size_t len;
	int r;

	r = enclave_resize_to_pb(e, &pb);
	if (r < 0)
		return r;
	ev.time_unix_ns = util_now_realtime_ns();
	ev.enclave_id = (char *)e->id;
	ev.enclave_name = (char *)e->name;
	ev.state = e->state;
	ev.reason = (char *)event_reason(e);
	ev.kind = kind;
	ev.memory = pb.memory;
	len = enclaved__v1__enclave_event__get_packed_size(&ev);
	buf = malloc(len ? len : 1);
	if (buf)
		enclaved__v1__enclave_event__pack(&ev, buf);
	free(pb.memory);
	if (!buf)
		return -ENOMEM;
	*out = buf;
	*out_len = len;
	return 0;
}

/* Send one event; on failure end the stream with a status that says why and forget sub.
 * Returns 0 or a negative errno (then sub is freed). */
static int send_event(struct events_sub *sub, const uint8_t *buf, size_t len)
{
	size_t unread = rpc_call_output_pending(sub->call);
	int r;

	if (unread > EVENTS_MAX_UNREAD) {
		log_warn("Events: uid %u left %zu bytes unread (limit %u): stream ended",
			 (unsigned)sub->uid, unread, EVENTS_MAX_UNREAD);
		r = -ENOBUFS;
		(void)rpc_call_fail(sub->call, RPC_RESOURCE_EXHAUSTED,
				    "events subscriber fell behind: more than %u bytes unread; "
				    "subscribe again (a SNAPSHOT gives the current state)",
				    EVENTS_MAX_UNREAD);
		goto gone;
	}
	r = rpc_call_send(sub->call, buf, len);
	if (r < 0) {
		(void)rpc_call_fail(sub->call, RPC_RESOURCE_EXHAUSTED,
				    "events subscriber dropped: %s", strerror(-r));
		goto gone;
	}
	return 0;
gone:
	unlink_sub(sub);
	free(sub);
	return r;
}

void enclave_emit_event(struct enclave *e, Enclaved__V1__EnclaveEventKind kind)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct events_sub *next;
	size_t len = 0;
	int r;

	if (!enclave_is_alive(e))
		api_console_enclave_ended(e);
	if (!n_subs)
		return;
	r = pack_event(e, kind, &buf, &len);
	if (r < 0) {
		log_warn("%s: event not sent: %s", e->id, strerror(-r));
		return;
	}
	for (struct events_sub *sub = subs; sub; sub = next) {
		next = sub->next; /* send_event may free sub */
		if (sub_wants(sub, e))
			(void)send_event(sub, buf, len);
	}
}

static void on_cancel(struct rpc_call *call, void *userdata)
{
	struct events_sub *sub = userdata;

	unlink_sub(sub);
	free(sub);
	(void)rpc_call_close(call); /* dropped on the wire; frees the call */
}

static size_t count_uid(uid_t uid)
{
	size_t n = 0;

	for (const struct events_sub *s = subs; s; s = s->next)
		n += s->uid == uid;
	return n;
}

API_ENCLAVES_HANDLER(api_enclaves_events)
{
	Enclaved__V1__EventsRequest *req = (Enclaved__V1__EventsRequest *)api_unpack(
	    call, &enclaved__v1__events_request__descriptor, payload, len);
	bool root = caller->role == AUTHZ_ROLE_ROOT;
	struct events_sub *sub = NULL;

	if (!req)
		return;
	if (!rpc_call_is_stream(call)) {
		rpc_call_fail(call, RPC_INVALID_ARGUMENT,
			      "Events is a server stream: open it as one (ttrpc v1.2)");
		goto out;
	}
	if (req->enclave_id && req->enclave_id[0]) {
		struct enclave *e = enclave_find(d, req->enclave_id, NULL);
		if (strlen(req->enclave_id) >= ENCLAVE_ID_MAX || !e ||
		    !enclave_visible_to(e, caller->peer.uid, root)) {
			rpc_call_fail(call, RPC_NOT_FOUND, "no enclave with id '%.80s'",
				      req->enclave_id);
			goto out;
		}
	}
	if (n_subs >= EVENTS_MAX_SUBSCRIBERS || count_uid(caller->peer.uid) >= EVENTS_MAX_PER_UID) {
		rpc_call_fail(
		    call, RPC_RESOURCE_EXHAUSTED,
		    "too many Events streams (%zu open, at most %u per uid and %u in all)", n_subs,
		    EVENTS_MAX_PER_UID, EVENTS_MAX_SUBSCRIBERS);
		goto out;
	}
	sub = calloc(1, sizeof(*sub));
	if (!sub) {
		rpc_call_fail(call, RPC_INTERNAL, "out of memory");
		goto out;
	}
	sub->daemon = d;
	sub->call = call;
	sub->uid = caller->peer.uid;
	sub->root = root;
	snprintf(sub->enclave_id, sizeof(sub->enclave_id), "%s",
		 req->enclave_id ? req->enclave_id : "");
	sub->next = subs;
	subs = sub;
	n_subs++;
	/* Where every matching enclave is now, before any live change. */
	for (struct enclave *e = d->registry.head; e; e = e->next) {
		_cleanup_free_ uint8_t *buf = NULL;
		size_t blen = 0;
		if (!sub_wants(sub, e))
			continue;
		if (pack_event(e, ENCLAVED__V1__ENCLAVE_EVENT_KIND__ENCLAVE_EVENT_KIND_SNAPSHOT,
			       &buf, &blen) < 0) {
			unlink_sub(sub);
			free(sub);
			rpc_call_fail(call, RPC_INTERNAL, "out of memory");
			goto out;
		}
		if (send_event(sub, buf, blen) < 0)
			goto out; /* sub and call are gone */
	}
	if (rpc_call_is_cancelled(call)) {
		on_cancel(call, sub);
		goto out;
	}
	rpc_call_on_cancel(call, on_cancel, sub);
out:
	enclaved__v1__events_request__free_unpacked(req, NULL);
}
