/* COSE_Sign1 (RFC 8152) as AWS Nitro uses it: ECDSA over P-256/P-384/P-521 with the algorithm
 * in the protected header, an empty unprotected header, an attached payload and a raw r||s
 * signature. Written untagged (as nitro-cli and the NSM do); read tagged (18) or untagged. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define COSE_ALG_ES256 (-7)
#define COSE_ALG_ES384 (-35)
#define COSE_ALG_ES512 (-36)

/* Upper bound on an encoded COSE_Sign1 accepted by the parser. */
#define COSE_MAX_SIZE (1024 * 1024)

/* A parsed message. Every buffer is an owned copy (freed by cose_sign1_clear), so the message
 * outlives the input it was parsed from. */
struct cose_sign1 {
	int64_t alg;
	uint8_t *protected_hdr; /* encoded protected header map, as signed */
	size_t protected_len;
	uint8_t *payload;
	size_t payload_len;
	uint8_t *signature; /* raw r||s */
	size_t signature_len;
};

/* Sign payload with an EC private key; alg follows the key's curve. *out is malloc'ed. */
int cose_sign1_create(EVP_PKEY *key, const uint8_t *payload, size_t len, uint8_t **out,
		      size_t *out_len);

/* Strict parse: the buffer must hold exactly one well-formed message, definite lengths only,
 * a known alg. -EBADMSG on malformed input, -ENOTSUP on an unknown alg. On error msg is
 * cleared. */
int cose_sign1_parse(const uint8_t *buf, size_t len, struct cose_sign1 *msg);

/* Check the signature with pub (an EC public or private key). 0 when valid, -EKEYREJECTED
 * when the signature does not match, -EINVAL when the key's curve does not match msg->alg. */
int cose_sign1_verify(const struct cose_sign1 *msg, EVP_PKEY *pub);

void cose_sign1_clear(struct cose_sign1 *msg);

/* The COSE alg for an EC key's curve (-ENOTSUP for other keys/curves), and its sizes. */
int cose_alg_for_key(EVP_PKEY *key, int64_t *alg);

/* Check that buf holds exactly one well-formed CBOR item: definite lengths only, nesting at
 * most max_depth, and every declared count backed by enough remaining bytes (so a decoder
 * building a tree cannot be made to allocate more than a small multiple of len). Run this
 * before cbor_load() on hostile bytes. */
int cose_cbor_wellformed(const uint8_t *buf, size_t len, unsigned max_depth);
