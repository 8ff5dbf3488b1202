/* Following enclaves through Enclaves.Events (ctl/wait.c): `enclavectl events`,
 * `run-enclave --wait` and `resize-enclave --wait`. A daemon that answers Events with
 * UNIMPLEMENTED (older enclaved) is polled with Describe instead, every 250 ms. Both waits ride out
 * restarts of enclaved (it re-adopts running enclaves): see reconnect_s. */
#pragma once

#include <stdint.h>

/* Follow the enclave until it ends: CTL_EXIT_OK when TERMINATED, CTL_EXIT_ENCLAVE_FAILED when
 * FAILED; on SIGTERM/SIGINT terminate it and return Terminate's exit code. Sends sd_notify
 * READY=1 once it runs (no-op without $NOTIFY_SOCKET); cid goes into its STATUS= line.
 * When enclaved goes away (restart, crash), reconnect with a backoff for up to reconnect_s
 * (0: give up at once) and follow the re-adopted enclave; Terminate is retried as long. */
int ctl_wait_enclave(const char *id, uint64_t cid, uint32_t reconnect_s);

/* After a Resize to target_mib: wait up to timeout_s for the guest to reach it (boot + plugged
 * == target), then print the enclave (describe-enclaves keys, Memory.PluggedMiB) and return
 * CTL_EXIT_OK. When the timeout passes first: print the enclave as it is (it keeps the memory
 * it has), say so on stderr and return the DEADLINE_EXCEEDED exit code (14). */
int ctl_wait_resize(const char *id, uint64_t target_mib, uint32_t timeout_s, uint32_t reconnect_s);

/* enclavectl events [--enclave-id ID]: one JSON object per line until interrupted. */
int ctl_cmd_events(int argc, char **argv);
