/* One enclave's attestation identity, as enclaved keeps it from launch to termination: its NSM
 * state (PCRs, locks), its leaf key and certificate, and the signer tying them together. Also
 * the launch-time conventions for PCR3 (launching principal) and PCR4 (host identity), so that
 * verifiers can recompute them:
 *   PCR3 = SHA384(0^48 || "uid=<uid> name=<user>")
 *   PCR4 = SHA384(0^48 || <the 32 hex characters of /etc/machine-id, no newline>) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "attest/document.h"
#include "attest/nsm.h"
#include "attest/pki.h"

#define ATTEST_MACHINE_ID_LEN 32
#define ATTEST_PRINCIPAL_MAX  128

struct attest_launch {
	const char *enclave_id; /* leaf certificate CN */
	const char *module_id;	/* NSM module_id reported to the guest and in documents */
	uint64_t lifetime_s;	/* leaf validity: no longer than the enclave may live */
	const uint8_t *pcr0, *pcr1, *pcr2, *pcr8; /* 48 bytes each from the EIF; pcr8 optional */
	uid_t uid;
	const char *user_name;
	const char *machine_id; /* 32 hex characters, or NULL to leave PCR4 zero */
	bool debug;
};

/* Self-referential once initialised (nsm points at signer, signer at leaf): do not copy or
 * move it; allocate it where it will stay. */
struct attest_enclave {
	struct nsm_state nsm;
	struct pki_leaf leaf;
	struct doc_signer signer;
};

int attest_enclave_init(struct attest_enclave *ae, const struct pki *ca,
			const struct attest_launch *launch);
void attest_enclave_clear(struct attest_enclave *ae);
/* An enclave may outlive its leaf. Once less than a third of the leaf's validity is left at
 * now (0: the current time), replace it with a fresh key and certificate from ca, with the same
 * subject and validity length, so that documents never carry an expired leaf. *renewed says
 * whether it happened; on failure the old leaf stays in use. */
int attest_enclave_renew_leaf(struct attest_enclave *ae, const struct pki *ca, time_t now,
			      bool *renewed);

/* A document over the enclave's current locked PCRs, asked for by its owner on the host
 * (Enclaves.Attest) rather than by the guest. *doc is malloc'ed. */
int attest_enclave_document(struct attest_enclave *ae, const struct nsm_attest_fields *fields,
			    uint8_t **doc, size_t *doc_len);

/* Persist and restore an enclave's attestation identity across an enclaved restart: the VMM and
 * its guest live on, so must PCRs 16-31, the locks and the leaf. The file holds the leaf's
 * private key; it is written 0600, atomically. Loading checks every field and that the key
 * matches the certificate (-EBADMSG naming the problem otherwise). */
#define ATTEST_STATE_FILE_MAX (32 * 1024)
int attest_enclave_save(const struct attest_enclave *ae, const char *path);
int attest_enclave_load(struct attest_enclave *ae, const char *path);

/* "uid=<uid> name=<user>"; -EINVAL for a name with control characters or too long. */
int attest_principal(uid_t uid, const char *user_name, char *buf, size_t size);

/* Read /etc/machine-id (or path): exactly 32 lowercase hex characters and an optional
 * newline. -EBADMSG naming the problem otherwise. */
int attest_read_machine_id(const char *path, char out[ATTEST_MACHINE_ID_LEN + 1]);
