/* The tiny bit of CBOR the sample enclave needs: the NSM Attestation request, written from a
 * fixed template, and extraction of the document from the response. Every length comes from
 * the host and is checked against the buffer. Pure code: also built for the host unit tests. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define GCBOR_USER_DATA "sample-enclave"
#define GCBOR_MAX_NONCE 512

/* Write {"Attestation":{"user_data":h'sample-enclave',"nonce":h'..',"public_key":null}}.
 * Returns the length written, or -EINVAL (nonce too long) / -ENOBUFS (cap too small). */
int gcbor_attestation_request(const uint8_t *nonce, size_t nonce_len, uint8_t *out, size_t cap);

/* Find the document bstr in {"Attestation":{"document":bstr,...}} (other keys skipped).
 * On success *doc points into `resp`. Returns 0, -EBADMSG (malformed or truncated),
 * -ENOENT (well-formed but not an Attestation document, e.g. {"Error":..}). */
int gcbor_attestation_document(const uint8_t *resp, size_t len, const uint8_t **doc,
			       size_t *doc_len);
