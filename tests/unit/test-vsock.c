/* The vsock mux over fake guest buffers and real unix sockets: every state-machine path,
 * credit in both directions, the bridge and heartbeat. Hostile guests and hosts and the limits:
 * test-vsock-hostile.c. */
#include "config.h"

#include "tests/unit/test-vsock-fx.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_connect_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_to_guest_credit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slow_host_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_connect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
