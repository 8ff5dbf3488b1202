/* enclaved.v1.Pool: reading the CPU and memory pool (members) and resizing it (root). */
#include "config.h"

#include "enclaved/api.h"

#include "enclaved/pool.h"
#include "proto/enclaved.pb-c.h"

#include "common/log.h"
#include "common/util.h"

#include <string.h>

static uint32_t *cpu_array(const struct pool_cpuset *s, size_t *n)
{
	uint32_t *ids = calloc(pool_cpuset_count(s) + 1, sizeof(*ids));

	*n = 0;
	if (!ids)
		return NULL;
	for (int c = pool_cpuset_next(s, 0); c >= 0; c = pool_cpuset_next(s, c + 1))
		ids[(*n)++] = (uint32_t)c;
	return ids;
}

struct pool_info_pb {
	Enclaved__V1__PoolInfo info;
	Enclaved__V1__PoolHolding *holdings;
	Enclaved__V1__PoolHolding **holding_ptrs;
	char isolation[320];
};

static void info_clear(struct pool_info_pb *p)
{
	free(p->info.cpu_ids_total);
	free(p->info.cpu_ids_free);
	free(p->info.cpu_ids_used);
	for (size_t i = 0; p->holdings && i < p->info.n_holdings; i++)
		free(p->holdings[i].cpu_ids);
	free(p->holdings);
	free(p->holding_ptrs);
}

/* The description as PoolInfo; strings point into desc or p. */
static int info_fill(struct pool_info_pb *p, const struct pool_description *desc)
{
	Enclaved__V1__PoolInfo *i = &p->info;

	memset(p, 0, sizeof(*p));
	enclaved__v1__pool_info__init(i);
	i->cpu_ids_total = cpu_array(&desc->cpus_total, &i->n_cpu_ids_total);
	i->cpu_ids_free = cpu_array(&desc->cpus_free, &i->n_cpu_ids_free);
	i->cpu_ids_used = cpu_array(&desc->cpus_used, &i->n_cpu_ids_used);
	i->memory_total_mib = desc->memory_total_mib;
	i->memory_free_mib = desc->memory_free_mib;
	i->memory_used_mib = desc->memory_used_mib;
	i->page_size_bytes = desc->page_size_kib * 1024;
	/* "cgroup" or "pinning", its note, and CPU sharing when oversubscribed. */
	snprintf(p->isolation, sizeof(p->isolation), "%s (%s)%s",
		 pool_isolation_to_string(desc->isolation), desc->isolation_note,
		 desc->cpu_oversubscribe > 1 ? "; CPUs shared by up to " : "");
	if (desc->cpu_oversubscribe > 1) {
		size_t l = strlen(p->isolation);
		snprintf(p->isolation + l, sizeof(p->isolation) - l,
			 "%u enclaves (cpu_oversubscribe)", desc->cpu_oversubscribe);
	}
	i->isolation_mode = p->isolation;
	p->holdings = calloc(desc->n_leases + 1, sizeof(*p->holdings));
	p->holding_ptrs = calloc(desc->n_leases + 1, sizeof(*p->holding_ptrs));
	if (!i->cpu_ids_total || !i->cpu_ids_free || !i->cpu_ids_used || !p->holdings ||
	    !p->holding_ptrs)
		return -ENOMEM;
	for (size_t k = 0; k < desc->n_leases; k++) {
		Enclaved__V1__PoolHolding *h = &p->holdings[k];
		enclaved__v1__pool_holding__init(h);
		h->enclave_id = (char *)desc->leases[k].owner;
		h->memory_mib = desc->leases[k].memory_mib;
		h->cpu_ids = cpu_array(&desc->leases[k].cpus, &h->n_cpu_ids);
		i->n_holdings = k + 1;
		if (!h->cpu_ids)
			return -ENOMEM;
		p->holding_ptrs[k] = h;
	}
	i->holdings = p->holding_ptrs;
	return 0;
}

/* Reply with the pool as the response type that wraps one PoolInfo (Get and Resize share the
 * shape: field 1). */
