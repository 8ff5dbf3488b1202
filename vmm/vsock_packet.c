#include "config.h"

#include "vmm/vsock_packet.h"

#include <endian.h>
#include <string.h>

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint16_t get_le16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *hdr)
{
	hdr->src_cid = get_le64(raw + 0);
	hdr->dst_cid = get_le64(raw + 8);
	hdr->src_port = get_le32(raw + 16);
	hdr->dst_port = get_le32(raw + 20);
	hdr->len = get_le32(raw + 24);
	hdr->type = get_le16(raw + 28);
	hdr->op = get_le16(raw + 30);
	hdr->flags = get_le32(raw + 32);
	hdr->buf_alloc = get_le32(raw + 36);
	hdr->fwd_cnt = get_le32(raw + 40);
}

void vsock_hdr_encode(const struct vsock_hdr *hdr, uint8_t raw[VSOCK_HDR_SIZE])
{
	put_le64(raw + 0, hdr->src_cid);
	put_le64(raw + 8, hdr->dst_cid);
	put_le32(raw + 16, hdr->src_port);
	put_le32(raw + 20, hdr->dst_port);
	put_le32(raw + 24, hdr->len);
	put_le16(raw + 28, hdr->type);
	put_le16(raw + 30, hdr->op);
	put_le32(raw + 32, hdr->flags);
	put_le32(raw + 36, hdr->buf_alloc);
	put_le32(raw + 40, hdr->fwd_cnt);
}

const char *vsock_op_name(uint16_t op)
{
	static const char *const names[] = {
	    "INVALID",	"REQUEST", "RESPONSE",	    "RST",
	    "SHUTDOWN", "RW",	   "CREDIT_UPDATE", "CREDIT_REQUEST",
	};
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "UNKNOWN";
}

size_t vsock_iov_total(const struct iovec *iov, size_t iovcnt)
{
	size_t total = 0;

	for (size_t i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/* Walk to byte offset off; returns the entry index and sets *skip to the offset inside it. */
static size_t iov_seek(const struct iovec *iov, size_t iovcnt, size_t off, size_t *skip)
{
	size_t i = 0;

	while (i < iovcnt && off >= iov[i].iov_len) {
		off -= iov[i].iov_len;
		i++;
	}
	*skip = off;
	return i;
}

size_t vsock_iov_read(const struct iovec *iov, size_t iovcnt, size_t off, void *dst, size_t len)
{
	uint8_t *out = dst;
	size_t skip, done = 0;

	for (size_t i = iov_seek(iov, iovcnt, off, &skip); i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len - skip;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, (const uint8_t *)iov[i].iov_base + skip, n);
		done += n;
		skip = 0;
	}
	return done;
}

size_t vsock_iov_write(const struct iovec *iov, size_t iovcnt, size_t off, const void *src,
		       size_t len)
{
	const uint8_t *in = src;
	size_t skip, done = 0;

	for (size_t i = iov_seek(iov, iovcnt, off, &skip); i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len - skip;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)iov[i].iov_base + skip, in + done, n);
		done += n;
		skip = 0;
	}
	return done;
}

size_t vsock_iov_slice(const struct iovec *iov, size_t iovcnt, size_t off, size_t len,
		       struct iovec *out, size_t out_max, size_t *out_len)
{
	size_t skip, cnt = 0, done = 0;

	for (size_t i = iov_seek(iov, iovcnt, off, &skip);
	     i < iovcnt && done < len && cnt < out_max; i++) {
		size_t n = iov[i].iov_len - skip;
		if (n == 0)
			continue;
		if (n > len - done)
			n = len - done;
		out[cnt].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[cnt].iov_len = n;
		cnt++;
		done += n;
		skip = 0;
	}
	*out_len = done;
	return cnt;
}
