/* Helpers shared by enclavectl's command files: the socket, one RPC with a protobuf request,
 * JSON output, and the exit-code table.
 *
 * Exit codes (also in `enclavectl --help` and ctl/README.md):
 *   0        success
 *   1        usage error (bad or missing flags)
 *   3        the daemon's answer could not be decoded
 *   4        the command is not built into this enclavectl yet
 *   5        a local file could not be read or written
 *   6        run-enclave --wait: the enclave ended FAILED
 *   10 + N   the daemon (or the connection) answered google.rpc.Code N, e.g.
 *            17 PERMISSION_DENIED, 22 UNIMPLEMENTED, 24 UNAVAILABLE (daemon not reachable) */
#pragma once

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/enclaved.pb-c.h"

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_USAGE = 1,
	CTL_EXIT_BAD_RESPONSE = 3,
	CTL_EXIT_NOT_BUILT = 4,
	CTL_EXIT_LOCAL = 5,
	CTL_EXIT_ENCLAVE_FAILED = 6, /* run-enclave --wait: the enclave ended FAILED */
	CTL_EXIT_STATUS_BASE = 10,
};

#define CTL_DEFAULT_SOCKET   "/run/enclaved/enclaved.sock"
#define CTL_SERVICE_ENCLAVES "enclaved.v1.Enclaves"
#define CTL_SERVICE_POOL     "enclaved.v1.Pool"
#define CTL_SERVICE_IMAGES   "enclaved.v1.Images"
#define CTL_SERVICE_SYSTEM   "enclaved.v1.System"

/* A string field was set: protobuf-c initialises proto3 strings to "", not NULL. */
#define CTL_GIVEN(s) ((s) != NULL && (s)[0] != '\0')

/* --socket, else $ENCLAVED_SOCKET, else the default. */
void ctl_set_socket(const char *path);
const char *ctl_socket(void);

/* Exit code for a google.rpc.Code. */
int ctl_exit_for_status(int code);

/* "enclavectl: <fmt>" on stderr; returns exit_code so that commands can `return ctl_fail(...)`. */
int ctl_fail(int exit_code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error of one command: "enclavectl <cmd>: <fmt>" and a hint to --help; returns 1. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One unary call. Returns CTL_EXIT_OK with *resp (free with protobuf_c_message_free_unpacked),
 * or prints one line "enclavectl: STATUS_NAME: cause" and returns the exit code. */
int ctl_call(const char *service, const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);

/* The same with a timeout of the caller's choosing (0: none; Run, whose deadline is the daemon's
 * heartbeat timeout). */
int ctl_call_timeout(const char *service, const char *method, const ProtobufCMessage *req,
		     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
		     int64_t timeout_ns);

/* A server-stream call: every message is passed to on_message (raw bytes); a non-zero return
 * from on_message stops and becomes the exit code. Errors as ctl_call. */
int ctl_stream(const char *service, const char *method, const ProtobufCMessage *req,
	       int64_t timeout_ns,
	       int (*on_message)(const uint8_t *msg, size_t len, void *userdata), void *userdata);

/* The same, except that a daemon that cannot be reached or whose connection breaks (the
 * errors ctl_transport_retryable accepts) returns that negative errno without printing
 * anything: for callers that ride out a restart of enclaved. */
int ctl_call_retryable(const char *service, const char *method, const ProtobufCMessage *req,
		       const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);
int ctl_stream_retryable(const char *service, const char *method, const ProtobufCMessage *req,
			 int (*on_message)(const uint8_t *msg, size_t len, void *userdata),
			 void *userdata);
/* A transport error (negative errno) as the status a client library would give it:
 * "STATUS: cannot talk to enclaved at PATH: cause"; returns the exit code. */
int ctl_fail_transport(int err);
/* err (negative) is what a restarting enclaved looks like: no socket, refused, reset. */
bool ctl_transport_retryable(int err);

/* Reconnecting after enclaved went away: 100 ms doubling to 2 s, for at most timeout_s. */
#define CTL_RECONNECT_TIMEOUT_S 60
#define CTL_BACKOFF_FIRST_MS	100
#define CTL_BACKOFF_MAX_MS	2000
struct ctl_backoff {
	uint64_t deadline_ms; /* CLOCK_MONOTONIC */
	uint32_t delay_ms;
};
void ctl_backoff_start(struct ctl_backoff *b, uint32_t timeout_s);
/* Sleep the next delay (cut short by a signal or the deadline); false once the deadline has
 * passed, without sleeping. */
bool ctl_backoff_sleep(struct ctl_backoff *b);

/* Print obj as pretty JSON on stdout and release it. Returns CTL_EXIT_OK. */
int ctl_print_json(struct json_object *obj);

/* nitro-cli shapes. */
struct json_object *ctl_json_cpu_ids(size_t n, const uint32_t *ids);
struct json_object *ctl_json_measurements(const Enclaved__V1__Measurements *m);
struct json_object *ctl_json_metadata(const Enclaved__V1__ImageMetadata *m);
/* run-enclave keys only (full=false), or everything describe-enclaves shows. */
struct json_object *ctl_json_enclave(const Enclaved__V1__Enclave *e, bool full);
struct json_object *ctl_json_pool(const Enclaved__V1__PoolInfo *p);
/* Memory: BootMiB, PluggedMiB, RequestedMiB, MaxMiB (describe-enclaves and events). */
struct json_object *ctl_json_memory(const Enclaved__V1__EnclaveMemory *m);
struct json_object *ctl_json_vsock(const Enclaved__V1__VsockStats *v);
const char *ctl_state_name(Enclaved__V1__EnclaveState state);

/* Flag parsing helpers: strict decimal with a bound; a CPU list "1,2,4-5" appended to *ids. */
int ctl_parse_u64(const char *cmd, const char *flag, const char *s, uint64_t max, uint64_t *out);
int ctl_parse_cpu_list(const char *cmd, const char *s, uint32_t **ids, size_t *n);

/* The getopt entries of a command that names one enclave (values 'i' and 'n'). */
#define CTL_OPTIONS_ENCLAVE                                                                        \
	{"enclave-id", required_argument, NULL, 'i'},                                              \
	{                                                                                          \
		"enclave-name", required_argument, NULL, 'n'                                       \
	}
/* Take option c when it is --enclave-id or --enclave-name; false for any other. */
bool ctl_enclave_opt(int c, char *value, char **id, char **name);
/* After the options: no operands left (argv[0] is the command), and with need_enclave exactly
 * one of id and name given. CTL_EXIT_OK or a usage error. */
int ctl_check_args(int argc, char **argv, bool need_enclave, const char *id, const char *name);
/* --reconnect-timeout S: at most a day; 0 turns reconnecting off. */
int ctl_parse_reconnect(const char *cmd, const char *s, uint64_t *out);
/* ctl_stream's on_message for Enclaves.Console: one ConsoleChunk to stdout. */
int ctl_console_write_chunk(const uint8_t *msg, size_t len, void *userdata);
/* Describe one enclave: CTL_EXIT_OK with *resp (free it) and *e pointing into it. */
int ctl_describe(const char *id, const char *name, ProtobufCMessage **resp,
		 const Enclaved__V1__Enclave **e);
