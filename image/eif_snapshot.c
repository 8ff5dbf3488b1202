/* A private, immutable copy of an image, so that the bytes the daemon measures are the bytes
 * the VMM loads: an image file its owner can still write could be changed between the two, and
 * the enclave would then attest to one image while running another. */
#include "config.h"

#include "image/eif.h"

#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define SNAPSHOT_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

int eif_snapshot(int fd, uint64_t size, int *out)
{
	_cleanup_close_ int copy = memfd_create("enclave-eif", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	off_t from = 0;

	if (copy < 0)
		return -errno;
	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	/* In the kernel, page cache to page cache: no trip through user space. */
	while ((uint64_t)from < size) {
		size_t want = (size_t)UTIL_MIN(size - (uint64_t)from, (uint64_t)(1u << 30));
		ssize_t n = sendfile(copy, fd, &from, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA; /* the file shrank under us */
	}
	if (fcntl(copy, F_ADD_SEALS, SNAPSHOT_SEALS) < 0 || lseek(copy, 0, SEEK_SET) < 0)
		return -errno;
	*out = util_steal_fd(&copy);
	return 0;
}
