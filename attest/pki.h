/* The attestation PKI: a root CA and an intermediate that the operator controls, and one
 * short-lived leaf per enclave whose key signs that enclave's attestation documents. All keys
 * are P-384 EVP_PKEYs so that an OpenSSL provider (TPM, PKCS#11) can hold them later.
 *
 * State directory layout (pki_open_dir):
 *   root-ca.pem  root-ca.key  intermediate-ca.pem  intermediate-ca.key
 * certificates 0644, keys 0600, each written atomically. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define PKI_ROOT_LIFETIME_S	    (30ull * 365 * 24 * 3600)
#define PKI_INTERMEDIATE_LIFETIME_S (5ull * 365 * 24 * 3600)
#define PKI_ENCLAVE_ID_MAX	    64 /* X.509 upper bound of a common name */
/* Certificate and key files larger than this are refused rather than parsed. */
#define PKI_FILE_MAX (64 * 1024)

struct pki {
	X509 *root;
	EVP_PKEY *root_key; /* NULL when the operator keeps the root key elsewhere */
	X509 *intermediate;
	EVP_PKEY *intermediate_key;
};

struct pki_der {
	uint8_t *der;
	size_t len;
};

/* A per-enclave signing identity: key, certificate and the bundle [root, intermediate] that a
 * document carries. */
struct pki_leaf {
	EVP_PKEY *key;
	X509 *cert;
	struct pki_der cert_der;
	struct pki_der cabundle[2];
	size_t cabundle_count;
};

/* Fresh root and intermediate in memory (now = 0: the current time). */
int pki_create(struct pki *p, time_t now);

/* Load the four files from dir, or create and write them when none exists. A partial set is
 * an error (-ENOENT naming the missing file) rather than silently replaced. */
int pki_open_dir(struct pki *p, const char *dir);

/* Operator-provided CA: root certificate, intermediate certificate and key (PEM). The
 * intermediate must be a CA issued by the root and match its key. */
int pki_load_files(struct pki *p, const char *root_pem, const char *intermediate_pem,
		   const char *intermediate_key_pem);

/* Issue a leaf for enclave_id valid from now for lifetime_s seconds (never past the
 * intermediate's own expiry). now = 0: the current time. */
int pki_issue_leaf(const struct pki *p, const char *enclave_id, time_t now, uint64_t lifetime_s,
		   struct pki_leaf *leaf);

void pki_leaf_clear(struct pki_leaf *leaf);
void pki_clear(struct pki *p);

/* DER of a certificate, malloc'ed. */
int pki_cert_to_der(X509 *cert, struct pki_der *out);
/* PEM of the root certificate (NUL-terminated, malloc'ed): what verifiers must trust. */
int pki_root_pem(const struct pki *p, char **pem, size_t *len);

/* Read one PEM certificate file (bounded by PKI_FILE_MAX). */
int pki_read_cert_file(const char *path, X509 **out);
