/* The vsock mux over fake guest buffers and real unix sockets: every state-machine path,
 * credit in both directions, the bridge and heartbeat, and hostile guests and hosts. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/vsock_mux.h"
#include "vmm/vsock_packet.h"

#define GUEST_CID 5u
#define RXBUF	  (VSOCK_HDR_SIZE + 4096u)

struct fx {
	char dir[64];
	struct vsock_mux *mux;
	int heartbeats;
	uint32_t max_conns, buf_alloc, timeout_ms;
	int listeners[4];
	uint32_t listener_ports[4];
	int nlisteners;
};

static void on_heartbeat(void *opaque)
{
	((struct fx *)opaque)->heartbeats++;
}

static void fx_start(struct fx *f)
{
	struct vsock_mux_config cfg = {
	    .guest_cid = GUEST_CID,
	    .runtime_dir = f->dir,
	    .owner_uid = (uid_t)-1,
	    .owner_gid = (gid_t)-1,
	    .max_conns = f->max_conns,
	    .buf_alloc = f->buf_alloc,
	    .timeout_ms = f->timeout_ms,
	    .on_heartbeat = on_heartbeat,
	    .opaque = f,
	};
	assert_int_equal(vsock_mux_new(&cfg, &f->mux), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/test-vsock.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char path[128];

	vsock_mux_free(f->mux);
	for (int i = 0; i < f->nlisteners; i++) {
		close(f->listeners[i]);
		snprintf(path, sizeof(path), "%s/vsock.sock_%u", f->dir, f->listener_ports[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/vsock.sock", f->dir);
	assert_int_equal(access(path, F_OK), -1); /* the mux removed its listener */
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static int host_listen(struct fx *f, uint32_t port)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/vsock.sock_%u", f->dir, port);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 2048), 0);
	f->listeners[f->nlisteners] = fd;
	f->listener_ports[f->nlisteners++] = port;
	return fd;
}

static int host_connect(struct fx *f)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/vsock.sock", f->dir);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Send one packet from the guest; the payload is split over two iovecs to exercise scatter. */
static void gsend_full(struct fx *f, uint64_t src_cid, uint64_t dst_cid, uint32_t sport,
		       uint32_t dport, uint16_t op, uint32_t flags, uint32_t buf_alloc,
		       uint32_t fwd_cnt, const void *data, uint32_t len)
{
	uint8_t hdr[VSOCK_HDR_SIZE];
	struct vsock_hdr h = {
	    .src_cid = src_cid,
	    .dst_cid = dst_cid,
	    .src_port = sport,
	    .dst_port = dport,
	    .len = len,
	    .type = VSOCK_TYPE_STREAM,
	    .op = op,
	    .flags = flags,
	    .buf_alloc = buf_alloc,
	    .fwd_cnt = fwd_cnt,
	};
	struct iovec iov[3] = {{hdr, sizeof(hdr)},
			       {(void *)data, len / 2},
			       {(uint8_t *)data + len / 2, len - len / 2}};

	vsock_hdr_encode(&h, hdr);
	assert_int_equal(vsock_mux_guest_tx(f->mux, iov, data ? 3 : 1), 0);
}

static void gsend(struct fx *f, uint32_t sport, uint32_t dport, uint16_t op, const void *data,
		  uint32_t len)
{
	gsend_full(f, GUEST_CID, 3, sport, dport, op, 0, 1u << 20, 0, data, len);
}

/* Receive one packet as the guest: 0, or -EAGAIN when nothing is owed. */
static int grecv(struct fx *f, struct vsock_hdr *h, uint8_t *payload, size_t room)
{
	uint8_t buf[RXBUF];
	struct iovec iov = {buf, VSOCK_HDR_SIZE + (room < 4096 ? room : 4096)};
	uint32_t len = 0;
	int r = vsock_mux_guest_rx(f->mux, &iov, 1, &len);

	if (r < 0)
		return r;
	assert_true(len >= VSOCK_HDR_SIZE);
	vsock_hdr_decode(buf, h);
	assert_int_equal(len, VSOCK_HDR_SIZE + h->len);
	assert_int_equal(h->dst_cid, GUEST_CID);
	assert_int_equal(h->type, VSOCK_TYPE_STREAM);
	if (payload)
		memcpy(payload, buf + VSOCK_HDR_SIZE, h->len);
	return 0;
}

