/* console (stream the enclave's serial output) and connect (a vsock port on stdin/stdout). */
#include "config.h"

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "ctl/getopt-util.h"

#include "common/util.h"
#include "rpc/rpc.h"

#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

static const char console_help[] =
    "Usage: enclavectl console (--enclave-id ID | --enclave-name NAME)\n"
    "                          [--disconnect-timeout SEC] [--tail BYTES]\n"
    "                          [--reconnect-timeout SEC]\n"
    "Copy a debug-mode enclave's console to stdout until it stops (or the timeout passes).\n"
    "When enclaved restarts meanwhile, reconnect for up to --reconnect-timeout (default 60 s,\n"
    "0: never); the console ring restarts with the daemon, so output in between may be lost.\n";

int ctl_console_write_chunk(const uint8_t *msg, size_t len, void *userdata)
{
	Enclaved__V1__ConsoleChunk *chunk = enclaved__v1__console_chunk__unpack(NULL, len, msg);
	bool *lost = userdata;
	int r;

	if (!chunk)
		return ctl_fail(CTL_EXIT_BAD_RESPONSE, "cannot decode a console chunk");
	if (lost && *lost) {
		*lost = false;
		fprintf(stderr, "enclavectl: console: reconnected to enclaved; the console ring "
				"restarted with it, output in between may be lost\n");
	}
	r = util_write_full(STDOUT_FILENO, chunk->data.data, chunk->data.len);
	enclaved__v1__console_chunk__free_unpacked(chunk, NULL);
	return r < 0 ? ctl_fail(CTL_EXIT_LOCAL, "stdout: %s", strerror(-r)) : CTL_EXIT_OK;
}

/* The Console stream, opened again after each restart of enclaved for up to reconnect_s. */
static int console_follow(Enclaved__V1__ConsoleRequest *req, uint32_t reconnect_s)
{
	struct ctl_backoff backoff;
	bool lost = false, outage = false;
	int rc;

	for (;;) {
		rc = ctl_stream_retryable(CTL_SERVICE_ENCLAVES, "Console", &req->base,
					  ctl_console_write_chunk, &lost);
		if (rc >= 0)
			return rc;
		if (!reconnect_s)
			return ctl_fail_transport(rc);
		if (!outage || !lost) {
			/* First loss, or output came through since the last: a new outage. */
			outage = lost = true;
			ctl_backoff_start(&backoff, reconnect_s);
			fprintf(
			    stderr,
			    "enclavectl: console: lost enclaved at %s (%s); reconnecting for up "
			    "to %u s\n",
			    ctl_socket(), strerror(-rc), reconnect_s);
		}
		if (!ctl_backoff_sleep(&backoff))
			return ctl_fail(ctl_exit_for_status(RPC_UNAVAILABLE),
					"UNAVAILABLE: console: enclaved at %s did not answer again "
					"within %u s (%s)",
					ctl_socket(), reconnect_s, strerror(-rc));
	}
}

