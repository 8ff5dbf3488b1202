/* The enclave registry: one struct enclave per Run, from validation to a bounded afterlife as
 * TERMINATED or FAILED (so that users can read why). Everything runs on the libevent thread.
 *
 * Life of an enclave: enclave_run() validates and leases, vmm_process_spawn() starts the VMM,
 * Events move it STARTING -> RUNNING (HEARTBEAT), and the reap of the VMM (SIGCHLD) ends it:
 * resources go back to the pool, runtime files go, waiting calls are answered. */
#pragma once

#include "enclaved/enclaved.h"
#include "enclaved/pool.h"
#include "image/eif.h"
#include "proto/enclaved.pb-c.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct rpc_call;
struct event;
struct attestation_enclave;

#define ENCLAVE_ID_MAX	       64
#define ENCLAVE_NAME_MAX       128
#define ENCLAVE_CONSOLE_KEEP   (1u << 20) /* console bytes kept, also after exit */
#define ENCLAVE_KEEP_FINISHED  64	  /* TERMINATED/FAILED entries kept for Describe */
#define ENCLAVE_CID_FIRST_AUTO 16
#define ENCLAVE_MAX_WATCHERS   16 /* console streams per enclave */
/* vsock counters kept from a VMM's Pong: how many, and how long a name may be */
#define ENCLAVE_VSOCK_COUNTERS_MAX     32
#define ENCLAVE_VSOCK_COUNTER_NAME_MAX 32
/* Grace between the Terminate message and SIGKILL. */
#define ENCLAVE_TERMINATE_GRACE_MS 3000
/* Heartbeat deadline when the request gives none: see enclave_default_heartbeat_ms. */
#define ENCLAVE_HEARTBEAT_MIN_MS 60000u

struct enclave_terminate_op; /* one Terminate call waiting for its enclaves (api_terminate.c) */

struct enclave {
	struct enclave *next;
	struct enclaved *daemon;

	char id[ENCLAVE_ID_MAX];
	char name[ENCLAVE_NAME_MAX];
	char *eif_path;
	char runtime_dir[4096];
	uint64_t cid;
	uid_t owner_uid;
	gid_t owner_gid;
	bool debug;
	uint64_t memory_mib; /* boot memory */
	/* virtio-mem hot resize (enclave-resize.h): totals in MiB, 0 = started without a maximum */
	uint64_t max_memory_mib, requested_mib, plugged_mib; /* plugged: above boot memory */
	uint32_t cpu_ids[POOL_MAX_CPUS];
	unsigned n_cpus;
	uint64_t start_time_ns;
	uint32_t heartbeat_timeout_ms;
	struct eif_measurements measurements;

	Enclaved__V1__EnclaveState state;
	char reason[256];
	bool terminate_requested; /* by a user: ends TERMINATED */
	bool keep_reason;	  /* ends FAILED with reason as it is (heartbeat timeout) */
	bool got_exit_event;
	int exit_event_code;
	char exit_event_reason[200];

	/* resources while alive */
	struct pool_lease *lease;
	struct attestation_enclave *attestation;
	pid_t pid;
	uint64_t pid_start; /* /proc/<pid>/stat start time: with pid, names the VMM process */
	int channel_fd;
	uint64_t generation;
	struct event *channel_ev, *heartbeat_timer, *kill_timer;

	/* Re-adopted after a daemon restart (state-adopt.c): the VMM is not our child, its death
	 * is seen through a pidfd, its exit status is unknown (the Event or vmm-exit says why). */
	bool adopted;
	int pidfd;
	struct event *pidfd_ev;
	/* Liveness (enclave-liveness.c): the Ping in flight and when it left. */
	uint64_t ping_nonce, ping_sent_ns;
	struct enclave *pending_next; /* registry.pending, while Run measures its image */
	/* The vsock device's counters from the VMM's last Pong (vmm_process.c checks them). */
	bool have_vsock_stats;
	uint32_t vsock_connections;
	unsigned n_vsock_counters;
	struct {
		char name[ENCLAVE_VSOCK_COUNTER_NAME_MAX];
		uint64_t value;
	} vsock_counters[ENCLAVE_VSOCK_COUNTERS_MAX];
	/* The attestation identity as last persisted (state.c). */
	bool attestation_saved;
	uint8_t attestation_digest[32];

	/* calls waiting on this enclave */
	struct rpc_call *run_call;
	struct enclave_terminate_op *terminate_ops[8];
	unsigned n_terminate_ops;
	struct rpc_call *console_watchers[ENCLAVE_MAX_WATCHERS];
	unsigned n_watchers;

	/* console ring (debug mode): the last ENCLAVE_CONSOLE_KEEP bytes */
	uint8_t *console;
	size_t console_start, console_len;
};

