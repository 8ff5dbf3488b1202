/* newc ("070701") cpio writer for initramfs images, streamed to a file descriptor.
 * Reproducible: inode numbers are assigned in order, mtimes are 0, nlink is 1 (2 for dirs). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

struct cpio_writer {
	int fd;
	uint64_t offset;
	uint32_t next_ino;
};

void cpio_init(struct cpio_writer *w, int fd);
/* name is relative (no leading '/'); mode includes the file type bits. */
int cpio_add_dir(struct cpio_writer *w, const char *name, mode_t mode, uid_t uid, gid_t gid);
int cpio_add_file(struct cpio_writer *w, const char *name, mode_t mode, uid_t uid, gid_t gid,
		  const void *data, size_t len);
/* Copy exactly size bytes from src_fd at src_off (pread). */
int cpio_add_file_fd(struct cpio_writer *w, const char *name, mode_t mode, uid_t uid, gid_t gid,
		     int src_fd, uint64_t src_off, uint64_t size);
int cpio_add_symlink(struct cpio_writer *w, const char *name, const char *target, uid_t uid,
		     gid_t gid);
/* Character/block devices, fifos, sockets: no data. */
int cpio_add_node(struct cpio_writer *w, const char *name, mode_t mode, uid_t uid, gid_t gid,
		  dev_t rdev);
/* Write the TRAILER!!! entry. */
int cpio_finish(struct cpio_writer *w);
