#include "guest/services.h"
#include "guest/console.h"
#include "guest/gcbor.h"
#include "guest/lib.h"
#include "guest/nsm.h"

#include <errno.h>

#define PARENT_CID     3 /* the heartbeat peer, as on Nitro */
#define PORT_HEARTBEAT 9000
#define PORT_ECHO      5000
#define PORT_ATTEST    5001
#define PORT_NSM       5002
#define PORT_SINK      5003
#define PORT_SOURCE    5004
#define PORT_DIALBACK  5005
#define HEARTBEAT_BYTE 0xb7
/* The sink consumes on arrival, so it can offer the peer a large window. */
#define SINK_BUF_ALLOC (1u << 20)
#define RESP_SLOTS     4
#define PATTERN_LEN    (64 * 1024) /* one full packet of source data */
#define DIAL_MAX       8	   /* dial-back connections waiting for the host's answer */
#define DIAL_OK	       0
#define DIAL_FAILED    1

static uint8_t resp_slots[RESP_SLOTS][NSM_RESPONSE_MAX];
static bool slot_busy[RESP_SLOTS];
static uint8_t pattern[PATTERN_LEN + 256];
static const uint8_t heartbeat_byte = HEARTBEAT_BYTE;
static bool heartbeat_done;
static bool transport_resetting;
static const uint8_t dial_greeting[] = "enclave\n";

/* A 5005 control connection waiting for the outcome of its outbound connection. Either side
 * may go away first; svc_release clears its half. */
static struct dial {
	struct vsock_conn *ctl, *out;
} dials[DIAL_MAX];

int svc_accept(struct vsock_conn *c, uint32_t port)
{
	static const struct {
		uint32_t port;
		uint8_t svc;
	} table[] = {
	    {PORT_ECHO, SVC_ECHO}, {PORT_ATTEST, SVC_ATTEST}, {PORT_NSM, SVC_NSM},
	    {PORT_SINK, SVC_SINK}, {PORT_SOURCE, SVC_SOURCE}, {PORT_DIALBACK, SVC_DIALBACK},
	};
	for (size_t i = 0; i < LIB_ARRAY_SIZE(table); i++) {
		if (table[i].port != port)
			continue;
		c->svc = table[i].svc;
		c->buf_alloc = c->svc == SVC_SINK ? SINK_BUF_ALLOC : VSOCK_CONN_BUF;
		return 0;
	}
	return -ECONNREFUSED;
}

static struct dial *dial_find(const struct vsock_conn *ctl, const struct vsock_conn *out)
{
	for (size_t i = 0; i < DIAL_MAX; i++) {
		if ((ctl && dials[i].ctl == ctl) || (out && dials[i].out == out))
			return &dials[i];
	}
	return NULL;
}

/* Answer the control connection with one status byte (sent by svc_pump). */
static void dial_reply(struct vsock_conn *ctl, uint8_t status)
{
	ctl->prefix[0] = status;
	ctl->prefix_len = 1;
	ctl->prefix_off = 0;
}

/* The outbound connection of a dial-back is settled: tell its control connection. */
static void dial_settle(struct vsock_conn *out, uint8_t status)
{
	struct dial *d = dial_find(NULL, out);

	if (!d)
		return;
	if (d->ctl)
		dial_reply(d->ctl, status);
	d->ctl = d->out = NULL;
}

/* The host asked for a connection to CID 3 port `port`. */
static void dial_start(struct vsock_conn *ctl, uint32_t port)
{
	struct dial *d = NULL;

	for (size_t i = 0; !d && i < DIAL_MAX; i++) {
		if (!dials[i].ctl && !dials[i].out)
			d = &dials[i];
	}
	struct vsock_conn *out = d ? vsock_connect(PARENT_CID, port, SVC_DIALOUT) : NULL;
	if (!out) {
		dial_reply(ctl, DIAL_FAILED); /* no free connection or TX slot */
		return;
	}
	d->ctl = ctl;
	d->out = out;
}

void svc_connected(struct vsock_conn *c)
{
	if (c->svc == SVC_HEARTBEAT) {
		c->out = &heartbeat_byte;
		c->out_len = 1;
		c->out_off = 0;
	} else if (c->svc == SVC_DIALOUT) {
		c->out = dial_greeting;
		c->out_len = sizeof(dial_greeting) - 1;
		c->out_off = 0;
		dial_settle(c, DIAL_OK);
	}
}

