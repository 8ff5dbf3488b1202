/* console (stream the enclave's serial output) and connect (a vsock port on stdin/stdout). */
#include "config.h"

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "ctl/getopt-util.h"

#include "common/util.h"

#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

static const char console_help[] =
    "Usage: enclavectl console (--enclave-id ID | --enclave-name NAME)\n"
    "                          [--disconnect-timeout SEC] [--tail BYTES]\n"
    "Copy a debug-mode enclave's console to stdout until it stops (or the timeout passes).\n";

static int write_chunk(const uint8_t *msg, size_t len, void *userdata)
{
	Enclaved__V1__ConsoleChunk *chunk = enclaved__v1__console_chunk__unpack(NULL, len, msg);
	int r;

	if (!chunk)
		return ctl_fail(CTL_EXIT_BAD_RESPONSE, "cannot decode a console chunk");
	r = util_write_full(STDOUT_FILENO, chunk->data.data, chunk->data.len);
	enclaved__v1__console_chunk__free_unpacked(chunk, NULL);
	return r < 0 ? ctl_fail(CTL_EXIT_LOCAL, "stdout: %s", strerror(-r)) : CTL_EXIT_OK;
}

int ctl_cmd_console(int argc, char **argv)
{
	static const struct option options[] = {
	    {"enclave-id", required_argument, NULL, 'i'},
	    {"enclave-name", required_argument, NULL, 'n'},
	    {"disconnect-timeout", required_argument, NULL, 't'},
	    {"tail", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	Enclaved__V1__ConsoleRequest req = ENCLAVED__V1__CONSOLE_REQUEST__INIT;
	uint64_t v;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		switch (c) {
		case 'i':
			req.enclave_id = optarg;
			break;
		case 'n':
			req.enclave_name = optarg;
			break;
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
		case 'h':
			return ctl_help(console_help);
		default:
			return ctl_bad_option(argv);
		}
	}
	if (optind < argc)
		return ctl_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	if (CTL_GIVEN(req.enclave_id) == CTL_GIVEN(req.enclave_name))
		return ctl_usage_error(argv[0],
				       "give exactly one of --enclave-id and --enclave-name");
	return ctl_stream(CTL_SERVICE_ENCLAVES, "Console", &req.base, 0, write_chunk, NULL);
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
	    {"enclave-id", required_argument, NULL, 'i'},
	    {"enclave-name", required_argument, NULL, 'n'},
	    {"port", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	Enclaved__V1__DescribeEnclaveRequest req = ENCLAVED__V1__DESCRIBE_ENCLAVE_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	_cleanup_close_ int sock = -1;
	uint64_t port = UINT64_MAX;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		switch (c) {
		case 'i':
			req.enclave_id = optarg;
			break;
		case 'n':
			req.enclave_name = optarg;
			break;
		case 'p':
			if ((rc = ctl_parse_u64(argv[0], "--port", optarg, UINT32_MAX, &port)))
				return rc;
			break;
		case 'h':
			return ctl_help(connect_help);
		default:
			return ctl_bad_option(argv);
		}
	}
	if (optind < argc)
		return ctl_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	if (CTL_GIVEN(req.enclave_id) == CTL_GIVEN(req.enclave_name))
		return ctl_usage_error(argv[0],
				       "give exactly one of --enclave-id and --enclave-name");
	if (port == UINT64_MAX)
		return ctl_usage_error(argv[0], "--port is required");
	rc = ctl_call(CTL_SERVICE_ENCLAVES, "Describe", &req.base,
		      &enclaved__v1__describe_enclave_response__descriptor, &resp);
	if (rc)
		return rc;
	const Enclaved__V1__Enclave *e = ((Enclaved__V1__DescribeEnclaveResponse *)resp)->enclave;
	if (!e || !e->vsock_socket_path || !*e->vsock_socket_path)
		rc = ctl_fail(CTL_EXIT_BAD_RESPONSE, "the enclave has no vsock socket");
	else
		rc = vsock_handshake(e->vsock_socket_path, (uint32_t)port, &sock);
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc ? rc : pump(sock);
}
