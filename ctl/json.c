/* Protobuf answers to JSON objects with nitro-cli's key names. */
#include "config.h"

#include "ctl/ctl.h"

#include "common/util.h"

#include <stdio.h>

const char *ctl_state_name(Enclaved__V1__EnclaveState state)
{
	switch (state) {
	case ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_STARTING:
		return "STARTING";
	case ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING:
		return "RUNNING";
	case ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATING:
		return "TERMINATING";
	case ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATED:
		return "TERMINATED";
	case ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_FAILED:
		return "FAILED";
	default:
		return "EMPTY";
	}
}

static struct json_object *hex_string(const uint8_t *data, size_t len)
{
	_cleanup_free_ char *hex = malloc(2 * len + 1);

	if (!hex)
		return NULL;
	util_hex_encode(data, len, hex);
	return json_object_new_string(hex);
}

struct json_object *ctl_json_cpu_ids(size_t n, const uint32_t *ids)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; arr && i < n; i++)
		json_object_array_add(arr, json_object_new_int64(ids[i]));
	return arr;
}

struct json_object *ctl_json_measurements(const Enclaved__V1__Measurements *m)
{
	struct json_object *obj = json_object_new_object();

	if (!obj || !m)
		return obj;
	json_object_object_add(obj, "HashAlgorithm",
			       json_object_new_string(m->hash_algorithm && *m->hash_algorithm
							  ? m->hash_algorithm
							  : "Sha384 { ... }"));
	for (size_t i = 0; i < m->n_pcrs; i++) {
		char key[16];
		snprintf(key, sizeof(key), "PCR%u", m->pcrs[i]->index);
		json_object_object_add(obj, key,
				       hex_string(m->pcrs[i]->value.data, m->pcrs[i]->value.len));
	}
	return obj;
}

static void add_string(struct json_object *obj, const char *key, const char *value)
{
	json_object_object_add(obj, key, json_object_new_string(value ? value : ""));
}

/* The metadata's JSON documents are passed through as JSON when they parse. */
static void add_json_text(struct json_object *obj, const char *key, const char *text)
{
	struct json_object *parsed = text && *text ? json_tokener_parse(text) : NULL;

	json_object_object_add(obj, key,
			       parsed ? parsed : json_object_new_string(text ? text : ""));
}

struct json_object *ctl_json_metadata(const Enclaved__V1__ImageMetadata *m)
{
	struct json_object *obj = json_object_new_object();

	if (!obj || !m)
		return obj;
	add_string(obj, "BuildTime", m->build_time);
	add_string(obj, "BuildTool", m->build_tool);
	add_string(obj, "BuildToolVersion", m->build_tool_version);
	add_string(obj, "OperatingSystem", m->operating_system);
	add_string(obj, "KernelVersion", m->kernel_version);
	add_json_text(obj, "DockerInfo", m->docker_info_json);
	add_json_text(obj, "CustomMetadata", m->custom_metadata_json);
	return obj;
}

struct json_object *ctl_json_enclave(const Enclaved__V1__Enclave *e, bool full)
{
	struct json_object *obj = json_object_new_object();

