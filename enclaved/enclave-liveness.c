/* VMM liveness: Pings on the channel (a hung VMM is killed), pidfds for VMMs that are not our
 * children (re-adopted after a restart), signals that cannot hit a reused pid. */
#include "config.h"

#include "enclaved/enclave.h"
#include "enclaved/state.h"
#include "enclaved/vmm_process.h"

#include "common/log.h"
#include "common/util.h"
#include "proto/vmm.pb-c.h"

#include <dirent.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int enclave_kill(struct enclave *e, int sig)
{
	if (e->adopted && e->pidfd >= 0)
		return syscall(SYS_pidfd_send_signal, e->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
	if (e->pid <= 0 || (e->adopted && !state_pid_alive(e->pid, e->pid_start)))
		return -ESRCH;
	return kill(e->pid, sig) < 0 ? -errno : 0;
}

static int send_ping(struct enclave *e, uint64_t nonce)
{
	Enclaved__Vmm__DaemonMessage m = ENCLAVED__VMM__DAEMON_MESSAGE__INIT;
	Enclaved__Vmm__Ping p = ENCLAVED__VMM__PING__INIT;
	uint8_t buf[32];
	size_t len;
	ssize_t n;

	p.nonce = nonce;
	m.msg_case = ENCLAVED__VMM__DAEMON_MESSAGE__MSG_PING;
	m.ping = &p;
	len = enclaved__vmm__daemon_message__get_packed_size(&m);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	enclaved__vmm__daemon_message__pack(&m, buf);
	n = send(e->channel_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n < 0 ? -errno : 0;
}

static void hung(struct enclave *e, uint64_t waited_ms)
{
	log_error("%s (%s): VMM %d sent no Pong within %" PRIu64 " ms: killing it", e->id, e->name,
		  (int)e->pid, waited_ms);
	snprintf(e->reason, sizeof(e->reason),
		 "VMM stopped answering (no Pong within %" PRIu64 " ms)", waited_ms);
	e->keep_reason = true; /* ends FAILED with this reason */
	e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATING;
	e->ping_nonce = 0;
	vmm_process_close_channel(e);
	if (enclave_kill(e, SIGKILL) < 0)
		log_warn("%s: cannot SIGKILL VMM %d: %m", e->id, (int)e->pid);
}

static void on_liveness(evutil_socket_t fd, short what, void *userdata)
{
	struct enclaved *d = userdata;
	uint64_t now = util_now_monotonic_ns();
	bool reaped = false;

	for (struct enclave *e = d->registry.head; e; e = e->next) {
		uint64_t nonce;
		if (enclave_is_alive(e) && e->adopted && e->pidfd < 0 && e->pid > 0 &&
		    !state_pid_alive(e->pid, e->pid_start)) {
			/* Re-adopted without a pidfd: its death is seen here. */
			enclave_finish(e,
				       e->got_exit_event ? (e->exit_event_code & 0xff) << 8 : -1);
			reaped = true;
			continue;
		}
		if (!enclave_is_alive(e) || e->channel_fd < 0)
			continue;
		if (e->ping_nonce) {
			uint64_t waited_ms = (now - e->ping_sent_ns) / 1000000;
			if (waited_ms >= d->config.vmm_ping_timeout_ms)
				hung(e, waited_ms);
			continue;
		}
		if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != sizeof(nonce))
			nonce = now;
		nonce |= 1; /* 0 means "none in flight" */
		/* A full socket buffer is a VMM that does not read: the timeout catches it too. */
		if (send_ping(e, nonce) < 0 && errno != EAGAIN)
			continue;
		e->ping_nonce = nonce;
		e->ping_sent_ns = now;
	}
	if (reaped)
		enclave_prune(d); /* only after the walk */
}

void enclave_on_pong(struct enclave *e, uint64_t nonce)
{
	if (nonce && nonce == e->ping_nonce)
		e->ping_nonce = 0;
}

/* Pings every third of the timeout: a hung VMM is found between 2/3 and 4/3 of it late. */
int enclave_liveness_apply(struct enclaved *d)
{
	uint32_t interval_ms = d->config.vmm_ping_timeout_ms / 3;
	struct timeval tv = {.tv_sec = interval_ms / 1000, .tv_usec = (interval_ms % 1000) * 1000};

	if (!d->liveness_timer)
		return 0;
	return event_add(d->liveness_timer, &tv) < 0 ? -ENOMEM : 0;
}

int enclave_liveness_start(struct enclaved *d)
{
	d->liveness_timer = event_new(d->base, -1, EV_PERSIST, on_liveness, d);
	if (!d->liveness_timer)
		return -ENOMEM;
	return enclave_liveness_apply(d);
}

void enclave_liveness_stop(struct enclaved *d)
{
	if (d->liveness_timer)
		event_free(d->liveness_timer);
	d->liveness_timer = NULL;
}

static void on_pidfd(evutil_socket_t fd, short what, void *userdata)
{
	struct enclave *e = userdata;
	struct enclaved *d = e->daemon;

	log_debug("%s: adopted VMM %d exited", e->id, (int)e->pid);
	/* Not our child: no wait status. The EXITED Event, if it came, says why. */
	enclave_finish(e, e->got_exit_event ? (e->exit_event_code & 0xff) << 8 : -1);
	enclave_prune(d);
}

int enclave_watch_pidfd(struct enclave *e, int pidfd)
{
	e->pidfd = pidfd;
	e->pidfd_ev = event_new(e->daemon->base, pidfd, EV_READ, on_pidfd, e);
	if (!e->pidfd_ev || event_add(e->pidfd_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void enclave_remove_runtime(struct enclave *e)
{
	DIR *dh;
	struct dirent *de;

	state_record_remove(e->daemon, e->id);
	if (!e->runtime_dir[0])
		return;
	dh = opendir(e->runtime_dir);
	if (dh) {
		while ((de = readdir(dh)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				(void)unlinkat(dirfd(dh), de->d_name, 0);
		closedir(dh);
	}
	if (rmdir(e->runtime_dir) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", e->runtime_dir, strerror(errno));
}
