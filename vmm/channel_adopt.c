/* Re-adoption: <runtime_dir>/control.sock, where a restarted enclaved takes over a running
 * enclave (Adopt with a newer generation, answered by AdoptState), and <runtime_dir>/vmm-exit,
 * the exit record left when the enclave ends while no daemon is attached. */
#include "config.h"

#include "vmm/channel_internal.h"

#include "common/log.h"
#include "common/util.h"
#include "proto/vmm.pb-c.h"
#include "vmm/event.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

void vmm_channel_drop_candidate(struct vmm_channel *ch)
{
	if (ch->cand_fd < 0)
		return;
	(void)vmm_event_del_fd(ch->vmm->loop, ch->cand_fd);
	close(ch->cand_fd);
	ch->cand_fd = -1;
}

static int send_adopt_state(struct vmm_channel *ch, uint64_t previous)
{
	Enclaved__Vmm__VmmMessage m = ENCLAVED__VMM__VMM_MESSAGE__INIT;
	Enclaved__Vmm__AdoptState st = ENCLAVED__VMM__ADOPT_STATE__INIT;
	const struct vmm_config *cfg = &ch->vmm->config;
	uint32_t cpus[VMM_MAX_VCPUS];
	_cleanup_free_ uint8_t *tail = malloc(VMM_CHANNEL_CONSOLE_TAIL);
	unsigned waiting = 0;

	if (!tail)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->nr_vcpus; i++)
		cpus[i] = cfg->vcpu_cpus[i] < 0 ? UINT32_MAX : (uint32_t)cfg->vcpu_cpus[i];
	for (unsigned i = 0; i < CHANNEL_MAX_PENDING; i++)
		waiting += ch->pending[i].id != 0;
	st.enclave_id = (char *)cfg->enclave_id;
	st.cid = cfg->cid;
	st.memory_bytes = cfg->memory_bytes;
	st.max_memory_bytes = cfg->max_memory_bytes;
	st.cpu_ids = cpus;
	st.n_cpu_ids = cfg->nr_vcpus;
	st.guest_state = ch->heartbeat ? ENCLAVED__VMM__ADOPT_STATE__GUEST_STATE__RUNNING
				       : ENCLAVED__VMM__ADOPT_STATE__GUEST_STATE__BOOTING;
	st.generation = cfg->generation;
	st.previous_generation = previous;
	st.plugged = ch->plugged;
	st.requested = ch->requested;
	st.console_tail.data = tail;
	st.console_tail.len = cfg->debug ? vmm_channel_tail_copy(ch, tail) : 0;
	st.nsm_waiting = waiting;
	m.msg_case = ENCLAVED__VMM__VMM_MESSAGE__MSG_ADOPT_STATE;
	m.adopt_state = &st;
	return vmm_channel_send_msg(ch, &m, 0);
}

/* The candidate's first packet must be Adopt with a newer generation; then it is the daemon. */
static void candidate_readable(int fd, uint32_t events, void *opaque)
{
	struct vmm_channel *ch = opaque;
	_cleanup_free_ uint8_t *buf = malloc(VMM_CHANNEL_MAX_PACKET);
	Enclaved__Vmm__DaemonMessage *m = NULL;
	uint64_t previous = ch->vmm->config.generation;
	int fds[CHANNEL_MAX_FDS];
	unsigned nfds;
	ssize_t n;
	int r;

	if (!buf)
		return;
	n = vmm_channel_recv_packet(fd, buf, VMM_CHANNEL_MAX_PACKET, fds, &nfds, MSG_DONTWAIT);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		log_warn("control: connection closed before Adopt");
		vmm_channel_drop_candidate(ch);
		return;
	}
	m = enclaved__vmm__daemon_message__unpack(NULL, (size_t)n, buf);
	if (!m || m->msg_case != ENCLAVED__VMM__DAEMON_MESSAGE__MSG_ADOPT) {
		log_warn("control: first message (%zd bytes) is not an Adopt: refused", n);
		goto refuse;
	}
	if (m->adopt->generation <= previous) {
		log_warn("control: Adopt generation %llu is not above %llu: refused",
			 (unsigned long long)m->adopt->generation, (unsigned long long)previous);
		goto refuse;
	}
	(void)vmm_event_del_fd(ch->vmm->loop, fd);
	ch->cand_fd = -1;
	r = vmm_event_add_fd(ch->vmm->loop, fd, EPOLLIN, vmm_channel_readable, ch);
	if (r < 0) {
		log_warn("control: cannot watch the adopting daemon: %s", strerror(-r));
		close(fd);
		goto out;
	}
	ch->fd = fd;
	ch->vmm->config.generation = m->adopt->generation;
	r = send_adopt_state(ch, previous);
	if (r < 0) {
		log_warn("control: cannot send AdoptState: %s", strerror(-r));
		vmm_channel_closed(ch);
		goto out;
	}
	log_info("control: adopted by enclaved, generation %llu (was %llu)",
		 (unsigned long long)ch->vmm->config.generation, (unsigned long long)previous);
	vmm_channel_resend_pending(ch);
	goto out;
refuse:
	vmm_channel_drop_candidate(ch);
out:
	if (m)
		enclaved__vmm__daemon_message__free_unpacked(m, NULL);
}

static void control_acceptable(int fd, uint32_t events, void *opaque)
{
	struct vmm_channel *ch = opaque;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (c < 0)
		return;
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != 0) {
		log_warn("control: connection from uid %d refused (root only)",
			 cl == sizeof(cred) ? (int)cred.uid : -1);
		close(c);
		return;
	}
	if (ch->fd >= 0) {
		/* One daemon at a time: the attached one stays. */
		log_warn("control: connection from pid %d refused: a daemon is attached",
			 (int)cred.pid);
		close(c);
		return;
	}
	vmm_channel_drop_candidate(ch); /* a newer candidate replaces one that never said Adopt */
	if (vmm_event_add_fd(ch->vmm->loop, c, EPOLLIN, candidate_readable, ch) < 0) {
		close(c);
		return;
	}
	ch->cand_fd = c;
}

int vmm_channel_listen(struct vmm *vmm)
{
	struct vmm_channel *ch = vmm->channel;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char exit_path[sizeof(vmm->config.runtime_dir) + 16];
	_cleanup_close_ int fd = -1;
	int r;

	if (!ch || !vmm->config.runtime_dir[0])
		return 0;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock",
			     vmm->config.runtime_dir) >= sizeof(sa.sun_path)) {
		log_warn("control: %s/control.sock is longer than %zu bytes: this enclave cannot "
			 "be re-adopted after an enclaved restart",
			 vmm->config.runtime_dir, sizeof(sa.sun_path) - 1);
		return 0;
	}
	snprintf(exit_path, sizeof(exit_path), "%s/vmm-exit", vmm->config.runtime_dir);
	/* The directory is the owner's: never follow or reuse what someone put there. */
	(void)unlink(exit_path);
	ch->exit_fd = open(exit_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (ch->exit_fd < 0)
		log_warn("control: %s: %m (an exit while enclaved is away goes unrecorded)",
			 exit_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0600) < 0 ||
	    listen(fd, 4) < 0) {
		r = -errno;
		log_error("control: %s: %s", sa.sun_path, strerror(-r));
		return r;
	}
	r = vmm_event_add_fd(vmm->loop, fd, EPOLLIN, control_acceptable, ch);
	if (r < 0)
		return r;
	snprintf(ch->control_path, sizeof(ch->control_path), "%s", sa.sun_path);
	ch->listen_fd = util_steal_fd(&fd);
	return 0;
}
