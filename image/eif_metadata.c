#include "config.h"

#include "image/eif_metadata.h"
#include "image/eif_internal.h"
#include "common/util.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include <time.h>

static int build_time(char *out, size_t len, char *err, size_t errlen)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	uint64_t epoch;
	struct tm tm;
	time_t t;

	if (sde) {
		if (util_parse_u64(sde, (uint64_t)INT32_MAX * 4, &epoch) < 0) {
			eif_errf(err, errlen, "SOURCE_DATE_EPOCH '%s' is not a decimal epoch", sde);
			return -EINVAL;
		}
		t = (time_t)epoch;
	} else {
		t = time(NULL);
	}
	if (!gmtime_r(&t, &tm) || strftime(out, len, "%Y-%m-%dT%H:%M:%S+00:00", &tm) == 0)
		return -ERANGE;
	return 0;
}

static int parse_json(const char *text, const char *what, struct json_object **out, char *err,
		      size_t errlen)
{
	enum json_tokener_error jerr = json_tokener_success;

	*out = json_tokener_parse_verbose(text, &jerr);
	if (!*out && jerr != json_tokener_success) {
		eif_errf(err, errlen, "%s is not valid JSON: %s", what,
			 json_tokener_error_desc(jerr));
		return -EINVAL;
	}
	return 0;
}

int eif_metadata_build(const struct eif_metadata_info *in, char **out, char *err, size_t errlen)
{
	struct json_object *root = json_object_new_object(), *bm = json_object_new_object();
	struct json_object *custom = NULL, *docker = NULL;
	char when[64];
	int r = -ENOMEM;

	if (!root || !bm)
		goto out;
	r = build_time(when, sizeof(when), err, errlen);
	if (r < 0)
		goto out;
	if (in->custom_json && strlen(in->custom_json) > EIF_METADATA_MAX_CUSTOM) {
		eif_errf(err, errlen, "custom metadata is %zu bytes, the limit is %d",
			 strlen(in->custom_json), EIF_METADATA_MAX_CUSTOM);
		r = -EFBIG;
		goto out;
	}
	if (in->custom_json &&
	    (r = parse_json(in->custom_json, "metadata file", &custom, err, errlen)) < 0)
		goto out;
	if (in->docker_json &&
	    (r = parse_json(in->docker_json, "image config", &docker, err, errlen)) < 0)
		goto out;
	json_object_object_add(root, "ImageName", json_object_new_string(in->name ? in->name : ""));
	json_object_object_add(root, "ImageVersion",
			       json_object_new_string(in->version ? in->version : "1.0"));
	json_object_object_add(bm, "BuildTime", json_object_new_string(when));
	json_object_object_add(bm, "BuildTool", json_object_new_string(PACKAGE_NAME));
	json_object_object_add(bm, "BuildToolVersion", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(bm, "OperatingSystem", json_object_new_string("Linux"));
	json_object_object_add(
	    bm, "KernelVersion",
	    json_object_new_string(in->kernel_version ? in->kernel_version : "Unknown"));
	json_object_object_add(root, "BuildMetadata", bm);
	bm = NULL;
	json_object_object_add(root, "DockerInfo", docker);
	docker = NULL;
	json_object_object_add(root, "CustomMetadata", custom);
	custom = NULL;
	*out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	r = *out ? 0 : -ENOMEM;
out:
	json_object_put(root);
	json_object_put(bm);
	json_object_put(custom);
	json_object_put(docker);
	return r;
}

int eif_kernel_version(int kernel_fd, char *out, size_t out_len)
{
	uint8_t hdr[0x210];
	uint16_t ptr;
	char buf[128];
	size_t n;
	int r;

	r = eif_pread_full(kernel_fd, hdr, sizeof(hdr), 0);
	if (r < 0)
		return -ENOENT;
	/* "HdrS" boot protocol signature; kernel_version is a pointer 0x200 below the string */
	if (memcmp(hdr + 0x202, "HdrS", 4) != 0)
		return -ENOENT;
	ptr = (uint16_t)(hdr[0x20e] | hdr[0x20f] << 8);
	if (ptr == 0)
		return -ENOENT;
	r = eif_pread_full(kernel_fd, buf, sizeof(buf) - 1, (uint64_t)ptr + 0x200);
	if (r < 0)
		return -ENOENT;
	buf[sizeof(buf) - 1] = 0;
	n = strcspn(buf, " ");
	for (size_t i = 0; i < n; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return -ENOENT;
	if (n == 0 || n >= out_len)
		return -ENOENT;
	memcpy(out, buf, n);
	out[n] = 0;
	return 0;
}
