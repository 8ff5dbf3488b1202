/* enclaved.v1.Enclaves: the enclave lifecycle. Handlers land with the lifecycle, attestation
 * and console issues; until then every method answers UNIMPLEMENTED.
 * Members may call all of these; handlers must check authz_may_manage() against the enclave's
 * owner before acting on an existing enclave, and filter List/Events to what the caller owns. */
#include "config.h"

#include "enclaved/api.h"

#include "common/util.h"

const struct api_method api_enclaves_methods[] = {
    {API_SERVICE_ENCLAVES, "Run", AUTHZ_NEED_MEMBER, api_unimplemented},
    {API_SERVICE_ENCLAVES, "Describe", AUTHZ_NEED_MEMBER, api_unimplemented},
    {API_SERVICE_ENCLAVES, "List", AUTHZ_NEED_MEMBER, api_unimplemented},
    {API_SERVICE_ENCLAVES, "Terminate", AUTHZ_NEED_MEMBER, api_unimplemented},
    {API_SERVICE_ENCLAVES, "Resize", AUTHZ_NEED_MEMBER, api_unimplemented},
    {API_SERVICE_ENCLAVES, "Attest", AUTHZ_NEED_MEMBER, api_unimplemented},
    {API_SERVICE_ENCLAVES, "Console", AUTHZ_NEED_MEMBER, api_unimplemented},
    {API_SERVICE_ENCLAVES, "Events", AUTHZ_NEED_MEMBER, api_unimplemented},
};
const size_t api_enclaves_n_methods = UTIL_ARRAY_SIZE(api_enclaves_methods);
