/* One enclave-vmm child: fork+exec with a SOCK_SEQPACKET socketpair, the Config (+ memfd and
 * EIF fd by SCM_RIGHTS), and the daemon side of vmm.proto on the libevent loop: Events move the
 * enclave along, ConsoleData fills its console, NsmRequests are answered by attestation.c.
 * EOF on the channel means the VMM is going; its reap (SIGCHLD, or the pidfd of a re-adopted
 * VMM) finishes the enclave. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct enclave;

/* Start the VMM for e (lease taken, runtime dir made). eif_fd is sent and stays the caller's.
 * On success e->pid, e->channel_fd and the channel event are set. */
int vmm_process_spawn(struct enclave *e, int eif_fd, char **error);
/* Serve e->channel_fd (a spawned VMM's socketpair or a re-adopted VMM's control.sock) on the
 * loop. */
int vmm_process_watch_channel(struct enclave *e);
/* Ask the VMM to end the guest (Terminate message); -errno when the channel is gone. */
int vmm_process_send_terminate(struct enclave *e, const char *reason);
/* Stop watching the channel and close it. */
void vmm_process_close_channel(struct enclave *e);
/* "VMM exited with status 3 (triple fault)", "VMM killed by SIGSYS (seccomp)". */
void vmm_process_describe_status(int wait_status, char *buf, size_t len);
/* The enclave-vmm binary: --vmm, $ENCLAVED_VMM, else LIBEXECDIR/enclave-vmm. */
const char *vmm_process_path(const struct enclave *e);
