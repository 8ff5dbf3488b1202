#include "config.h"

#include "enclaved/enclave.h"

#include "enclaved/api_events.h"
#include "enclaved/nsm_forward.h"
#include "enclaved/state.h"
#include "enclaved/vmm_process.h"

#include "common/log.h"
#include "common/util.h"
#include "rpc/rpc.h"

#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

bool enclave_is_alive(const struct enclave *e)
{
	return e->state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_STARTING ||
	       e->state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING ||
	       e->state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATING;
}

struct enclave *enclave_find(struct enclaved *d, const char *id, const char *name)
{
	/* Newest first, so a name reused after a termination finds the live one. */
	for (struct enclave *e = d->registry.head; e; e = e->next) {
		if (id && id[0] && strcmp(e->id, id) == 0)
			return e;
		if ((!id || !id[0]) && name && name[0] && strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

bool enclave_visible_to(const struct enclave *e, uid_t uid, bool is_root)
{
	return is_root || e->owner_uid == uid;
}

uint32_t enclave_default_heartbeat_ms(uint64_t eif_bytes, uint64_t memory_mib)
{
	uint64_t eif_ms, mem_ms, ms;

	/* Hostile sizes saturate instead of wrapping. */
	if (__builtin_mul_overflow(eif_bytes >> 20, UINT64_C(15000), &eif_ms) ||
	    __builtin_mul_overflow(memory_mib, UINT64_C(1000), &mem_ms))
		return UINT32_MAX;
	ms = ENCLAVE_HEARTBEAT_MIN_MS + eif_ms / 1024 + mem_ms / 1024;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

uint64_t enclave_required_mib(uint64_t eif_bytes)
{
	uint64_t mib = (eif_bytes + (1u << 20) - 1) / (1u << 20) + 8;
	return (mib + 1) & ~UINT64_C(1);
}

static void host_id(struct enclaved *d)
{
	_cleanup_free_ char *tag = NULL;
	size_t len = 0, n = 0;

	if (d->registry.host_id[0])
		return;
	snprintf(d->registry.host_id, sizeof(d->registry.host_id), "i-0000000000000000");
	if (util_read_file("/sys/devices/virtual/dmi/id/board_asset_tag", 64, &tag, &len) < 0)
		return;
	while (len && (tag[len - 1] == '\n' || tag[len - 1] == ' '))
		tag[--len] = '\0';
	/* An EC2 instance id: i- and 8 or 17 hex digits. */
	if (len < 10 || strncmp(tag, "i-", 2) != 0)
		return;
	for (n = 2; n < len && strchr("0123456789abcdef", tag[n]); n++)
		;
	if (n == len && (len == 10 || len == 19))
		snprintf(d->registry.host_id, sizeof(d->registry.host_id), "%s", tag);
}

int enclave_make_id(struct enclaved *d, char *buf, size_t len)
{
	uint8_t rnd[8];
	char hex[17];

	host_id(d);
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	util_hex_encode(rnd, sizeof(rnd), hex);
	if ((size_t)snprintf(buf, len, "%s-enc%s", d->registry.host_id, hex) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int enclave_pick_cid(struct enclaved *d, uint64_t requested, uint64_t *out)
{
	if (requested == 0) {
		for (uint64_t cid = ENCLAVE_CID_FIRST_AUTO; cid < UINT32_MAX; cid++) {
			bool taken = false;
			for (struct enclave *e = d->registry.head; e && !taken; e = e->next)
				taken = enclave_is_alive(e) && e->cid == cid;
			for (struct enclave *e = d->registry.pending; e && !taken;
			     e = e->pending_next)
				taken = e->cid == cid;
			if (!taken) {
				*out = cid;
				return 0;
			}
		}
		return -ENOSPC;
	}
	if (requested < 4 || requested >= UINT32_MAX)
		return -EINVAL;
	for (struct enclave *e = d->registry.head; e; e = e->next)
		if (enclave_is_alive(e) && e->cid == requested)
			return -EEXIST;
	for (struct enclave *e = d->registry.pending; e; e = e->pending_next)
		if (e->cid == requested)
			return -EEXIST;
	*out = requested;
	return 0;
}

void enclave_add(struct enclaved *d, struct enclave *e)
{
	e->next = d->registry.head;
	d->registry.head = e;
	d->registry.n_enclaves++;
	enclave_emit_event(e, ENCLAVED__V1__ENCLAVE_EVENT_KIND__ENCLAVE_EVENT_KIND_STATE);
}

void enclave_free(struct enclave *e)
{
	if (!e)
		return;
	if (e->heartbeat_timer)
		event_free(e->heartbeat_timer);
	if (e->kill_timer)
		event_free(e->kill_timer);
	if (e->pidfd_ev)
		event_free(e->pidfd_ev);
	if (e->adopted && e->pidfd >= 0)
		close(e->pidfd);
	vmm_process_close_channel(e);
	if (e->lease)
		(void)pool_release(e->lease);
	nsm_forward_enclave_free(e);
	free(e->eif_path);
	free(e->console);
	free(e);
}

void enclave_prune(struct enclaved *d)
{
	size_t finished = 0;

	for (struct enclave **pp = &d->registry.head; *pp;) {
		struct enclave *e = *pp;
		if (!enclave_is_alive(e) && ++finished > ENCLAVE_KEEP_FINISHED && !e->n_watchers) {
			*pp = e->next;
			d->registry.n_enclaves--;
			enclave_free(e);
			continue;
		}
		pp = &e->next;
	}
}

/* ---- console ----------------------------------------------------------------------------- */

void enclave_console_append(struct enclave *e, const uint8_t *data, size_t len)
{
	if (!e->console && !(e->console = malloc(ENCLAVE_CONSOLE_KEEP)))
		return;
	for (size_t i = 0; i < len; i++) {
		size_t pos = (e->console_start + e->console_len) % ENCLAVE_CONSOLE_KEEP;
		e->console[pos] = data[i];
		if (e->console_len < ENCLAVE_CONSOLE_KEEP)
			e->console_len++;
		else
			e->console_start = (e->console_start + 1) % ENCLAVE_CONSOLE_KEEP;
	}
	for (unsigned i = 0; i < e->n_watchers;) {
		Enclaved__V1__ConsoleChunk chunk = ENCLAVED__V1__CONSOLE_CHUNK__INIT;
		size_t plen;
		_cleanup_free_ uint8_t *buf = NULL;
		chunk.data.data = (uint8_t *)data;
		chunk.data.len = len;
		plen = enclaved__v1__console_chunk__get_packed_size(&chunk);
		buf = malloc(plen);
		if (buf)
			enclaved__v1__console_chunk__pack(&chunk, buf);
		if (!buf || rpc_call_send(e->console_watchers[i], buf, plen) < 0) {
			/* Gone or not reading: end that stream (the call is freed by fail). */
			(void)rpc_call_fail(e->console_watchers[i], RPC_CANCELLED,
					    "console reader dropped");
			e->console_watchers[i] = e->console_watchers[--e->n_watchers];
			continue;
		}
		i++;
	}
}

int enclave_console_tail(const struct enclave *e, size_t max, uint8_t **out, size_t *len)
{
	size_t n = UTIL_MIN(max, e->console_len);
	uint8_t *buf = malloc(n ? n : 1);

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		buf[i] =
		    e->console[(e->console_start + e->console_len - n + i) % ENCLAVE_CONSOLE_KEEP];
	*out = buf;
	*len = n;
	return 0;
}

/* ---- termination ------------------------------------------------------------------------- */

static void on_kill_timer(evutil_socket_t fd, short what, void *userdata)
{
	struct enclave *e = userdata;

	if (e->pid > 0) {
		log_warn("%s: VMM %d still running %d ms after Terminate: SIGKILL", e->id,
			 (int)e->pid, ENCLAVE_TERMINATE_GRACE_MS);
		(void)enclave_kill(e, SIGKILL);
	}
}

void enclave_request_terminate(struct enclave *e, const char *why)
{
	struct timeval grace = {.tv_sec = ENCLAVE_TERMINATE_GRACE_MS / 1000,
				.tv_usec = (ENCLAVE_TERMINATE_GRACE_MS % 1000) * 1000};

	if (!enclave_is_alive(e) || e->kill_timer)
		return;
	if (!e->reason[0] || e->state != ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATING)
		snprintf(e->reason, sizeof(e->reason), "%s", why);
	e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATING;
	enclave_emit_event(e, ENCLAVED__V1__ENCLAVE_EVENT_KIND__ENCLAVE_EVENT_KIND_STATE);
	if (vmm_process_send_terminate(e, why) < 0 && e->pid > 0)
		(void)enclave_kill(e, SIGTERM);
	e->kill_timer = evtimer_new(e->daemon->base, on_kill_timer, e);
	if (!e->kill_timer || evtimer_add(e->kill_timer, &grace) < 0) {
		if (e->pid > 0)
			(void)enclave_kill(e, SIGKILL);
	}
}

void enclave_finish(struct enclave *e, int wait_status)
{
	char status[160];
	bool clean;
	int r;

	vmm_process_describe_status(wait_status, status, sizeof(status));
	e->pid = 0;
	if (e->pidfd_ev) {
		event_free(e->pidfd_ev);
		e->pidfd_ev = NULL;
	}
	if (e->adopted && e->pidfd >= 0) {
		close(e->pidfd);
		e->pidfd = -1;
	}
	vmm_process_close_channel(e);
	if (e->kill_timer) {
		event_free(e->kill_timer);
		e->kill_timer = NULL;
	}
	if (e->heartbeat_timer) {
		event_free(e->heartbeat_timer);
		e->heartbeat_timer = NULL;
	}
	/* Requested terminations and guests that powered off end TERMINATED; the rest FAILED. */
	clean = e->terminate_requested || (wait_status != -1 && WIFEXITED(wait_status) &&
					   WEXITSTATUS(wait_status) == 0 && e->got_exit_event);
	if (e->keep_reason) {
		/* e.g. heartbeat timeout: that is why it failed, not the VMM's status */
		e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_FAILED;
	} else if (clean) {
		e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATED;
		if (!e->terminate_requested)
			snprintf(e->reason, sizeof(e->reason), "%s", "guest powered off");
	} else {
		e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_FAILED;
		if (e->got_exit_event && e->exit_event_reason[0])
			snprintf(e->reason, sizeof(e->reason), "%.100s: %.150s", status,
				 e->exit_event_reason);
		else
			snprintf(e->reason, sizeof(e->reason), "%s", status);
	}
	enclave_emit_event(e, ENCLAVED__V1__ENCLAVE_EVENT_KIND__ENCLAVE_EVENT_KIND_STATE);
	log_info("%s (%s): %s: %s; %s", e->id, e->name,
		 e->state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_FAILED ? "FAILED"
									       : "terminated",
		 e->reason, status);
	if (e->lease) {
		r = pool_release(e->lease);
		if (r < 0)
			log_warn("%s: releasing the pool lease: %s", e->id, strerror(-r));
		e->lease = NULL;
	}
	nsm_forward_enclave_free(e);
	enclave_remove_runtime(e);
	if (e->run_call) {
		struct rpc_call *call = e->run_call;
		_cleanup_free_ uint8_t *tail = NULL;
		size_t tail_len = 0;
		e->run_call = NULL;
		if (e->debug && enclave_console_tail(e, 2048, &tail, &tail_len) == 0 && tail_len)
			(void)rpc_call_fail(call, RPC_ABORTED,
					    "enclave %s ended before its heartbeat: %s; console "
					    "tail:\n%.*s",
					    e->id, e->reason, (int)tail_len, (const char *)tail);
		else
			(void)rpc_call_fail(call, RPC_ABORTED,
					    "enclave %s ended before its heartbeat: %s", e->id,
					    e->reason);
	}
	while (e->n_watchers)
		(void)rpc_call_close(e->console_watchers[--e->n_watchers]);
	while (e->n_terminate_ops)
		enclave_terminate_op_done(e->terminate_ops[--e->n_terminate_ops], e);
	enclaved_notify_status(e->daemon);
}

void enclave_reap_all(struct enclaved *d)
{
	struct enclave *e = d->registry.head;

	while (e) {
		int status;
		if (e->pid > 0 && waitpid(e->pid, &status, WNOHANG) == e->pid)
			enclave_finish(e, status);
		e = e->next;
	}
	/* Only now: pruning while walking the list would free entries under our feet. */
	enclave_prune(d);
}

/* Wait (until deadline, then SIGKILL) for a VMM that is ending. Returns its wait status, -1
 * when unknown (adopted: not our child). */
static int wait_gone(struct enclave *e, uint64_t deadline)
{
	int status = -1;

	for (;;) {
		if (e->adopted && e->pidfd >= 0) {
			struct pollfd pfd = {.fd = e->pidfd, .events = POLLIN};
			if (poll(&pfd, 1, 20) != 0)
				return e->got_exit_event ? (e->exit_event_code & 0xff) << 8 : -1;
		} else if (e->adopted) {
			if (!state_pid_alive(e->pid, e->pid_start))
				return e->got_exit_event ? (e->exit_event_code & 0xff) << 8 : -1;
			usleep(20000);
		} else if (waitpid(e->pid, &status, WNOHANG) != 0) {
			return status;
		} else {
			usleep(20000);
		}
		if (util_now_monotonic_ns() > deadline) {
			(void)enclave_kill(e, SIGKILL);
			if (!e->adopted && waitpid(e->pid, &status, 0) == e->pid)
				return status;
			return -1;
		}
	}
}

/* The daemon stops but the enclave does not: its VMM detaches and waits on control.sock for
 * the next daemon, which finds the record and re-adopts it. */
static void leave_running(struct enclave *e)
{
	(void)state_attestation_sync(e);
	(void)state_record_save(e);
	vmm_process_close_channel(e);
	if (e->run_call) {
		(void)rpc_call_fail(e->run_call, RPC_UNAVAILABLE,
				    "enclaved is stopping; enclave %s keeps booting and is "
				    "re-adopted when enclaved starts again",
				    e->id);
		e->run_call = NULL;
	}
	while (e->n_watchers)
		(void)rpc_call_close(e->console_watchers[--e->n_watchers]);
	/* pool_free forgets the lease without removing its cgroup; the hugepages stay. */
	e->lease = NULL;
	log_info("%s (%s): left running (VMM %d)", e->id, e->name, (int)e->pid);
}

void enclave_shutdown_all(struct enclaved *d)
{
	uint64_t deadline = util_now_monotonic_ns() + 5ull * 1000 * 1000 * 1000;

	/* Enclaves already being terminated are finished; every other one keeps running. */
	for (struct enclave *e = d->registry.head; e; e = e->next)
		if (e->pid > 0 &&
		    e->state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATING)
			enclave_finish(e, wait_gone(e, deadline));
	for (struct enclave *e = d->registry.head; e; e = e->next)
		if (enclave_is_alive(e) && e->pid > 0)
			leave_running(e);
	while (d->registry.head) {
		struct enclave *e = d->registry.head;
		d->registry.head = e->next;
		if (enclave_is_alive(e))
			e->lease = NULL;
		enclave_free(e);
	}
	d->registry.n_enclaves = 0;
}

/* ---- heartbeat --------------------------------------------------------------------------- */

void enclave_on_heartbeat(struct enclave *e)
{
	if (e->state != ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_STARTING)
		return;
	e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING;
	snprintf(e->reason, sizeof(e->reason), "heartbeat received");
	if (e->heartbeat_timer) {
		event_free(e->heartbeat_timer);
		e->heartbeat_timer = NULL;
	}
	log_info("%s (%s): running, CID %" PRIu64, e->id, e->name, e->cid);
	enclave_emit_event(e, ENCLAVED__V1__ENCLAVE_EVENT_KIND__ENCLAVE_EVENT_KIND_HEARTBEAT);
	if (e->run_call) {
		Enclaved__V1__RunEnclaveResponse resp = ENCLAVED__V1__RUN_ENCLAVE_RESPONSE__INIT;
		Enclaved__V1__Enclave pb;
		struct rpc_call *call = e->run_call;
		e->run_call = NULL;
		if (enclave_to_pb(e, &pb, 0) < 0) {
			(void)rpc_call_fail(call, RPC_INTERNAL, "out of memory");
			return;
		}
		resp.enclave = &pb;
		{
			size_t len = enclaved__v1__run_enclave_response__get_packed_size(&resp);
			_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
			if (buf) {
				enclaved__v1__run_enclave_response__pack(&resp, buf);
				(void)rpc_call_reply(call, buf, len);
			} else {
				(void)rpc_call_fail(call, RPC_INTERNAL, "out of memory");
			}
		}
		enclave_pb_clear(&pb);
	}
}

void enclave_on_heartbeat_timeout(struct enclave *e)
{
	struct rpc_call *call = e->run_call;
	_cleanup_free_ uint8_t *tail = NULL;
	size_t tail_len = 0;

	if (e->state != ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_STARTING)
		return;
	e->run_call = NULL;
	log_warn("%s (%s): no heartbeat within %u ms: terminating", e->id, e->name,
		 e->heartbeat_timeout_ms);
	enclave_request_terminate(e, "heartbeat timeout");
	e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATING;
	snprintf(e->reason, sizeof(e->reason), "heartbeat timeout after %u ms",
		 e->heartbeat_timeout_ms);
	e->keep_reason = true; /* ends FAILED with this reason */
	if (!call)
		return;
	if (e->debug && enclave_console_tail(e, 2048, &tail, &tail_len) == 0 && tail_len)
		(void)rpc_call_fail(call, RPC_DEADLINE_EXCEEDED,
				    "enclave %s sent no heartbeat within %u ms; terminated. "
				    "Console tail:\n%.*s",
				    e->id, e->heartbeat_timeout_ms, (int)tail_len,
				    (const char *)tail);
	else
		(void)rpc_call_fail(call, RPC_DEADLINE_EXCEEDED,
				    "enclave %s sent no heartbeat within %u ms; terminated%s",
				    e->id, e->heartbeat_timeout_ms,
				    e->debug ? " (no console output)"
					     : " (run with --debug-mode to see its console)");
}
