/* NSM requests from a VMM, answered with the enclave's attestation identity (attestation.h);
 * an enclave without one (no PKI) gets an error response for every request. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct enclave;

/* Answer one NsmRequest (reply sent on the enclave's channel). */
void nsm_forward_answer(struct enclave *e, uint64_t request_id, const uint8_t *req, size_t len);
/* Send an NsmResponse (vmm_process.c). error: 0 or a negative errno (no cbor then). */
int nsm_forward_send(struct enclave *e, uint64_t request_id, const uint8_t *resp, size_t len,
		     int error);
/* The enclave's attestation identity at Run and its end (no-ops without attestation.c). */
int nsm_forward_enclave_new(struct enclave *e);
void nsm_forward_enclave_free(struct enclave *e);
