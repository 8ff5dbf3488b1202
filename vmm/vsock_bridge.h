/* Host side of the vsock bridge (Firecracker's convention): the unix listener `vsock.sock`
 * that takes `CONNECT <port>\n` and answers `OK <hostport>\n`, the host port allocator, and
 * the non-blocking connect to `vsock.sock_<port>` for guest-initiated connections. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Longest CONNECT line accepted, newline included ("CONNECT 4294967295\n" is 19). */
#define VSOCK_BRIDGE_LINE_MAX  32u
#define VSOCK_BRIDGE_SOCK_NAME "vsock.sock"
#define VSOCK_HOST_PORT_FIRST  (1u << 30)
#define VSOCK_HOST_PORT_END    (1u << 31) /* exclusive */

/* Parse one complete line (len bytes, ending in '\n'): "CONNECT" in any case, one space, a
 * decimal port with no sign. -EINVAL with a message naming what is wrong. */
int vsock_bridge_parse_connect(const char *line, size_t len, uint32_t *port);

/* "OK <hostport>\n" into buf; returns its length or a negative errno. */
int vsock_bridge_format_ok(uint32_t host_port, char *buf, size_t size);

/* Round-robin host ports in [2^30, 2^31). */
struct vsock_port_alloc {
	uint32_t next;
};
void vsock_port_alloc_init(struct vsock_port_alloc *alloc);
uint32_t vsock_port_alloc_next(struct vsock_port_alloc *alloc);

/* Bind and listen on dir/vsock.sock (replacing a stale file), owned by uid:gid with mode
 * (0600 or 0660), non-blocking and close-on-exec. uid/gid (uid_t)-1 keep the creator's. */
int vsock_bridge_listen(const char *dir, uid_t uid, gid_t gid, mode_t mode, int *out_fd);

/* Non-blocking connect to dir/vsock.sock_<port>. 0 and *out_fd on success; -ECONNREFUSED,
 * -ENOENT, -EAGAIN (backlog full) when nobody takes it. */
int vsock_bridge_connect_port(const char *dir, uint32_t port, int *out_fd);

/* Path of dir/vsock.sock[_port] into a sockaddr_un-sized buffer; -ENAMETOOLONG if it does not
 * fit. port < 0 means the listener itself. */
int vsock_bridge_path(const char *dir, int64_t port, char *buf, size_t size);
