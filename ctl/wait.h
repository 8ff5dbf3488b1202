/* run-enclave --wait (ctl/wait.c). */
#pragma once

/* Poll the enclave until it ends: CTL_EXIT_OK when TERMINATED, CTL_EXIT_ENCLAVE_FAILED when
 * FAILED; on SIGTERM/SIGINT terminate it and return Terminate's exit code. Sends sd_notify
 * READY=1 once it runs (no-op without $NOTIFY_SOCKET). */
int ctl_wait_enclave(const char *id);
