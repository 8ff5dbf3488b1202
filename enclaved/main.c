/* enclaved: option parsing, config loading and daemonizing; the rest is daemon.c. */
#include "config.h"

#include "enclaved/enclaved.h"

#include "common/log.h"
#include "common/util.h"

#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/wait.h>

#define DEFAULT_CONFIG	    SYSCONFDIR "/enclaved/enclaved.conf"
#define DEFAULT_SOCKET	    "/run/enclaved/enclaved.sock"
#define DEFAULT_STATE_DIR   "/var/lib/enclaved"
#define DEFAULT_RUNTIME_DIR "/run/enclaved"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: enclaved [OPTIONS]\n"
	    "The enclave daemon: carves enclave microVMs out of the host's CPUs and memory.\n\n"
	    "  -c, --config FILE       configuration (default %s)\n"
	    "  -s, --socket PATH       control socket (default %s)\n"
	    "      --state-dir DIR     persistent state (default %s)\n"
	    "      --runtime-dir DIR   per-boot state (default %s)\n"
	    "      --vmm PATH          enclave-vmm binary (default $ENCLAVED_VMM, else %s)\n"
	    "      --cgroup-root DIR   cpuset cgroup hierarchy; 'none' pins only (default: probe)\n"
	    "  -f, --foreground        do not fork into the background\n"
	    "  -v, --verbose           log debug messages\n"
	    "  -V, --version           print the version and exit\n"
	    "  -h, --help              this help\n\n"
	    "Signals: SIGTERM/SIGINT stop, SIGHUP reloads the configuration.\n",
	    DEFAULT_CONFIG, DEFAULT_SOCKET, DEFAULT_STATE_DIR, DEFAULT_RUNTIME_DIR,
	    LIBEXECDIR "/enclave-vmm");
}

/* Returns 0 to go on, 1 to exit 0 (help, version), or -EINVAL. */
static int parse_options(int argc, char **argv, struct enclaved_options *o)
{
	enum { OPT_STATE_DIR = 256, OPT_RUNTIME_DIR, OPT_VMM, OPT_CGROUP_ROOT };
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
	    {"runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR},
	    {"vmm", required_argument, NULL, OPT_VMM},
	    {"cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT},
	    {"foreground", no_argument, NULL, 'f'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c;

	*o = (struct enclaved_options){
	    .config_path = DEFAULT_CONFIG,
	    .socket_path = DEFAULT_SOCKET,
	    .state_dir = DEFAULT_STATE_DIR,
	    .runtime_dir = DEFAULT_RUNTIME_DIR,
	    .config_is_default = true,
	};
	while ((c = getopt_long(argc, argv, "c:s:fvVh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config_path = optarg;
			o->config_is_default = false;
			break;
		case 's':
			o->socket_path = optarg;
			break;
		case OPT_STATE_DIR:
			o->state_dir = optarg;
			break;
		case OPT_RUNTIME_DIR:
			o->runtime_dir = optarg;
			break;
		case OPT_VMM:
			o->vmm_path = optarg;
			break;
		case OPT_CGROUP_ROOT:
			o->cgroup_root = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'V':
			printf("enclaved %s%s%s\n", PACKAGE_VERSION,
			       enclaved_git_describe[0] ? " " : "", enclaved_git_describe);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "enclaved: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	const char *paths[] = {o->socket_path, o->state_dir, o->runtime_dir};
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(paths); i++) {
		if (paths[i][0] != '/') {
			fprintf(stderr, "enclaved: '%s' must be an absolute path\n", paths[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* Fork; the parent waits until the child reports readiness (one byte on the pipe) and exits 0,
 * or exits 1 if the child dies first. Returns the write end in the child. */
static int daemonize(int *ready_fd)
{
	int fds[2];
	pid_t pid;
	char byte;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(fds[1]);
		_exit(read(fds[0], &byte, 1) == 1 ? 0 : 1);
	}
	close(fds[0]);
	if (setsid() < 0)
		return -errno;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		(void)dup2(null, STDIN_FILENO);
		(void)dup2(null, STDOUT_FILENO);
		close(null);
	}
	*ready_fd = fds[1];
	return 0;
}

int main(int argc, char **argv)
{
	struct enclaved d = {.listen_fd = -1};
	_cleanup_free_ char *error = NULL;
	_cleanup_close_ int ready_fd = -1;
	int r;

	log_setup("enclaved", LOG_LEVEL_INFO);
	r = parse_options(argc, argv, &d.opts);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if (d.opts.verbose)
		log_set_level(LOG_LEVEL_DEBUG);

	r = config_init(&d.config);
	if (r < 0)
		return 1;
	r = config_load(&d.config, d.opts.config_path, &error);
	if (r == -ENOENT && d.opts.config_is_default) {
		log_info("%s does not exist; using defaults", d.opts.config_path);
		r = 0;
	}
	if (r < 0) {
		log_error("%s", error ? error : strerror(-r));
		config_free(&d.config);
		return 1;
	}
	if (!d.opts.verbose)
		log_set_level(d.config.log_level);

	/* Under systemd (Type=notify) the service manager already supervises us. */
	if (!d.opts.foreground && !getenv("NOTIFY_SOCKET") && (r = daemonize(&ready_fd)) < 0) {
		log_error("cannot fork into the background: %s", strerror(-r));
		config_free(&d.config);
		return 1;
	}
	r = enclaved_start(&d);
	if (r >= 0) {
		if (ready_fd >= 0 && util_write_full(ready_fd, "R", 1) < 0)
			log_warn("cannot tell the parent that the daemon is ready");
		r = enclaved_run(&d);
	}
	enclaved_stop(&d);
	log_info("stopped");
	return r < 0 ? 1 : 0;
}