/* The registry lives in struct enclaved_registry (enclaved.h). */

/* Alive: holds (or is about to hold) resources. */
bool enclave_is_alive(const struct enclave *e);
struct enclave *enclave_find(struct enclaved *d, const char *id, const char *name);
/* The caller may see/manage e (root, or its owner). */
bool enclave_visible_to(const struct enclave *e, uid_t uid, bool is_root);

/* nitro-cli's rule, shorter: 60 s + 15 s per GiB of EIF + 1 s per GiB of memory. */
uint32_t enclave_default_heartbeat_ms(uint64_t eif_bytes, uint64_t memory_mib);
/* Memory an image needs: its file size rounded up to MiB + 8 MiB (page tables, zero page,
 * command line, the initrd copy's alignment and the guest's own stack and buffers), rounded up
 * to 2 MiB. The loader places the EIF's kernel and ramdisks in guest RAM once. */
uint64_t enclave_required_mib(uint64_t eif_bytes);
/* i-<host id>-enc<16 hex> */
int enclave_make_id(struct enclaved *d, char *buf, size_t len);
/* CIDs: 0 = automatic (16 up), 1..3 and >= 2^32-1 refused (-EINVAL), taken -EEXIST. */
int enclave_pick_cid(struct enclaved *d, uint64_t requested, uint64_t *out);

/* Register a validated, leased enclave (takes ownership). */
void enclave_add(struct enclaved *d, struct enclave *e);
/* Free an entry that never went live or was dropped from the registry. */
void enclave_free(struct enclave *e);
/* Drop the oldest finished entries beyond ENCLAVE_KEEP_FINISHED (never while walking the
 * registry). */
void enclave_prune(struct enclaved *d);

/* Append console output (ring) and stream it to watchers. */
void enclave_console_append(struct enclave *e, const uint8_t *data, size_t len);
/* Copy up to max of the newest console bytes (malloc'd). */
int enclave_console_tail(const struct enclave *e, size_t max, uint8_t **out, size_t *len);

/* Ask the VMM to stop (Terminate message, SIGKILL after the grace period). Idempotent. */
void enclave_request_terminate(struct enclave *e, const char *why);
/* The VMM is gone (reaped): return resources, answer waiting calls, final state. Frees
 * nothing in the registry. */
void enclave_finish(struct enclave *e, int wait_status);
/* Called with SIGCHLD: reap every VMM that exited. */
void enclave_reap_all(struct enclaved *d);
/* Daemon shutdown: terminate every live enclave and wait (bounded) for the VMMs. */
void enclave_shutdown_all(struct enclaved *d);

/* Fill a protobuf Enclave (strings point into e; cpu_ids/pcrs malloc'd, free with
 * enclave_pb_clear). */
int enclave_to_pb(const struct enclave *e, Enclaved__V1__Enclave *pb, size_t console_tail);
void enclave_pb_clear(Enclaved__V1__Enclave *pb);

/* Wake a waiting Run call / console streams; called from vmm_process.c's event handling. */
void enclave_on_heartbeat(struct enclave *e);
void enclave_on_heartbeat_timeout(struct enclave *e);
/* A terminate op learns that one of its enclaves is finished. */
void enclave_terminate_op_done(struct enclave_terminate_op *op, struct enclave *e);

/* Liveness (enclave-liveness.c): every third of [daemon] vmm_ping_timeout_ms (default 6 s) each
 * VMM with a channel gets a Ping; one unanswered for the whole timeout means the VMM hangs:
 * SIGKILL, FAILED "VMM stopped answering". */
int enclave_liveness_start(struct enclaved *d);
/* Re-arm the timer after a reload changed the timeout. */
int enclave_liveness_apply(struct enclaved *d);
void enclave_liveness_stop(struct enclaved *d);
void enclave_on_pong(struct enclave *e, uint64_t nonce);
/* Signal the VMM: through its pidfd when adopted (no pid reuse race), else by pid. */
int enclave_kill(struct enclave *e, int sig);
/* Watch an adopted VMM's pidfd; its death finishes the enclave (exit status unknown). */
int enclave_watch_pidfd(struct enclave *e, int pidfd);
/* Remove the enclave's runtime directory and its records. */
void enclave_remove_runtime(struct enclave *e);

/* daemon-enclaves.c: pool, sandbox account and SIGCHLD at start, then re-adoption of the
 * enclaves whose VMMs outlived the last daemon; at stop, running enclaves are left running
 * (their VMMs wait on control.sock) and only what ends is torn down. */
int enclaved_enclaves_start(struct enclaved *d);
void enclaved_enclaves_stop(struct enclaved *d);
