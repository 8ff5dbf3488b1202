/* API handlers of the attestation engineer's part of enclaved: Enclaves.Attest (the document
 * half: the enclave registry finds the enclave and checks the caller may manage it, then hands
 * the request here). System.GetRootCertificate and Images.* live in api_system.c and
 * api_images.c. */
#pragma once

#include "enclaved/api.h"
#include "enclaved/attestation.h"
#include "proto/enclaved.pb-c.h"
#include "rpc/rpc.h"

/* Enclaves.Attest: find the enclave by id (or name), check the caller may manage it, then
 * api_attest_reply. NOT_FOUND for an enclave the caller cannot see, FAILED_PRECONDITION when
 * it is not running. */
void api_enclaves_attest(struct enclaved *d, struct rpc_call *call, const struct api_caller *caller,
			 const struct api_method *method, const uint8_t *payload, size_t len);

/* Sign a document for e with the request's nonce, user_data and public_key (empty = absent)
 * and reply AttestResponse; INVALID_ARGUMENT naming an oversized field, INTERNAL when signing
 * fails. Finishes the call either way. */
void api_attest_reply(struct rpc_call *call, struct attestation_enclave *e,
		      const Enclaved__V1__AttestRequest *req);
