/* Enclaves.Run: validate, lease, spawn the VMM; the reply waits for the boot heartbeat
 * (nitro-cli semantics) or its deadline. */
#include "config.h"

#include "enclaved/api_enclaves.h"

#include "enclaved/enclave.h"
#include "enclaved/enclave-resize.h"
#include "enclaved/nsm_forward.h"
#include "enclaved/vmm_process.h"

#include "common/log.h"
#include "common/util.h"

#include <event2/event.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

#define EIF_PATH_MAX 4096

struct run_error {
	int code;
	char msg[512];
};

static int run_fail(struct run_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int run_fail(struct run_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->code = code;
	return -1;
}

/* The daemon runs as root: a member may only start images they could read themselves. */
static bool caller_may_read(const struct stat *st, const struct api_caller *caller)
{
	if (caller->role == AUTHZ_ROLE_ROOT)
		return true;
	if (st->st_uid == caller->peer.uid)
		return st->st_mode & S_IRUSR;
	if (st->st_gid == caller->peer.gid)
		return st->st_mode & S_IRGRP;
	return st->st_mode & S_IROTH;
}

/* Whether anyone but root could change the file while it is measured and loaded: then both
 * happen on a sealed copy (eif_snapshot). An ACL may grant writes the mode does not show. */
static bool may_change(const struct stat *st, int fd)
{
	if (st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH)))
		return true;
	return fgetxattr(fd, "system.posix_acl_access", NULL, 0) >= 0 || errno == ERANGE;
}

/* Open the image with the caller's rights; its size says how much memory it needs. */
static int open_image(const char *path, const struct api_caller *caller, int *fd_out,
		      struct stat *st, struct run_error *err)
{
	_cleanup_close_ int fd = -1;

	if (!path[0])
		return run_fail(err, RPC_INVALID_ARGUMENT, "eif_path is required");
	if (path[0] != '/' || strlen(path) >= EIF_PATH_MAX)
		return run_fail(err, RPC_INVALID_ARGUMENT,
				"eif_path '%.200s': must be an absolute path below %d bytes", path,
				EIF_PATH_MAX);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, st) < 0)
		return run_fail(err, errno == ENOENT ? RPC_NOT_FOUND : RPC_INVALID_ARGUMENT,
				"eif_path '%.200s': %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return run_fail(err, RPC_INVALID_ARGUMENT, "eif_path '%.200s': not a regular file",
				path);
	if (!caller_may_read(st, caller))
		return run_fail(err, RPC_PERMISSION_DENIED,
				"eif_path '%.200s': uid %u may not read it", path,
				(unsigned)caller->peer.uid);
	*fd_out = util_steal_fd(&fd);
	return 0;
}

/* PCRs and CRC of the image, once the lease is granted (so that a private copy of a large
 * image is never made for a Run the pool refuses). *fd may be replaced by that copy. */
static int measure_image(struct enclave *e, const char *path, int *fd, const struct stat *st,
			 struct run_error *err)
{
	struct eif_file eif;
	bool crc_ok = false;
	int r;

	if (may_change(st, *fd)) {
		int copy = -1;
		r = eif_snapshot(*fd, (uint64_t)st->st_size, &copy);
		if (r < 0)
			return run_fail(err,
					r == -ENOMEM || r == -ENOSPC ? RPC_RESOURCE_EXHAUSTED
								     : RPC_INVALID_ARGUMENT,
					"eif_path '%.200s': cannot take a private copy of it: %s",
					path, strerror(-r));
		close(*fd);
		*fd = copy;
		log_info("%s: %s can be changed by others than root (owner uid %u, mode %04o): "
			 "measured and loaded from a sealed copy of its %" PRIu64 " bytes",
			 e->id, path, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777),
			 (uint64_t)st->st_size);
	}
	r = eif_open_fd(&eif, *fd);
	if (r >= 0)
		r = eif_measure(&eif, &e->measurements, &crc_ok);
	if (r < 0 || !crc_ok) {
		run_fail(err, RPC_INVALID_ARGUMENT, "eif_path '%.200s': not a valid EIF: %s", path,
			 r < 0 ? (eif.error[0] ? eif.error : strerror(-r))
			       : "the CRC32 over the file does not match the header's");
		eif_close(&eif);
		return -1;
	}
	eif_close(&eif);
	return 0;
}

