/* Hugepage reservation through the per-node nr_hugepages knobs, verified against what the
 * kernel actually grants. */
#include "config.h"

#include "enclaved/pool-internal.h"

#include "common/log.h"
#include "common/util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int knob_path(char *buf, size_t len, const char *root, int node, uint64_t page_kib)
{
	/* Per node where the kernel has nodes; the global knob otherwise. */
	if (node >= 0)
		return pool_path(buf, len, root,
				 "/sys/devices/system/node/node%d/hugepages/hugepages-%" PRIu64
				 "kB/nr_hugepages",
				 node, page_kib);
	return pool_path(buf, len, root,
			 "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/nr_hugepages", page_kib);
}

bool pool_hugepages_supported(const char *sysfs_root, int node, uint64_t page_kib)
{
	char path[PATH_MAX];

	return knob_path(path, sizeof(path), sysfs_root, node, page_kib) == 0 &&
	       access(path, F_OK) == 0;
}

static int read_count(const char *path, uint64_t *nr)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = util_read_file(path, 64, &text, &len);

	if (r < 0)
		return r;
	if (len > 0 && text[len - 1] == '\n')
		text[len - 1] = '\0';
	return util_parse_u64(text, UINT64_MAX / 2, nr);
}

int pool_hugepages_count(const char *sysfs_root, int node, uint64_t page_kib, uint64_t *nr)
{
	char path[PATH_MAX];
	int r = knob_path(path, sizeof(path), sysfs_root, node, page_kib);

	return r < 0 ? r : read_count(path, nr);
}

static int write_count(const struct pool_hugepages_ctx *ctx, const char *path, uint64_t nr)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	char text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", nr);
	int r;

	if (fd < 0)
		return -errno;
	r = util_write_full(fd, text, (size_t)n);
	/* The kernel may refuse part of a request with an error, or silently grant less; either
	 * way the read-back decides. */
	if (r < 0 && r != -ENOMEM && r != -EINVAL)
		return r;
	if (ctx->after_write)
		ctx->after_write(path, ctx->userdata);
	return 0;
}

int pool_hugepages_adjust(const struct pool_hugepages_ctx *ctx, int node, uint64_t page_kib,
			  uint64_t old_ours, uint64_t new_ours, char **error)
{
	char path[PATH_MAX];
	uint64_t before, base, target, granted;
	int r;

	if (old_ours == new_ours)
		return 0;
	r = knob_path(path, sizeof(path), ctx->sysfs_root, node, page_kib);
	if (r < 0)
		return pool_fail(error, r, "sysfs root too long");
	r = read_count(path, &before);
	if (r < 0)
		return pool_fail(error, r, "%s: cannot read: %s", path, strerror(-r));
	/* Someone may have lowered the knob under us; never go below zero. */
	base = before >= old_ours ? before - old_ours : 0;
	target = base + new_ours;
	r = write_count(ctx, path, target);
	if (r < 0)
		return pool_fail(error, r, "%s: cannot write %" PRIu64 ": %s", path, target,
				 strerror(-r));
	r = read_count(path, &granted);
	if (r < 0)
		return pool_fail(error, r, "%s: cannot read back: %s", path, strerror(-r));
	if (granted >= target || new_ours < old_ours) {
		if (granted != target)
			log_warn("%s: asked for %" PRIu64 " pages, kernel keeps %" PRIu64, path,
				 target, granted);
		return 0;
	}
	/* A short grant is never success: put the knob back where it was. */
	r = write_count(ctx, path, before);
	if (r < 0)
		log_error("%s: rollback to %" PRIu64 " failed: %s", path, before, strerror(-r));
	else if (read_count(path, &base) == 0 && base != before)
		log_error("%s: rollback to %" PRIu64 " left %" PRIu64, path, before, base);
	return pool_fail(error, -ENOMEM,
			 "node %d: asked the kernel for %" PRIu64 " x %" PRIu64
			 " kB hugepages, it granted %" PRIu64 " (%" PRIu64 " MiB of %" PRIu64
			 " MiB); rolled back to %" PRIu64 " pages",
			 node, target - before, page_kib, granted > before ? granted - before : 0,
			 (granted > before ? granted - before : 0) * page_kib / 1024,
			 (target - before) * page_kib / 1024, before);
}
