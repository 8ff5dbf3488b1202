/* One RPC per command: connect, pack, call, map the status to an exit code. */
#include "config.h"

#include "ctl/ctl.h"
#include "ctl/progress.h"

#include "common/util.h"
#include "rpc/rpc.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

/* Generous: only a daemon that hangs hits it. Streams pass their own. */
#define CTL_CALL_TIMEOUT_NS (120LL * 1000 * 1000 * 1000)

static const char *ctl_socket_path;

void ctl_set_socket(const char *path)
{
	ctl_socket_path = path;
}

const char *ctl_socket(void)
{
	const char *env = getenv("ENCLAVED_SOCKET");

	if (ctl_socket_path)
		return ctl_socket_path;
	return env && *env ? env : CTL_DEFAULT_SOCKET;
}

int ctl_exit_for_status(int code)
{
	if (code <= 0 || code > RPC_UNAUTHENTICATED)
		code = RPC_UNKNOWN;
	return CTL_EXIT_STATUS_BASE + code;
}

int ctl_fail(int exit_code, const char *fmt, ...)
{
	va_list ap;

	ctl_progress_hold(); /* a run-enclave heartbeat wait may be on the line */
	fputs("enclavectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ctl_progress_release();
	return exit_code;
}

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "enclavectl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see enclavectl %s --help)\n", cmd);
	return CTL_EXIT_USAGE;
}

int ctl_fail_transport(int err)
{
	int code = err == -EACCES || err == -EPERM ? RPC_PERMISSION_DENIED
		   : err == -ETIMEDOUT		   ? RPC_DEADLINE_EXCEEDED
						   : RPC_UNAVAILABLE;
	const char *hint = err == -ENOENT || err == -ECONNREFUSED ? " (is enclaved running?)" : "";

	return ctl_fail(ctl_exit_for_status(code), "%s: cannot talk to enclaved at %s: %s%s",
			rpc_code_name(code), ctl_socket(), strerror(-err), hint);
}

static int fail_status(struct rpc_status *status)
{
	int rc = ctl_fail(ctl_exit_for_status(status->code), "%s: %s", rpc_code_name(status->code),
			  status->message && *status->message ? status->message : "(no message)");
	rpc_status_clear(status);
	return rc;
}

static int pack(const ProtobufCMessage *req, uint8_t **buf, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(req);
	*buf = malloc(*len ? *len : 1);
	if (!*buf)
		return ctl_fail(CTL_EXIT_LOCAL, "out of memory");
	protobuf_c_message_pack(req, *buf);
	return CTL_EXIT_OK;
}

int ctl_call(const char *service, const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
	return ctl_call_timeout(service, method, req, resp_desc, resp, CTL_CALL_TIMEOUT_NS);
}

bool ctl_transport_retryable(int err)
{
	/* The socket is absent or refusing while systemd restarts enclaved (socket activation
	 * queues instead), and a connection to the old daemon ends in a reset or a broken pipe. */
	return err == -ENOENT || err == -ECONNREFUSED || err == -ECONNRESET || err == -EPIPE ||
	       err == -ENOTCONN || err == -ECONNABORTED || err == -EAGAIN;
}

/* Connect and send; a transport error that a restart explains is returned as -errno without a
 * word when quiet, else printed. */
