/* Re-adoption at daemon start: every <runtime>/enclave-records/<id>.json record names an enclave an
 * earlier daemon left running. Its VMM is found by pid + start time, reached on control.sock
 * (Adopt with a new generation -> AdoptState), and the enclave goes back into the registry,
 * the pool (pool_adopt: no new memory) and attestation (<id>.attest). A VMM that is gone makes
 * a FAILED entry with the reason and console tail it left in vmm-exit; a record that does not
 * check out is reported and renamed <id>.json.corrupt, never trusted. */
#include "config.h"

#include "enclaved/state.h"

#include "enclaved/attestation.h"
#include "enclaved/enclave-resize.h"
#include "enclaved/enclave.h"
#include "enclaved/vmm_process.h"

#include "common/log.h"
#include "common/util.h"
#include "proto/vmm.pb-c.h"

#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define ADOPT_TIMEOUT_MS   3000
#define ADOPT_MAX_PACKET   (256u * 1024u)
#define EXIT_RECORD_MAX	   (32u * 1024u)
#define ADOPT_CONSOLE_KEEP (16u * 1024u)

static void on_heartbeat_timer(evutil_socket_t fd, short what, void *userdata)
{
	enclave_on_heartbeat_timeout(userdata);
}

/* Read <runtime_dir>/vmm-exit, which the VMM writes when it ends with no daemon attached.
 * The directory belongs to the enclave's owner: no symlinks, root's regular files only. */
