/* Attestation documents: the 9-key payload in the order AWS's NSM writes it, signed as an
 * untagged COSE_Sign1 (ES384) with the enclave's leaf key. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "attest/nsm.h"
#include "attest/pki.h"

/* Everything a document states. pcr_mask selects the PCRs written (the locked ones). */
struct doc_input {
	const char *module_id;
	uint64_t timestamp_ms;
	const uint8_t (*pcrs)[NSM_PCR_LEN]; /* NSM_MAX_PCRS entries */
	uint32_t pcr_mask;
	const struct pki_der *certificate;
	const struct pki_der *cabundle; /* [root, intermediates...] */
	size_t cabundle_count;
	struct nsm_attest_fields fields; /* absent ones are written as null */
};

/* The CBOR payload map, malloc'ed. -E2BIG for a user_data/nonce/public_key over
 * NSM_ATTEST_FIELD_MAX, -EINVAL for a missing module_id/certificate/cabundle. */
int doc_encode_payload(const struct doc_input *in, uint8_t **out, size_t *out_len);

/* Payload signed with key into a COSE_Sign1, malloc'ed. */
int doc_create(EVP_PKEY *key, const struct doc_input *in, uint8_t **doc, size_t *doc_len);

/* What an NSM needs to sign for one enclave: its leaf (key, certificate, bundle) and the
 * clock for the timestamp (NULL: the real-time clock; tests pin it). */
struct doc_signer {
	const struct pki_leaf *leaf;
	uint64_t (*clock_ms)(void);
};

/* nsm_attest_fn over a struct doc_signer: the document for st's locked PCRs. */
int doc_nsm_attest(void *signer, const struct nsm_state *st, const struct nsm_attest_fields *fields,
		   uint8_t *doc, size_t doc_max, size_t *doc_len);
