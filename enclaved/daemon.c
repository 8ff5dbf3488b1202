/* The daemon's core: bring-up and tear-down of the context, the control socket, signals,
 * config reload, and the systemd notify/watchdog glue. New subsystems hook into
 * enclaved_start() and enclaved_stop() in dependency order. */
#include "config.h"

#include "enclaved/api.h"
#include "enclaved/attestation.h"
#include "enclaved/enclave.h"
#include "enclaved/enclaved.h"

#include "common/log.h"
#include "common/util.h"
#include "rpc/rpc.h"

#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/kvm.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

int enclaved_probe_kvm(void)
{
	_cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0)
		return -errno;
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	return version < 0 ? -errno : version;
}

char *enclaved_status_line(const struct enclaved *d)
{
	char *line = NULL;

	if (asprintf(&line, "serving %s; %zu enclave%s; KVM %s", d->opts.socket_path,
		     d->registry.n_enclaves, d->registry.n_enclaves == 1 ? "" : "s",
		     d->kvm_api_version >= 0 ? "ready" : "unavailable") < 0)
		return NULL;
	return line;
}

void enclaved_notify_status(const struct enclaved *d)
{
	_cleanup_free_ char *line = enclaved_status_line(d);

	if (line)
		(void)sd_notifyf(0, "STATUS=%s", line);
}

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *copy = strdup(path);

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* 0 when nothing answers on path; -EADDRINUSE when another daemon is serving it. */
static int socket_check_unused(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return -EADDRINUSE;
	return 0;
}

/* Give the socket to root:<group> 0660, or root-only 0600 when the group does not exist. */
static int socket_apply_group(struct enclaved *d)
{
	const char *path = d->opts.socket_path;
	struct group *grp = getgrnam(d->config.group);

	if (!grp) {
		log_warn("group '%s' does not exist: %s is root-only (0600); create the group to "
			 "let its members in",
			 d->config.group, path);
		if (chmod(path, 0600) < 0)
			return -errno;
		return 0;
	}
	if (chown(path, 0, grp->gr_gid) < 0) {
		int r = -errno;
		log_error("cannot chown %s to root:%s: %s", path, d->config.group, strerror(-r));
		return r;
	}
	if (chmod(path, 0660) < 0)
		return -errno;
	return 0;
}

static int socket_setup(struct enclaved *d)
{
	int n = sd_listen_fds(1);
	_cleanup_free_ char *dir = NULL;
	char *slash;
	mode_t old_umask;
	int r;

	if (n < 0) {
		log_error("sd_listen_fds: %s", strerror(-n));
		return n;
	}
	if (n > 1) {
		log_error("systemd passed %d sockets; enclaved takes exactly one", n);
		return -EINVAL;
	}
	if (n == 1) {
		int fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_error(
			    "the socket systemd passed (fd %d) is not a listening unix stream "
			    "socket",
			    fd);
			return -EINVAL;
		}
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		r = rpc_server_add_listener(d->server, fd);
		if (r < 0)
			return r;
		d->listen_fd = fd;
		d->socket_from_systemd = true;
		log_info("serving the socket passed by systemd");
		return 0;
	}

	dir = strdup(d->opts.socket_path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = mkdir_p(dir, 0755);
		if (r < 0) {
			log_error("cannot create %s: %s", dir, strerror(-r));
			return r;
		}
	}
	r = socket_check_unused(d->opts.socket_path);
	if (r < 0) {
		log_error("%s: %s", d->opts.socket_path,
			  r == -EADDRINUSE ? "another enclaved is serving it" : strerror(-r));
		return r;
	}
	/* Born 0600 so that nobody slips in before the group is applied. */
	old_umask = umask(0177);
	r = rpc_server_listen_unix(d->server, d->opts.socket_path, &d->listen_fd);
	umask(old_umask);
	if (r < 0) {
		log_error("cannot listen on %s: %s", d->opts.socket_path, strerror(-r));
		return r;
	}
	d->socket_created = true;
	return socket_apply_group(d);
}

/* ---- config reload (SIGHUP) -------------------------------------------------------------- */

struct reload_report {
	bool needs_restart;
};

static void reload_log_change(const char *section, const char *key, const char *old_value,
			      const char *new_value, void *userdata)
{
	struct reload_report *report = userdata;
	bool live = strcmp(section, "daemon") == 0;

	if (!live)
		report->needs_restart = true;
	log_info("config: [%s] %s: %s -> %s (%s)", section, key, old_value ? old_value : "(unset)",
		 new_value ? new_value : "(unset)", live ? "applied" : "needs a restart");
}