static void expect(struct fx *f, uint16_t op, uint32_t dport)
{
	struct vsock_hdr h;

	assert_int_equal(grecv(f, &h, NULL, 0), 0);
	assert_int_equal(h.op, op);
	assert_int_equal(h.dst_port, dport);
}

static void expect_nothing(struct fx *f)
{
	struct vsock_hdr h;

	int r = grecv(f, &h, NULL, 4096);
	if (r == 0)
		print_error("unexpected %s to port %u len %u\n", vsock_op_name(h.op), h.dst_port,
			    h.len);
	assert_int_equal(r, -EAGAIN);
	assert_false(vsock_mux_rx_pending(f->mux));
}

static uint64_t counter(struct fx *f, enum vsock_counter c)
{
	struct vsock_stats s;

	vsock_mux_get_stats(f->mux, &s);
	return s.counters[c];
}

static uint32_t nconns(struct fx *f)
{
	struct vsock_stats s;

	vsock_mux_get_stats(f->mux, &s);
	return s.connections;
}

/* Let the mux see host socket events (wait up to ms for something to happen). */
static void pump(struct fx *f, int ms)
{
	struct pollfd p = {.fd = vsock_mux_fd(f->mux), .events = POLLIN};

	poll(&p, 1, ms);
	assert_int_equal(vsock_mux_process(f->mux), 0);
}

