/* Private to vmm/channel.c (daemon channel, events, NSM forwarding) and vmm/channel_adopt.c
 * (control.sock: re-adoption by a restarted enclaved). Not for the rest of the VMM. */
#pragma once

#include "proto/vmm.pb-c.h"
#include "vmm/channel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#define CHANNEL_MAX_FDS	    2
#define CHANNEL_MAX_PENDING 64

struct nsm_pending {
	uint64_t id; /* 0 = free slot */
	vmm_nsm_reply_fn cb;
	void *opaque;
	/* Kept until answered: re-sent to a re-adopting daemon (at most 64 x 64 KiB). */
	uint8_t *req;
	size_t len;
	bool sent;
};

struct vmm_channel {
	struct vmm *vmm;
	int fd;	       /* the attached daemon, -1 while detached */
	int listen_fd; /* control.sock, -1 without one */
	int cand_fd;   /* a connected daemon that has not sent Adopt yet */
	int exit_fd;   /* <runtime_dir>/vmm-exit: why the enclave ended, if no daemon heard it */
	char control_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t next_id;
	struct nsm_pending pending[CHANNEL_MAX_PENDING];
	/* What a re-adopting daemon must learn. */
	bool heartbeat;
	uint64_t plugged, requested;
	uint8_t tail[VMM_CHANNEL_CONSOLE_TAIL];
	uint64_t tail_total;
};

/* Receive one packet with up to CHANNEL_MAX_FDS fds. Returns its length, 0 at EOF. */
ssize_t vmm_channel_recv_packet(int fd, uint8_t *buf, size_t size, int *fds, unsigned *nfds,
				int flags);
int vmm_channel_send_msg(struct vmm_channel *ch, const Enclaved__Vmm__VmmMessage *m, int flags);
/* The kept console bytes in order, into buf (VMM_CHANNEL_CONSOLE_TAIL bytes). */
size_t vmm_channel_tail_copy(const struct vmm_channel *ch, uint8_t *buf);
/* Send the NSM requests still unanswered to a daemon that just adopted the enclave. */
void vmm_channel_resend_pending(struct vmm_channel *ch);
/* The attached daemon went away: detach, keep the enclave running. */
void vmm_channel_closed(struct vmm_channel *ch);
/* Event-loop callback of the attached daemon's socket. */
void vmm_channel_readable(int fd, uint32_t events, void *opaque);
/* Forget a connected daemon that has not sent Adopt (no-op without one). */
void vmm_channel_drop_candidate(struct vmm_channel *ch);
