#include "config.h"

#include "enclaved/vmm_process.h"

#include "enclaved/enclave.h"
#include "enclaved/enclave-resize.h"
#include "enclaved/nsm_forward.h"
#include "enclaved/state.h"

#include "common/log.h"
#include "common/util.h"
#include "proto/vmm.pb-c.h"

#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* vmm/channel.h's VMM_CHANNEL_MAX_PACKET: the VMM never sends more in one packet. */
#define CHANNEL_MAX_PACKET  (256u * 1024u)
#define CHANNEL_FD_IN_CHILD 3

const char *vmm_process_path(const struct enclave *e)
{
	const char *env = getenv("ENCLAVED_VMM");

	if (e->daemon->opts.vmm_path)
		return e->daemon->opts.vmm_path;
	if (env && env[0])
		return env;
	return LIBEXECDIR "/enclave-vmm";
}

static const char *exit_code_meaning(int code)
{
	/* vmm/README.md, "Exit reasons". */
	static const char *const names[] = {"guest powered off",
					    "VMM error",
					    "vCPU 0 halted with interrupts off",
					    "triple fault",
					    "KVM internal error or failed entry",
					    "guest reset request",
					    "terminated"};
	return code >= 0 && (size_t)code < UTIL_ARRAY_SIZE(names) ? names[code] : "unknown";
}

void vmm_process_describe_status(int wait_status, char *buf, size_t len)
{
	if (wait_status == -1) {
		snprintf(buf, len, "VMM ended (re-adopted, not enclaved's child: no exit status)");
	} else if (WIFEXITED(wait_status)) {
		int code = WEXITSTATUS(wait_status);
		snprintf(buf, len, "VMM exited with status %d (%s)", code, exit_code_meaning(code));
	} else if (WIFSIGNALED(wait_status)) {
		int sig = WTERMSIG(wait_status);
		snprintf(buf, len, "VMM killed by SIG%s%s",
			 sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
			 sig == SIGSYS ? " (seccomp)" : "");
	} else {
		snprintf(buf, len, "VMM ended with wait status 0x%x", (unsigned)wait_status);
	}
}