static void heartbeat_finish(bool ok)
{
	if (heartbeat_done)
		return;
	heartbeat_done = true;
	if (!ok) {
		con_puts("sample-enclave: heartbeat failed\n");
		return;
	}
	con_puts("sample-enclave: ready cid=");
	con_put_dec(vsock_local_cid());
	con_puts("\n");
}

int svc_data(struct vsock_conn *c, const uint8_t *data, uint32_t len)
{
	switch (c->svc) {
	case SVC_SINK:
		c->count += len;
		vsock_consumed(c, len);
		return 0;
	case SVC_HEARTBEAT:
		vsock_consumed(c, len);
		heartbeat_finish(data[0] == HEARTBEAT_BYTE);
		vsock_close(c);
		return 0;
	default:
		/* The peer may only send what our credit allowed: more is a protocol violation. */
		if (len > VSOCK_CONN_BUF - c->in_len)
			return -ENOBUFS;
		memcpy(c->in + c->in_len, data, len);
		c->in_len += len;
		return 0;
	}
}

void svc_peer_shutdown(struct vsock_conn *c)
{
	if (c->svc == SVC_SINK) {
		lib_store_be64(c->prefix, c->count);
		c->prefix_len = 8;
		c->prefix_off = 0;
		c->close_when_done = true;
	}
}

void svc_release(struct vsock_conn *c)
{
	if (c->svc == SVC_HEARTBEAT && !transport_resetting)
		heartbeat_finish(false);
	if (c->svc == SVC_DIALOUT && c->state == VSOCK_CONNECTING)
		dial_settle(c, DIAL_FAILED); /* RST: nothing listens on the host port */
	if (c->svc == SVC_DIALBACK) {
		struct dial *d = dial_find(c, NULL);
		if (d)
			d->ctl = NULL; /* the outbound connection lives on without a reporter */
	}
	if (c->slot >= 0) {
		slot_busy[c->slot] = false;
		c->slot = -1;
	}
	c->out = NULL;
	c->out_len = 0;
	c->in_len = 0;
}

static void consume_input(struct vsock_conn *c, uint32_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	vsock_consumed(c, n);
}

static bool output_pending(const struct vsock_conn *c)
{
	return c->prefix_off < c->prefix_len || c->out_off < c->out_len ||
	       (c->svc == SVC_SOURCE && c->count);
}

/* Send what the connection has queued, as far as credit and TX slots allow. */
static bool flush_output(struct vsock_conn *c)
{
	bool progress = false;
	uint32_t n;

	while (c->prefix_off < c->prefix_len) {
		n = vsock_send(c, c->prefix + c->prefix_off, c->prefix_len - c->prefix_off);
		if (!n)
			return progress;
		c->prefix_off += (uint8_t)n;
		progress = true;
	}
	while (c->out_off < c->out_len) {
		n = vsock_send(c, c->out + c->out_off, c->out_len - c->out_off);
		if (!n)
			return progress;
		c->out_off += n;
		progress = true;
	}
	while (c->svc == SVC_SOURCE && c->count) {
		uint32_t chunk = (uint32_t)LIB_MIN(c->count, (uint64_t)PATTERN_LEN);
		n = vsock_send(c, pattern + (c->src_sent & 0xff), chunk);
		if (!n)
			return progress;
		c->count -= n;
		c->src_sent += n;
		progress = true;
	}
	if (c->slot >= 0) {
		slot_busy[c->slot] = false;
		c->slot = -1;
	}
	c->out = NULL;
	c->out_len = c->out_off = 0;
	c->prefix_len = c->prefix_off = 0;
	return progress;
}

static int take_slot(void)
{
	for (int i = 0; i < RESP_SLOTS; i++) {
		if (!slot_busy[i]) {
			slot_busy[i] = true;
			return i;
		}
	}
	return -1;
}

/* Reply len + body, body copied into a response slot. */
static void reply(struct vsock_conn *c, int slot, const uint8_t *body, size_t len)
{
	memcpy(resp_slots[slot], body, len);
	c->slot = (int8_t)slot;
	c->out = resp_slots[slot];
	c->out_len = (uint32_t)len;
	c->out_off = 0;
	lib_store_be32(c->prefix, (uint32_t)len);
	c->prefix_len = 4;
	c->prefix_off = 0;
}

