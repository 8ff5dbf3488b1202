/* The vsock mux against hostile guests and hosts: malformed and flooding packets, host clients
 * that misbehave or vanish, the connection limit, and configuration checks. */
#include "config.h"

#include "tests/unit/test-vsock-fx.h"

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
	    cmocka_unit_test_setup_teardown(test_host_hostile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_packets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rst_flood, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_small_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_gone_before_connect, setup, teardown),
	    cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
