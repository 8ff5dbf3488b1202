/* ttrpc frame codec: the 10-byte big-endian header and an incremental reader that turns a byte
 * stream, delivered in pieces of any size, into whole frames. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPC_FRAME_HEADER_SIZE 10

enum rpc_frame_type {
	RPC_FRAME_REQUEST = 0x01,
	RPC_FRAME_RESPONSE = 0x02,
	RPC_FRAME_DATA = 0x03,
};

enum rpc_frame_flag {
	RPC_FLAG_REMOTE_CLOSED = 0x01,
	RPC_FLAG_REMOTE_OPEN = 0x02, /* Request only */
	RPC_FLAG_NO_DATA = 0x04,     /* Data only */
};

struct rpc_frame_header {
	uint32_t length; /* payload bytes, header excluded */
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void rpc_frame_header_encode(const struct rpc_frame_header *header,
			     uint8_t out[RPC_FRAME_HEADER_SIZE]);
void rpc_frame_header_decode(const uint8_t in[RPC_FRAME_HEADER_SIZE],
			     struct rpc_frame_header *header);

/* 0 for a header this implementation understands; -EMSGSIZE past RPC_FRAME_MAX, -EPROTO for an
 * unknown type or a flag that the type does not define. Go's peers ignore unknown types (for
 * forward compatibility), so the server only uses this to decide what to skip. */
int rpc_frame_header_check(const struct rpc_frame_header *header);

struct rpc_frame {
	struct rpc_frame_header header;
	/* malloc'd, header.length bytes (NULL when 0); the caller owns it. */
	uint8_t *payload;
	/* The frame was larger than RPC_FRAME_MAX: its payload has been read and thrown away. */
	bool oversized;
	/* The budget shared by the server's connections had no room for the payload: read and
	 * thrown away too. */
	bool over_budget;
};

/* Memory that partial frames may hold, shared by every reader of one server: without it, a
 * thousand connections each sending most of a 4 MiB frame and stalling hold 4 GiB. Payloads up
 * to RPC_FRAME_BUDGET_FREE are not counted, so that when large frames exhaust it the small
 * requests every client sends still get through. */
#define RPC_FRAME_BUDGET_FREE (64u << 10)
struct rpc_frame_budget {
	size_t used;
	size_t limit;
};

struct rpc_frame_reader {
	uint8_t header_buf[RPC_FRAME_HEADER_SIZE];
	size_t header_have;
	bool in_payload;
	struct rpc_frame_header header;
	uint8_t *payload;
	size_t payload_cap;
	size_t payload_have;
	uint64_t discard_left;
	bool discard_over_budget;
	struct rpc_frame_budget *budget; /* NULL: no shared budget */
	size_t charged;			 /* what this reader's payload counts against it */
};

void rpc_frame_reader_init(struct rpc_frame_reader *reader);
/* Count this reader's large partial payloads against budget (which must outlive it). */
void rpc_frame_reader_set_budget(struct rpc_frame_reader *reader, struct rpc_frame_budget *budget);
void rpc_frame_reader_release(struct rpc_frame_reader *reader);
/* true when no partial frame is pending (a clean place for the stream to end). */
bool rpc_frame_reader_idle(const struct rpc_frame_reader *reader);

/* Consume bytes from data until one frame completes or the input runs out. *consumed says how
 * many were used. Returns 1 with *frame filled, 0 when more input is needed (all of it was
 * consumed), or -ENOMEM. The payload buffer grows with the bytes that actually arrive, so a
 * header that merely claims 4 MiB costs nothing; growth the budget cannot cover turns the
 * frame into one that is read, thrown away and returned with over_budget set. */
int rpc_frame_reader_feed(struct rpc_frame_reader *reader, const uint8_t *data, size_t len,
			  size_t *consumed, struct rpc_frame *frame);

/* Header and payload in one malloc'd buffer ready to write. -EMSGSIZE past RPC_FRAME_MAX. */
int rpc_frame_build(uint32_t stream_id, uint8_t type, uint8_t flags, const uint8_t *payload,
		    size_t len, uint8_t **out, size_t *out_len);