static bool name_taken(struct enclaved *d, const char *name)
{
	for (struct enclave *o = d->registry.head; o; o = o->next)
		if (enclave_is_alive(o) && strcmp(o->name, name) == 0)
			return true;
	for (struct enclave *o = d->registry.pending; o; o = o->pending_next)
		if (strcmp(o->name, name) == 0)
			return true;
	return false;
}

static int pick_name(struct enclaved *d, struct enclave *e, const char *given, const char *path,
		     struct run_error *err)
{
	char base[ENCLAVE_NAME_MAX - 8];
	_cleanup_free_ char *copy = NULL;
	char *dot;

	if (given && given[0]) {
		if (strlen(given) >= ENCLAVE_NAME_MAX)
			return run_fail(err, RPC_INVALID_ARGUMENT,
					"enclave_name: longer than %d bytes", ENCLAVE_NAME_MAX - 1);
		for (const char *p = given; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/')
				return run_fail(err, RPC_INVALID_ARGUMENT,
						"enclave_name: control character or '/' at offset "
						"%zu",
						(size_t)(p - given));
		if (name_taken(d, given))
			return run_fail(err, RPC_ALREADY_EXISTS,
					"enclave_name '%s' is used by a running enclave", given);
		snprintf(e->name, sizeof(e->name), "%s", given);
		return 0;
	}
	/* Default: the image's file name without .eif, made unique with -2, -3, ... */
	copy = strdup(path);
	if (!copy)
		return run_fail(err, RPC_INTERNAL, "out of memory");
	snprintf(base, sizeof(base), "%s", basename(copy));
	dot = strrchr(base, '.');
	if (dot && dot != base && strcmp(dot, ".eif") == 0)
		*dot = '\0';
	snprintf(e->name, sizeof(e->name), "%s", base);
	for (unsigned n = 2; name_taken(d, e->name); n++)
		snprintf(e->name, sizeof(e->name), "%s-%u", base, n);
	return 0;
}

static int validate_and_lease(struct enclaved *d, struct enclave *e,
			      const Enclaved__V1__RunEnclaveRequest *req, uint64_t eif_size,
			      struct run_error *err)
{
	struct pool_cpuset cpus;
	_cleanup_free_ char *why = NULL;
	uint64_t need = enclave_required_mib(eif_size);
	int r;