static int call(const char *service, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
		int64_t timeout_ns, bool quiet)
{
	struct rpc_client *client = NULL;
	struct rpc_status status = {0};
	_cleanup_free_ uint8_t *req_buf = NULL;
	_cleanup_free_ uint8_t *resp_buf = NULL;
	size_t req_len, resp_len = 0;
	int rc, r;

	*resp = NULL;
	rc = pack(req, &req_buf, &req_len);
	if (rc != CTL_EXIT_OK)
		return rc;
	r = rpc_client_connect(ctl_socket(), &client);
	if (r >= 0) {
		r = rpc_client_call(client, service, method, req_buf, req_len, timeout_ns, &status,
				    &resp_buf, &resp_len);
		rpc_client_free(client);
	}
	if (r < 0)
		return quiet && ctl_transport_retryable(r) ? r : ctl_fail_transport(r);
	if (status.code != RPC_OK)
		return fail_status(&status);
	rpc_status_clear(&status);
	*resp = protobuf_c_message_unpack(resp_desc, NULL, resp_len, resp_buf);
	if (!*resp)
		return ctl_fail(CTL_EXIT_BAD_RESPONSE, "%s/%s: cannot decode the answer as %s",
				service, method, resp_desc->name);
	return CTL_EXIT_OK;
}

int ctl_call_timeout(const char *service, const char *method, const ProtobufCMessage *req,
		     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
		     int64_t timeout_ns)
{
	return call(service, method, req, resp_desc, resp, timeout_ns, false);
}

int ctl_call_retryable(const char *service, const char *method, const ProtobufCMessage *req,
		       const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
	return call(service, method, req, resp_desc, resp, CTL_CALL_TIMEOUT_NS, true);
}

static int stream(const char *service, const char *method, const ProtobufCMessage *req,
		  int64_t timeout_ns,
		  int (*on_message)(const uint8_t *msg, size_t len, void *userdata), void *userdata,
		  bool quiet)
{
	struct rpc_client *client = NULL;
	_cleanup_free_ uint8_t *req_buf = NULL;
	size_t req_len;
	int rc, r;

	rc = pack(req, &req_buf, &req_len);
	if (rc != CTL_EXIT_OK)
		return rc;
	r = rpc_client_connect(ctl_socket(), &client);
	if (r >= 0)
		r = rpc_client_stream_open(client, service, method, req_buf, req_len, timeout_ns);
	for (rc = -1; r >= 0 && rc < 0;) {
		struct rpc_status status = {0};
		uint8_t *msg = NULL;
		size_t len = 0;

		r = rpc_client_stream_recv(client, &status, &msg, &len);
		if (r == 0)
			rc = status.code != RPC_OK ? fail_status(&status) : CTL_EXIT_OK;
		rpc_status_clear(&status);
		if (r > 0) {
			rc = on_message(msg, len, userdata);
			rc = rc == CTL_EXIT_OK ? -1 : rc;
			free(msg);
		}
	}
	rpc_client_free(client);
	if (r < 0)
		return quiet && ctl_transport_retryable(r) ? r : ctl_fail_transport(r);
	return rc;
}

int ctl_stream(const char *service, const char *method, const ProtobufCMessage *req,
	       int64_t timeout_ns,
	       int (*on_message)(const uint8_t *msg, size_t len, void *userdata), void *userdata)
{
	return stream(service, method, req, timeout_ns, on_message, userdata, false);
}