	if (!obj)
		return NULL;
	add_string(obj, "EnclaveName", e->enclave_name);
	add_string(obj, "EnclaveID", e->enclave_id);
	json_object_object_add(obj, "ProcessID", json_object_new_int(e->process_id));
	json_object_object_add(obj, "EnclaveCID", json_object_new_uint64(e->enclave_cid));
	json_object_object_add(obj, "NumberOfCPUs", json_object_new_int64(e->number_of_cpus));
	json_object_object_add(obj, "CPUIDs", ctl_json_cpu_ids(e->n_cpu_ids, e->cpu_ids));
	json_object_object_add(obj, "MemoryMiB", json_object_new_uint64(e->memory_mib));
	if (!full)
		return obj;
	add_string(obj, "State", ctl_state_name(e->state));
	add_string(obj, "Flags", e->debug_mode ? "DEBUG_MODE" : "NONE");
	json_object_object_add(obj, "Measurements", ctl_json_measurements(e->measurements));
	/* As on Nitro, documents of a debug-mode enclave carry PCR0-2 as zeros, whatever the
	 * image measures: a common surprise, so say it next to the measurements. */
	if (e->debug_mode)
		add_string(obj, "AttestationPCRs", "zeros (debug mode)");
	if (e->metadata) {
		add_string(obj, "ImageName", e->metadata->image_name);
		add_string(obj, "ImageVersion", e->metadata->image_version);
		json_object_object_add(obj, "Metadata", ctl_json_metadata(e->metadata));
	}
	/* enclaved's additions, after nitro-cli's keys. */
	add_string(obj, "StateReason", e->state_reason);
	json_object_object_add(obj, "OwnerUID", json_object_new_int64(e->owner_uid));
	json_object_object_add(obj, "StartTimeUnixNs",
			       json_object_new_uint64(e->start_time_unix_ns));
	add_string(obj, "VsockSocket", e->vsock_socket_path);
	add_string(obj, "EifPath", e->eif_path);
	if (e->memory)
		json_object_object_add(obj, "Memory", ctl_json_memory(e->memory));
	json_object_object_add(obj, "HeartbeatTimeoutMs",
			       json_object_new_int64(e->heartbeat_timeout_ms));
	if (e->vsock)
		json_object_object_add(obj, "Vsock", ctl_json_vsock(e->vsock));
	return obj;
}

/* {"OpenConnections": n, "Counters": {"conns_opened": n, "bad_len": n, ...}} */
struct json_object *ctl_json_vsock(const Enclaved__V1__VsockStats *v)
{
	struct json_object *obj = json_object_new_object(), *counters = json_object_new_object();

	json_object_object_add(obj, "OpenConnections", json_object_new_int64(v->open_connections));
	for (size_t i = 0; i < v->n_counters; i++)
		if (v->counters[i]->name && v->counters[i]->name[0])
			json_object_object_add(counters, v->counters[i]->name,
					       json_object_new_uint64(v->counters[i]->value));
	json_object_object_add(obj, "Counters", counters);
	return obj;
}

struct json_object *ctl_json_memory(const Enclaved__V1__EnclaveMemory *m)
{
	struct json_object *mem = json_object_new_object();

	json_object_object_add(mem, "BootMiB", json_object_new_uint64(m->boot_mib));
	json_object_object_add(mem, "PluggedMiB", json_object_new_uint64(m->plugged_mib));
	json_object_object_add(mem, "RequestedMiB", json_object_new_uint64(m->requested_mib));
	json_object_object_add(mem, "MaxMiB", json_object_new_uint64(m->max_mib));
	return mem;
}

struct json_object *ctl_json_pool(const Enclaved__V1__PoolInfo *p)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *holdings;

	if (!obj || !p)
		return obj;
	json_object_object_add(obj, "CPUIDs",
			       ctl_json_cpu_ids(p->n_cpu_ids_total, p->cpu_ids_total));
	json_object_object_add(obj, "FreeCPUIDs",
			       ctl_json_cpu_ids(p->n_cpu_ids_free, p->cpu_ids_free));
	json_object_object_add(obj, "UsedCPUIDs",
			       ctl_json_cpu_ids(p->n_cpu_ids_used, p->cpu_ids_used));
	json_object_object_add(obj, "MemoryMiB", json_object_new_uint64(p->memory_total_mib));
	json_object_object_add(obj, "FreeMemoryMiB", json_object_new_uint64(p->memory_free_mib));
	json_object_object_add(obj, "UsedMemoryMiB", json_object_new_uint64(p->memory_used_mib));
	json_object_object_add(obj, "PageSizeBytes", json_object_new_uint64(p->page_size_bytes));
	add_string(obj, "IsolationMode", p->isolation_mode);
	holdings = json_object_new_array();
	for (size_t i = 0; holdings && i < p->n_holdings; i++) {
		const Enclaved__V1__PoolHolding *h = p->holdings[i];
		struct json_object *ho = json_object_new_object();
		add_string(ho, "EnclaveID", h->enclave_id);
		json_object_object_add(ho, "CPUIDs", ctl_json_cpu_ids(h->n_cpu_ids, h->cpu_ids));
		json_object_object_add(ho, "MemoryMiB", json_object_new_uint64(h->memory_mib));
		json_object_array_add(holdings, ho);
	}
	json_object_object_add(obj, "Enclaves", holdings);
	return obj;
}
