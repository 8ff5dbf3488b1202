/* The in-memory tree rootfs builders assemble before writing the cpio: directories,
 * whiteouts and layer order are resolved here, file contents stay on disk (a source path or
 * a range of a spool file). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ROOTFS_MAX_DEPTH   128
#define ROOTFS_MAX_ENTRIES (1U << 20)
#define ROOTFS_MAX_PATH	   4096

struct rnode {
	char *name;
	mode_t mode; /* with type bits */
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	char *link;	/* symlink target */
	char *src_path; /* regular file from a directory */
	int src_fd;	/* regular file from a spool: fd, offset, size */
	uint64_t src_off;
	uint64_t size;
	unsigned layer;
	struct rnode **children;
	size_t n_children, cap;
};

struct rtree {
	struct rnode root;
	unsigned n_entries;
};

void rtree_init(struct rtree *t);
void rtree_free(struct rtree *t);
/* Normalise a relative archive path in place: strips "./" and "/", rejects "..". Returns
 * -EINVAL for a path that escapes or is too long/deep; an empty result means the root. */
int rtree_normalize(char *path);
/* Find or create path's node (parents created as 0755 root directories). Replaces an existing
 * node of another type. *created tells whether it is new. */
int rtree_put(struct rtree *t, const char *path, mode_t mode, unsigned layer, struct rnode **out);
struct rnode *rtree_lookup(struct rtree *t, const char *path);
/* Remove path (and its subtree) if present. */
void rtree_remove(struct rtree *t, const char *path);
/* Remove the children of path added by layers before layer (an opaque whiteout). */
void rtree_clear_lower(struct rtree *t, const char *path, unsigned layer);

/* Apply an OCI archive's layers to the tree; the file data goes to spool_fd. */
int rootfs_oci_load(struct rtree *t, const char *archive, int spool_fd, char **config_json,
		    char *err, size_t errlen);
