#include "config.h"

#include "vmm/sandbox.h"

#include "common/log.h"
#include "common/util.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#define NEW_ROOT "/tmp"

static pid_t child_pid;
/* The outer process, as a pidfd the VMM inherits: readable once it has exited. */
static int parent_pidfd = -1;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

void sandbox_close_inherited_fds(int keep)
{
	if (keep > 3)
		(void)syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u);
	(void)syscall(SYS_close_range, (unsigned)UTIL_MAX(keep + 1, 3), ~0u, 0u);
}

/* True when the outer process already exited (it died before PR_SET_PDEATHSIG was armed, so
 * the signal will never come). */
static bool parent_gone(void)
{
	struct pollfd p = {.fd = parent_pidfd, .events = POLLIN};

	return parent_pidfd >= 0 && poll(&p, 1, 0) > 0;
}

int sandbox_fork_pid_ns(void)
{
	struct sigaction sa = {.sa_handler = forward_signal};
	int status;

	if (unshare(CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) < 0) {
		int r = -errno;
		log_error("sandbox: new PID/IPC/UTS/network namespaces: %m");
		return r;
	}
	parent_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0u);
	fflush(NULL);
	child_pid = fork();
	if (child_pid < 0)
		return -errno;
	if (child_pid == 0) {
		/* The VMM proper: dies with its parent, which is what enclaved watches. (The
		 * parent lives outside the new PID namespace, so getppid() reads 0 here.) */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || parent_gone())
			_exit(VMM_EXIT_ERROR);
		(void)sethostname("enclave", 7);
		return 0;
	}
	/* The parent keeps nothing open but stdio and only relays signals and the status. */
	sandbox_close_inherited_fds(-1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	while (waitpid(child_pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(VMM_EXIT_ERROR);
	if (WIFSIGNALED(status)) {
		struct rlimit no_core = {0, 0};
		sigset_t all;
		int sig = WTERMSIG(status);
		log_error("sandbox: the VMM was killed by signal %d (%s)", sig, strsignal(sig));
		(void)setrlimit(RLIMIT_CORE, &no_core);
		signal(sig, SIG_DFL);
		sigemptyset(&all);
		sigaddset(&all, sig);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		raise(sig);
		_exit(128 + sig);
	}
	_exit(WEXITSTATUS(status));
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int fail(const char *what)
{
	int r = -errno;
	log_error("sandbox: %s: %m", what);
	return r ? r : -EPERM;
}

static int new_root(const char *runtime_dir)
{
	_cleanup_close_ int rfd = -1;
	char inner[4096 + sizeof(NEW_ROOT)], src[64];

	if (unshare(CLONE_NEWNS) < 0)
		return fail("new mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail("making mounts private");
	/* Opened inside the new namespace (a bind source must belong to it), before the tmpfs
	 * hides it when the runtime directory lives under NEW_ROOT. */
	if (runtime_dir[0]) {
		rfd = open(runtime_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rfd < 0)
			return fail("opening the runtime directory");
	}
	if (mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=64k,mode=0755") < 0)
		return fail("tmpfs root");
	if (rfd >= 0) {
		snprintf(inner, sizeof(inner), NEW_ROOT "%s", runtime_dir);
		snprintf(src, sizeof(src), "/proc/self/fd/%d", rfd);
		if (mkdir_p(inner) < 0 || mount(src, inner, NULL, MS_BIND, NULL) < 0)
			return fail("bind-mounting the runtime directory");
	}
	if (chdir(NEW_ROOT) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return fail("pivot_root");
	if (mount(NULL, "/", NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail("read-only root");
	return 0;
}

int sandbox_enter(const struct vmm *vmm)
{
	uid_t uid = vmm->config.sandbox_uid;
	gid_t gid = vmm->config.sandbox_gid ? vmm->config.sandbox_gid : uid;
	int r;

#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer's exit-time check needs clone and ptrace of our own threads, which
	 * seccomp and the uid change forbid: run it now instead (it then stays off). */
	__lsan_do_leak_check();
#endif
	r = new_root(vmm->config.runtime_dir);
	if (r < 0)
		return r;
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return fail("dropping the capability bounding set");
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return fail("switching to the sandbox uid/gid");
	if (uid != 0 && setuid(0) == 0)
		return log_error("sandbox: could regain root"), -EPERM;
	/* The uid change cleared the parent-death signal: without it a SIGKILL of the outer
	 * process would leave this one running the guest, unseen by enclaved. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return fail("re-arming the parent-death signal");
	if (parent_gone())
		return log_error("sandbox: the outer VMM process has exited"), -ESRCH;
	if (parent_pidfd >= 0)
		close(parent_pidfd);
	parent_pidfd = -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail("no_new_privs");
	log_debug("sandbox: uid %u gid %u, empty root, no capabilities", uid, gid);
	return 0;
}

static int allow(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (calls[i] < 0)
			continue; /* not on this architecture */
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* What every thread needs: memory, locks, signals, time, logging, exiting. Sanitizer builds
 * need a few more for their runtime (reports, shadow memory). */
static const int common_calls[] = {
    SCMP_SYS(futex),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(brk),
    SCMP_SYS(mremap),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(sched_yield),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(write),
    SCMP_SYS(writev),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(getrandom),
    SCMP_SYS(sendmsg), /* journal logging */
    SCMP_SYS(tgkill),  /* vmm_end kicks the other vCPUs */
#if defined(__SANITIZE_ADDRESS__)
    SCMP_SYS(sigaltstack),
    SCMP_SYS(prctl),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(readlink),
    SCMP_SYS(open),
    SCMP_SYS(openat),
    SCMP_SYS(close),
    SCMP_SYS(getrlimit),
    SCMP_SYS(prlimit64),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(read),
    SCMP_SYS(pread64),
#endif
};

static int load(scmp_filter_ctx ctx)
{
	int r = seccomp_load(ctx);
	if (r < 0)
		log_error("seccomp: loading the filter: %s", strerror(-r));
	return r;
}

int sandbox_seccomp_vcpu(void)
{
	/* KVM_RUN and what the exit handlers use: registers for the halt check, the IRQ line
	 * for the UART. Everything else (virtio, console) happens on the event thread. */
	static const unsigned long ioctls[] = {KVM_RUN, KVM_GET_REGS, KVM_GET_MP_STATE,
					       KVM_IRQ_LINE};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r;

	if (!ctx)
		return -ENOMEM;
	r = allow(ctx, common_calls, UTIL_ARRAY_SIZE(common_calls));
	for (size_t i = 0; r >= 0 && i < UTIL_ARRAY_SIZE(ioctls); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, ioctls[i]));
	if (r >= 0)
		r = load(ctx);
	seccomp_release(ctx);
	return r;
}

int sandbox_seccomp_event(void)
{
	/* The event thread runs the devices: unix sockets to the host side of vsock, eventfds,
	 * timers, epoll, the channel; the main thread also kicks and joins the vCPU threads. */
	static const int calls[] = {
	    SCMP_SYS(epoll_wait),
	    SCMP_SYS(epoll_pwait),
	    SCMP_SYS(epoll_ctl),
	    SCMP_SYS(read),
	    SCMP_SYS(readv),
	    SCMP_SYS(close),
	    SCMP_SYS(recvmsg),
	    SCMP_SYS(recvfrom),
	    SCMP_SYS(sendto),
	    SCMP_SYS(accept4),
	    SCMP_SYS(connect),
	    SCMP_SYS(shutdown),
	    SCMP_SYS(getsockopt),
	    SCMP_SYS(setsockopt),
	    SCMP_SYS(getsockname),
	    SCMP_SYS(getpeername),
	    SCMP_SYS(fcntl),
	    SCMP_SYS(fstat),
	    SCMP_SYS(newfstatat),
	    SCMP_SYS(timerfd_create),
	    SCMP_SYS(timerfd_settime),
	    SCMP_SYS(timerfd_gettime),
	    SCMP_SYS(eventfd2),
	    SCMP_SYS(unlink),
	    SCMP_SYS(unlinkat),
	    SCMP_SYS(fallocate), /* virtio-mem: back plugged blocks, punch unplugged ones */
	};
	scmp_filter_ctx ctx;
	int r;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	r = allow(ctx, common_calls, UTIL_ARRAY_SIZE(common_calls));
	if (r >= 0)
		r = allow(ctx, calls, UTIL_ARRAY_SIZE(calls));
	/* New sockets: unix only (the vsock bridge's host connections). */
	if (r >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/* ioctl only for FIONREAD-style queries on sockets, no KVM. */
	if (r >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	if (r >= 0)
		r = load(ctx);
	seccomp_release(ctx);
	return r;
}
