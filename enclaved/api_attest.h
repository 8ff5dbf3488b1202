/* API handlers of the attestation engineer's part of enclaved: Enclaves.Attest (the document
 * half: the enclave registry finds the enclave and checks the caller may manage it, then hands
 * the request here). System.GetRootCertificate and Images.* live in api_system.c and
 * api_images.c. */
#pragma once

#include "enclaved/attestation.h"
#include "proto/enclaved.pb-c.h"
#include "rpc/rpc.h"

/* Sign a document for e with the request's nonce, user_data and public_key (empty = absent)
 * and reply AttestResponse; INVALID_ARGUMENT naming an oversized field, INTERNAL when signing
 * fails. Finishes the call either way. */
void api_attest_reply(struct rpc_call *call, struct attestation_enclave *e,
		      const Enclaved__V1__AttestRequest *req);
