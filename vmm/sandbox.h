/* Confinement of enclave-vmm before the first guest instruction.
 *
 * 1. sandbox_fork_pid_ns (first thing, before KVM: a VM is tied to the process that created
 *    it): new PID, IPC, UTS and network namespaces; the process forks, the child (PID 1 of its
 *    namespace) becomes the VMM, the parent only waits and then exits with the child's status,
 *    re-raising the child's fatal signal (SIGSYS from seccomp) so enclaved sees it.
 * 2. sandbox_enter (after KVM, devices and boot are set up, still single-threaded): a new mount
 *    namespace whose root is an empty tmpfs (pivot_root) holding only the runtime directory
 *    (bind-mounted, for the vsock sockets), groups/gid/uid switched to the sandbox ids, the
 *    capability bounding set emptied and all capabilities gone with the uid, no_new_privs.
 *    Inherited fds were closed at start (sandbox_close_inherited_fds); every fd left is one
 *    the VMM opened and uses (KVM, memfd, eventfds, epoll, channel, device sockets).
 * 3. sandbox_seccomp_vcpu / sandbox_seccomp_event: a libseccomp allow-list per thread kind;
 *    anything else kills the whole process (SCMP_ACT_KILL_PROCESS). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct vmm;

int sandbox_fork_pid_ns(void);
int sandbox_enter(const struct vmm *vmm);

/* Close every fd from 3 up except keep (-1 for none): the first thing main does. */
void sandbox_close_inherited_fds(int keep);
int sandbox_seccomp_vcpu(void);
int sandbox_seccomp_event(void);