/* attest and NSM passthrough: one length-prefixed request at a time. */
static bool nsm_request(struct vsock_conn *c)
{
	static uint8_t req[NSM_REQUEST_MAX];
	const uint8_t *resp, *doc;
	size_t resp_len, doc_len;
	int len;

	if (c->in_len < 4)
		return false;
	uint32_t body = lib_load_be32(c->in);
	uint32_t limit = c->svc == SVC_ATTEST ? GCBOR_MAX_NONCE : NSM_REQUEST_MAX;
	if (body > limit) {
		vsock_reset(c);
		return true;
	}
	if (c->in_len - 4 < body)
		return false;
	int slot = take_slot();
	if (slot < 0)
		return false; /* another connection's reply holds every slot: retry later */
	if (c->svc == SVC_ATTEST) {
		len = gcbor_attestation_request(c->in + 4, body, req, sizeof(req));
		if (len < 0 || nsm_call(req, (size_t)len, &resp, &resp_len) < 0 ||
		    gcbor_attestation_document(resp, resp_len, &doc, &doc_len) < 0)
			doc_len = 0; /* an empty document tells the host the NSM refused */
		reply(c, slot, doc, doc_len);
	} else {
		if (nsm_call(c->in + 4, body, &resp, &resp_len) < 0)
			resp_len = 0;
		reply(c, slot, resp, resp_len);
	}
	consume_input(c, 4 + body);
	return true;
}

/* The peer will not read any more: whatever we would send is dropped. */
static void drop_output(struct vsock_conn *c)
{
	if (c->slot >= 0) {
		slot_busy[c->slot] = false;
		c->slot = -1;
	}
	c->out = NULL;
	c->out_len = c->out_off = 0;
	c->prefix_len = c->prefix_off = 0;
	c->count = c->svc == SVC_SINK ? c->count : 0;
	if ((c->svc == SVC_ECHO || c->svc == SVC_DIALOUT) && c->in_len)
		consume_input(c, c->in_len);
}

bool svc_pump(struct vsock_conn *c)
{
	bool progress = false;

	if (c->peer_no_recv)
		drop_output(c);
	if (output_pending(c)) {
		progress = flush_output(c);
		if (output_pending(c))
			return progress;
	}
	if (c->close_when_done) {
		vsock_close(c);
		return true;
	}
	switch (c->svc) {
	case SVC_ECHO:
	case SVC_DIALOUT:
		while (c->in_len) {
			uint32_t n = vsock_send(c, c->in, c->in_len);
			if (!n)
				break;
			consume_input(c, n);
			progress = true;
		}
		if (!c->in_len && c->peer_no_send) {
			vsock_close(c);
			return true;
		}
		return progress;
	case SVC_ATTEST:
	case SVC_NSM:
		if (nsm_request(c))
			return true;
		/* A complete request still waiting for a response slot keeps the connection. */
		if (c->in_len >= 4 && c->in_len - 4 >= lib_load_be32(c->in))
			return progress;
		break;
	case SVC_DIALBACK:
		if (dial_find(c, NULL))
			return progress; /* the answer comes with RESPONSE or RST */
		if (c->in_len >= 4) {
			uint32_t port = lib_load_be32(c->in);
			consume_input(c, 4);
			dial_start(c, port);
			return true;
		}
		break;
	case SVC_SOURCE:
		if (c->in_len >= 8) {
			c->count = lib_load_be64(c->in);
			c->src_sent = 0;
			consume_input(c, 8);
			(void)flush_output(c);
			return true;
		}
		break;
	default:
		return progress;
	}
	if (c->peer_no_send) {
		vsock_close(c);
		return true;
	}
	return progress;
}

static void heartbeat_connect(void)
{
	if (!vsock_connect(PARENT_CID, PORT_HEARTBEAT, SVC_HEARTBEAT))
		heartbeat_finish(false);
}

void svc_transport_reset(void)
{
	transport_resetting = true;
}

void svc_transport_reset_done(void)
{
	transport_resetting = false;
	if (!heartbeat_done)
		heartbeat_connect();
}

void svc_start(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)i;
	heartbeat_connect();
}

bool svc_heartbeat_done(void)
{
	return heartbeat_done;
}
