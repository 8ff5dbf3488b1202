/* Following enclaves through the Events stream: run-enclave --wait (systemd's
 * enclave@.service runs enclavectl as its main process), resize-enclave --wait and `enclavectl
 * events`. The stream's first messages are a snapshot of the enclave, so subscribing after Run
 * or Resize misses nothing. Older daemons answer UNIMPLEMENTED: then Describe is polled.
 *
 * The rpc client retries reads interrupted by signals, so SIGTERM/SIGINT/SIGALRM shut the
 * stream's socket down from the handler (async-signal-safe), which ends the blocking read. */
#include "config.h"

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "ctl/getopt-util.h"
#include "ctl/wait.h"

#include "common/util.h"
#include "rpc/rpc.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define WAIT_POLL_MS 250
#define KIND_PREFIX  "ENCLAVE_EVENT_KIND_"

static volatile sig_atomic_t stop_signal, timed_out;
static volatile sig_atomic_t stream_fd = -1;

static void on_signal(int sig)
{
	if (sig == SIGALRM)
		timed_out = 1;
	else
		stop_signal = sig;
	if (stream_fd >= 0)
		(void)shutdown(stream_fd, SHUT_RDWR);
}

static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGALRM, &sa, NULL);
}

static bool is_final(Enclaved__V1__EnclaveState s)
{
	return s == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATED ||
	       s == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_FAILED;
}

static int fail_status(const struct rpc_status *st)
{
	return ctl_fail(ctl_exit_for_status(st->code), "%s: %s", rpc_code_name(st->code),
			st->message && *st->message ? st->message : "(no message)");
}

static void sleep_poll(void)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = WAIT_POLL_MS * 1000000L};

	(void)nanosleep(&ts, NULL); /* a signal cuts it short */
}

/* ---- the stream -------------------------------------------------------------------------- */

struct events {
	struct rpc_client *client;
};

static void events_close(struct events *ev)
{
	stream_fd = -1;
	rpc_client_free(ev->client);
	ev->client = NULL;
}

/* Connect (our own fd, so that a signal can shut it down) and send EventsRequest: 0 or a
 * negative errno, reported by the caller. */
static int events_open(const char *id, struct events *ev)
{
	Enclaved__V1__EventsRequest req = ENCLAVED__V1__EVENTS_REQUEST__INIT;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_free_ uint8_t *buf = NULL;
	const char *path = ctl_socket();
	int fd, r;
	size_t len;

	ev->client = NULL;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	req.enclave_id = (char *)(id ? id : "");
	len = enclaved__v1__events_request__get_packed_size(&req);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	enclaved__v1__events_request__pack(&req, buf);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = rpc_client_new_fd(fd, &ev->client); /* takes fd */
	if (r < 0)
		return r;
	stream_fd = fd;
	r = rpc_client_stream_open(ev->client, CTL_SERVICE_ENCLAVES, "Events", buf, len, 0);
	if (r < 0)
		events_close(ev);
	return r;
}

/* 1 and *out; 0 when the stream ended (*st says how); a negative errno for the transport
 * (also after a signal shut the socket down). */
static int events_next(struct events *ev, Enclaved__V1__EnclaveEvent **out, struct rpc_status *st)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int r = rpc_client_stream_recv(ev->client, st, &msg, &len);

	if (r <= 0)
		return r;
	*out = enclaved__v1__enclave_event__unpack(NULL, len, msg);
	free(msg);
	return *out ? 1 : -EBADMSG;
}

/* ---- following one enclave across restarts of enclaved ----------------------------------- */

/* One observation of the enclave: -1 to go on, else the exit code. */
struct follow;
typedef int (*observe_fn)(struct follow *f, Enclaved__V1__EnclaveState state, const char *reason,
			  const Enclaved__V1__EnclaveMemory *memory);

struct follow {
	const char *id;
	uint32_t reconnect_s; /* 0: a broken connection ends the wait */
	observe_fn observe;
	bool polling; /* the daemon answered Events UNIMPLEMENTED: Describe instead */
	bool lost;    /* between a broken connection and the next answer */
	struct ctl_backoff backoff;
	/* run-enclave --wait */
	uint64_t cid;
	bool notified;
	/* resize-enclave --wait */
	uint64_t target_mib;
};

