#include "config.h"

#include "vmm/vsock_bridge.h"

#include "common/log.h"
#include "common/util.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

int vsock_bridge_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char keyword[] = "CONNECT ";
	const size_t kw_len = sizeof(keyword) - 1;
	uint64_t value = 0;
	size_t i;

	if (len > VSOCK_BRIDGE_LINE_MAX) {
		log_debug("vsock: CONNECT line of %zu bytes exceeds %u", len,
			  VSOCK_BRIDGE_LINE_MAX);
		return -EINVAL;
	}
	if (len == 0 || line[len - 1] != '\n') {
		log_debug("vsock: CONNECT line does not end in a newline");
		return -EINVAL;
	}
	if (len < kw_len + 2 || strncasecmp(line, keyword, kw_len) != 0) {
		log_debug("vsock: line does not start with 'CONNECT '");
		return -EINVAL;
	}
	for (i = kw_len; i < len - 1; i++) {
		if (!isdigit((unsigned char)line[i])) {
			log_debug("vsock: CONNECT port has a non-digit at offset %zu (0x%02x)", i,
				  (unsigned char)line[i]);
			return -EINVAL;
		}
		value = value * 10 + (uint64_t)(line[i] - '0');
		if (value > UINT32_MAX) {
			log_debug("vsock: CONNECT port exceeds 2^32-1");
			return -EINVAL;
		}
	}
	*port = (uint32_t)value;
	return 0;
}

int vsock_bridge_format_ok(uint32_t host_port, char *buf, size_t size)
{
	int n = snprintf(buf, size, "OK %u\n", host_port);

	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	return n;
}

void vsock_port_alloc_init(struct vsock_port_alloc *alloc)
{
	alloc->next = VSOCK_HOST_PORT_FIRST;
}

uint32_t vsock_port_alloc_next(struct vsock_port_alloc *alloc)
{
	uint32_t port = alloc->next;

	if (port < VSOCK_HOST_PORT_FIRST || port >= VSOCK_HOST_PORT_END)
		port = VSOCK_HOST_PORT_FIRST;
	alloc->next = port + 1 >= VSOCK_HOST_PORT_END ? VSOCK_HOST_PORT_FIRST : port + 1;
	return port;
}

int vsock_bridge_path(const char *dir, int64_t port, char *buf, size_t size)
{
	int n;

	if (port < 0)
		n = snprintf(buf, size, "%s/%s", dir, VSOCK_BRIDGE_SOCK_NAME);
	else
		n = snprintf(buf, size, "%s/%s_%" PRId64, dir, VSOCK_BRIDGE_SOCK_NAME, port);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

static int make_addr(const char *dir, int64_t port, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	return vsock_bridge_path(dir, port, addr->sun_path, sizeof(addr->sun_path));
}

int vsock_bridge_listen(const char *dir, uid_t uid, gid_t gid, mode_t mode, int *out_fd)
{
	struct sockaddr_un addr;
	_cleanup_close_ int fd = -1;
	mode_t old_mask;
	int r;

	r = make_addr(dir, -1, &addr);
	if (r < 0) {
		log_error("vsock: socket path under '%s' is too long", dir);
		return r;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (unlink(addr.sun_path) < 0 && errno != ENOENT)
		return -errno;
	/* Create the file without any group/other access so nobody can connect before the
	 * chown/chmod below; umask is process-wide but only file creation reads it. */
	old_mask = umask(0177);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (r < 0) {
		r = -errno;
		log_error("vsock: bind %s: %s", addr.sun_path, strerror(-r));
		return r;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(addr.sun_path, uid, gid) < 0) {
		r = -errno;
		log_error("vsock: chown %s to %d:%d: %s", addr.sun_path, (int)uid, (int)gid,
			  strerror(-r));
		unlink(addr.sun_path);
		return r;
	}
	if (chmod(addr.sun_path, mode & 0660) < 0) {
		r = -errno;
		unlink(addr.sun_path);
		return r;
	}
	if (listen(fd, 128) < 0) {
		r = -errno;
		unlink(addr.sun_path);
		return r;
	}
	*out_fd = util_steal_fd(&fd);
	return 0;
}

int vsock_bridge_connect_port(const char *dir, uint32_t port, int *out_fd)
{
	struct sockaddr_un addr;
	_cleanup_close_ int fd = -1;
	int r;

	r = make_addr(dir, port, &addr);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix stream connect completes at once or fails at once; it never returns EINPROGRESS.
	 */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	*out_fd = util_steal_fd(&fd);
	return 0;
}
