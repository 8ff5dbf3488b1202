/* enclaved.v1.System: Version, Health, GetRootCertificate. */
#include "config.h"

#include "enclaved/api.h"

#include "common/util.h"
#include "enclaved/attestation.h"
#include "proto/enclaved.pb-c.h"

#include <string.h>
#include <unistd.h>

static void system_version(struct enclaved *d, struct rpc_call *call,
			   const struct api_caller *caller, const struct api_method *method,
			   const uint8_t *payload, size_t len)
{
	Enclaved__V1__VersionResponse resp = ENCLAVED__V1__VERSION_RESPONSE__INIT;
	ProtobufCMessage *req =
	    api_unpack(call, &enclaved__v1__version_request__descriptor, payload, len);

	if (!req)
		return;
	protobuf_c_message_free_unpacked(req, NULL);
	resp.daemon_version = (char *)PACKAGE_VERSION;
	resp.api_version = (char *)API_PACKAGE;
	resp.git_describe = (char *)enclaved_git_describe;
	/* Probed again so that a /dev/kvm that appeared or vanished since start shows. */
	resp.kvm_api_version = enclaved_probe_kvm();
	api_reply(call, &resp.base);
}

static void system_health(struct enclaved *d, struct rpc_call *call,
			  const struct api_caller *caller, const struct api_method *method,
			  const uint8_t *payload, size_t len)
{
	Enclaved__V1__HealthResponse resp = ENCLAVED__V1__HEALTH_RESPONSE__INIT;
	ProtobufCMessage *req =
	    api_unpack(call, &enclaved__v1__health_request__descriptor, payload, len);
	_cleanup_free_ char *status = NULL;

	if (!req)
		return;
	protobuf_c_message_free_unpacked(req, NULL);
	status = enclaved_status_line(d);
	resp.uptime_ns = util_now_monotonic_ns() - d->started_monotonic_ns;
	resp.connection_count = (uint32_t)rpc_server_connection_count(d->server);
	resp.kvm_available = enclaved_probe_kvm() >= 0;
	resp.enclave_count = (uint32_t)d->registry.n_enclaves;
	resp.status = status ? status : (char *)"";
	resp.pid = (int32_t)getpid();
	api_reply(call, &resp.base);
}

/* The root of the attestation PKI, for verifiers to pin (enclavectl pki root). */
static void system_get_root_certificate(struct enclaved *d, struct rpc_call *call,
					const struct api_caller *caller,
					const struct api_method *method, const uint8_t *payload,
					size_t len)
{
	Enclaved__V1__GetRootCertificateResponse resp =
	    ENCLAVED__V1__GET_ROOT_CERTIFICATE_RESPONSE__INIT;
	ProtobufCMessage *req =
	    api_unpack(call, &enclaved__v1__get_root_certificate_request__descriptor, payload, len);
	uint8_t fingerprint[PCR_DIGEST_LEN];
	_cleanup_free_ char *pem = NULL;
	int r;

	if (!req)
		return;
	protobuf_c_message_free_unpacked(req, NULL);
	r = attestation_root_pem(d, &pem, fingerprint);
	if (r < 0) {
		rpc_call_fail(call, r == -EAGAIN ? RPC_UNAVAILABLE : RPC_INTERNAL,
			      "attestation PKI unavailable: %s",
			      r == -EAGAIN ? "not set up at daemon start" : strerror(-r));
		return;
	}
	resp.certificate_pem = pem;
	resp.fingerprint_sha384.data = fingerprint;
	resp.fingerprint_sha384.len = sizeof(fingerprint);
	api_reply(call, &resp.base);
}

const struct api_method api_system_methods[] = {
    {API_SERVICE_SYSTEM, "Version", AUTHZ_NEED_MEMBER, system_version},
    {API_SERVICE_SYSTEM, "Health", AUTHZ_NEED_MEMBER, system_health},
    {API_SERVICE_SYSTEM, "GetRootCertificate", AUTHZ_NEED_MEMBER, system_get_root_certificate},
};
const size_t api_system_n_methods = UTIL_ARRAY_SIZE(api_system_methods);
