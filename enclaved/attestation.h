/* enclaved's attestation: the daemon-wide PKI (root + intermediate, created under
 * <state-dir>/pki/ on first start or taken from the operator's [attestation] config keys) and
 * one attestation identity per enclave (NSM state, leaf certificate, signer; attest/attest.h).
 * The signing keys live here only: the VMM forwards raw NSM requests, attestation_handle_nsm
 * answers them.
 *
 *   [attestation]
 *   root_certificate = /etc/enclaved/root.pem             # all three or none
 *   intermediate_certificate = /etc/enclaved/intermediate.pem
 *   intermediate_key = /etc/enclaved/intermediate.key
 *   machine_id = /etc/machine-id                          # PCR4 source (optional)
 *   leaf_lifetime = 30d                                   # per-enclave leaf validity
 *
 * Every function returns 0 or a negative errno and logs a message naming the problem. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attest/pcr.h"

struct enclaved;
struct eif_measurements;
struct attestation_enclave;

/* Leaf validity when neither the caller nor [attestation] leaf_lifetime gives one. A leaf is
 * renewed once two thirds of it have passed. */
#define ATTESTATION_DEFAULT_LIFETIME_S (30ull * 24 * 3600)
/* Enclaves.Attest field limits (proto: nonce, user_data <= 512; public_key <= 1024). */
#define ATTESTATION_NONCE_MAX	   512
#define ATTESTATION_USER_DATA_MAX  512
#define ATTESTATION_PUBLIC_KEY_MAX 1024
/* What describe-enclaves shows for a debug-mode enclave's attested PCR0-2. */
#define ATTESTATION_DEBUG_NOTE "zeros (debug mode)"

/* Validate one key of the [attestation] config section (config-file.c calls it while parsing;
 * the values are read back from d->config.entries by attestation_init). On failure *error
 * (malloc'd) says what is wrong with the value, without the file:line prefix. */
int attestation_config_check(const char *key, const char *value, char **error);

/* Load or create the PKI and read the machine id. Idempotent; attestation_free undoes it. */
int attestation_init(struct enclaved *d);
void attestation_free(struct enclaved *d);

/* The root certificate verifiers must trust: PEM (malloc'd, NUL-terminated) and the SHA-384
 * of its DER (fingerprint may be NULL). */
int attestation_root_pem(struct enclaved *d, char **pem, uint8_t fingerprint[PCR_DIGEST_LEN]);

/* A new enclave's identity: PCR0/1/2/8 from m (PCR0-2 zero when debug), PCR3 from the
 * launching principal, PCR4 from the host's machine id, a leaf for enclave_id valid for
 * lifetime_s (0: ATTESTATION_DEFAULT_LIFETIME_S). Free with attestation_enclave_free. */
int attestation_enclave_new(struct enclaved *d, const char *enclave_id,
			    const struct eif_measurements *m, bool debug, uid_t owner_uid,
			    const char *owner_name, uint64_t lifetime_s,
			    struct attestation_enclave **out);
void attestation_enclave_free(struct attestation_enclave *e);

/* One raw NSM request from the enclave's VMM, answered into resp (resp_max should be
 * NSM_RESPONSE_MAX). Hostile input gets an NSM error response, never a daemon failure;
 * returns < 0 only when resp_max cannot hold even an error response. */
int attestation_handle_nsm(struct attestation_enclave *e, const uint8_t *req, size_t len,
			   uint8_t *resp, size_t resp_max, size_t *resp_len);

/* A document over the enclave's locked PCRs for its owner on the host (Enclaves.Attest).
 * A NULL pointer means the field is absent (null in the document); sizes are bounded by the
 * ATTESTATION_*_MAX limits (-E2BIG naming the field). *doc is malloc'd. */
int attestation_document(struct attestation_enclave *e, const uint8_t *nonce, size_t nonce_len,
			 const uint8_t *user_data, size_t user_data_len, const uint8_t *public_key,
			 size_t public_key_len, uint8_t **doc, size_t *doc_len);

/* The enclave's current leaf certificate (DER; renewed as it nears its end, see
 * attest_enclave_renew_leaf), e.g. to notice that its saved identity is out of date. */
int attestation_enclave_leaf(const struct attestation_enclave *e, const uint8_t **der, size_t *len);

/* Current value and lock of PCR index (< 32), e.g. for describe-enclaves' Measurements. */
int attestation_enclave_pcr(const struct attestation_enclave *e, unsigned index,
			    uint8_t value[PCR_DIGEST_LEN], bool *locked);
bool attestation_enclave_debug(const struct attestation_enclave *e);
/* ATTESTATION_DEBUG_NOTE for a debug-mode enclave, NULL otherwise: describe-enclaves prints it
 * (e.g. "AttestationPCRs": "zeros (debug mode)") because documents then carry zero PCR0-2. */
const char *attestation_enclave_debug_note(const struct attestation_enclave *e);

/* Re-adoption after an enclaved restart: the guest lives on, so must its PCRs 16-31, locks and
 * leaf. The file (0600, atomic) holds the leaf key; keep it in the enclave's runtime
 * directory. Loading checks everything and that the leaf chains to this daemon's PKI. */
int attestation_enclave_save(const struct attestation_enclave *e, const char *path);
int attestation_enclave_load(struct enclaved *d, const char *path,
			     struct attestation_enclave **out);
