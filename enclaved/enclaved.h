/* The daemon's context: one struct enclaved per process, created in main.c and handed to every
 * API handler. Later subsystems (pool, registry, PKI, VMM supervision) add their state here
 * and their setup/teardown to main.c's daemon_start()/daemon_stop().
 *
 * Threading: everything runs on the libevent loop in one thread; handlers that must wait
 * (a VMM booting, a guest answering) keep their rpc_call and finish it from a later callback. */
#pragma once

#include "enclaved/config-file.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event;
struct event_base;
struct rpc_server;
struct attestation;

struct enclaved_options {
	const char *config_path;
	const char *socket_path;
	const char *state_dir;	 /* persistent: PKI, pool.json, ... */
	const char *runtime_dir; /* per-boot: VMM sockets, vsock bridges */
	bool foreground;
	bool verbose;
	bool config_is_default;	 /* a missing default config file means "all defaults" */
	const char *vmm_path;	 /* enclave-vmm: --vmm, $ENCLAVED_VMM, else libexecdir's */
	const char *cgroup_root; /* --cgroup-root: NULL probes, "none" pins only */
};

/* The enclave registry (enclaved/enclave.h): newest first. n_enclaves counts every entry,
 * finished ones included, for Health and STATUS=. */
struct enclave;
struct run_job;

struct enclaved_registry {
	struct enclave *head;
	/* Runs whose image is still being measured (api_run.c): not in the registry yet, but
	 * holding their name, CID and lease. Linked through pending_next. */
	struct enclave *pending;
	size_t n_enclaves;
	uint64_t next_generation;
	char host_id[32]; /* i-<16 hex> from the DMI asset tag, else i-0000000000000000 */
};

struct enclaved {
	struct enclaved_options opts;
	struct enclaved_config config;

	struct event_base *base;
	struct rpc_server *server;
	int listen_fd;
	bool socket_from_systemd; /* then systemd owns the path: never unlink it */
	bool socket_created;	  /* we bound socket_path and must unlink it at exit */

	struct event *sig_term, *sig_int, *sig_hup;
	struct event *watchdog_timer;
	uint64_t watchdog_usec; /* 0: no watchdog requested */

	uint64_t started_monotonic_ns;
	int kvm_api_version; /* KVM_GET_API_VERSION at start, or -errno */
	int exit_code;

	struct enclaved_registry registry;
	struct run_job *run_jobs; /* Runs measuring their image (api_run.c) */
	struct pool *pool;	  /* NULL when the [pool] could not be set up (then Run refuses) */
	char *pool_error;	  /* why not */
	uid_t sandbox_uid;	  /* [vmm] user, else nobody */
	gid_t sandbox_gid;
	struct event *sig_chld;
	struct event *liveness_timer; /* Ping every VMM (enclave-liveness.c) */

	/* PKI and machine id (enclaved/attestation.h); NULL until attestation_init. */
	struct attestation *attestation;

	/* Bindings handed to rpc_server_register as userdata (see api.c). */
	struct api_binding *bindings;
	size_t n_bindings;
};

/* Bring the daemon up (directories, KVM probe, event loop, API, signals, watchdog, socket);
 * on failure the caller still runs enclaved_stop. d->opts and d->config must be set. */
int enclaved_start(struct enclaved *d);
/* Send READY=1 and serve until SIGTERM/SIGINT. */
int enclaved_run(struct enclaved *d);
/* Free everything enclaved_start made, remove the socket we created, free the config. */
void enclaved_stop(struct enclaved *d);

/* Probe /dev/kvm: its KVM_GET_API_VERSION, or -errno when it cannot be opened or asked. */
int enclaved_probe_kvm(void);

/* One line for sd_notify STATUS= and Health.status. Returns a malloc'd string or NULL. */
char *enclaved_status_line(const struct enclaved *d);
/* Send STATUS= with the current status line (no-op outside systemd). */
void enclaved_notify_status(const struct enclaved *d);

/* Build-time identity. */
extern const char enclaved_git_describe[];