static int send_packet(int fd, const ProtobufCMessage *msg, const int *fds, unsigned nfds)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	if (len > CHANNEL_MAX_PACKET || nfds > 2)
		return -EMSGSIZE;
	protobuf_c_message_pack(msg, buf);
	iov = (struct iovec){.iov_base = buf, .iov_len = len};
	if (nfds) {
		struct cmsghdr *c;
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

static int send_config(struct enclave *e, int eif_fd)
{
	Enclaved__Vmm__DaemonMessage m = ENCLAVED__VMM__DAEMON_MESSAGE__INIT;
	Enclaved__Vmm__Config c = ENCLAVED__VMM__CONFIG__INIT;
	int fds[2] = {pool_lease_memfd(e->lease), eif_fd};

	c.enclave_id = e->id;
	c.enclave_name = e->name;
	c.cid = e->cid;
	c.memory_bytes = e->memory_mib << 20;
	c.max_memory_bytes = e->max_memory_mib << 20;
	c.cpu_ids = e->cpu_ids;
	c.n_cpu_ids = e->n_cpus;
	c.debug = e->debug;
	c.eif_path = e->eif_path;
	c.eif_fd_passed = true;
	c.runtime_dir = e->runtime_dir;
	c.owner_uid = (uint32_t)e->owner_uid;
	c.owner_gid = (uint32_t)e->owner_gid;
	c.sandbox_uid = (uint32_t)e->daemon->sandbox_uid;
	c.sandbox_gid = (uint32_t)e->daemon->sandbox_gid;
	c.generation = e->generation;
	m.msg_case = ENCLAVED__VMM__DAEMON_MESSAGE__MSG_CONFIG;
	m.config = &c;
	return send_packet(e->channel_fd, &m.base, fds, 2);
}

int vmm_process_send_terminate(struct enclave *e, const char *reason)
{
	Enclaved__Vmm__DaemonMessage m = ENCLAVED__VMM__DAEMON_MESSAGE__INIT;
	Enclaved__Vmm__Terminate t = ENCLAVED__VMM__TERMINATE__INIT;

	if (e->channel_fd < 0)
		return -ENOTCONN;
	t.reason = (char *)reason;
	m.msg_case = ENCLAVED__VMM__DAEMON_MESSAGE__MSG_TERMINATE;
	m.terminate = &t;
	return send_packet(e->channel_fd, &m.base, NULL, 0);
}

static void on_event(struct enclave *e, const Enclaved__Vmm__Event *ev)
{
	if (ev->generation != e->generation) {
		log_warn("%s: event of generation %" PRIu64 " (expected %" PRIu64 ") ignored",
			 e->id, ev->generation, e->generation);
		return;
	}
	switch (ev->state) {
	case ENCLAVED__VMM__EVENT__STATE__STARTED:
		log_debug("%s: VMM started", e->id);
		break;
	case ENCLAVED__VMM__EVENT__STATE__GUEST_ENTERED:
		log_debug("%s: guest entered", e->id);
		break;
	case ENCLAVED__VMM__EVENT__STATE__HEARTBEAT:
		enclave_on_heartbeat(e);
		(void)state_record_save(e); /* a re-adopting daemon must know it runs */
		break;
	case ENCLAVED__VMM__EVENT__STATE__EXITED:
		e->got_exit_event = true;
		e->exit_event_code = ev->exit_code;
		snprintf(e->exit_event_reason, sizeof(e->exit_event_reason), "%s",
			 ev->reason ? ev->reason : "");
		log_info("%s: guest ended: %s (code %d)", e->id, e->exit_event_reason,
			 ev->exit_code);
		break;
	default:
		log_warn("%s: unknown VMM event state %d", e->id, (int)ev->state);
	}
}

/* The VMM's vsock counters, kept for describe-enclaves. The VMM is not trusted: names are
 * 1..31 of [a-z0-9_], at most ENCLAVE_VSOCK_COUNTERS_MAX are kept, anything else is dropped. */
static void take_vsock_stats(struct enclave *e, const Enclaved__Vmm__Pong *pong)
{
	unsigned n = 0;

	for (size_t i = 0; i < pong->n_vsock_counters && n < ENCLAVE_VSOCK_COUNTERS_MAX; i++) {
		const Enclaved__Vmm__VsockCounter *c = pong->vsock_counters[i];
		size_t len = c && c->name ? strlen(c->name) : 0;

		if (len == 0 || len >= ENCLAVE_VSOCK_COUNTER_NAME_MAX ||
		    strspn(c->name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
			continue;
		memcpy(e->vsock_counters[n].name, c->name, len + 1);
		e->vsock_counters[n].value = c->value;
		n++;
	}
	e->n_vsock_counters = n;
	e->vsock_connections = pong->vsock_connections;
	e->have_vsock_stats = true;
}

static void on_channel(evutil_socket_t fd, short what, void *userdata)
{
	struct enclave *e = userdata;
	_cleanup_free_ uint8_t *buf = malloc(CHANNEL_MAX_PACKET);
	Enclaved__Vmm__VmmMessage *m;
	ssize_t n;

	if (!buf)
		return;
	n = recv(fd, buf, CHANNEL_MAX_PACKET, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The VMM is exiting; the reap finishes the enclave. If it lingers, kill it. */
		log_debug("%s: channel closed", e->id);
		vmm_process_close_channel(e);
		enclave_request_terminate(e, "VMM closed its channel");
		return;
	}
	if ((size_t)n > CHANNEL_MAX_PACKET) {
		log_warn("%s: VMM packet of %zd bytes above the %u-byte limit dropped", e->id, n,
			 CHANNEL_MAX_PACKET);
		return;
	}
	m = enclaved__vmm__vmm_message__unpack(NULL, (size_t)n, buf);
	if (!m) {
		log_warn("%s: undecodable VMM message (%zd bytes) dropped", e->id, n);
		return;
	}
	switch (m->msg_case) {
	case ENCLAVED__VMM__VMM_MESSAGE__MSG_EVENT:
		on_event(e, m->event);
		break;
	case ENCLAVED__VMM__VMM_MESSAGE__MSG_CONSOLE:
		if (e->debug)
			enclave_console_append(e, m->console->data.data, m->console->data.len);
		break;
	case ENCLAVED__VMM__VMM_MESSAGE__MSG_NSM_REQUEST:
		nsm_forward_answer(e, m->nsm_request->request_id, m->nsm_request->cbor.data,
				   m->nsm_request->cbor.len);
		/* Extended or locked PCRs must survive a daemon restart. */
		(void)state_attestation_sync(e);
		break;
	case ENCLAVED__VMM__VMM_MESSAGE__MSG_PONG:
		enclave_on_pong(e, m->pong->nonce);
		take_vsock_stats(e, m->pong);
		break;
	case ENCLAVED__VMM__VMM_MESSAGE__MSG_MEMORY_STATE:
		enclave_on_memory_state(e, m->memory_state->plugged, m->memory_state->requested);
		(void)state_record_save(e);
		break;
	default:
		log_warn("%s: VMM message without content dropped", e->id);
	}
	enclaved__vmm__vmm_message__free_unpacked(m, NULL);
}

int nsm_forward_send(struct enclave *e, uint64_t request_id, const uint8_t *resp, size_t len,
		     int error)
{
	Enclaved__Vmm__DaemonMessage m = ENCLAVED__VMM__DAEMON_MESSAGE__INIT;
	Enclaved__Vmm__NsmResponse r = ENCLAVED__VMM__NSM_RESPONSE__INIT;

	if (e->channel_fd < 0)
		return -ENOTCONN;
	r.request_id = request_id;
	r.cbor.data = (uint8_t *)resp;
	r.cbor.len = len;
	r.error = error;
	m.msg_case = ENCLAVED__VMM__DAEMON_MESSAGE__MSG_NSM_RESPONSE;
	m.nsm_response = &r;
	return send_packet(e->channel_fd, &m.base, NULL, 0);
}

void vmm_process_close_channel(struct enclave *e)
{
	if (e->channel_ev) {
		event_free(e->channel_ev);
		e->channel_ev = NULL;
	}
	if (e->channel_fd >= 0) {
		close(e->channel_fd);
		e->channel_fd = -1;
	}
}

int vmm_process_spawn(struct enclave *e, int eif_fd, char **error)
{
	const char *path = vmm_process_path(e);
	int sv[2];
	pid_t pid;
	int r;

	if (access(path, X_OK) < 0) {
		r = -errno;
		if (asprintf(error, "enclave-vmm '%s' is not executable: %s", path, strerror(-r)) <
		    0)
			*error = NULL;
		return r;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		/* Child: only the channel crosses exec (everything else is CLOEXEC or closed by
		 * the VMM's sandbox). The runtime dir on the command line names the VMM in ps. */
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		for (int s = 1; s < NSIG; s++)
			if (s != SIGKILL && s != SIGSTOP)
				signal(s, SIG_DFL);
		if (dup2(sv[1], CHANNEL_FD_IN_CHILD) < 0)
			_exit(127);
		(void)setpgid(0, 0);
		execl(path, "enclave-vmm", "--channel", "3", "--runtime-dir", e->runtime_dir,
		      (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	e->pid = pid;
	e->channel_fd = sv[0];
	r = pool_lease_attach(e->lease, pid);
	if (r < 0)
		log_warn("%s: cannot move VMM %d into its cpuset cgroup: %s", e->id, (int)pid,
			 strerror(-r));
	r = send_config(e, eif_fd);
	if (r < 0) {
		if (asprintf(error, "cannot send the Config to enclave-vmm %d: %s", (int)pid,
			     strerror(-r)) < 0)
			*error = NULL;
		return r; /* the caller kills and reaps */
	}
	r = vmm_process_watch_channel(e);
	if (r < 0)
		return r;
	/* The record a restarted daemon re-adopts from; pid + start time name this VMM. */
	if (state_pid_start(pid, &e->pid_start) < 0)
		log_warn("%s: cannot read the start time of VMM %d", e->id, (int)pid);
	(void)state_attestation_sync(e);
	(void)state_record_save(e);
	return 0;
}

int vmm_process_watch_channel(struct enclave *e)
{
	e->channel_ev =
	    event_new(e->daemon->base, e->channel_fd, EV_READ | EV_PERSIST, on_channel, e);
	if (!e->channel_ev || event_add(e->channel_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}
