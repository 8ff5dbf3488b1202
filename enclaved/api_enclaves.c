/* enclaved.v1.Enclaves: the enclave lifecycle (api_run.c, api_query.c, api_terminate.c,
 * api_console.c). Members may call all of these; handlers act only on enclaves the caller
 * owns (root: all) and filter List to them. */
#include "config.h"

#include "enclaved/api_attest.h"
#include "enclaved/api_enclaves.h"
#include "enclaved/api_events.h"

#include "common/util.h"

const struct api_method api_enclaves_methods[] = {
    {API_SERVICE_ENCLAVES, "Run", AUTHZ_NEED_MEMBER, api_enclaves_run},
    {API_SERVICE_ENCLAVES, "Describe", AUTHZ_NEED_MEMBER, api_enclaves_describe},
    {API_SERVICE_ENCLAVES, "List", AUTHZ_NEED_MEMBER, api_enclaves_list},
    {API_SERVICE_ENCLAVES, "Terminate", AUTHZ_NEED_MEMBER, api_enclaves_terminate},
    {API_SERVICE_ENCLAVES, "Resize", AUTHZ_NEED_MEMBER, api_enclaves_resize},
    {API_SERVICE_ENCLAVES, "Attest", AUTHZ_NEED_MEMBER, api_enclaves_attest},
    {API_SERVICE_ENCLAVES, "Console", AUTHZ_NEED_MEMBER, api_enclaves_console},
    {API_SERVICE_ENCLAVES, "Events", AUTHZ_NEED_MEMBER, api_enclaves_events},
};
const size_t api_enclaves_n_methods = UTIL_ARRAY_SIZE(api_enclaves_methods);
