// clang-format off
// fuzz-sources: vmm/vsock_packet.c vmm/vsock_conn.c vmm/vsock_bridge.c vmm/vsock_mux.c vmm/vsock_rx.c vmm/vsock_host.c vmm/heartbeat.c common/util.c common/log.c
// fuzz-pkgs: libsystemd
// clang-format on
/* Guest packets into the vsock mux: the input is a script of TX packets (any bytes, split into
 * up to three iovecs) and RX pulls of a chosen buffer size. Nothing may crash, leak or grow
 * without bound; every RX packet must be well-formed. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "vmm/vsock_mux.h"
#include "vmm/vsock_packet.h"

static struct vsock_mux *mux;

static void noop(void *opaque)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsock_mux_config cfg = {
	    .guest_cid = 5,
	    .runtime_dir = "/nonexistent-enclaved-fuzz",
	    .no_listener = true,
	    .max_conns = 64,
	    .buf_alloc = 8192,
	    .on_heartbeat = noop,
	};
	static uint8_t rx[VSOCK_HDR_SIZE + 70000];

	if (!mux) {
		log_setup("fuzz", LOG_LEVEL_ERROR);
		if (vsock_mux_new(&cfg, &mux) < 0)
			abort();
	}
	vsock_mux_reset(mux);
	while (size >= 3) {
		uint8_t op = data[0];
		size_t n = (size_t)data[1] | (size_t)data[2] << 8;
		data += 3;
		size -= 3;
		if (op & 1) {
			/* RX pull of n bytes (0 .. 65535 + header). */
			struct iovec iov = {
			    rx, UTIL_MIN(n + (op & 2 ? VSOCK_HDR_SIZE : 0), sizeof(rx))};
			uint32_t len = 0;
			if (vsock_mux_guest_rx(mux, &iov, 1, &len) == 0) {
				assert(len <= iov.iov_len);
				if (len >= VSOCK_HDR_SIZE) {
					struct vsock_hdr h;
					vsock_hdr_decode(rx, &h);
					assert(h.dst_cid == 5);
					assert(len == VSOCK_HDR_SIZE + h.len);
				}
			}
			continue;
		}
		if (n > size)
			n = size;
		/* A TX chain of n bytes, cut into up to three segments. */
		size_t a = op >> 2 & 7, b = op >> 5;
		a = a * n / 8;
		b = a + (n - a) * b / 8;
		struct iovec iov[3] = {
		    {(void *)data, a}, {(void *)(data + a), b - a}, {(void *)(data + b), n - b}};
		vsock_mux_guest_tx(mux, iov, 3);
		data += n;
		size -= n;
	}
	vsock_mux_process(mux);
	return 0;
}
