/* Shared by the vsock mux unit tests (test-vsock.c, test-vsock-hostile.c): a mux over fake
 * guest buffers and real unix sockets in a temporary directory, and guest/host helpers. */
#pragma once

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

static __attribute__((unused)) void on_heartbeat(void *opaque)
{
	((struct fx *)opaque)->heartbeats++;
}

static __attribute__((unused)) void fx_start(struct fx *f)
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

static __attribute__((unused)) int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/test-vsock.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static __attribute__((unused)) int teardown(void **state)
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

static __attribute__((unused)) int host_listen(struct fx *f, uint32_t port)
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

static __attribute__((unused)) int host_connect(struct fx *f)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/vsock.sock", f->dir);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Send one packet from the guest; the payload is split over two iovecs to exercise scatter. */
static __attribute__((unused)) void gsend_full(struct fx *f, uint64_t src_cid, uint64_t dst_cid,
					       uint32_t sport, uint32_t dport, uint16_t op,
					       uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt,
					       const void *data, uint32_t len)
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

static __attribute__((unused)) void gsend(struct fx *f, uint32_t sport, uint32_t dport, uint16_t op,
					  const void *data, uint32_t len)
{
	gsend_full(f, GUEST_CID, 3, sport, dport, op, 0, 1u << 20, 0, data, len);
}

/* Receive one packet as the guest: 0, or -EAGAIN when nothing is owed. */
static __attribute__((unused)) int grecv(struct fx *f, struct vsock_hdr *h, uint8_t *payload,
					 size_t room)
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

static __attribute__((unused)) void expect(struct fx *f, uint16_t op, uint32_t dport)
{
	struct vsock_hdr h;

	assert_int_equal(grecv(f, &h, NULL, 0), 0);
	assert_int_equal(h.op, op);
	assert_int_equal(h.dst_port, dport);
}

static __attribute__((unused)) void expect_nothing(struct fx *f)
{
	struct vsock_hdr h;

	int r = grecv(f, &h, NULL, 4096);
	if (r == 0)
		print_error("unexpected %s to port %u len %u\n", vsock_op_name(h.op), h.dst_port,
			    h.len);
	assert_int_equal(r, -EAGAIN);
	assert_false(vsock_mux_rx_pending(f->mux));
}

static __attribute__((unused)) uint64_t counter(struct fx *f, enum vsock_counter c)
{
	struct vsock_stats s;

	vsock_mux_get_stats(f->mux, &s);
	return s.counters[c];
}

static __attribute__((unused)) uint32_t nconns(struct fx *f)
{
	struct vsock_stats s;

	vsock_mux_get_stats(f->mux, &s);
	return s.connections;
}

/* Let the mux see host socket events (wait up to ms for something to happen). */
static __attribute__((unused)) void pump(struct fx *f, int ms)
{
	struct pollfd p = {.fd = vsock_mux_fd(f->mux), .events = POLLIN};

	poll(&p, 1, ms);
	assert_int_equal(vsock_mux_process(f->mux), 0);
}

/* Guest connects from sport to host port dport that has a listener; returns the host end. */
static __attribute__((unused)) int open_conn(struct fx *f, int lfd, uint32_t sport, uint32_t dport)
{
	int fd;

	gsend(f, sport, dport, VSOCK_OP_REQUEST, NULL, 0);
	expect(f, VSOCK_OP_RESPONSE, sport);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}