int ctl_stream_retryable(const char *service, const char *method, const ProtobufCMessage *req,
			 int (*on_message)(const uint8_t *msg, size_t len, void *userdata),
			 void *userdata)
{
	return stream(service, method, req, 0, on_message, userdata, true);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ctl_backoff_start(struct ctl_backoff *b, uint32_t timeout_s)
{
	b->deadline_ms = now_ms() + (uint64_t)timeout_s * 1000;
	b->delay_ms = CTL_BACKOFF_FIRST_MS;
}

bool ctl_backoff_sleep(struct ctl_backoff *b)
{
	uint64_t now = now_ms(), delay = b->delay_ms;
	struct timespec ts;

	if (now >= b->deadline_ms)
		return false;
	if (delay > b->deadline_ms - now)
		delay = b->deadline_ms - now;
	ts.tv_sec = (time_t)(delay / 1000);
	ts.tv_nsec = (long)(delay % 1000) * 1000000L;
	(void)nanosleep(&ts, NULL); /* a signal cuts it short: the caller looks at it */
	b->delay_ms = b->delay_ms * 2 > CTL_BACKOFF_MAX_MS ? CTL_BACKOFF_MAX_MS : b->delay_ms * 2;
	return true;
}

int ctl_print_json(struct json_object *obj)
{
	if (!obj)
		return ctl_fail(CTL_EXIT_LOCAL, "out of memory");
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	return CTL_EXIT_OK;
}

int ctl_parse_u64(const char *cmd, const char *flag, const char *s, uint64_t max, uint64_t *out)
{
	if (util_parse_u64(s, max, out) < 0)
		return ctl_usage_error(cmd, "%s: '%s' is not a number between 0 and %llu", flag, s,
				       (unsigned long long)max);
	return CTL_EXIT_OK;
}

int ctl_parse_cpu_list(const char *cmd, const char *s, uint32_t **ids, size_t *n)
{
	_cleanup_free_ char *copy = strdup(s);
	char *save = NULL;

	if (!copy)
		return ctl_fail(CTL_EXIT_LOCAL, "out of memory");
	for (char *item = strtok_r(copy, ", ", &save); item; item = strtok_r(NULL, ", ", &save)) {
		char *dash = strchr(item, '-');
		uint64_t lo, hi;
		if (dash)
			*dash = '\0';
		if (util_parse_u64(item, 4095, &lo) < 0 ||
		    (dash && util_parse_u64(dash + 1, 4095, &hi) < 0))
			return ctl_usage_error(cmd, "--cpu-ids: '%s' is not a CPU id or range", s);
		if (!dash)
			hi = lo;
		if (hi < lo)
			return ctl_usage_error(cmd, "--cpu-ids: range %llu-%llu is descending",
					       (unsigned long long)lo, (unsigned long long)hi);
		for (uint64_t c = lo; c <= hi; c++) {
			uint32_t *grown = reallocarray(*ids, *n + 1, sizeof(**ids));
			if (!grown)
				return ctl_fail(CTL_EXIT_LOCAL, "out of memory");
			*ids = grown;
			(*ids)[(*n)++] = (uint32_t)c;
		}
	}
	return CTL_EXIT_OK;
}

int ctl_parse_reconnect(const char *cmd, const char *s, uint64_t *out)
{
	return ctl_parse_u64(cmd, "--reconnect-timeout", s, 86400, out);
}

bool ctl_enclave_opt(int c, char *value, char **id, char **name)
{
	if (c == 'i')
		*id = value;
	else if (c == 'n')
		*name = value;
	return c == 'i' || c == 'n';
}

int ctl_check_args(int argc, char **argv, bool need_enclave, const char *id, const char *name)
{
	if (optind < argc)
		return ctl_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	if (need_enclave && CTL_GIVEN(id) == CTL_GIVEN(name))
		return ctl_usage_error(argv[0],
				       "give exactly one of --enclave-id and --enclave-name");
	return CTL_EXIT_OK;
}

int ctl_describe(const char *id, const char *name, ProtobufCMessage **resp,
		 const Enclaved__V1__Enclave **e)
{
	Enclaved__V1__DescribeEnclaveRequest req = ENCLAVED__V1__DESCRIBE_ENCLAVE_REQUEST__INIT;
	int rc;

	if (id)
		req.enclave_id = (char *)id;
	if (name)
		req.enclave_name = (char *)name;
	rc = ctl_call(CTL_SERVICE_ENCLAVES, "Describe", &req.base,
		      &enclaved__v1__describe_enclave_response__descriptor, resp);
	if (rc)
		return rc;
	*e = ((Enclaved__V1__DescribeEnclaveResponse *)*resp)->enclave;
	if (!*e) {
		protobuf_c_message_free_unpacked(*resp, NULL);
		*resp = NULL;
		return ctl_fail(CTL_EXIT_BAD_RESPONSE, "Describe answered without an enclave");
	}
	return CTL_EXIT_OK;
}
