// clang-format off
// fuzz-sources: rpc/frame.c rpc/message.c proto/ttrpc.pb-c.c proto/status.pb-c.c
// fuzz-pkgs: libprotobuf-c
// clang-format on
/* The server's view of a client byte stream: the incremental frame reader fed in pieces whose
 * sizes come from the input itself, then every Request frame through the Request decoder, as
 * rpc/server.c does. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/frame.h"
#include "rpc/message.h"
#include "rpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_frame_reader reader;
	size_t off = 1, chunk;

	if (size < 1)
		return 0;
	/* Byte 0 picks the read size: 1..256 bytes at a time, like short socket reads. */
	chunk = (size_t)data[0] + 1;
	rpc_frame_reader_init(&reader);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		struct rpc_frame frame;
		size_t used;
		int r = rpc_frame_reader_feed(&reader, data + off, n, &used, &frame);

		if (r < 0 || used > n)
			abort();
		off += used;
		if (r == 0)
			continue;
		if (frame.oversized != (frame.header.length > RPC_FRAME_MAX))
			abort();
		if (!frame.oversized && frame.header.length > 0 && !frame.payload)
			abort();
		(void)rpc_frame_header_check(&frame.header);
		if (!frame.oversized && frame.header.type == RPC_FRAME_REQUEST) {
			Ttrpc__Request *req = NULL;
			char why[128];

			if (rpc_message_request_decode(frame.payload, frame.header.length, &req,
						       why, sizeof(why)) == 0) {
				/* What the server then relies on. */
				if (!req->service || !req->method)
					abort();
				for (size_t i = 0; i < req->n_metadata; i++)
					if (!req->metadata[i]->key || !req->metadata[i]->value)
						abort();
				ttrpc__request__free_unpacked(req, NULL);
			} else if (why[0] == '\0') {
				abort();
			}
		}
		free(frame.payload);
	}
	rpc_frame_reader_release(&reader);
	return 0;
}