static void enclaved_reload(struct enclaved *d)
{
	struct enclaved_config fresh;
	struct reload_report report = {0};
	_cleanup_free_ char *error = NULL;
	bool group_changed;
	int r;

	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
			 (unsigned long long)(util_now_monotonic_ns() / 1000));
	log_info("reloading %s", d->opts.config_path);
	r = config_init(&fresh);
	if (r >= 0) {
		r = config_load(&fresh, d->opts.config_path, &error);
		if (r == -ENOENT && d->opts.config_is_default)
			r = 0;
	}
	if (r < 0) {
		log_error("reload failed, keeping the running configuration: %s",
			  error ? error : strerror(-r));
		config_free(&fresh);
		goto out;
	}
	config_diff(&d->config, &fresh, reload_log_change, &report);
	group_changed = strcmp(d->config.group, fresh.group) != 0;
	config_free(&d->config);
	d->config = fresh;
	log_set_level(d->opts.verbose ? LOG_LEVEL_DEBUG : d->config.log_level);
	if (enclave_liveness_apply(d) < 0)
		log_error("cannot re-arm the VMM liveness timer");
	if (group_changed && d->socket_created && socket_apply_group(d) < 0)
		log_error("the socket keeps its old group; restart to apply '%s'", d->config.group);
	if (group_changed && d->socket_from_systemd)
		log_warn("the socket comes from systemd: set SocketGroup=%s in enclaved.socket",
			 d->config.group);
	log_info("reload done%s", report.needs_restart ? "; some changes need a restart" : "");
out:
	(void)sd_notify(0, "READY=1");
	enclaved_notify_status(d);
}

/* ---- signals and watchdog ---------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short events, void *userdata)
{
	struct enclaved *d = userdata;

	if (sig == SIGHUP) {
		enclaved_reload(d);
		return;
	}
	log_info("%s: stopping", strsignal((int)sig));
	(void)sd_notify(0, "STOPPING=1");
	event_base_loopexit(d->base, NULL);
}

static void on_watchdog(evutil_socket_t fd, short events, void *userdata)
{
	(void)sd_notify(0, "WATCHDOG=1");
}

static int signals_setup(struct enclaved *d)
{
	struct event **slots[] = {&d->sig_term, &d->sig_int, &d->sig_hup};
	const int sigs[] = {SIGTERM, SIGINT, SIGHUP};

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(sigs); i++) {
		*slots[i] = evsignal_new(d->base, sigs[i], on_signal, d);
		if (!*slots[i] || event_add(*slots[i], NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int watchdog_setup(struct enclaved *d)
{
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(1, &usec);
	struct timeval tv;

	if (r <= 0)
		return r < 0 ? r : 0;
	d->watchdog_usec = usec;
	/* Half the interval, from the loop itself, so that a stuck loop is noticed. */
	tv.tv_sec = (time_t)(usec / 2 / 1000000);
	tv.tv_usec = (suseconds_t)(usec / 2 % 1000000);
	d->watchdog_timer = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
	if (!d->watchdog_timer || event_add(d->watchdog_timer, &tv) < 0)
		return -ENOMEM;
	log_info("watchdog: pinging every %llu ms", (unsigned long long)(usec / 2000));
	return 0;
}

/* ---- start / run / stop ------------------------------------------------------------------ */

int enclaved_start(struct enclaved *d)
{
	int r;

	d->listen_fd = -1;
	d->started_monotonic_ns = util_now_monotonic_ns();
	r = mkdir_p(d->opts.state_dir, 0700);
	if (r < 0) {
		log_error("cannot create state directory %s: %s", d->opts.state_dir, strerror(-r));
		return r;
	}
	r = mkdir_p(d->opts.runtime_dir, 0755);
	if (r < 0) {
		log_error("cannot create runtime directory %s: %s", d->opts.runtime_dir,
			  strerror(-r));
		return r;
	}
	d->kvm_api_version = enclaved_probe_kvm();
	if (d->kvm_api_version < 0)
		log_warn("/dev/kvm: %s; enclaves cannot run", strerror(-d->kvm_api_version));
	else
		log_info("KVM API version %d", d->kvm_api_version);
	r = attestation_init(d);
	if (r < 0)
		return r;

	d->base = event_base_new();
	if (!d->base)
		return -ENOMEM;
	r = rpc_server_new(d->base, &d->server);
	if (r < 0)
		return r;
	r = api_register(d);
	if (r < 0)
		return r;
	r = signals_setup(d);
	if (r < 0)
		return r;
	r = enclaved_enclaves_start(d);
	if (r < 0)
		return r;
	r = watchdog_setup(d);
	if (r < 0)
		return r;
	r = socket_setup(d);
	if (r < 0)
		return r;
	log_info("enclaved %s listening on %s (group %s)", PACKAGE_VERSION, d->opts.socket_path,
		 d->config.group);
	return 0;
}

int enclaved_run(struct enclaved *d)
{
	(void)sd_notify(0, "READY=1");
	enclaved_notify_status(d);
	if (event_base_dispatch(d->base) < 0) {
		log_error("event loop failed");
		return -EIO;
	}
	return 0;
}

void enclaved_stop(struct enclaved *d)
{
	struct event *events[] = {d->sig_term, d->sig_int, d->sig_hup, d->watchdog_timer};

	if (d->base)
		enclaved_enclaves_stop(d);
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(events); i++) {
		if (events[i])
			event_free(events[i]);
	}
	if (d->server)
		rpc_server_free(d->server);
	d->server = NULL;
	api_free(d);
	if (d->socket_created && unlink(d->opts.socket_path) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", d->opts.socket_path, strerror(errno));
	d->listen_fd = -1; /* the rpc server owned and closed it */
	if (d->base)
		event_base_free(d->base);
	d->base = NULL;
	attestation_free(d);
	config_free(&d->config);
}
