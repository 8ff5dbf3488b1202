#include "config.h"

#include "enclaved/api.h"

#include "common/log.h"
#include "common/util.h"

#include <string.h>

static const struct {
	const struct api_method *methods;
	const size_t *n_methods;
} api_tables[] = {
    {api_system_methods, &api_system_n_methods},
    {api_enclaves_methods, &api_enclaves_n_methods},
    {api_pool_methods, &api_pool_n_methods},
    {api_images_methods, &api_images_n_methods},
};

/* Every call passes through here: the per-call authorization check (the accept hook only logs,
 * because a refused connection could not carry a PERMISSION_DENIED status to the client). */
static void api_trampoline(struct rpc_call *call, const uint8_t *payload, size_t len,
			   void *userdata)
{
	const struct api_binding *b = userdata;
	const struct rpc_peer *peer = rpc_call_peer(call);
	const char *group = b->daemon->config.group;
	struct api_caller caller = {.peer = *peer};
	bool group_exists = false;
	int r;

	r = authz_resolve(peer->uid, peer->gid, group, &caller.role, &group_exists);
	if (r < 0) {
		log_warn("%s/%s: cannot resolve groups of uid %u: %s", b->method->service,
			 b->method->method, (unsigned)peer->uid, strerror(-r));
		rpc_call_fail(call, RPC_PERMISSION_DENIED,
			      "cannot resolve the groups of uid %u: %s", (unsigned)peer->uid,
			      strerror(-r));
		return;
	}
	if (!authz_allows(caller.role, b->method->need)) {
		log_info("denied %s/%s to uid %u pid %d (role %s)", b->method->service,
			 b->method->method, (unsigned)peer->uid, (int)peer->pid,
			 authz_role_name(caller.role));
		if (b->method->need == AUTHZ_NEED_ROOT)
			rpc_call_fail(call, RPC_PERMISSION_DENIED, "%s/%s is for root only",
				      b->method->service, b->method->method);
		else if (!group_exists)
			rpc_call_fail(call, RPC_PERMISSION_DENIED,
				      "uid %u may not call %s/%s: the group '%s' does not exist, "
				      "so only root has access",
				      (unsigned)peer->uid, b->method->service, b->method->method,
				      group);
		else
			rpc_call_fail(call, RPC_PERMISSION_DENIED,
				      "uid %u is not a member of group '%s' and may not call %s/%s",
				      (unsigned)peer->uid, group, b->method->service,
				      b->method->method);
		return;
	}
	log_debug("%s/%s from uid %u pid %d", b->method->service, b->method->method,
		  (unsigned)peer->uid, (int)peer->pid);
	b->method->handler(b->daemon, call, &caller, b->method, payload, len);
}

static int api_accept(const struct rpc_peer *peer, void *userdata)
{
	log_debug("connection from uid %u gid %u pid %d", (unsigned)peer->uid, (unsigned)peer->gid,
		  (int)peer->pid);
	return 0;
}

int api_register(struct enclaved *d)
{
	size_t total = 0, k = 0;

	for (size_t t = 0; t < UTIL_ARRAY_SIZE(api_tables); t++)
		total += *api_tables[t].n_methods;
	d->bindings = calloc(total, sizeof(*d->bindings));
	if (!d->bindings)
		return -ENOMEM;
	d->n_bindings = total;
	for (size_t t = 0; t < UTIL_ARRAY_SIZE(api_tables); t++) {
		for (size_t i = 0; i < *api_tables[t].n_methods; i++, k++) {
			const struct api_method *m = &api_tables[t].methods[i];
			int r;
			d->bindings[k] = (struct api_binding){.daemon = d, .method = m};
			r = rpc_server_register(d->server, m->service, m->method, api_trampoline,
						&d->bindings[k]);
			if (r < 0) {
				log_error("cannot register %s/%s: %s", m->service, m->method,
					  strerror(-r));
				return r;
			}
		}
	}
	rpc_server_set_accept_hook(d->server, api_accept, d);
	return 0;
}

void api_free(struct enclaved *d)
{
	free(d->bindings);
	d->bindings = NULL;
	d->n_bindings = 0;
}

void api_unimplemented(struct enclaved *d, struct rpc_call *call, const struct api_caller *caller,
		       const struct api_method *method, const uint8_t *payload, size_t len)
{
	rpc_call_fail(call, RPC_UNIMPLEMENTED, "%s/%s is not implemented yet", method->service,
		      method->method);
}

ProtobufCMessage *api_unpack(struct rpc_call *call, const ProtobufCMessageDescriptor *desc,
			     const uint8_t *payload, size_t len)
{
	ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, len, payload);

	if (!msg)
		rpc_call_fail(call, RPC_INVALID_ARGUMENT,
			      "%s: cannot decode the request as %s (%zu bytes)",
			      rpc_call_method(call), desc->name, len);
	return msg;
}

int api_reply(struct rpc_call *call, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return rpc_call_fail(call, RPC_INTERNAL, "out of memory packing the reply");
	protobuf_c_message_pack(msg, buf);
	return rpc_call_reply(call, buf, len);
}
