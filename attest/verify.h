/* Verification of attestation documents (reference/nitro-enclaves.md 2.3): COSE_Sign1
 * structure, strict payload, certificate chain [certificate, cabundle reversed] to a trusted
 * root with validity dates, basicConstraints and keyUsage, the ES384 signature, then the
 * caller's expected PCRs, nonce and user_data. Also the project's test oracle. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#define VERIFY_MAX_PCRS	     32
#define VERIFY_PCR_MAX_LEN   64
#define VERIFY_FIELD_MAX     1024
#define VERIFY_MODULE_ID_MAX 256
#define VERIFY_CERT_MAX	     8192
#define VERIFY_CABUNDLE_MAX  8

/* Each failure has its own code and a stable name (verify_error_name). */
enum verify_error {
	VERIFY_OK = 0,
	VERIFY_E_COSE,	      /* "malformed-cose": not one COSE_Sign1 */
	VERIFY_E_ALGORITHM,   /* "unsupported-algorithm": not ES384 / not a P-384 leaf */
	VERIFY_E_PAYLOAD,     /* "malformed-payload": not the 9-key map */
	VERIFY_E_CERTIFICATE, /* "malformed-certificate": a DER certificate does not parse */
	VERIFY_E_CHAIN,	      /* "untrusted-chain": does not chain to the given root */
	VERIFY_E_VALIDITY,    /* "certificate-expired": outside a validity period */
	VERIFY_E_KEY_USAGE,   /* "bad-key-usage": basicConstraints / keyUsage */
	VERIFY_E_SIGNATURE,   /* "bad-signature": COSE signature does not verify */
	VERIFY_E_PCR,	      /* "pcr-mismatch": an expected PCR differs or is absent */
	VERIFY_E_NONCE,	      /* "nonce-mismatch" */
	VERIFY_E_USER_DATA,   /* "user-data-mismatch" */
	VERIFY_E_INTERNAL,    /* "internal-error": out of memory, OpenSSL failure */
};

const char *verify_error_name(enum verify_error e);

struct verify_expected_pcr {
	unsigned index;
	uint8_t value[VERIFY_PCR_MAX_LEN];
	size_t len;
};

struct verify_options {
	X509 *root; /* the trust anchor (required) */
	time_t now; /* validity check time; 0 = the current time */
	struct verify_expected_pcr pcrs[VERIFY_MAX_PCRS];
	size_t pcr_count;
	bool check_nonce;
	const uint8_t *nonce;
	size_t nonce_len;
	bool check_user_data;
	const uint8_t *user_data;
	size_t user_data_len;
};

struct verify_bytes {
	bool present; /* false: null in the document */
	uint8_t *data;
	size_t len;
};

/* Decoded fields, filled as far as parsing got (so a caller can show what a rejected document
 * claimed). Owned copies; release with verify_result_clear. */
struct verify_result {
	enum verify_error error;
	char message[256];
	char module_id[VERIFY_MODULE_ID_MAX + 1];
	char digest[8];
	uint64_t timestamp_ms;
	uint32_t pcr_mask;
	uint8_t pcrs[VERIFY_MAX_PCRS][VERIFY_PCR_MAX_LEN];
	size_t pcr_len;
	struct verify_bytes public_key, user_data, nonce;
	bool payload_ok;
};

/* 0 when the document verifies. Otherwise res->error / res->message say why and the return
 * is -EBADMSG (malformed), -ENOTSUP (algorithm), -EKEYREJECTED (chain, key usage,
 * signature), -EKEYEXPIRED (validity), -EPERM (expected values differ), -ENOMEM/-EIO. */
int verify_attestation_doc(const uint8_t *doc, size_t len, const struct verify_options *opt,
			   struct verify_result *res);

/* Strict parse of a payload alone (no crypto); the fuzz entry point. */
int verify_parse_payload(const uint8_t *payload, size_t len, struct verify_result *res);

void verify_result_clear(struct verify_result *res);
