/* enclaved.v1.Images: describing and measuring EIF files the daemon can read. */
#include "config.h"

#include "enclaved/api.h"

#include "common/util.h"

const struct api_method api_images_methods[] = {
    {API_SERVICE_IMAGES, "Describe", AUTHZ_NEED_MEMBER, api_unimplemented},
    {API_SERVICE_IMAGES, "Measure", AUTHZ_NEED_MEMBER, api_unimplemented},
};
const size_t api_images_n_methods = UTIL_ARRAY_SIZE(api_images_methods);
