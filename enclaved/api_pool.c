/* enclaved.v1.Pool: reading the CPU and memory pool (members) and resizing it (root). */
#include "config.h"

#include "enclaved/api.h"

#include "common/util.h"

const struct api_method api_pool_methods[] = {
    {API_SERVICE_POOL, "Get", AUTHZ_NEED_MEMBER, api_unimplemented},
    {API_SERVICE_POOL, "Resize", AUTHZ_NEED_ROOT, api_unimplemented},
};
const size_t api_pool_n_methods = UTIL_ARRAY_SIZE(api_pool_methods);
