/* The C side of tests/integration/ttrpc-go-interop.sh.
 *   ttrpc-interop server SOCKET   serves ttrpc.interop.v1.Test until SIGTERM
 *   ttrpc-interop client SOCKET   calls the Go server and checks every answer
 * Payloads are ttrpc.KeyValue messages, which both sides already know. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "rpc/message.h"
#include "rpc/rpc.h"

#define SERVICE "ttrpc.interop.v1.Test"

static void echo(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	if (rpc_call_reply(call, p, len) < 0)
		fprintf(stderr, "c server: reply failed\n");
}

static void fail_handler(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	Ttrpc__KeyValue *kv = ttrpc__key_value__unpack(NULL, len, p);

	if (!kv) {
		(void)rpc_call_fail(call, RPC_INVALID_ARGUMENT, "bad KeyValue");
		return;
	}
	(void)rpc_call_fail(call, RPC_NOT_FOUND, "no such thing: %s", kv->key);
	ttrpc__key_value__free_unpacked(kv, NULL);
}

static void meta(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	Ttrpc__KeyValue *kv = ttrpc__key_value__unpack(NULL, len, p);
	Ttrpc__KeyValue out = TTRPC__KEY_VALUE__INIT;
	uint8_t buf[512];
	const char *v;

	if (!kv) {
		(void)rpc_call_fail(call, RPC_INVALID_ARGUMENT, "bad KeyValue");
		return;
	}
	v = rpc_call_metadata(call, kv->key);
	out.key = kv->key;
	out.value = (char *)(v ? v : "");
	if (ttrpc__key_value__get_packed_size(&out) > sizeof(buf))
		(void)rpc_call_fail(call, RPC_OUT_OF_RANGE, "too long");
	else
		(void)rpc_call_reply(call, buf, ttrpc__key_value__pack(&out, buf));
	ttrpc__key_value__free_unpacked(kv, NULL);
}

static void on_cancel(struct rpc_call *call, void *ud)
{
	(void)rpc_call_fail(call, RPC_CANCELLED, "cancelled");
}

static void slow(struct rpc_call *call, const uint8_t *p, size_t len, void *ud)
{
	rpc_call_on_cancel(call, on_cancel, NULL);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static int run_server(const char *path)
{
	struct event_base *base = event_base_new();
	struct rpc_server *server = NULL;
	struct event *term;
	int r;

	if (!base)
		return 1;
	term = evsignal_new(base, SIGTERM, on_term, base);
	r = rpc_server_new(base, &server);
	if (r == 0)
		r = rpc_server_register(server, SERVICE, "Echo", echo, NULL);
	if (r == 0)
		r = rpc_server_register(server, SERVICE, "Fail", fail_handler, NULL);
	if (r == 0)
		r = rpc_server_register(server, SERVICE, "Meta", meta, NULL);
	if (r == 0)
		r = rpc_server_register(server, SERVICE, "Slow", slow, NULL);
	if (r == 0)
		r = rpc_server_listen_unix(server, path, NULL);
	if (r < 0 || !term || event_add(term, NULL) < 0) {
		fprintf(stderr, "c server: setup: %s\n", strerror(-r));
		return 1;
	}
	event_base_dispatch(base);
	rpc_server_free(server);
	event_free(term);
	event_base_free(base);
	return 0;
}

static int check(bool ok, const char *what)
{
	if (!ok)
		fprintf(stderr, "c client: FAIL: %s\n", what);
	return ok ? 0 : 1;
}

static int run_client(const char *path)
{
	const char *md[] = {"X-Trace", "xyz"};
	Ttrpc__KeyValue req = TTRPC__KEY_VALUE__INIT;
	struct rpc_client *client = NULL;
	struct rpc_status st;
	uint8_t buf[256], *resp = NULL;
	size_t len = 0, resp_len = 0;
	int failed = 0;
	int r;

	r = rpc_client_connect(path, &client);
	if (r < 0) {
		fprintf(stderr, "c client: connect: %s\n", strerror(-r));
		return 1;
	}
	req.key = "hello";
	req.value = "world";
	len = ttrpc__key_value__pack(&req, buf);
	for (int i = 0; i < 20; i++) {
		r = rpc_client_call(client, SERVICE, "Echo", buf, len, 0, &st, &resp, &resp_len);
		failed += check(r == 0 && st.code == RPC_OK && resp_len == len &&
				    memcmp(resp, buf, len) == 0,
				"Echo");
		free(resp);
		rpc_status_clear(&st);
	}
	/* Metadata reaches Go's GetMetadataValue (keys lowercased there). */
	failed += check(rpc_client_set_metadata(client, md, 1) == 0, "set metadata");
	r = rpc_client_call(client, SERVICE, "Echo", buf, len, 5000000000LL, &st, &resp, &resp_len);
	Ttrpc__KeyValue *kv =
	    r == 0 && st.code == RPC_OK ? ttrpc__key_value__unpack(NULL, resp_len, resp) : NULL;
	failed += check(kv && strcmp(kv->value, "world+xyz") == 0, "Echo with metadata");
	if (kv)
		ttrpc__key_value__free_unpacked(kv, NULL);
	free(resp);
	rpc_status_clear(&st);

	r = rpc_client_call(client, SERVICE, "Fail", buf, len, 0, &st, &resp, &resp_len);
	failed += check(r == 0 && st.code == RPC_PERMISSION_DENIED && st.message &&
			    strcmp(st.message, "go says no") == 0,
			"Fail");
	rpc_status_clear(&st);
	r = rpc_client_call(client, SERVICE, "Nope", NULL, 0, 0, &st, &resp, &resp_len);
	failed += check(r == 0 && st.code == RPC_UNIMPLEMENTED && st.message &&
			    strcmp(st.message, "method Nope") == 0,
			"unknown method (Go's message)");
	rpc_status_clear(&st);
	r = rpc_client_call(client, "no.such.Service", "Echo", NULL, 0, 0, &st, &resp, &resp_len);
	failed += check(r == 0 && st.code == RPC_UNIMPLEMENTED && st.message &&
			    strcmp(st.message, "service no.such.Service") == 0,
			"unknown service (Go's message)");
	rpc_status_clear(&st);
	rpc_client_free(client);
	if (!failed)
		printf("c client: all checks passed\n");
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s server|client SOCKET\n", argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "server") == 0)
		return run_server(argv[2]);
	if (strcmp(argv[1], "client") == 0)
		return run_client(argv[2]);
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}