/* Guest connects from sport to host port dport that has a listener; returns the host end. */
static int open_conn(struct fx *f, int lfd, uint32_t sport, uint32_t dport)
{
	int fd;

	gsend(f, sport, dport, VSOCK_OP_REQUEST, NULL, 0);
	expect(f, VSOCK_OP_RESPONSE, sport);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void test_refused(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	gsend(f, 1234, 5000, VSOCK_OP_REQUEST, NULL, 0);
	expect(f, VSOCK_OP_RST, 1234);
	expect_nothing(f);
	assert_int_equal(counter(f, VSOCK_CNT_GUEST_REFUSED), 1);
	assert_int_equal(nconns(f), 0);
}

static void test_guest_connect_data(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	uint8_t buf[64];
	int lfd, fd;

	fx_start(f);
	lfd = host_listen(f, 7000);
	fd = open_conn(f, lfd, 1234, 7000);
	gsend(f, 1234, 7000, VSOCK_OP_RW, "hello", 5);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(write(fd, "world!", 6), 6);
	pump(f, 1000);
	assert_int_equal(grecv(f, &h, buf, sizeof(buf)), 0);
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(h.src_cid, 3);
	assert_int_equal(h.src_port, 7000);
	assert_int_equal(h.dst_port, 1234);
	assert_int_equal(h.buf_alloc, VSOCK_DEFAULT_BUF_ALLOC);
	assert_int_equal(h.fwd_cnt, 5); /* honest: the 5 bytes reached the host */
	expect_nothing(f);
	/* CID 2 works as well as 3, and replies come from the CID addressed. */
	gsend_full(f, GUEST_CID, 2, 99, 7000, VSOCK_OP_REQUEST, 0, 4096, 0, NULL, 0);
	assert_int_equal(grecv(f, &h, NULL, 0), 0);
	assert_int_equal(h.op, VSOCK_OP_RESPONSE);
	assert_int_equal(h.src_cid, 2);
	/* CREDIT_REQUEST gets a CREDIT_UPDATE. */
	gsend(f, 1234, 7000, VSOCK_OP_CREDIT_REQUEST, NULL, 0);
	expect(f, VSOCK_OP_CREDIT_UPDATE, 1234);
	/* Guest closes: SHUTDOWN both -> RST, host sees EOF. */
	gsend_full(f, GUEST_CID, 3, 1234, 7000, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_BOTH, 4096, 0,
		   NULL, 0);
	expect(f, VSOCK_OP_RST, 1234);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	assert_int_equal(nconns(f), 1);
	close(fd);
	close(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
}

static void test_half_close(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	uint8_t buf[64];
	int lfd, fd;

	fx_start(f);
	lfd = host_listen(f, 5003);
	fd = open_conn(f, lfd, 40, 5003);
	/* Guest stops sending: host reads EOF but can still answer. */
	gsend_full(f, GUEST_CID, 3, 40, 5003, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND, 4096, 0, NULL,
		   0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	assert_int_equal(write(fd, "x", 1), 1);
	pump(f, 1000);
	assert_int_equal(grecv(f, &h, buf, sizeof(buf)), 0);
	assert_int_equal(h.op, VSOCK_OP_RW);
	/* RW after its own SEND shutdown is a protocol error: reset. */
	gsend(f, 40, 5003, VSOCK_OP_RW, "y", 1);
	expect(f, VSOCK_OP_RST, 40);
	assert_int_equal(counter(f, VSOCK_CNT_BAD_STATE), 1);
	close(fd);

	/* Host half-closes: guest gets SHUTDOWN(SEND), may still send. */
	fd = open_conn(f, lfd, 41, 5003);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	pump(f, 1000);
	assert_int_equal(grecv(f, &h, NULL, 4096), 0);
	assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
	gsend(f, 41, 5003, VSOCK_OP_RW, "12345678", 8);
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	/* Host vanishes: the guest learns it as SHUTDOWN both or RST once it writes. */
	close(fd);
	gsend(f, 41, 5003, VSOCK_OP_RW, "z", 1);
	expect(f, VSOCK_OP_RST, 41);
	assert_int_equal(counter(f, VSOCK_CNT_HOST_IO_ERROR), 1);
	assert_int_equal(nconns(f), 0);

	/* Host closes fully while idle: SHUTDOWN with both flags, guest answers RST. */
	fd = open_conn(f, lfd, 42, 5003);
	close(fd);
	pump(f, 1000);
	assert_int_equal(grecv(f, &h, NULL, 4096), 0);
	assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_BOTH);
	gsend(f, 42, 5003, VSOCK_OP_RST, NULL, 0);
	expect_nothing(f);
	assert_int_equal(nconns(f), 0);
}

static void test_host_to_guest_credit(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	uint8_t buf[4096], big[100];
	int lfd, fd;

	fx_start(f);
	lfd = host_listen(f, 5004);
	gsend_full(f, GUEST_CID, 3, 50, 5004, VSOCK_OP_REQUEST, 0, 10, 0, NULL, 0);
	expect(f, VSOCK_OP_RESPONSE, 50);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	memset(big, 'a', sizeof(big));
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	pump(f, 1000);
	assert_int_equal(grecv(f, &h, buf, sizeof(buf)), 0);
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 10); /* the guest's buf_alloc, no more */
	/* Credit exhausted: one CREDIT_REQUEST, then silence however long the host pushes. */
	expect(f, VSOCK_OP_CREDIT_REQUEST, 50);
	pump(f, 10);
	expect_nothing(f);
	/* Guest consumed 10 bytes: 10 more flow. */
	gsend_full(f, GUEST_CID, 3, 50, 5004, VSOCK_OP_CREDIT_UPDATE, 0, 10, 10, NULL, 0);
	pump(f, 1000);
	assert_int_equal(grecv(f, &h, buf, sizeof(buf)), 0);
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 10);
	expect(f, VSOCK_OP_CREDIT_REQUEST, 50);
	/* A guest that lies (fwd_cnt beyond what it got) gets no credit out of it. */
	gsend_full(f, GUEST_CID, 3, 50, 5004, VSOCK_OP_CREDIT_UPDATE, 0, 10, 5000, NULL, 0);
	pump(f, 10);
	expect_nothing(f);
	close(fd);
}

