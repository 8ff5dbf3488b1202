/* The EIF metadata section (type 5): the JSON nitro-cli's builder writes (EifIdentityInfo),
 * not measured by any PCR. */
#pragma once

#include <stddef.h>

struct eif_metadata_info {
	const char *name;	    /* ImageName */
	const char *version;	    /* ImageVersion */
	const char *kernel_version; /* BuildMetadata.KernelVersion; NULL: "Unknown" */
	const char *custom_json;    /* CustomMetadata: a JSON text of at most 4096 bytes, or NULL */
	const char *docker_json;    /* DockerInfo: a JSON text (image config), or NULL */
};

#define EIF_METADATA_MAX_CUSTOM 4096

/* Build compact JSON: ImageName, ImageVersion, BuildMetadata {BuildTime, BuildTool,
 * BuildToolVersion, OperatingSystem, KernelVersion}, DockerInfo, CustomMetadata. BuildTime is
 * SOURCE_DATE_EPOCH when set (reproducible builds), else now, as RFC 3339 UTC. */
int eif_metadata_build(const struct eif_metadata_info *in, char **out, char *err, size_t errlen);

/* The kernel release string of an x86 bzImage (setup header kernel_version), or -ENOENT. */
int eif_kernel_version(int kernel_fd, char *out, size_t out_len);
