// clang-format off
// fuzz-sources: vmm/channel.c vmm/channel_adopt.c proto/vmm.pb-c.c common/util.c common/log.c
// fuzz-pkgs: libprotobuf-c libsystemd
// clang-format on
/* The VMM's decoding of what enclaved sends (vmm.proto DaemonMessage): the first byte picks
 * the path, the rest is one SOCK_SEQPACKET packet.
 *   even: vmm_channel_recv_config (the Config, with 1 or 2 fds by SCM_RIGHTS per bit 1);
 *   odd:  a message on a running channel (Ping, Terminate, NsmResponse, SetRequestedSize)
 *         through the handler vmm_channel_new registers with the event loop.
 * The event loop and vmm_end are stand-ins that record what reached them. */
#include "config.h"

#include "common/log.h"
#include "vmm/channel.h"
#include "vmm/event.h"
#include "vmm/vmm.h"
#include "vmm/vsock.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static vmm_event_fd_fn registered_fn;
static void *registered_opaque;
static int ended;

int vmm_event_add_fd(struct vmm_event_loop *loop, int fd, uint32_t events, vmm_event_fd_fn fn,
		     void *opaque)
{
	(void)loop, (void)fd, (void)events;
	registered_fn = fn;
	registered_opaque = opaque;
	return 0;
}

int vmm_event_del_fd(struct vmm_event_loop *loop, int fd)
{
	(void)loop, (void)fd;
	return 0;
}

void vmm_end(struct vmm *vmm, enum vmm_exit code, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	(void)vmm, (void)code;
	ended++;
}

/* The vsock device is not linked: its counters as a device that has seen some traffic. */
int vsock_device_stats(struct vsock_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->connections = 2;
	out->counters[VSOCK_CNT_CONNS_OPENED] = 3;
	out->counters[VSOCK_CNT_BAD_LEN] = 1;
	return 0;
}

const char *vsock_counter_name(enum vsock_counter counter)
{
	return counter == VSOCK_CNT_BAD_LEN ? "bad_len" : "conns_opened";
}

static int send_with_fds(int fd, const uint8_t *data, size_t size, unsigned nfds)
{
	char control[CMSG_SPACE(2 * sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)data, .iov_len = size};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	int fds[2];

	for (unsigned i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nfds) {
		struct cmsghdr *c;
		msg.msg_control = control;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ssize_t n = sendmsg(fd, &msg, 0);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	return n == (ssize_t)size ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct vmm *vmm;
	int sv[2];

	if (size < 1 || size - 1 > VMM_CHANNEL_MAX_PACKET)
		return 0;
	if (!quiet) {
		log_set_level(LOG_LEVEL_ERROR);
		quiet = true;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	vmm = calloc(1, sizeof(*vmm));
	if (!vmm)
		abort();
	if (!(data[0] & 1)) {
		struct vmm_config cfg;
		char eif_path[4096];
		int mem_fd = -1, eif_fd = -1;
		if (send_with_fds(sv[1], data + 1, size - 1, 1 + ((data[0] >> 1) & 1)) < 0)
			abort();
		if (vmm_channel_recv_config(sv[0], &cfg, &mem_fd, &eif_fd, eif_path,
					    sizeof(eif_path)) == 0) {
			if (mem_fd < 0 || strnlen(eif_path, sizeof(eif_path)) == sizeof(eif_path) ||
			    cfg.nr_vcpus == 0 || cfg.nr_vcpus > VMM_MAX_VCPUS)
				abort(); /* accepted, so it must be whole */
			close(mem_fd);
			if (eif_fd >= 0)
				close(eif_fd);
		}
		close(sv[0]);
	} else {
		vmm->config.debug = data[0] & 2;
		if (vmm_channel_new(vmm, sv[0]) < 0)
			abort();
		if (send_with_fds(sv[1], data + 1, size - 1, (data[0] >> 2) & 1) < 0)
			abort();
		registered_fn(sv[0], EPOLLIN, registered_opaque);
		vmm_channel_free(vmm);
	}
	close(sv[1]);
	free(vmm);
	return 0;
}