int ctl_cmd_console(int argc, char **argv)
{
	static const struct option options[] = {
	    CTL_OPTIONS_ENCLAVE,
	    {"disconnect-timeout", required_argument, NULL, 't'},
	    {"tail", required_argument, NULL, 'T'},
	    {"reconnect-timeout", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	Enclaved__V1__ConsoleRequest req = ENCLAVED__V1__CONSOLE_REQUEST__INIT;
	uint64_t v, reconnect_s = CTL_RECONNECT_TIMEOUT_S;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		if (ctl_enclave_opt(c, optarg, &req.enclave_id, &req.enclave_name))
			continue;
		switch (c) {
		case 't':
			if ((rc = ctl_parse_u64(argv[0], "--disconnect-timeout", optarg, UINT32_MAX,
						&v)))
				return rc;
			req.disconnect_timeout_s = (uint32_t)v;
			break;
		case 'T':
			if ((rc = ctl_parse_u64(argv[0], "--tail", optarg, 1u << 20, &v)))
				return rc;
			req.tail_bytes = (uint32_t)v;
			break;
		case 'r':
			if ((rc = ctl_parse_reconnect(argv[0], optarg, &reconnect_s)))
				return rc;
			break;
		case 'h':
			return ctl_help(console_help);
		default:
			return ctl_bad_option(argv);
		}
	}
	if ((rc = ctl_check_args(argc, argv, true, req.enclave_id, req.enclave_name)))
		return rc;
	return console_follow(&req, (uint32_t)reconnect_s);
}

static const char connect_help[] =
    "Usage: enclavectl connect (--enclave-id ID | --enclave-name NAME) --port PORT\n"
    "Connect stdin/stdout to vsock port PORT of the enclave (through its vsock bridge).\n";

/* Firecracker's host-initiated handshake: "CONNECT <port>\n" answered by "OK <hostport>\n". */
static int vsock_handshake(const char *path, uint32_t port, int *out_fd)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	char line[64];
	size_t used = 0;
	int n;

	if (strlen(path) >= sizeof(addr.sun_path))
		return ctl_fail(CTL_EXIT_LOCAL, "%s: path too long for a unix socket", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return ctl_fail(CTL_EXIT_LOCAL, "%s: %s", path, strerror(errno));
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (util_write_full(fd, line, (size_t)n) < 0)
		return ctl_fail(CTL_EXIT_LOCAL, "%s: %s", path, strerror(errno));
	/* Byte by byte: nothing after the newline may be swallowed. */
	while (used < sizeof(line) - 1) {
		ssize_t r = read(fd, line + used, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return ctl_fail(ctl_exit_for_status(14),
					"UNAVAILABLE: vsock port %u: the enclave refused or closed "
					"the connection",
					port);
		if (line[used++] == '\n')
			break;
	}
	line[used] = '\0';
	if (strncmp(line, "OK ", 3) != 0)
		return ctl_fail(ctl_exit_for_status(14),
				"UNAVAILABLE: vsock port %u: bridge said '%.*s'", port,
				(int)strcspn(line, "\n"), line);
	*out_fd = util_steal_fd(&fd);
	return CTL_EXIT_OK;
}

static int pump(int sock)
{
	struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
				{.fd = sock, .events = POLLIN}};
	uint8_t buf[65536];
	bool stdin_open = true;

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return ctl_fail(CTL_EXIT_LOCAL, "poll: %s", strerror(errno));
		}
		if (stdin_open && fds[0].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				stdin_open = false;
				fds[0].fd = -1;
				(void)shutdown(sock, SHUT_WR);
			} else if (util_write_full(sock, buf, (size_t)n) < 0) {
				return CTL_EXIT_OK; /* the enclave closed: done */
			}
		}
		if (fds[1].revents) {
			ssize_t n = read(sock, buf, sizeof(buf));
			if (n <= 0)
				return CTL_EXIT_OK;
			if (util_write_full(STDOUT_FILENO, buf, (size_t)n) < 0)
				return ctl_fail(CTL_EXIT_LOCAL, "stdout: %s", strerror(errno));
		}
	}
}

int ctl_cmd_connect(int argc, char **argv)
{
	static const struct option options[] = {
	    CTL_OPTIONS_ENCLAVE,
	    {"port", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	ProtobufCMessage *resp = NULL;
	const Enclaved__V1__Enclave *e;
	char *id = NULL, *name = NULL;
	_cleanup_close_ int sock = -1;
	uint64_t port = UINT64_MAX;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		if (ctl_enclave_opt(c, optarg, &id, &name))
			continue;
		if (c == 'p') {
			if ((rc = ctl_parse_u64(argv[0], "--port", optarg, UINT32_MAX, &port)))
				return rc;
		} else if (c == 'h')
			return ctl_help(connect_help);
		else
			return ctl_bad_option(argv);
	}
	if ((rc = ctl_check_args(argc, argv, true, id, name)))
		return rc;
	if (port == UINT64_MAX)
		return ctl_usage_error(argv[0], "--port is required");
	rc = ctl_describe(id, name, &resp, &e);
	if (rc)
		return rc;
	if (!CTL_GIVEN(e->vsock_socket_path))
		rc = ctl_fail(CTL_EXIT_BAD_RESPONSE, "the enclave has no vsock socket");
	else
		rc = vsock_handshake(e->vsock_socket_path, (uint32_t)port, &sock);
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc ? rc : pump(sock);
}
