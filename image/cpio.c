#include "config.h"

#include "image/cpio.h"
#include "image/eif_internal.h"
#include "common/util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define CPIO_CHUNK    (256 * 1024)
#define CPIO_MAX_NAME 4096

void cpio_init(struct cpio_writer *w, int fd)
{
	w->fd = fd;
	w->offset = 0;
	w->next_ino = 1;
}

static int put(struct cpio_writer *w, const void *data, size_t len)
{
	int r = util_write_full(w->fd, data, len);

	if (r == 0)
		w->offset += len;
	return r;
}

static int pad4(struct cpio_writer *w)
{
	static const uint8_t zeros[4];
	size_t n = (size_t)((4 - (w->offset & 3)) & 3);

	return n ? put(w, zeros, n) : 0;
}

static int header(struct cpio_writer *w, const char *name, mode_t mode, uid_t uid, gid_t gid,
		  uint32_t nlink, uint64_t size, dev_t rdev)
{
	char hdr[111];
	size_t namesize = strlen(name) + 1;
	int r;

	if (namesize > CPIO_MAX_NAME || size > UINT32_MAX)
		return -ENAMETOOLONG;
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 strcmp(name, "TRAILER!!!") ? w->next_ino++ : 0, (unsigned)mode, (unsigned)uid,
		 (unsigned)gid, nlink, 0u, (unsigned)size, 0u, 0u, major(rdev), minor(rdev),
		 (unsigned)namesize, 0u);
	r = put(w, hdr, 110);
	if (r == 0)
		r = put(w, name, namesize);
	if (r == 0)
		r = pad4(w);
	return r;
}

int cpio_add_dir(struct cpio_writer *w, const char *name, mode_t mode, uid_t uid, gid_t gid)
{
	return header(w, name, S_IFDIR | (mode & 07777), uid, gid, 2, 0, 0);
}

int cpio_add_file(struct cpio_writer *w, const char *name, mode_t mode, uid_t uid, gid_t gid,
		  const void *data, size_t len)
{
	int r = header(w, name, S_IFREG | (mode & 07777), uid, gid, 1, len, 0);

	if (r == 0)
		r = put(w, data, len);
	if (r == 0)
		r = pad4(w);
	return r;
}

int cpio_add_file_fd(struct cpio_writer *w, const char *name, mode_t mode, uid_t uid, gid_t gid,
		     int src_fd, uint64_t src_off, uint64_t size)
{
	_cleanup_free_ uint8_t *buf = NULL;
	int r = header(w, name, S_IFREG | (mode & 07777), uid, gid, 1, size, 0);

	if (r < 0)
		return r;
	buf = malloc(CPIO_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < size;) {
		size_t n = (size_t)UTIL_MIN((uint64_t)CPIO_CHUNK, size - off);
		r = eif_pread_full(src_fd, buf, n, src_off + off);
		if (r == 0)
			r = put(w, buf, n);
		if (r < 0)
			return r;
		off += n;
	}
	return pad4(w);
}

int cpio_add_symlink(struct cpio_writer *w, const char *name, const char *target, uid_t uid,
		     gid_t gid)
{
	size_t len = strlen(target);
	int r = header(w, name, S_IFLNK | 0777, uid, gid, 1, len, 0);

	if (r == 0)
		r = put(w, target, len);
	if (r == 0)
		r = pad4(w);
	return r;
}

int cpio_add_node(struct cpio_writer *w, const char *name, mode_t mode, uid_t uid, gid_t gid,
		  dev_t rdev)
{
	if (S_ISREG(mode) || S_ISDIR(mode) || S_ISLNK(mode))
		return -EINVAL;
	return header(w, name, mode, uid, gid, 1, 0, rdev);
}

int cpio_finish(struct cpio_writer *w)
{
	return header(w, "TRAILER!!!", 0, 0, 0, 1, 0, 0);
}