static void test_slow_host_reader(void **state)
{
	struct fx *f = *state;
	static uint8_t chunk[4096];
	struct vsock_hdr h;
	uint32_t sent = 0, fwd = 0, peer_free;
	int lfd, fd, rcv = 4096;
	uint8_t sink[65536];
	ssize_t n;

	f->buf_alloc = 16384;
	fx_start(f);
	lfd = host_listen(f, 6000);
	fd = open_conn(f, lfd, 60, 6000);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	/* A well-behaved guest sends only within the credit we advertise; the host never reads. */
	for (int i = 0; i < 1000; i++) {
		while (grecv(f, &h, NULL, 0) == 0) {
			assert_true(h.op == VSOCK_OP_CREDIT_UPDATE);
			assert_int_equal(h.buf_alloc, 16384);
			fwd = h.fwd_cnt;
		}
		peer_free = 16384 - (sent - fwd);
		if (peer_free < sizeof(chunk))
			break;
		gsend(f, 60, 6000, VSOCK_OP_RW, chunk, sizeof(chunk));
		sent += sizeof(chunk);
	}
	assert_true(sent < 1000 * sizeof(chunk)); /* it stopped: credit ran out */
	assert_int_equal(counter(f, VSOCK_CNT_CREDIT_VIOLATION), 0);
	/* Ignoring credit now resets only this connection. */
	gsend(f, 60, 6000, VSOCK_OP_RW, chunk, sizeof(chunk));
	gsend(f, 60, 6000, VSOCK_OP_RW, chunk, sizeof(chunk));
	gsend(f, 60, 6000, VSOCK_OP_RW, chunk, sizeof(chunk));
	gsend(f, 60, 6000, VSOCK_OP_RW, chunk, sizeof(chunk));
	gsend(f, 60, 6000, VSOCK_OP_RW, chunk, sizeof(chunk));
	assert_int_equal(counter(f, VSOCK_CNT_CREDIT_VIOLATION), 1);
	/* One RST for the reset, four for the packets that followed to a closed connection. */
	for (int i = 0; i < 5; i++)
		expect(f, VSOCK_OP_RST, 60);
	expect_nothing(f);
	/* The host still gets a prefix of the stream, then EOF; nothing leaked beyond. */
	size_t got = 0;
	while ((n = read(fd, sink, sizeof(sink))) > 0)
		got += (size_t)n;
	assert_true(got <= sent + 3 * sizeof(chunk));
	close(fd);

	/* Same again, but the host drains: buffered data flows and a credit update follows. */
	fd = open_conn(f, lfd, 61, 6000);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	sent = fwd = 0;
	for (int i = 0; i < 1000; i++) {
		while (grecv(f, &h, NULL, 0) == 0)
			fwd = h.fwd_cnt;
		if (16384 - (sent - fwd) < sizeof(chunk))
			break;
		gsend(f, 61, 6000, VSOCK_OP_RW, chunk, sizeof(chunk));
		sent += sizeof(chunk);
	}
	assert_true(sent - fwd > 8192); /* stuck with data buffered in the VMM */
	got = 0;
	while (got < sent) {
		n = read(fd, sink, sizeof(sink));
		assert_true(n > 0);
		got += (size_t)n;
		pump(f, 0);
	}
	pump(f, 10);
	while (grecv(f, &h, NULL, 0) == 0) {
		assert_int_equal(h.op, VSOCK_OP_CREDIT_UPDATE);
		fwd = h.fwd_cnt;
	}
	assert_int_equal(fwd, sent);
	close(fd);
}

