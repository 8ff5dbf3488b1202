/* virtio-vsock packet header (virtio 1.2 §5.10) and scatter-gather helpers over guest buffers.
 * Pure code: no I/O, no allocation. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VSOCK_HDR_SIZE	    44u
#define VSOCK_MAX_PAYLOAD   (64u * 1024u)
#define VSOCK_HOST_CID	    2u /* VMADDR_CID_HOST */
#define VSOCK_PARENT_CID    3u /* Nitro's parent CID; guests address the host through it */
#define VSOCK_TYPE_STREAM   1u
#define VSOCK_SHUTDOWN_RCV  1u
#define VSOCK_SHUTDOWN_SEND 2u
#define VSOCK_SHUTDOWN_BOTH 3u

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* Host-order copy of the little-endian wire header. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *hdr);
void vsock_hdr_encode(const struct vsock_hdr *hdr, uint8_t raw[VSOCK_HDR_SIZE]);
const char *vsock_op_name(uint16_t op);

/* Total bytes of an iovec array, saturating at SIZE_MAX (guest-supplied lengths). */
size_t vsock_iov_total(const struct iovec *iov, size_t iovcnt);
/* Copy up to len bytes starting at byte offset off of the iovec array; returns bytes copied. */
size_t vsock_iov_read(const struct iovec *iov, size_t iovcnt, size_t off, void *dst, size_t len);
size_t vsock_iov_write(const struct iovec *iov, size_t iovcnt, size_t off, const void *src,
		       size_t len);
/* Describe bytes [off, off+len) of iov as a new iovec array of at most out_max entries.
 * Returns the number of entries; *out_len gets the bytes covered (less than len when iov is
 * shorter or out_max is too small). */
size_t vsock_iov_slice(const struct iovec *iov, size_t iovcnt, size_t off, size_t len,
		       struct iovec *out, size_t out_max, size_t *out_len);