static void read_exit_record(struct enclave *e, char *reason, size_t reason_len)
{
	char path[4200];
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = malloc(EXIT_RECORD_MAX + 1);
	struct stat st;
	ssize_t n;
	int code = -1;
	char text[320] = "";
	char *body;

	snprintf(reason, reason_len,
		 "VMM %d ended while enclaved was down, leaving no exit record (killed?)",
		 (int)e->pid);
	snprintf(path, sizeof(path), "%s/vmm-exit", e->runtime_dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (!buf || fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0)
		return;
	n = read(fd, buf, EXIT_RECORD_MAX);
	if (n <= 0)
		return;
	buf[n] = '\0';
	body = strstr(buf, "\n\n");
	if (strncmp(buf, "enclave-vmm exit 1\ncode ", 24) != 0 || !body ||
	    sscanf(buf + 24, "%d\nreason %300[^\n]", &code, text) < 1) {
		snprintf(reason, reason_len,
			 "VMM %d ended while enclaved was down (unreadable exit "
			 "record)",
			 (int)e->pid);
		return;
	}
	snprintf(reason, reason_len, "VMM ended while enclaved was down: %s (exit code %d)", text,
		 code);
	body += 2;
	if (e->debug && body < buf + n)
		enclave_console_append(e, (const uint8_t *)body, (size_t)(buf + n - body));
}

/* One re-adoption in flight. Adopt goes to every live VMM first and the answers are awaited
 * together, so that hung VMMs cost one ADOPT_TIMEOUT_MS in all rather than one each (a daemon
 * that takes minutes to start is one systemd gives up on). */
struct adoption {
	struct enclave *e;
	int pidfd; /* open_vmm's answer: a pidfd, -ENOSYS (alive, no pidfds) or -ESRCH (gone) */
	int fd;	   /* control.sock while its answer is awaited, else -1 */
	Enclaved__Vmm__AdoptState *st;
	int r;
	char why[400];
};

/* Connect to control.sock and send Adopt with generation. */
static int handshake_send(struct enclave *e, uint64_t generation, int *fd_out, char *why,
			  size_t why_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	Enclaved__Vmm__DaemonMessage m = ENCLAVED__VMM__DAEMON_MESSAGE__INIT;
	Enclaved__Vmm__Adopt a = ENCLAVED__VMM__ADOPT__INIT;
	_cleanup_close_ int fd = -1;
	uint8_t out_buf[32];
	size_t len;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", e->runtime_dir) >=
	    sizeof(sa.sun_path))
		return snprintf(why, why_len, "control.sock path too long"), -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return snprintf(why, why_len, "%s: %s", sa.sun_path, strerror(errno)), -errno;
	a.generation = generation;
	m.msg_case = ENCLAVED__VMM__DAEMON_MESSAGE__MSG_ADOPT;
	m.adopt = &a;
	len = enclaved__vmm__daemon_message__pack(&m, out_buf);
	if (send(fd, out_buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
		return snprintf(why, why_len, "sending Adopt: %s", strerror(errno)), -EIO;
	*fd_out = util_steal_fd(&fd);
	return 0;
}

/* The VMM's answer, once fd is readable: AdoptState or an error naming what came instead. */
static int handshake_recv(int fd, Enclaved__Vmm__AdoptState **out, char *why, size_t why_len)
{
	_cleanup_free_ uint8_t *buf = malloc(ADOPT_MAX_PACKET);
	Enclaved__Vmm__VmmMessage *reply;
	ssize_t n;

	if (!buf)
		return snprintf(why, why_len, "out of memory"), -ENOMEM;
	n = recv(fd, buf, ADOPT_MAX_PACKET, MSG_DONTWAIT | MSG_TRUNC);
	if (n <= 0 || (size_t)n > ADOPT_MAX_PACKET)
		return snprintf(why, why_len,
				"the VMM closed control.sock or sent %zd bytes (a "
				"daemon already attached?)",
				n),
		       -EPROTO;
	reply = enclaved__vmm__vmm_message__unpack(NULL, (size_t)n, buf);
	if (!reply || reply->msg_case != ENCLAVED__VMM__VMM_MESSAGE__MSG_ADOPT_STATE) {
		if (reply)
			enclaved__vmm__vmm_message__free_unpacked(reply, NULL);
		return snprintf(why, why_len, "the answer to Adopt is not an AdoptState"), -EPROTO;
	}
	*out = reply->adopt_state;
	reply->adopt_state = NULL; /* detach: freed by the caller */
	reply->msg_case = ENCLAVED__VMM__VMM_MESSAGE__MSG__NOT_SET;
	enclaved__vmm__vmm_message__free_unpacked(reply, NULL);
	return 0;
}

/* Wait, ADOPT_TIMEOUT_MS in all, for the answers of every adoption whose Adopt went out. */
static void await_answers(struct adoption *list, size_t n)
{
	uint64_t deadline = util_now_monotonic_ns() + (uint64_t)ADOPT_TIMEOUT_MS * 1000000;
	_cleanup_free_ struct pollfd *pfds = calloc(n ? n : 1, sizeof(*pfds));
	_cleanup_free_ size_t *which = calloc(n ? n : 1, sizeof(*which));

	for (;;) {
		uint64_t now = util_now_monotonic_ns();
		size_t waiting = 0;
		int ready;

		for (size_t i = 0; pfds && which && i < n; i++)
			if (list[i].r == 0 && list[i].fd >= 0 && !list[i].st) {
				pfds[waiting] = (struct pollfd){.fd = list[i].fd, .events = POLLIN};
				which[waiting++] = i;
			}
		if (waiting == 0)
			return;
		ready = now >= deadline
			    ? 0
			    : poll(pfds, waiting, (int)((deadline - now) / 1000000 + 1));
		if (ready < 0 && errno == EINTR)
			continue;
		for (size_t k = 0; k < waiting; k++) {
			struct adoption *a = &list[which[k]];
			if (ready > 0 && !pfds[k].revents)
				continue;
			if (ready > 0) {
				a->r = handshake_recv(a->fd, &a->st, a->why, sizeof(a->why));
			} else {
				snprintf(a->why, sizeof(a->why), "no AdoptState within %d ms",
					 ADOPT_TIMEOUT_MS);
				a->r = -ETIMEDOUT;
			}
			if (a->r < 0) {
				close(a->fd);
				a->fd = -1;
			}
		}
	}
}

/* The VMM's account must match the record: the record is ours, the VMM is not trusted. */
static int check_state(const struct enclave *e, const Enclaved__Vmm__AdoptState *st, char *why,
		       size_t why_len)
{
	uint64_t max_hot =
	    e->max_memory_mib > e->memory_mib ? e->max_memory_mib - e->memory_mib : 0;

	if (!st->enclave_id || strcmp(st->enclave_id, e->id) != 0 || st->cid != e->cid ||
	    st->memory_bytes != e->memory_mib << 20 || st->n_cpu_ids != e->n_cpus ||
	    st->generation != e->generation) {
		snprintf(why, why_len,
			 "the VMM's state (id %.64s, CID %" PRIu64 ", %" PRIu64
			 " bytes, %zu vCPUs, generation %" PRIu64 ") does not match the record",
			 st->enclave_id ? st->enclave_id : "?", st->cid, st->memory_bytes,
			 st->n_cpu_ids, st->generation);
		return -EPROTO;
	}
	for (size_t i = 0; i < st->n_cpu_ids; i++)
		if (st->cpu_ids[i] != e->cpu_ids[i])
			return snprintf(why, why_len, "vCPU %zu pinned to CPU %u, record says %u",
					i, st->cpu_ids[i], e->cpu_ids[i]),
			       -EPROTO;
	if (st->plugged % (2u << 20) || st->requested % (2u << 20) || st->plugged >> 20 > max_hot ||
	    st->requested >> 20 > max_hot)
		return snprintf(why, why_len,
				"memory state plugged=%" PRIu64 " requested=%" PRIu64
				" outside the %" PRIu64 " MiB hotplug region",
				st->plugged, st->requested, max_hot),
		       -EPROTO;
	return 0;
}

static uint64_t accounted_mib(const struct enclave *e)
{
	uint64_t req = e->requested_mib > e->memory_mib ? e->requested_mib - e->memory_mib : 0;
	return e->memory_mib + UTIL_MAX(req, e->plugged_mib);
}

static int take_lease(struct enclaved *d, struct enclave *e, char *why, size_t why_len)
{
	_cleanup_free_ char *error = NULL;
	struct pool_cpuset cpus;
	int r;

	if (!d->pool)
		return snprintf(why, why_len, "the pool is not set up"), -ENODEV;
	pool_cpuset_zero(&cpus);
	for (unsigned i = 0; i < e->n_cpus; i++)
		pool_cpuset_add(&cpus, e->cpu_ids[i]);
	r = pool_adopt(d->pool, e->id, &cpus, accounted_mib(e), &e->lease, &error);
	if (r < 0)
		snprintf(why, why_len, "pool: %s", error ? error : strerror(-r));
	return r;
}

/* Bring one live VMM back once it answered: state check, lease, attestation, events. */
static int adopt_live(struct enclaved *d, struct adoption *a)
{
	struct enclave *e = a->e;
	Enclaved__Vmm__AdoptState *st = a->st;
	char path[4200], *why = a->why;
	size_t why_len = sizeof(a->why);
	int pidfd = a->pidfd, r;

	if (a->r < 0)
		return a->r;
	e->channel_fd = a->fd;
	a->fd = -1;
	r = check_state(e, st, why, why_len);
	if (r < 0)
		goto out;
	if (st->requested)
		e->requested_mib = e->memory_mib + (st->requested >> 20);
	e->plugged_mib = st->plugged >> 20;
	r = take_lease(d, e, why, why_len);
	if (r < 0)
		goto out;
	if (st->console_tail.len && e->debug)
		enclave_console_append(e, st->console_tail.data,
				       UTIL_MIN(st->console_tail.len, (size_t)ADOPT_CONSOLE_KEEP));
	if (d->attestation && state_path(d, e->id, ".attest", path, sizeof(path)) == 0 &&
	    attestation_enclave_load(d, path, &e->attestation) < 0)
		log_error("%s: attestation identity %s cannot be restored: its NSM requests get "
			  "errors until it is restarted",
			  e->id, path);
	if (st->guest_state == ENCLAVED__VMM__ADOPT_STATE__GUEST_STATE__RUNNING) {
		e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING;
	} else {
		struct timeval tv = {.tv_sec = e->heartbeat_timeout_ms / 1000,
				     .tv_usec = (e->heartbeat_timeout_ms % 1000) * 1000};
		/* Still booting: a fresh deadline from now (the old timer died with the daemon). */
		e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_STARTING;
		e->heartbeat_timer = evtimer_new(d->base, on_heartbeat_timer, e);
		if (!e->heartbeat_timer || evtimer_add(e->heartbeat_timer, &tv) < 0) {
			snprintf(why, why_len, "out of memory");
			r = -ENOMEM;
			goto out;
		}
	}
	snprintf(e->reason, sizeof(e->reason), "re-adopted after an enclaved restart");
	if ((r = vmm_process_watch_channel(e)) < 0 ||
	    (pidfd >= 0 && (r = enclave_watch_pidfd(e, pidfd)) < 0)) {
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	log_info("%s (%s): re-adopted VMM %d, generation %" PRIu64 " (was %" PRIu64
		 "), %u CPU(s), %" PRIu64 " MiB, CID %" PRIu64 ", %u NSM request(s) waiting",
		 e->id, e->name, (int)e->pid, e->generation, st->previous_generation, e->n_cpus,
		 e->memory_mib, e->cid, st->nsm_waiting);
	(void)state_attestation_sync(e);
	(void)state_record_save(e);
	r = 0;
out:
	enclaved__vmm__adopt_state__free_unpacked(st, NULL);
	a->st = NULL;
	return r;
}

/* pidfd of the VMM the record names, -ENOSYS when it runs but pidfds are unavailable (then
 * the liveness timer polls /proc), or -ESRCH when it is gone (or the pid was reused). */
static int open_vmm(const struct enclave *e)
{
	uint64_t start = 0;
	struct pollfd pfd;
	int fd = (int)syscall(SYS_pidfd_open, e->pid, 0);

	if (fd < 0 && errno == ENOSYS)
		return state_pid_alive(e->pid, e->pid_start) ? -ENOSYS : -ESRCH;
	if (fd < 0)
		return -errno;
	/* Checked after the pidfd exists: from here on the pid cannot name another process. */
	if (state_pid_start(e->pid, &start) < 0 || start != e->pid_start) {
		close(fd);
		return -ESRCH;
	}
	/* A zombie nobody reaped yet (its parent, the old daemon, is gone) has exited. */
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, 0) != 0) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

static void reset_enclave(struct enclaved *d, struct enclave *e)
{
	free(e->eif_path);
	memset(e, 0, sizeof(*e));
	e->daemon = d;
	e->channel_fd = -1;
	e->pidfd = -1;
	e->adopted = true;
}

/* Fill e from one copy of its record; on failure e is left as calloc made it, apart from the
 * links every enclave has. */
static int load_record(struct enclaved *d, const char *id, const char *path, struct enclave *e,
		       char **error)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	reset_enclave(d, e);
	r = util_read_file(path, STATE_RECORD_MAX, &text, &len);
	if (r < 0)
		return asprintf(error, "cannot read it: %s", strerror(-r)) < 0 ? -ENOMEM : r;
	r = state_record_decode(text, len, id, e, error);
	if (r < 0)
		reset_enclave(d, e);
	return r;
}

/* Read id's record and, when its VMM lives, send it Adopt. false: no usable record. */
static bool prepare_one(struct enclaved *d, const char *id, const char *record_path,
			struct adoption *a)
{
	_cleanup_free_ char *error = NULL;
	struct enclave *e = calloc(1, sizeof(*e));
	char corrupt[4400], backup[4200];
	int r;

	*a = (struct adoption){.fd = -1, .pidfd = -ESRCH};
	if (!e) {
		log_error("enclave record %s: out of memory", record_path);
		return false;
	}
	r = load_record(d, id, record_path, e, &error);
	if (r < 0) {
		_cleanup_free_ char *backup_error = NULL;
		int rb = -ENAMETOOLONG;

		snprintf(corrupt, sizeof(corrupt), "%s.corrupt", record_path);
		if (state_path(d, id, STATE_BACKUP_SUFFIX, backup, sizeof(backup)) == 0)
			rb = load_record(d, id, backup, e, &backup_error);
		if (rb == 0) {
			log_warn("enclave record %s is damaged: %s; recovered from %s, the damaged "
				 "copy kept as %s",
				 record_path, error ? error : strerror(-r), backup, corrupt);
		} else {
			log_error("enclave record %s is damaged: %s; its backup %s too: %s; not "
				  "trusted, kept as %s (its VMM, if any, is not re-adopted: end it "
				  "by hand)",
				  record_path, error ? error : strerror(-r), backup,
				  backup_error ? backup_error : strerror(-rb), corrupt);
		}
		if (rename(record_path, corrupt) < 0 && errno != ENOENT)
			log_warn("cannot rename %s: %s", record_path, strerror(errno));
		if (rb < 0) {
			enclave_free(e);
			return false;
		}
	}
	a->e = e;
	if (e->generation > d->registry.next_generation)
		d->registry.next_generation = e->generation;
	snprintf(e->runtime_dir, sizeof(e->runtime_dir), "%s/enclaves/%s", d->opts.runtime_dir,
		 e->id);
	a->pidfd = open_vmm(e);
	if (a->pidfd == -ENOSYS)
		log_warn("%s: no pidfd_open: the death of VMM %d is noticed by polling /proc",
			 e->id, (int)e->pid);
	if (a->pidfd >= 0 || a->pidfd == -ENOSYS) {
		e->pidfd = a->pidfd >= 0 ? a->pidfd : -1; /* enclave_kill uses it from here on */
		e->generation = ++d->registry.next_generation;
		a->r = handshake_send(e, e->generation, &a->fd, a->why, sizeof(a->why));
	}
	return true;
}

/* Into the registry: RUNNING again, or FAILED with the reason and resources back. */
static void finish_one(struct enclaved *d, struct adoption *a)
{
	struct enclave *e = a->e;
	char why[400];
	int r;

	if (a->pidfd >= 0 || a->pidfd == -ENOSYS) {
		r = adopt_live(d, a);
		if (r == 0) {
			enclave_add(d, e);
			return;
		}
		/* Alive but not ours to manage any more: end it rather than leak it. */
		log_error("%s (%s): VMM %d cannot be re-adopted: %s; killing it", e->id, e->name,
			  (int)e->pid, a->why);
		(void)enclave_kill(e, SIGKILL);
		vmm_process_close_channel(e);
		if (a->fd >= 0)
			close(a->fd);
		a->fd = -1;
		enclaved__vmm__adopt_state__free_unpacked(a->st, NULL);
		a->st = NULL;
		if (e->heartbeat_timer) {
			event_free(e->heartbeat_timer);
			e->heartbeat_timer = NULL;
		}
		if (e->pidfd_ev) {
			event_free(e->pidfd_ev);
			e->pidfd_ev = NULL;
		}
		if (e->pidfd >= 0)
			close(e->pidfd);
		e->pidfd = -1;
		snprintf(e->reason, sizeof(e->reason), "could not be re-adopted: %.200s", a->why);
	} else {
		read_exit_record(e, e->reason, sizeof(e->reason));
		log_error("%s (%s): FAILED: %s", e->id, e->name, e->reason);
	}
	/* Gone: report it FAILED (Describe keeps it), give its CPUs, memory and cgroup back. */
	e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_FAILED;
	e->pid = 0;
	if (e->lease || take_lease(d, e, why, sizeof(why)) == 0) {
		(void)pool_release(e->lease);
		e->lease = NULL;
	}
	if (e->attestation) {
		attestation_enclave_free(e->attestation);
		e->attestation = NULL;
	}
	enclave_remove_runtime(e);
	enclave_add(d, e);
}

/* The id a record file is for, when the name is <id>.json or <id>.json.bak. */
static bool record_id(const char *name, char *id, size_t id_size)
{
	static const char *const suffixes[] = {".json", STATE_BACKUP_SUFFIX};
	size_t n = strlen(name);

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(suffixes); i++) {
		size_t k = strlen(suffixes[i]);
		if (n > k && n - k < id_size && strcmp(name + n - k, suffixes[i]) == 0) {
			memcpy(id, name, n - k);
			id[n - k] = '\0';
			return true;
		}
	}
	return false;
}

