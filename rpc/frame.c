#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/frame.h"
#include "rpc/rpc.h"

static size_t min_size(size_t a, uint64_t b)
{
	return b < a ? (size_t)b : a;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void rpc_frame_header_encode(const struct rpc_frame_header *header,
			     uint8_t out[RPC_FRAME_HEADER_SIZE])
{
	put_be32(out, header->length);
	put_be32(out + 4, header->stream_id);
	out[8] = header->type;
	out[9] = header->flags;
}

void rpc_frame_header_decode(const uint8_t in[RPC_FRAME_HEADER_SIZE],
			     struct rpc_frame_header *header)
{
	header->length = get_be32(in);
	header->stream_id = get_be32(in + 4);
	header->type = in[8];
	header->flags = in[9];
}

int rpc_frame_header_check(const struct rpc_frame_header *header)
{
	uint8_t allowed;

	if (header->length > RPC_FRAME_MAX)
		return -EMSGSIZE;
	switch (header->type) {
	case RPC_FRAME_REQUEST:
		allowed = RPC_FLAG_REMOTE_CLOSED | RPC_FLAG_REMOTE_OPEN;
		break;
	case RPC_FRAME_RESPONSE:
		allowed = 0;
		break;
	case RPC_FRAME_DATA:
		allowed = RPC_FLAG_REMOTE_CLOSED | RPC_FLAG_NO_DATA;
		break;
	default:
		return -EPROTO;
	}
	if (header->flags & ~allowed)
		return -EPROTO;
	return 0;
}

void rpc_frame_reader_init(struct rpc_frame_reader *reader)
{
	memset(reader, 0, sizeof(*reader));
}

void rpc_frame_reader_set_budget(struct rpc_frame_reader *reader, struct rpc_frame_budget *budget)
{
	reader->budget = budget;
}

/* The payload buffer leaves the reader (handed over in a frame, or freed). */
static void uncharge(struct rpc_frame_reader *reader)
{
	if (reader->budget)
		reader->budget->used -= reader->charged;
	reader->charged = 0;
}

void rpc_frame_reader_release(struct rpc_frame_reader *reader)
{
	struct rpc_frame_budget *budget = reader->budget;

	uncharge(reader);
	free(reader->payload);
	rpc_frame_reader_init(reader);
	reader->budget = budget;
}

bool rpc_frame_reader_idle(const struct rpc_frame_reader *reader)
{
	return reader->header_have == 0 && !reader->in_payload;
}

/* Grow geometrically, never past what the header announced. */
static int reserve_payload(struct rpc_frame_reader *reader, size_t need)
{
	size_t cap = reader->payload_cap ? reader->payload_cap : 4096;
	uint8_t *p;

	if (need <= reader->payload_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	cap = min_size(cap, reader->header.length);
	if (reader->budget && cap > RPC_FRAME_BUDGET_FREE) {
		size_t more = cap - reader->charged;
		if (more > reader->budget->limit - reader->budget->used)
			return -EBUSY;
	}
	p = realloc(reader->payload, cap);
	if (!p)
		return -ENOMEM;
	reader->payload = p;
	reader->payload_cap = cap;
	if (reader->budget && cap > RPC_FRAME_BUDGET_FREE) {
		reader->budget->used += cap - reader->charged;
		reader->charged = cap;
	}
	return 0;
}

static void finish_frame(struct rpc_frame_reader *reader, struct rpc_frame *frame, bool oversized)
{
	/* The caller handles the frame and frees its payload before it feeds more bytes. */
	uncharge(reader);
	frame->header = reader->header;
	frame->oversized = oversized && !reader->discard_over_budget;
	frame->over_budget = reader->discard_over_budget;
	frame->payload = oversized ? NULL : reader->payload;
	if (!oversized && reader->header.length == 0) {
		free(reader->payload);
		frame->payload = NULL;
	}
	reader->payload = NULL;
	reader->payload_cap = 0;
	reader->payload_have = 0;
	reader->header_have = 0;
	reader->in_payload = false;
	reader->discard_left = 0;
	reader->discard_over_budget = false;
}

/* Drop the payload received so far and read the rest of the frame into nothing. */
static void start_discard_over_budget(struct rpc_frame_reader *reader)
{
	uncharge(reader);
	free(reader->payload);
	reader->payload = NULL;
	reader->payload_cap = 0;
	reader->discard_left = reader->header.length - reader->payload_have;
	reader->discard_over_budget = true;
}

int rpc_frame_reader_feed(struct rpc_frame_reader *reader, const uint8_t *data, size_t len,
			  size_t *consumed, struct rpc_frame *frame)
{
	size_t used = 0, n;
	int r;

	*consumed = 0;
	if (!reader->in_payload) {
		n = min_size(len, RPC_FRAME_HEADER_SIZE - reader->header_have);
		memcpy(reader->header_buf + reader->header_have, data, n);
		reader->header_have += n;
		used += n;
		if (reader->header_have < RPC_FRAME_HEADER_SIZE) {
			*consumed = used;
			return 0;
		}
		rpc_frame_header_decode(reader->header_buf, &reader->header);
		reader->in_payload = true;
		reader->payload_have = 0;
		reader->discard_left =
		    reader->header.length > RPC_FRAME_MAX ? reader->header.length : 0;
	}

	n = min_size(len - used, reader->header.length - reader->payload_have);
	if (reader->discard_left == 0 && n > 0) {
		r = reserve_payload(reader, reader->payload_have + n);
		if (r == -EBUSY) {
			start_discard_over_budget(reader);
		} else if (r < 0) {
			*consumed = used;
			return r;
		} else {
			memcpy(reader->payload + reader->payload_have, data + used, n);
			reader->payload_have += n;
			used += n;
		}
	}
	if (reader->discard_left > 0) {
		n = min_size(len - used, reader->discard_left);
		used += n;
		reader->discard_left -= n;
		*consumed = used;
		if (reader->discard_left > 0)
			return 0;
		finish_frame(reader, frame, true);
		return 1;
	}
	*consumed = used;
	if (reader->payload_have < reader->header.length)
		return 0;
	finish_frame(reader, frame, false);
	return 1;
}

int rpc_frame_build(uint32_t stream_id, uint8_t type, uint8_t flags, const uint8_t *payload,
		    size_t len, uint8_t **out, size_t *out_len)
{
	struct rpc_frame_header header = {
	    .length = (uint32_t)len,
	    .stream_id = stream_id,
	    .type = type,
	    .flags = flags,
	};
	uint8_t *buf;

	if (len > RPC_FRAME_MAX)
		return -EMSGSIZE;
	buf = malloc(RPC_FRAME_HEADER_SIZE + len);
	if (!buf)
		return -ENOMEM;
	rpc_frame_header_encode(&header, buf);
	if (len)
		memcpy(buf + RPC_FRAME_HEADER_SIZE, payload, len);
	*out = buf;
	*out_len = RPC_FRAME_HEADER_SIZE + len;
	return 0;
}
