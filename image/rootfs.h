/* The customer ramdisk Nitro's init expects: the application's root filesystem under
 * /rootfs, its argv in /cmd and its environment in /env (one entry per line, each ending in
 * \n), as an uncompressed newc cpio. Built from a directory or from an OCI archive (`docker
 * save` output or an OCI image layout, as a tar), without any container daemon. */
#pragma once

#include <stddef.h>

struct rootfs_opts {
	const char *dir;	 /* either a directory ... */
	const char *oci_archive; /* ... or an archive */
	const char *const *cmd;	 /* /cmd lines; NULL/0: the image config's Entrypoint + Cmd */
	unsigned n_cmd;
	const char *const *env; /* /env lines; the image config's Env come first */
	unsigned n_env;
	const char *spool_dir; /* where large temporary files go (unlinked at once) */
};

/* Write the ramdisk to out_fd. When the source is an OCI archive and config_json is not NULL,
 * *config_json receives the image config (malloc'ed JSON text, for the DockerInfo metadata).
 * err names the problem (entry, layer, field). */
int rootfs_build_ramdisk(const struct rootfs_opts *opts, int out_fd, char **config_json, char *err,
			 size_t errlen);