static void test_host_connect(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	char line[32];
	uint8_t buf[64];
	int fd;

	fx_start(f);
	fd = host_connect(f);
	/* The CONNECT line and the first data in one write: the data is not eaten. */
	assert_int_equal(write(fd, "connect 5000\nping", 17), 17);
	pump(f, 1000);
	pump(f, 10);
	assert_int_equal(grecv(f, &h, NULL, 0), 0);
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, 5000);
	assert_int_equal(h.src_port, 1u << 30);
	assert_int_equal(h.src_cid, 3);
	gsend_full(f, GUEST_CID, 3, 5000, 1u << 30, VSOCK_OP_RESPONSE, 0, 4096, 0, NULL, 0);
	assert_int_equal(read(fd, line, 14), 14);
	assert_memory_equal(line, "OK 1073741824\n", 14);
	pump(f, 1000);
	assert_int_equal(grecv(f, &h, buf, sizeof(buf)), 0);
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 4);
	assert_memory_equal(buf, "ping", 4);
	gsend(f, 5000, 1u << 30, VSOCK_OP_RW, "pong", 4);
	assert_int_equal(read(fd, buf, 4), 4);
	assert_memory_equal(buf, "pong", 4);
	close(fd);

	/* No listener in the guest: RST closes the host socket. Ports go round robin. */
	fd = host_connect(f);
	assert_int_equal(write(fd, "CONNECT 5999\n", 13), 13);
	pump(f, 1000);
	assert_int_equal(grecv(f, &h, NULL, 0), 0);
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.src_port, (1u << 30) + 1);
	gsend(f, 5999, (1u << 30) + 1, VSOCK_OP_RST, NULL, 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
	/* A RESPONSE or data for a connection that does not exist: RST. */
	gsend(f, 5999, (1u << 30) + 1, VSOCK_OP_RESPONSE, NULL, 0);
	expect(f, VSOCK_OP_RST, 5999);
	assert_int_equal(counter(f, VSOCK_CNT_NO_CONN), 1);
}

static void test_host_hostile(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64];
	int fd, silent, many[70];

	f->timeout_ms = 100;
	fx_start(f);
	/* Garbage line. */
	fd = host_connect(f);
	assert_int_equal(write(fd, "GET / HTTP/1.0\n", 15), 15);
	pump(f, 1000);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
	/* 32 bytes and no newline. */
	fd = host_connect(f);
	memset(buf, 'C', 40);
	assert_int_equal(write(fd, buf, 40), 40);
	pump(f, 1000);
	assert_true(read(fd, buf, sizeof(buf)) <= 0); /* EOF or ECONNRESET (8 bytes unread) */
	close(fd);
	assert_int_equal(counter(f, VSOCK_CNT_HOST_BAD_CONNECT), 2);
	/* Vanishes half-way through the line. */
	fd = host_connect(f);
	assert_int_equal(write(fd, "CONN", 4), 4);
	pump(f, 1000);
	close(fd);
	pump(f, 1000);
	assert_int_equal(counter(f, VSOCK_CNT_HOST_BAD_CONNECT), 3);
	/* Silent: dropped after the timeout. */
	silent = host_connect(f);
	for (int i = 0; i < 50 && counter(f, VSOCK_CNT_HOST_TIMEOUT) == 0; i++)
		pump(f, 100);
	assert_int_equal(counter(f, VSOCK_CNT_HOST_TIMEOUT), 1);
	assert_int_equal(read(silent, buf, sizeof(buf)), 0);
	close(silent);
	/* Guest never answers a host CONNECT: host closed, guest told RST. */
	fd = host_connect(f);
	assert_int_equal(write(fd, "CONNECT 1\n", 10), 10);
	pump(f, 1000);
	expect(f, VSOCK_OP_REQUEST, 1);
	for (int i = 0; i < 50 && counter(f, VSOCK_CNT_HOST_TIMEOUT) == 1; i++)
		pump(f, 100);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	expect(f, VSOCK_OP_RST, 1);
	close(fd);
	/* Many silent clients: bounded, the surplus is closed at once. */
	for (int i = 0; i < 70; i++)
		many[i] = host_connect(f);
	pump(f, 100);
	pump(f, 100);
	pump(f, 100);
	assert_true(counter(f, VSOCK_CNT_CONN_LIMIT) >= 6);
	for (int i = 0; i < 70; i++)
		close(many[i]);
	expect_nothing(f);
}