	if ((req->cpu_count == 0) == (req->n_cpu_ids == 0))
		return run_fail(err, RPC_INVALID_ARGUMENT,
				"give exactly one of cpu_count and cpu_ids");
	if (req->memory_mib == 0 || req->memory_mib % 2)
		return run_fail(err, RPC_INVALID_ARGUMENT,
				"memory_mib = %" PRIu64 ": must be a positive multiple of 2",
				req->memory_mib);
	if (req->memory_mib < need)
		return run_fail(err, RPC_INVALID_ARGUMENT,
				"memory_mib = %" PRIu64 ": the image (%" PRIu64
				" bytes) needs at least %" PRIu64 " MiB",
				req->memory_mib, eif_size, need);
	r = enclave_resize_check_max(req->memory_mib, req->max_memory_mib);
	if (r < 0)
		return run_fail(err, RPC_INVALID_ARGUMENT,
				"max_memory_mib = %" PRIu64
				": must be 0 or above memory_mib (%" PRIu64
				" MiB) by a multiple of 2 MiB, at most %u GiB",
				req->max_memory_mib, req->memory_mib, ENCLAVE_MAX_MEMORY_GIB);
	pool_cpuset_zero(&cpus);
	for (size_t i = 0; i < req->n_cpu_ids; i++) {
		if (req->cpu_ids[i] >= POOL_MAX_CPUS || pool_cpuset_has(&cpus, req->cpu_ids[i]))
			return run_fail(err, RPC_INVALID_ARGUMENT,
					"cpu_ids[%zu] = %u: out of range or repeated", i,
					req->cpu_ids[i]);
		pool_cpuset_add(&cpus, req->cpu_ids[i]);
	}
	r = enclave_pick_cid(d, req->enclave_cid, &e->cid);
	if (r == -EINVAL)
		return run_fail(err, RPC_INVALID_ARGUMENT,
				"enclave_cid = %" PRIu64 ": reserved (0 picks one; 1-3 and "
				"4294967295 and above are not enclave CIDs)",
				req->enclave_cid);
	if (r == -EEXIST)
		return run_fail(err, RPC_ALREADY_EXISTS,
				"enclave_cid = %" PRIu64 ": used by a running enclave",
				req->enclave_cid);
	if (r < 0)
		return run_fail(err, RPC_RESOURCE_EXHAUSTED, "no free CID");
	if (!d->pool)
		return run_fail(err, RPC_UNAVAILABLE, "the pool is not set up: %s",
				d->pool_error ? d->pool_error : "unknown error");
	r = pool_alloc(d->pool, e->id, req->cpu_count, req->n_cpu_ids ? &cpus : NULL,
		       req->memory_mib, &e->lease, &why);
	if (r < 0)
		return run_fail(err,
				r == -EINVAL   ? RPC_INVALID_ARGUMENT
				: r == -EEXIST ? RPC_ALREADY_EXISTS
					       : RPC_RESOURCE_EXHAUSTED,
				"pool: %s", why ? why : strerror(-r));
	pool_lease_cpus(e->lease, &cpus);
	e->n_cpus = 0;
	for (int c = pool_cpuset_next(&cpus, 0); c >= 0; c = pool_cpuset_next(&cpus, c + 1))
		e->cpu_ids[e->n_cpus++] = (uint32_t)c;
	e->memory_mib = req->memory_mib;
	enclave_resize_init(e, req->max_memory_mib);
	return 0;
}

/* <runtime>/enclaves/<id>: owner:sandbox-group, setgid 02770 (see README: vsock access). */
static int make_runtime_dir(struct enclaved *d, struct enclave *e, struct run_error *err)
{
	char parent[4096];

	snprintf(parent, sizeof(parent), "%s/enclaves", d->opts.runtime_dir);
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return run_fail(err, RPC_INTERNAL, "cannot create %s: %s", parent, strerror(errno));
	if ((size_t)snprintf(e->runtime_dir, sizeof(e->runtime_dir), "%s/%s", parent, e->id) >=
	    sizeof(e->runtime_dir))
		return run_fail(err, RPC_INTERNAL, "runtime directory path too long");
	if (mkdir(e->runtime_dir, 0700) < 0 ||
	    chown(e->runtime_dir, e->owner_uid, d->sandbox_gid) < 0 ||
	    chmod(e->runtime_dir, 02770) < 0)
		return run_fail(err, RPC_INTERNAL, "cannot set up %s: %s", e->runtime_dir,
				strerror(errno));
	return 0;
}

static void on_heartbeat_timer(evutil_socket_t fd, short what, void *userdata)
{
	enclave_on_heartbeat_timeout(userdata);
}

static void abandon(struct enclave *e)
{
	int status;

	if (e->pid > 0) {
		(void)kill(e->pid, SIGKILL);
		(void)waitpid(e->pid, &status, 0);
		e->pid = 0;
	}
	if (e->runtime_dir[0]) {
		char sock[4200];
		snprintf(sock, sizeof(sock), "%s/vsock.sock", e->runtime_dir);
		(void)unlink(sock);
		(void)rmdir(e->runtime_dir);
	}
	enclave_free(e);
}

/* A Run whose image is measured on a worker thread, so that a large image does not hold up
 * every other call: the enclave holds its name, CID and lease (registry.pending) meanwhile. */
struct run_job {
	struct enclaved *d;
	struct rpc_call *call;
	Enclaved__V1__RunEnclaveRequest *req;
	struct enclave *e;
	uid_t uid;
	int eif_fd;
	struct stat st;
	struct run_error err;
	int r;
	int done_fd; /* eventfd: the worker is done */
	struct event *done_ev;
	pthread_t thread;
	bool threaded;
	struct run_job *next; /* d->run_jobs */
};

static void job_unlink(struct run_job *job)
{
	struct enclaved *d = job->d;

	for (struct run_job **p = &d->run_jobs; *p; p = &(*p)->next)
		if (*p == job) {
			*p = job->next;
			break;
		}
	for (struct enclave **p = &d->registry.pending; *p; p = &(*p)->pending_next)
		if (*p == job->e) {
			*p = job->e->pending_next;
			job->e->pending_next = NULL;
			break;
		}
}

static void job_free(struct run_job *job)
{
	job_unlink(job);
	if (job->done_ev)
		event_free(job->done_ev);
	if (job->done_fd >= 0)
		close(job->done_fd);
	if (job->eif_fd >= 0)
		close(job->eif_fd);
	enclaved__v1__run_enclave_request__free_unpacked(job->req, NULL);
	free(job);
}

static void job_fail(struct run_job *job)
{
	log_info("Run refused for uid %u: %s: %s", (unsigned)job->uid, rpc_code_name(job->err.code),
		 job->err.msg);
	rpc_call_fail(job->call, job->err.code, "%s", job->err.msg);
	job_unlink(job); /* off registry.pending before it is freed */
	abandon(job->e);
	job->e = NULL;
	job_free(job);
}

/* The image measured: runtime directory, attestation identity, VMM, heartbeat deadline. Run
 * is answered at the heartbeat (or its timeout). */
static void job_launch(struct run_job *job)
{
	struct enclaved *d = job->d;
	struct enclave *e = job->e;
	_cleanup_free_ char *spawn_error = NULL;
	struct timeval tv;
	int r;

	job_unlink(job); /* from here on, e is the registry's or abandoned */
	if (job->r < 0 || make_runtime_dir(d, e, &job->err) < 0) {
		job_fail(job);
		return;
	}
	e->heartbeat_timeout_ms =
	    job->req->heartbeat_timeout_ms
		? job->req->heartbeat_timeout_ms
		: enclave_default_heartbeat_ms((uint64_t)job->st.st_size, e->memory_mib);
	r = nsm_forward_enclave_new(e);
	if (r < 0) {
		run_fail(&job->err, RPC_INTERNAL, "cannot create the attestation identity: %s",
			 strerror(-r));
		job_fail(job);
		return;
	}
	e->generation = ++d->registry.next_generation;
	r = vmm_process_spawn(e, job->eif_fd, &spawn_error);
	if (r < 0) {
		run_fail(&job->err, RPC_INTERNAL, "cannot start enclave-vmm: %s",
			 spawn_error ? spawn_error : strerror(-r));
		job_fail(job);
		return;
	}
	tv.tv_sec = e->heartbeat_timeout_ms / 1000;
	tv.tv_usec = (e->heartbeat_timeout_ms % 1000) * 1000;
	e->heartbeat_timer = evtimer_new(d->base, on_heartbeat_timer, e);
	if (!e->heartbeat_timer || evtimer_add(e->heartbeat_timer, &tv) < 0) {
		run_fail(&job->err, RPC_INTERNAL, "out of memory");
		job_fail(job);
		return;
	}
	e->run_call = job->call;
	enclave_add(d, e);
	log_info("%s (%s): starting for uid %u: %u CPU(s), %" PRIu64 " MiB, CID %" PRIu64
		 ", VMM %d, heartbeat within %u ms",
		 e->id, e->name, (unsigned)e->owner_uid, e->n_cpus, e->memory_mib, e->cid,
		 (int)e->pid, e->heartbeat_timeout_ms);
	enclaved_notify_status(d);
	job->e = NULL;
	job_free(job);
}

static void *job_thread(void *arg)
{
	struct run_job *job = arg;
	uint64_t one = 1;

	job->r = measure_image(job->e, job->e->eif_path, &job->eif_fd, &job->st, &job->err);
	if (write(job->done_fd, &one, sizeof(one)) != sizeof(one))
		log_error("Run of %s: cannot wake the event loop", job->e->id);
	return NULL;
}

static void on_job_done(evutil_socket_t fd, short what, void *userdata)
{
	struct run_job *job = userdata;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_join(job->thread, NULL);
	job->threaded = false;
	job_launch(job);
}

/* Measure off the event loop; without a worker (none could be made), right here. */
static void job_start(struct run_job *job)
{
	struct enclaved *d = job->d;

	job->e->pending_next = d->registry.pending;
	d->registry.pending = job->e;
	job->next = d->run_jobs;
	d->run_jobs = job;
	job->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (job->done_fd >= 0)
		job->done_ev = event_new(d->base, job->done_fd, EV_READ, on_job_done, job);
	if (job->done_ev && event_add(job->done_ev, NULL) == 0 &&
	    pthread_create(&job->thread, NULL, job_thread, job) == 0) {
		job->threaded = true;
		return;
	}
	job->r = measure_image(job->e, job->e->eif_path, &job->eif_fd, &job->st, &job->err);
	job_launch(job);
}

void api_run_stop(struct enclaved *d)
{
	while (d->run_jobs) {
		struct run_job *job = d->run_jobs;
		if (job->threaded)
			pthread_join(job->thread, NULL); /* a measurement ends by itself */
		job->threaded = false;
		run_fail(&job->err, RPC_UNAVAILABLE, "enclaved is stopping");
		job_fail(job);
	}
}

void api_enclaves_run(struct enclaved *d, struct rpc_call *call, const struct api_caller *caller,
		      const struct api_method *method, const uint8_t *payload, size_t len)
{
	Enclaved__V1__RunEnclaveRequest *req = (Enclaved__V1__RunEnclaveRequest *)api_unpack(
	    call, &enclaved__v1__run_enclave_request__descriptor, payload, len);
	struct run_job *job;
	struct enclave *e;

	if (!req)
		return;
	job = calloc(1, sizeof(*job));
	e = calloc(1, sizeof(*e));
	if (!job || !e) {
		rpc_call_fail(call, RPC_INTERNAL, "out of memory");
		free(job);
		free(e);
		enclaved__v1__run_enclave_request__free_unpacked(req, NULL);
		return;
	}
	*job = (struct run_job){.d = d,
				.call = call,
				.req = req,
				.e = e,
				.uid = caller->peer.uid,
				.eif_fd = -1,
				.done_fd = -1};
	e->daemon = d;
	e->channel_fd = -1;
	e->owner_uid = caller->peer.uid;
	e->owner_gid = caller->peer.gid;
	e->debug = req->debug_mode;
	e->start_time_ns = util_now_realtime_ns();
	e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_STARTING;
	e->eif_path = strdup(req->eif_path ? req->eif_path : "");
	if (!e->eif_path || enclave_make_id(d, e->id, sizeof(e->id)) < 0) {
		run_fail(&job->err, RPC_INTERNAL, "out of memory or randomness");
		job_fail(job);
		return;
	}
	if (open_image(e->eif_path, caller, &job->eif_fd, &job->st, &job->err) < 0 ||
	    pick_name(d, e, req->enclave_name, e->eif_path, &job->err) < 0 ||
	    validate_and_lease(d, e, req, (uint64_t)job->st.st_size, &job->err) < 0) {
		job_fail(job);
		return;
	}
	job_start(job);
}
