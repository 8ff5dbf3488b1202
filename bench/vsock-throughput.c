/* vsock-throughput: the sample enclave's vsock data path against a plain unix-socket pair
 * moving the same bytes with the same write size in the same run.
 *   host->guest: port 5003 (sink) gets N bytes in W-byte writes, then SHUT_WR; its u64 count
 *                must match. Reference: a socketpair whose peer thread counts the same way.
 *   guest->host: port 5004 (source) is asked for N bytes, read in W-byte reads and checked
 *                against its i & 0xff pattern. Reference: a socketpair peer thread sending them.
 *   setup:       connect to vsock.sock, CONNECT 5000, OK line, 1 byte echoed; p50/p99 over C
 *                connections. Reference: connect to a unix listener whose thread echoes 1 byte.
 * Prints one markdown row per measurement (label "| vsock ..."); bench/vsock-throughput.sh
 * boots the enclave and puts the rows in bench/RESULTS.md.
 *
 * Usage: vsock-throughput --socket RUNTIME/vsock.sock [--mib N] [--write-kib W]
 *                         [--connections C] [--command TEXT] */
#include "config.h"

#include "common/util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PORT_ECHO      5000
#define PORT_SINK      5003
#define PORT_SOURCE    5004
#define OK_LINE_MAX    64
#define WRITE_MAX      (16u << 20)
#define PATTERN_PERIOD 256

struct opts {
	const char *socket;
	uint64_t bytes;
	size_t write_size;
	unsigned connections;
	const char *command;
};

/* One peer thread of the reference measurements. */
struct peer {
	int fd;
	uint64_t bytes;
	size_t write_size;
	int result;
};

static uint8_t *pattern; /* write_size + PATTERN_PERIOD bytes of i & 0xff */

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static double mib_per_s(uint64_t bytes, uint64_t ns)
{
	return (double)bytes / (1 << 20) / ((double)ns / 1e9);
}

static int bridge_connect(const char *path, uint32_t port, int *out_fd)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	char line[OK_LINE_MAX];
	size_t len = 0;
	int n, r;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "CONNECT %" PRIu32 "\n", port);
	r = util_write_full(fd, line, (size_t)n);
	if (r < 0)
		return r;
	/* Byte by byte: nothing but the OK line may be consumed here. */
	while (len == 0 || line[len - 1] != '\n') {
		if (len == sizeof(line) - 1)
			return -EPROTO;
		ssize_t k = read(fd, line + len, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -ECONNREFUSED;
		len++;
	}
	if (strncmp(line, "OK ", 3) != 0)
		return -EPROTO;
	*out_fd = util_steal_fd(&fd);
	return 0;
}