/* A host client that has closed both ways before the guest heard of it costs the guest
 * nothing: no REQUEST (or it is withdrawn while still queued), so a burst of vanishing clients
 * cannot fill the guest's connection slots ahead of live ones. Half-closed clients still
 * connect: they may read the answer. */
static void test_host_gone_before_connect(void **state)
{
	struct fx *f = *state;
	int fd, gone;

	fx_start(f);
	/* Line and close before the mux read it. */
	fd = host_connect(f);
	assert_int_equal(write(fd, "CONNECT 5000\n", 13), 13);
	close(fd);
	pump(f, 1000);
	pump(f, 100);
	assert_int_equal(counter(f, VSOCK_CNT_HOST_GONE), 1);
	assert_int_equal(nconns(f), 0);
	expect_nothing(f);
	/* Line read, REQUEST still queued (no guest RX buffer taken yet), then the close. */
	gone = host_connect(f);
	assert_int_equal(write(gone, "CONNECT 5001\n", 13), 13);
	for (int i = 0; i < 50 && nconns(f) == 0; i++)
		pump(f, 100);
	assert_int_equal(nconns(f), 1);
	assert_true(vsock_mux_rx_pending(f->mux));
	close(gone);
	pump(f, 1000);
	assert_int_equal(counter(f, VSOCK_CNT_HOST_GONE), 2);
	assert_int_equal(nconns(f), 0);
	expect_nothing(f);
	/* After the REQUEST went out, a close waits for the guest's answer, which gets RST. */
	fd = host_connect(f);
	assert_int_equal(write(fd, "CONNECT 5002\n", 13), 13);
	for (int i = 0; i < 50 && nconns(f) == 0; i++)
		pump(f, 100);
	expect(f, VSOCK_OP_REQUEST, 5002);
	close(fd);
	pump(f, 100);
	assert_int_equal(nconns(f), 1);
	assert_int_equal(counter(f, VSOCK_CNT_HOST_GONE), 2);
	/* Half-closed (SHUT_WR) after the line: still forwarded and answered. */
	fd = host_connect(f);
	assert_int_equal(write(fd, "CONNECT 5003\n", 13), 13);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	pump(f, 1000);
	pump(f, 100);
	assert_int_equal(nconns(f), 2);
	assert_int_equal(counter(f, VSOCK_CNT_HOST_GONE), 2);
	expect(f, VSOCK_OP_REQUEST, 5003);
	close(fd);
}

static void test_heartbeat(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	uint8_t b = 0xB7, buf[8];

	fx_start(f);
	gsend(f, 77, 9000, VSOCK_OP_REQUEST, NULL, 0);
	expect(f, VSOCK_OP_RESPONSE, 77);
	gsend(f, 77, 9000, VSOCK_OP_RW, &b, 1);
	assert_int_equal(f->heartbeats, 1);
	assert_int_equal(grecv(f, &h, buf, sizeof(buf)), 0);
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 1);
	assert_int_equal(buf[0], 0xB7);
	assert_int_equal(h.src_port, 9000);
	gsend_full(f, GUEST_CID, 3, 77, 9000, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_BOTH, 0, 0, NULL,
		   0);
	expect(f, VSOCK_OP_RST, 77);
	assert_int_equal(nconns(f), 0);
	/* Wrong byte: reset, not counted as a heartbeat. */
	b = 0xB8;
	gsend(f, 78, 9000, VSOCK_OP_REQUEST, NULL, 0);
	expect(f, VSOCK_OP_RESPONSE, 78);
	gsend(f, 78, 9000, VSOCK_OP_RW, &b, 1);
	expect(f, VSOCK_OP_RST, 78);
	assert_int_equal(f->heartbeats, 1);
	assert_int_equal(counter(f, VSOCK_CNT_HEARTBEAT_BAD), 1);
	assert_int_equal(counter(f, VSOCK_CNT_HEARTBEATS), 1);
}