/* One Describe for the polling fallback: 0 with *rc set, or a transport errno. */
static int poll_once(struct follow *f, int *rc)
{
	Enclaved__V1__DescribeEnclaveRequest req = ENCLAVED__V1__DESCRIBE_ENCLAVE_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	const Enclaved__V1__Enclave *e;
	int r;

	*rc = -1;
	if (!f->lost)
		sleep_poll();
	if (stop_signal || timed_out)
		return 0;
	req.enclave_id = (char *)f->id;
	r = ctl_call_retryable(CTL_SERVICE_ENCLAVES, "Describe", &req.base,
			       &enclaved__v1__describe_enclave_response__descriptor, &resp);
	if (r < 0)
		return r;
	if (r > 0) {
		*rc = r;
		return 0;
	}
	e = ((Enclaved__V1__DescribeEnclaveResponse *)resp)->enclave;
	*rc = e ? f->observe(f, e->state, e->state_reason, e->memory)
		: ctl_fail(CTL_EXIT_BAD_RESPONSE, "Describe answered without an enclave");
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

/* The next observation from the stream: 0 with *rc set, or a transport errno. */
static int stream_once(struct follow *f, struct events *ev, int *rc)
{
	struct rpc_status st = {0};
	Enclaved__V1__EnclaveEvent *e = NULL;
	int r = events_next(ev, &e, &st);

	*rc = -1;
	if (stop_signal || timed_out)
		r = 0;
	else if (r == 0 && st.code == RPC_UNIMPLEMENTED) {
		events_close(ev);
		f->polling = true;
	} else if (r == 0 && (st.code == RPC_OK || st.code == RPC_UNAVAILABLE))
		r = -ECONNRESET; /* a daemon on its way out ends its streams */
	else if (r == 0)
		*rc = fail_status(&st);
	else if (r > 0)
		*rc = f->observe(f, e->state, e->reason, e->memory);
	rpc_status_clear(&st);
	if (e)
		enclaved__v1__enclave_event__free_unpacked(e, NULL);
	return r < 0 ? r : 0;
}

/* After a broken connection: wait for the next try, or give up with the exit code. */
static int follow_lost(struct follow *f, int err)
{
	if (!f->reconnect_s || !ctl_transport_retryable(err))
		return ctl_fail_transport(err);
	if (!f->lost) {
		f->lost = true;
		ctl_backoff_start(&f->backoff, f->reconnect_s);
		fprintf(stderr,
			"enclavectl: lost enclaved at %s (%s); reconnecting for up to %u s\n",
			ctl_socket(), strerror(-err), f->reconnect_s);
		(void)sd_notifyf(0, "STATUS=enclave %s: reconnecting to enclaved", f->id);
	}
	if (ctl_backoff_sleep(&f->backoff))
		return -1;
	return ctl_fail(ctl_exit_for_status(RPC_UNAVAILABLE),
			"UNAVAILABLE: enclaved at %s did not answer again within %u s (%s); "
			"enclave %s may still run",
			ctl_socket(), f->reconnect_s, strerror(-err), f->id);
}

/* Observe until f->observe returns an exit code; -EINTR when a signal (stop_signal,
 * timed_out) ended the wait first. Every broken connection to enclaved is retried for
 * f->reconnect_s; the new subscription's snapshot re-reads the enclave's state. */
static int follow(struct follow *f)
{
	struct events ev = {0};
	int rc = -1, r = events_open(f->id, &ev);

	while (rc < 0) {
		if (stop_signal || timed_out) {
			rc = -EINTR;
			break;
		}
		if (r >= 0) {
			bool was_lost = f->lost;
			r = f->polling ? poll_once(f, &rc) : stream_once(f, &ev, &rc);
			if (r >= 0 && was_lost && !stop_signal && !timed_out) {
				f->lost = false;
				fprintf(stderr,
					"enclavectl: reconnected to enclaved; following "
					"enclave %s again\n",
					f->id);
			}
			continue;
		}
		events_close(&ev);
		rc = follow_lost(f, r);
		if (rc < 0 && !stop_signal && !timed_out)
			r = f->polling ? 0 : events_open(f->id, &ev);
	}
	events_close(&ev);
	return rc;
}

/* ---- run-enclave --wait ------------------------------------------------------------------ */

/* Terminate on SIGTERM/SIGINT, retrying while enclaved is away: `systemctl stop enclave@x`
 * must end the enclave even when it lands in a daemon restart. */
static int terminate(const char *id, uint32_t reconnect_s)
{
	Enclaved__V1__TerminateEnclaveRequest req = ENCLAVED__V1__TERMINATE_ENCLAVE_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct ctl_backoff backoff;
	int rc;

	(void)sd_notify(0, "STOPPING=1");
	fprintf(stderr, "enclavectl: %s: terminating enclave %s\n", strsignal(stop_signal), id);
	req.enclave_id = (char *)id;
	ctl_backoff_start(&backoff, reconnect_s);
	while ((rc = ctl_call_retryable(CTL_SERVICE_ENCLAVES, "Terminate", &req.base,
					&enclaved__v1__terminate_enclave_response__descriptor,
					&resp)) < 0) {
		if (!ctl_backoff_sleep(&backoff)) {
			rc = ctl_fail_transport(rc);
			break;
		}
	}
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

static int observe_run(struct follow *f, Enclaved__V1__EnclaveState state, const char *reason,
		       const Enclaved__V1__EnclaveMemory *memory)
{
	(void)memory;
	if (state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING) {
		(void)sd_notifyf(0, "%sSTATUS=enclave %s running, CID %llu",
				 f->notified ? "" : "READY=1\n", f->id, (unsigned long long)f->cid);
		f->notified = true;
	}
	if (!is_final(state))
		return -1;
	bool failed = state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_FAILED;
	fprintf(stderr, "enclavectl: enclave %s %s: %s\n", f->id, failed ? "failed" : "terminated",
		reason);
	return failed ? CTL_EXIT_ENCLAVE_FAILED : CTL_EXIT_OK;
}

int ctl_wait_enclave(const char *id, uint64_t cid, uint32_t reconnect_s)
{
	struct follow f = {
	    .id = id, .reconnect_s = reconnect_s, .observe = observe_run, .cid = cid};
	int rc;

	catch_signals();
	rc = follow(&f);
	return rc == -EINTR ? terminate(id, reconnect_s) : rc;
}

/* ---- resize-enclave --wait --------------------------------------------------------------- */

static bool reached(const Enclaved__V1__EnclaveMemory *m, uint64_t target_mib)
{
	return m && m->boot_mib + m->plugged_mib == target_mib;
}

/* Print the enclave as it is now; on a miss, say what it kept. */
static int resize_report(const char *id, uint64_t target_mib, uint32_t timeout_s, bool ok)
{
	ProtobufCMessage *resp = NULL;
	const Enclaved__V1__Enclave *e;
	const Enclaved__V1__EnclaveMemory *m;
	int rc = ctl_describe(id, NULL, &resp, &e);

	if (rc)
		return rc;
	m = e->memory;
	rc = ctl_print_json(ctl_json_enclave(e, true));
	if (rc == CTL_EXIT_OK && m && (ok || reached(m, target_mib)))
		fprintf(stderr, "enclavectl: enclave %s: %llu MiB (boot %llu + plugged %llu MiB)\n",
			id, (unsigned long long)(m->boot_mib + m->plugged_mib),
			(unsigned long long)m->boot_mib, (unsigned long long)m->plugged_mib);
	else if (rc == CTL_EXIT_OK)
		rc = ctl_fail(
		    ctl_exit_for_status(RPC_DEADLINE_EXCEEDED),
		    "DEADLINE_EXCEEDED: enclave %s did not reach %llu MiB within %u s: the "
		    "guest has %llu MiB (boot %llu + plugged %llu MiB) and keeps it; the "
		    "request stays at %llu MiB",
		    id, (unsigned long long)target_mib, timeout_s,
		    m ? (unsigned long long)(m->boot_mib + m->plugged_mib) : 0ULL,
		    m ? (unsigned long long)m->boot_mib : 0ULL,
		    m ? (unsigned long long)m->plugged_mib : 0ULL,
		    m ? (unsigned long long)m->requested_mib : 0ULL);
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

static int observe_resize(struct follow *f, Enclaved__V1__EnclaveState state, const char *reason,
			  const Enclaved__V1__EnclaveMemory *memory)
{
	if (state != ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING)
		return ctl_fail(ctl_exit_for_status(RPC_FAILED_PRECONDITION),
				"FAILED_PRECONDITION: enclave %s is %s (%s) before reaching its "
				"memory request",
				f->id, ctl_state_name(state), reason);
	return reached(memory, f->target_mib) ? CTL_EXIT_OK : -1;
}

int ctl_wait_resize(const char *id, uint64_t target_mib, uint32_t timeout_s, uint32_t reconnect_s)
{
	struct follow f = {.id = id,
			   .reconnect_s = reconnect_s,
			   .observe = observe_resize,
			   .target_mib = target_mib};
	int rc;

	catch_signals();
	if (timeout_s)
		alarm(timeout_s);
	rc = follow(&f);
	alarm(0);
	if (rc == -EINTR && stop_signal)
		return ctl_fail(ctl_exit_for_status(RPC_CANCELLED), "CANCELLED: %s while waiting",
				strsignal(stop_signal));
	if (rc == -EINTR || rc == CTL_EXIT_OK)
		return resize_report(id, target_mib, timeout_s, rc == CTL_EXIT_OK);
	return rc;
}

/* ---- enclavectl events ------------------------------------------------------------------- */

static const char events_help[] =
    "Usage: enclavectl events [--enclave-id ID]\n"
    "Follow the enclaves you may see (root: all; members: their own), one JSON object per\n"
    "line: first a SNAPSHOT of each, then every change (STATE, HEARTBEAT, MEMORY) as it\n"
    "happens, until interrupted.\n";

static struct json_object *event_json(const Enclaved__V1__EnclaveEvent *e)
{
	const ProtobufCEnumValue *kind = protobuf_c_enum_descriptor_get_value(
	    &enclaved__v1__enclave_event_kind__descriptor, e->kind);
	const char *kind_name = kind ? kind->name : "UNSPECIFIED";
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (strncmp(kind_name, KIND_PREFIX, strlen(KIND_PREFIX)) == 0)
		kind_name += strlen(KIND_PREFIX);
	json_object_object_add(o, "TimeUnixNs", json_object_new_uint64(e->time_unix_ns));
	json_object_object_add(o, "EnclaveID", json_object_new_string(e->enclave_id));
	json_object_object_add(o, "EnclaveName", json_object_new_string(e->enclave_name));
	json_object_object_add(o, "Kind", json_object_new_string(kind_name));
	json_object_object_add(o, "State", json_object_new_string(ctl_state_name(e->state)));
	json_object_object_add(o, "StateReason", json_object_new_string(e->reason));
	if (e->memory)
		json_object_object_add(o, "Memory", ctl_json_memory(e->memory));
	return o;
}

int ctl_cmd_events(int argc, char **argv)
{
	static const struct option options[] = {
	    {"enclave-id", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *id = NULL;
	struct events ev;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		switch (c) {
		case 'i':
			id = optarg;
			break;
		case 'h':
			return ctl_help(events_help);
		default:
			return ctl_bad_option(argv);
		}
	}
	if (optind < argc)
		return ctl_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	catch_signals();
	rc = events_open(id, &ev);
	if (rc < 0)
		return ctl_fail_transport(rc);
	for (rc = -1; rc < 0;) {
		struct rpc_status st = {0};
		Enclaved__V1__EnclaveEvent *e = NULL;
		struct json_object *o;
		int r;

		if (stop_signal)
			rc = CTL_EXIT_OK;
		else if ((r = events_next(&ev, &e, &st)) < 0)
			rc = stop_signal ? CTL_EXIT_OK : ctl_fail_transport(r);
		else if (r == 0)
			rc = st.code != RPC_OK ? fail_status(&st) : CTL_EXIT_OK;
		else if (!(o = event_json(e)))
			rc = ctl_fail(CTL_EXIT_LOCAL, "out of memory");
		else {
			puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
			if (fflush(stdout) != 0)
				rc = ctl_fail(CTL_EXIT_LOCAL, "stdout: %s", strerror(errno));
		}
		rpc_status_clear(&st);
		if (e)
			enclaved__v1__enclave_event__free_unpacked(e, NULL);
	}
	events_close(&ev);
	return rc;
}