/* Write `bytes` in write_size pieces, SHUT_WR, read the peer's u64 BE count. */
static int sink_client(int fd, uint64_t bytes, size_t write_size)
{
	uint8_t count_be[8];
	uint64_t count;
	int r;

	for (uint64_t sent = 0; sent < bytes;) {
		size_t n = (size_t)(bytes - sent < write_size ? bytes - sent : write_size);
		r = util_write_full(fd, pattern, n);
		if (r < 0)
			return r;
		sent += n;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		return -errno;
	r = util_read_full(fd, count_be, sizeof(count_be));
	if (r < 0)
		return r;
	count = load_be64(count_be);
	if (count != bytes) {
		fprintf(stderr, "vsock-throughput: sink counted %" PRIu64 " of %" PRIu64 " bytes\n",
			count, bytes);
		return -EIO;
	}
	return 0;
}

/* Ask for `bytes`, read them in write_size pieces, check the i & 0xff pattern. */
static int source_client(int fd, uint64_t bytes, size_t write_size, uint8_t *buf)
{
	uint8_t req[8];
	uint64_t got = 0;
	int r;

	store_be64(req, bytes);
	r = util_write_full(fd, req, sizeof(req));
	if (r < 0)
		return r;
	while (got < bytes) {
		size_t want = (size_t)(bytes - got < write_size ? bytes - got : write_size);
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		if (memcmp(buf, pattern + (got % PATTERN_PERIOD), (size_t)n) != 0) {
			fprintf(stderr,
				"vsock-throughput: source bytes differ near offset %" PRIu64 "\n",
				got);
			return -EIO;
		}
		got += (uint64_t)n;
	}
	return 0;
}

/* Reference sink: count until EOF, answer the count. */
static void *peer_sink(void *arg)
{
	struct peer *p = arg;
	_cleanup_free_ uint8_t *buf = malloc(p->write_size);
	uint8_t count_be[8];
	uint64_t count = 0;
	ssize_t n;

	p->result = -ENOMEM;
	if (!buf)
		return NULL;
	while ((n = read(p->fd, buf, p->write_size)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			p->result = -errno;
			return NULL;
		}
		count += (uint64_t)n;
	}
	store_be64(count_be, count);
	p->result = util_write_full(p->fd, count_be, sizeof(count_be));
	return NULL;
}

/* Reference source: read the u64 BE count, send the pattern in write_size pieces. */
static void *peer_source(void *arg)
{
	struct peer *p = arg;
	uint8_t req[8];
	uint64_t bytes, sent = 0;

	p->result = util_read_full(p->fd, req, sizeof(req));
	if (p->result < 0)
		return NULL;
	bytes = load_be64(req);
	while (sent < bytes) {
		size_t n = (size_t)(bytes - sent < p->write_size ? bytes - sent : p->write_size);
		p->result = util_write_full(p->fd, pattern + (sent % PATTERN_PERIOD), n);
		if (p->result < 0)
			return NULL;
		sent += n;
	}
	return NULL;
}

/* Reference echo server: accept, echo one byte, close; `bytes` connections. */
static void *peer_echo(void *arg)
{
	struct peer *p = arg;

	for (uint64_t i = 0; i < p->bytes; i++) {
		_cleanup_close_ int c = accept4(p->fd, NULL, NULL, SOCK_CLOEXEC);
		uint8_t b;
		if (c < 0) {
			p->result = -errno;
			return NULL;
		}
		p->result = util_read_full(c, &b, 1);
		if (p->result == 0)
			p->result = util_write_full(c, &b, 1);
		if (p->result < 0)
			return NULL;
	}
	return NULL;
}

/* Time one transfer over a socketpair whose other end runs `peer_fn`. */
static int reference_transfer(void *(*peer_fn)(void *), const struct opts *o, uint8_t *buf,
			      uint64_t *ns)
{
	int sv[2];
	pthread_t thread;
	struct peer p = {.bytes = o->bytes, .write_size = o->write_size};
	uint64_t t0;
	int r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	p.fd = sv[1];
	r = -pthread_create(&thread, NULL, peer_fn, &p);
	if (r < 0) {
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	t0 = util_now_monotonic_ns();
	if (peer_fn == peer_sink)
		r = sink_client(sv[0], o->bytes, o->write_size);
	else
		r = source_client(sv[0], o->bytes, o->write_size, buf);
	*ns = util_now_monotonic_ns() - t0;
	close(sv[0]); /* unblocks the peer if the client failed */
	pthread_join(thread, NULL);
	close(sv[1]);
	if (r == 0)
		r = p.result;
	return r;
}

static int vsock_transfer(uint32_t port, const struct opts *o, uint8_t *buf, uint64_t *ns)
{
	_cleanup_close_ int fd = -1;
	uint64_t t0 = util_now_monotonic_ns();
	int r;

	r = bridge_connect(o->socket, port, &fd);
	if (r < 0) {
		fprintf(stderr, "vsock-throughput: CONNECT %" PRIu32 ": %s\n", port, strerror(-r));
		return r;
	}
	if (port == PORT_SINK)
		r = sink_client(fd, o->bytes, o->write_size);
	else
		r = source_client(fd, o->bytes, o->write_size, buf);
	*ns = util_now_monotonic_ns() - t0;
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* One connection set up and one byte echoed, either through the vsock bridge or directly. */
static int echo_once(const char *path, bool vsock, uint64_t *ns)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	uint8_t b = 0xa5, back = 0;
	uint64_t t0 = util_now_monotonic_ns();
	int r;

	if (vsock) {
		r = bridge_connect(path, PORT_ECHO, &fd);
		if (r < 0)
			return r;
	} else {
		strcpy(addr.sun_path, path); /* length checked by the caller's bind */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
			return -errno;
	}
	r = util_write_full(fd, &b, 1);
	if (r == 0)
		r = util_read_full(fd, &back, 1);
	*ns = util_now_monotonic_ns() - t0;
	if (r == 0 && back != b)
		r = -EIO;
	return r;
}

/* p50/p99 in µs of `n` set-ups, through the bridge (vsock) or to a local echo listener. */
static int setup_latency(const struct opts *o, bool vsock, double *p50, double *p99)
{
	_cleanup_free_ uint64_t *ns = calloc(o->connections, sizeof(*ns));
	char dir[] = "/tmp/vsock-bench.XXXXXX";
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct peer p = {.fd = -1, .bytes = o->connections};
	pthread_t thread;
	int r = 0;

	if (!ns)
		return -ENOMEM;
	if (!vsock) {
		if (!mkdtemp(dir))
			return -errno;
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/echo.sock", dir);
		p.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (p.fd < 0 || bind(p.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
		    listen(p.fd, 16) < 0) {
			r = -errno;
			goto out;
		}
		r = -pthread_create(&thread, NULL, peer_echo, &p);
		if (r < 0)
			goto out;
	}
	for (unsigned i = 0; i < o->connections && r == 0; i++)
		r = echo_once(vsock ? o->socket : addr.sun_path, vsock, &ns[i]);
	if (!vsock) {
		if (r < 0)
			shutdown(p.fd, SHUT_RDWR); /* wakes the accept loop */
		pthread_join(thread, NULL);
		if (r == 0)
			r = p.result;
	}
	qsort(ns, o->connections, sizeof(*ns), cmp_u64);
	*p50 = (double)ns[o->connections / 2] / 1e3;
	*p99 = (double)ns[(o->connections * 99) / 100] / 1e3;
out:
	if (p.fd >= 0)
		close(p.fd);
	if (!vsock) {
		unlink(addr.sun_path);
		rmdir(dir);
	}
	return r;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	uint64_t v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!val)
			return -EINVAL;
		if (strcmp(a, "--socket") == 0)
			o->socket = val;
		else if (strcmp(a, "--command") == 0)
			o->command = val;
		else if (strcmp(a, "--mib") == 0 && util_parse_u64(val, 1 << 20, &v) == 0 && v)
			o->bytes = v << 20;
		else if (strcmp(a, "--write-kib") == 0 &&
			 util_parse_u64(val, WRITE_MAX >> 10, &v) == 0 && v)
			o->write_size = (size_t)v << 10;
		else if (strcmp(a, "--connections") == 0 && util_parse_u64(val, 1000000, &v) == 0 &&
			 v >= 100)
			o->connections = (unsigned)v;
		else
			return -EINVAL;
		i++;
	}
	return o->socket ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	struct opts o = {.bytes = 1ull << 30,
			 .write_size = 64 << 10,
			 .connections = 200,
			 .command = "bench/vsock-throughput.sh build/<dir>"};
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t v_in, r_in, v_out, r_out;
	double v50, v99, r50, r99;
	int r;

	if (parse_opts(argc, argv, &o) < 0) {
		fprintf(stderr,
			"usage: %s --socket RUNTIME/vsock.sock [--mib N] [--write-kib W] "
			"[--connections C>=100] [--command TEXT]\n",
			argv[0]);
		return 2;
	}
	pattern = malloc(o.write_size + PATTERN_PERIOD);
	buf = malloc(o.write_size);
	if (!pattern || !buf)
		return 1;
	for (size_t i = 0; i < o.write_size + PATTERN_PERIOD; i++)
		pattern[i] = (uint8_t)i;

	/* The reference runs right after each vsock transfer, so both see the same machine. */
	if ((r = vsock_transfer(PORT_SINK, &o, buf, &v_in)) < 0 ||
	    (r = reference_transfer(peer_sink, &o, buf, &r_in)) < 0 ||
	    (r = vsock_transfer(PORT_SOURCE, &o, buf, &v_out)) < 0 ||
	    (r = reference_transfer(peer_source, &o, buf, &r_out)) < 0 ||
	    (r = setup_latency(&o, true, &v50, &v99)) < 0 ||
	    (r = setup_latency(&o, false, &r50, &r99)) < 0) {
		fprintf(stderr, "vsock-throughput: %s\n", strerror(-r));
		free(pattern);
		return 1;
	}
	free(pattern);

	uint64_t mib = o.bytes >> 20;
	size_t kib = o.write_size >> 10;
	printf(
	    "| vsock host→guest throughput (port 5003 sink) | %" PRIu64 " MiB in %zu KiB writes: "
	    "%.0f MiB/s = %.3fx a unix socketpair moving the same bytes (%.0f MiB/s), same run | "
	    "`%s` |\n",
	    mib, kib, mib_per_s(o.bytes, v_in), (double)r_in / (double)v_in,
	    mib_per_s(o.bytes, r_in), o.command);
	printf(
	    "| vsock guest→host throughput (port 5004 source) | %" PRIu64 " MiB read in %zu KiB "
	    "reads, pattern checked: %.0f MiB/s = %.3fx a unix socketpair (%.0f MiB/s), same run | "
	    "`%s` |\n",
	    mib, kib, mib_per_s(o.bytes, v_out), (double)r_out / (double)v_out,
	    mib_per_s(o.bytes, r_out), o.command);
	printf(
	    "| vsock connection setup (connect, CONNECT 5000, OK, 1 byte echoed) | %u connections: "
	    "p50 %.0f µs, p99 %.0f µs vs unix connect + 1-byte echo p50 %.1f µs, p99 %.1f µs "
	    "(p50 ×%.0f, p99 ×%.0f) | `%s` |\n",
	    o.connections, v50, v99, r50, r99, v50 / r50, v99 / r99, o.command);
	return 0;
}