static void test_hostile_packets(void **state)
{
	struct fx *f = *state;
	uint8_t raw[VSOCK_HDR_SIZE + 8] = {0};
	struct iovec iov = {raw, 20};
	struct vsock_hdr h = {.src_cid = GUEST_CID,
			      .dst_cid = 3,
			      .src_port = 1,
			      .dst_port = 2,
			      .type = VSOCK_TYPE_STREAM,
			      .op = VSOCK_OP_RW,
			      .len = 100};
	int lfd, fd;

	fx_start(f);
	assert_int_equal(vsock_mux_guest_tx(f->mux, &iov, 1), 0);
	assert_int_equal(vsock_mux_guest_tx(f->mux, NULL, 0), 0);
	assert_int_equal(counter(f, VSOCK_CNT_SHORT_HEADER), 2);
	/* len says 100, the chain holds 8. */
	vsock_hdr_encode(&h, raw);
	iov.iov_len = sizeof(raw);
	assert_int_equal(vsock_mux_guest_tx(f->mux, &iov, 1), 0);
	assert_int_equal(counter(f, VSOCK_CNT_BAD_LEN), 1);
	expect(f, VSOCK_OP_RST, 1);
	/* Someone else's source CID: dropped without a word. */
	gsend_full(f, 99, 3, 1, 2, VSOCK_OP_REQUEST, 0, 0, 0, NULL, 0);
	gsend_full(f, 3, 3, 1, 2, VSOCK_OP_REQUEST, 0, 0, 0, NULL, 0);
	assert_int_equal(counter(f, VSOCK_CNT_BAD_SRC_CID), 2);
	expect_nothing(f);
	/* Destination neither 2 nor 3. */
	gsend_full(f, GUEST_CID, 7, 1, 2, VSOCK_OP_REQUEST, 0, 0, 0, NULL, 0);
	assert_int_equal(counter(f, VSOCK_CNT_BAD_DST_CID), 1);
	expect(f, VSOCK_OP_RST, 1);
	/* Unknown op and type. */
	gsend(f, 1, 2, 42, NULL, 0);
	assert_int_equal(counter(f, VSOCK_CNT_BAD_OP), 1);
	expect(f, VSOCK_OP_RST, 1);
	h.len = 0;
	h.type = 2;
	vsock_hdr_encode(&h, raw);
	assert_int_equal(vsock_mux_guest_tx(f->mux, &iov, 1), 0);
	assert_int_equal(counter(f, VSOCK_CNT_BAD_TYPE), 1);
	expect(f, VSOCK_OP_RST, 1);
	/* A bad packet on an open connection resets that connection only. */
	lfd = host_listen(f, 2);
	fd = open_conn(f, lfd, 1, 2);
	int fd2 = open_conn(f, lfd, 3, 2);
	h.type = VSOCK_TYPE_STREAM;
	h.len = 1000;
	vsock_hdr_encode(&h, raw);
	assert_int_equal(vsock_mux_guest_tx(f->mux, &iov, 1), 0);
	expect(f, VSOCK_OP_RST, 1);
	assert_int_equal(nconns(f), 1);
	gsend(f, 3, 2, VSOCK_OP_RW, "ok", 2);
	char buf[4];
	assert_int_equal(read(fd2, buf, sizeof(buf)), 2);
	/* Duplicate REQUEST on an open connection. */
	gsend(f, 3, 2, VSOCK_OP_REQUEST, NULL, 0);
	expect(f, VSOCK_OP_RST, 3);
	assert_int_equal(nconns(f), 0);
	close(fd);
	close(fd2);
	/* RX buffers too small to hold a header are handed back empty. */
	gsend(f, 1, 2, VSOCK_OP_RW, NULL, 0);
	uint8_t tiny[8];
	struct iovec t = {tiny, sizeof(tiny)};
	uint32_t len = 99;
	assert_int_equal(vsock_mux_guest_rx(f->mux, &t, 1, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(counter(f, VSOCK_CNT_RX_BUF_SHORT), 1);
}

static void test_rst_flood(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	int n = 0;

	fx_start(f);
	for (uint32_t i = 0; i < 3000; i++)
		gsend(f, i, 5, VSOCK_OP_RW, NULL, 0);
	/* RSTs to nobody are swallowed, not answered. */
	for (uint32_t i = 0; i < 3000; i++)
		gsend(f, i, 5, VSOCK_OP_RST, NULL, 0);
	while (grecv(f, &h, NULL, 0) == 0) {
		assert_int_equal(h.op, VSOCK_OP_RST);
		n++;
	}
	assert_int_equal(n, 1024);
	assert_int_equal(counter(f, VSOCK_CNT_RST_QUEUE_FULL), 3000 - 1024);
	assert_int_equal(counter(f, VSOCK_CNT_NO_CONN), 6000);
}

static void test_many_connections(void **state)
{
	struct fx *f = *state;
	static int fds[VSOCK_DEFAULT_MAX_CONNS];
	struct rlimit rl;
	int lfd;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < 2 * VSOCK_DEFAULT_MAX_CONNS + 64)
		skip();
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	fx_start(f); /* default: 1023 */
	lfd = host_listen(f, 8000);
	for (uint32_t i = 0; i < VSOCK_DEFAULT_MAX_CONNS; i++)
		fds[i] = open_conn(f, lfd, 10000 + i, 8000);
	assert_int_equal(nconns(f), VSOCK_DEFAULT_MAX_CONNS);
	gsend(f, 9999, 8000, VSOCK_OP_REQUEST, NULL, 0);
	expect(f, VSOCK_OP_RST, 9999);
	assert_int_equal(counter(f, VSOCK_CNT_CONN_LIMIT), 1);
	/* Every connection still carries its own data. */
	for (uint32_t i = 0; i < VSOCK_DEFAULT_MAX_CONNS; i += 97) {
		uint32_t v = i, got;
		gsend(f, 10000 + i, 8000, VSOCK_OP_RW, &v, sizeof(v));
		assert_int_equal(read(fds[i], &got, sizeof(got)), 4);
		assert_int_equal(got, i);
	}
	/* Transport reset drops them all without a packet; hosts see EOF. */
	vsock_mux_reset(f->mux);
	assert_int_equal(nconns(f), 0);
	expect_nothing(f);
	for (uint32_t i = 0; i < VSOCK_DEFAULT_MAX_CONNS; i++) {
		char c;
		assert_int_equal(read(fds[i], &c, 1), 0);
		close(fds[i]);
	}
}

static void test_small_limit(void **state)
{
	struct fx *f = *state;
	int lfd, fds[3];

	f->max_conns = 3;
	fx_start(f);
	lfd = host_listen(f, 1);
	for (int i = 0; i < 3; i++)
		fds[i] = open_conn(f, lfd, 100 + (uint32_t)i, 1);
	gsend(f, 200, 1, VSOCK_OP_REQUEST, NULL, 0);
	expect(f, VSOCK_OP_RST, 200);
	/* Heartbeat is a connection too. */
	gsend(f, 201, 9000, VSOCK_OP_REQUEST, NULL, 0);
	expect(f, VSOCK_OP_RST, 201);
	assert_int_equal(counter(f, VSOCK_CNT_CONN_LIMIT), 2);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

static void test_config(void **state)
{
	struct vsock_mux *mux;
	struct vsock_mux_config cfg = {.guest_cid = 2, .runtime_dir = "/tmp"};

	assert_int_equal(vsock_mux_new(&cfg, &mux), -EINVAL);
	cfg.guest_cid = 3;
	cfg.runtime_dir = NULL;
	assert_int_equal(vsock_mux_new(&cfg, &mux), -EINVAL);
	assert_string_equal(vsock_counter_name(VSOCK_CNT_CREDIT_VIOLATION), "credit_violation");
	assert_string_equal(vsock_counter_name(VSOCK_CNT__MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_connect_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_to_guest_credit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slow_host_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_connect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_hostile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_packets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rst_flood, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_small_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_gone_before_connect, setup, teardown),
	    cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