int state_adopt_all(struct enclaved *d)
{
	char dir[4200];
	struct dirent *de;
	DIR *dh;
	char(*ids)[ENCLAVE_ID_MAX] = NULL;
	struct adoption *adoptions = NULL;
	size_t n_ids = 0, examined = 0, n_adoptions = 0;
	int r = 0;

	snprintf(dir, sizeof(dir), "%s/" STATE_RECORD_DIR, d->opts.runtime_dir);
	dh = opendir(dir);
	if (!dh)
		return errno == ENOENT ? 0 : -errno;
	/* Names first, adoption after: adopting rewrites records, and a directory changed while
	 * it is read may show the new entries again (tmpfs does), which would adopt twice. */
	while ((de = readdir(dh))) {
		char id[ENCLAVE_ID_MAX], (*grown)[ENCLAVE_ID_MAX];
		bool seen = false;

		if (!record_id(de->d_name, id, sizeof(id)))
			continue;
		for (size_t i = 0; i < n_ids && !seen; i++)
			seen = strcmp(ids[i], id) == 0;
		if (seen)
			continue;
		grown = reallocarray(ids, n_ids + 1, sizeof(*ids));
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		ids = grown;
		memcpy(ids[n_ids++], id, sizeof(id));
	}
	adoptions = calloc(n_ids ? n_ids : 1, sizeof(*adoptions));
	if (!adoptions) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_ids; i++) {
		char path[4200 + ENCLAVE_ID_MAX];

		if (state_path(d, ids[i], ".json", path, sizeof(path)) < 0 ||
		    enclave_find(d, ids[i], NULL))
			continue;
		examined++;
		if (prepare_one(d, ids[i], path, &adoptions[n_adoptions]))
			n_adoptions++;
	}
	await_answers(adoptions, n_adoptions);
	for (size_t i = 0; i < n_adoptions; i++)
		finish_one(d, &adoptions[i]);
	if (examined)
		log_info("re-adoption: %zu enclave record(s) examined", examined);
	enclaved_notify_status(d);
out:
	free(adoptions);
	free(ids);
	closedir(dh);
	return r;
}
