// clang-format off
// fuzz-sources: guest/gcbor.c
// clang-format on
/* The sample enclave's NSM response parser over hostile bytes (what a VMM could put in the
 * device-writable buffer). A found document must lie inside the input. Inputs also feed the
 * request builder as a nonce, whose output must fit the bound it promises. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/gcbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *doc;
	size_t len;

	if (gcbor_attestation_document(data, size, &doc, &len) == 0)
		assert(doc >= data && len <= size && (size_t)(doc - data) <= size - len);

	uint8_t out[64 + 3 + GCBOR_MAX_NONCE + sizeof(GCBOR_USER_DATA)];
	int n = gcbor_attestation_request(data, size, out, sizeof(out));
	assert(size > GCBOR_MAX_NONCE ? n < 0 : (n > 0 && (size_t)n <= sizeof(out)));
	return 0;
}
