/* The Nitro Secure Module request handler: a pure function from one raw CBOR request to one
 * raw CBOR response over a per-enclave state, byte-compatible with AWS nsm-api (serde_cbor,
 * externally tagged enums, struct fields in declaration order, shortest integer forms).
 *
 * Error mapping (the reference leaves some of it open; QEMU's virtio-nsm agrees where it
 * decides):
 *   request > NSM_REQUEST_MAX                          InputTooLarge
 *   not one well-formed CBOR item, unknown request     InvalidOperation
 *   known request, missing/duplicate/mistyped field    InvalidArgument
 *   index >= 32, LockPCRs range > 32                   InvalidIndex
 *   ExtendPCR or LockPCR on a locked PCR               ReadOnlyIndex
 *   user_data / nonce / public_key > 1024 bytes        InputTooLarge
 *   document does not fit the response                 BufferTooSmall
 *   signing or RNG failure                             InternalError */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NSM_MAX_PCRS	     32
#define NSM_PCR_LEN	     48
#define NSM_LOCKED_AT_BOOT   16
#define NSM_REQUEST_MAX	     0x1000
#define NSM_RESPONSE_MAX     0x3000
#define NSM_ATTEST_FIELD_MAX 1024
/* libnsm's nsm_get_description has module_id[100] including the NUL. */
#define NSM_MODULE_ID_MAX 99
#define NSM_RANDOM_LEN	  256
#define NSM_VERSION_MAJOR 1
#define NSM_VERSION_MINOR 0
#define NSM_VERSION_PATCH 0

/* nsm-api ErrorCode, in its #[repr(C)] order. */
enum nsm_error {
	NSM_E_SUCCESS = 0,
	NSM_E_INVALID_ARGUMENT,
	NSM_E_INVALID_INDEX,
	NSM_E_INVALID_RESPONSE,
	NSM_E_READ_ONLY_INDEX,
	NSM_E_INVALID_OPERATION,
	NSM_E_BUFFER_TOO_SMALL,
	NSM_E_INPUT_TOO_LARGE,
	NSM_E_INTERNAL_ERROR,
};

/* The wire name ("InvalidIndex", ...); "InternalError" for out-of-range values. */
const char *nsm_error_name(enum nsm_error e);

/* An optional byte field of an Attestation request: present == false means CBOR null. */
struct nsm_bytes {
	bool present;
	const uint8_t *data;
	size_t len;
};

struct nsm_attest_fields {
	struct nsm_bytes user_data;
	struct nsm_bytes nonce;
	struct nsm_bytes public_key;
};

struct nsm_state;

/* Produces the COSE_Sign1 document for the state's current PCRs. Supplied by whoever holds
 * the enclave's signing key (document.h: doc_nsm_attest); returns 0 or a negative errno
 * (-ENOBUFS when doc_max is too small). */
typedef int (*nsm_attest_fn)(void *ctx, const struct nsm_state *st,
			     const struct nsm_attest_fields *fields, uint8_t *doc, size_t doc_max,
			     size_t *doc_len);

struct nsm_state {
	uint8_t pcrs[NSM_MAX_PCRS][NSM_PCR_LEN];
	uint32_t locked; /* bit i set: PCR i is locked */
	char module_id[NSM_MODULE_ID_MAX + 1];
	bool debug;
	nsm_attest_fn attest;
	void *attest_ctx;
};

/* PCR0/1/2 and the optional PCR8 come from the image (48 bytes each); debug mode zeroes 0-2 as
 * Nitro does. PCR3 = SHA384(0^48 || principal), PCR4 = SHA384(0^48 || host_id), each left
 * zero when NULL. PCRs 0-15 end up locked. -EINVAL for an empty or too long module_id. */
int nsm_state_init(struct nsm_state *st, const char *module_id, const uint8_t *pcr0,
		   const uint8_t *pcr1, const uint8_t *pcr2, const uint8_t *pcr8,
		   const char *principal, const char *host_id, bool debug);

void nsm_state_set_signer(struct nsm_state *st, nsm_attest_fn attest, void *ctx);

static inline bool nsm_pcr_locked(const struct nsm_state *st, unsigned index)
{
	return index < NSM_MAX_PCRS && (st->locked >> index) & 1u;
}

/* Handle one raw request and write the raw response (success or {"Error": name}).
 * Returns 0 whenever a response was written, -ENOBUFS when resp_max cannot even hold the
 * error response. *outcome (optional) tells which error, if any, was answered.
 * ExtendPCR/LockPCR(s) change the state before the answer is written, so with a resp_max
 * below NSM_RESPONSE_MAX a BufferTooSmall answer can follow a change that took effect. */
int nsm_handle_request(struct nsm_state *st, const uint8_t *req, size_t len, uint8_t *resp,
		       size_t resp_max, size_t *resp_len);
int nsm_handle_request_ex(struct nsm_state *st, const uint8_t *req, size_t len, uint8_t *resp,
			  size_t resp_max, size_t *resp_len, enum nsm_error *outcome);