static void reply_pool(struct enclaved *d, struct rpc_call *call, bool resized)
{
	struct pool_description desc;
	struct pool_info_pb p;
	int r = pool_describe(d->pool, &desc);

	if (r < 0) {
		rpc_call_fail(call, RPC_INTERNAL, "cannot describe the pool: %s", strerror(-r));
		return;
	}
	r = info_fill(&p, &desc);
	if (r < 0) {
		rpc_call_fail(call, RPC_INTERNAL, "out of memory");
	} else if (resized) {
		Enclaved__V1__ResizePoolResponse resp = ENCLAVED__V1__RESIZE_POOL_RESPONSE__INIT;
		resp.pool = &p.info;
		api_reply(call, &resp.base);
	} else {
		Enclaved__V1__GetPoolResponse resp = ENCLAVED__V1__GET_POOL_RESPONSE__INIT;
		resp.pool = &p.info;
		api_reply(call, &resp.base);
	}
	info_clear(&p);
	pool_description_free(&desc);
}

static void pool_get(struct enclaved *d, struct rpc_call *call, const struct api_caller *caller,
		     const struct api_method *method, const uint8_t *payload, size_t len)
{
	ProtobufCMessage *req =
	    api_unpack(call, &enclaved__v1__get_pool_request__descriptor, payload, len);

	if (!req)
		return;
	if (!d->pool)
		rpc_call_fail(call, RPC_UNAVAILABLE, "the pool is not set up: %s",
			      d->pool_error ? d->pool_error : "unknown error");
	else
		reply_pool(d, call, false);
	protobuf_c_message_free_unpacked(req, NULL);
}

static void pool_resize_handler(struct enclaved *d, struct rpc_call *call,
				const struct api_caller *caller, const struct api_method *method,
				const uint8_t *payload, size_t len)
{
	Enclaved__V1__ResizePoolRequest *req = (Enclaved__V1__ResizePoolRequest *)api_unpack(
	    call, &enclaved__v1__resize_pool_request__descriptor, payload, len);
	struct pool_cpuset cpus;
	_cleanup_free_ char *why = NULL;
	int r;

	if (!req)
		return;
	if (!d->pool) {
		rpc_call_fail(call, RPC_UNAVAILABLE, "the pool is not set up: %s",
			      d->pool_error ? d->pool_error : "unknown error");
		goto out;
	}
	if (req->cpu_count && req->n_cpu_ids) {
		rpc_call_fail(call, RPC_INVALID_ARGUMENT,
			      "cpu_count and cpu_ids exclude each other");
		goto out;
	}
	if (!req->cpu_count && !req->n_cpu_ids && !req->memory_mib) {
		rpc_call_fail(call, RPC_INVALID_ARGUMENT,
			      "nothing to change: give cpu_count or cpu_ids, and/or memory_mib");
		goto out;
	}
	pool_cpuset_zero(&cpus);
	for (size_t i = 0; i < req->n_cpu_ids; i++) {
		if (req->cpu_ids[i] >= POOL_MAX_CPUS) {
			rpc_call_fail(call, RPC_INVALID_ARGUMENT, "cpu_ids[%zu] = %u: out of range",
				      i, req->cpu_ids[i]);
			goto out;
		}
		pool_cpuset_add(&cpus, req->cpu_ids[i]);
	}
	r = pool_resize(d->pool, req->n_cpu_ids ? &cpus : NULL, req->cpu_count, req->memory_mib,
			&why);
	if (r < 0) {
		int code = r == -EBUSY	  ? RPC_FAILED_PRECONDITION
			   : r == -ENOMEM ? RPC_RESOURCE_EXHAUSTED
			   : r == -ENOSPC ? RPC_RESOURCE_EXHAUSTED
			   : r == -EINVAL ? RPC_INVALID_ARGUMENT
					  : RPC_INTERNAL;
		log_info("Pool.Resize refused: %s", why ? why : strerror(-r));
		rpc_call_fail(call, code, "%s", why ? why : strerror(-r));
		goto out;
	}
	log_info("pool resized by uid %u", (unsigned)caller->peer.uid);
	reply_pool(d, call, true);
out:
	enclaved__v1__resize_pool_request__free_unpacked(req, NULL);
}

const struct api_method api_pool_methods[] = {
    {API_SERVICE_POOL, "Get", AUTHZ_NEED_MEMBER, pool_get},
    {API_SERVICE_POOL, "Resize", AUTHZ_NEED_ROOT, pool_resize_handler},
};
const size_t api_pool_n_methods = UTIL_ARRAY_SIZE(api_pool_methods);
