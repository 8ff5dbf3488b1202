#include "config.h"

#include "enclaved/attestation.h"

#include "attest/attest.h"
#include "common/log.h"
#include "common/util.h"
#include "enclaved/enclaved.h"
#include "image/eif.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define DEFAULT_MACHINE_ID_PATH "/etc/machine-id"

#define LEAF_LIFETIME_MIN_S 10ull

struct attestation {
	struct pki pki;
	bool have_machine_id; /* false: PCR4 stays zero (warned once at start) */
	char machine_id[ATTEST_MACHINE_ID_LEN + 1];
	uint64_t leaf_lifetime_s;
};

/* attest_enclave is self-referential (nsm -> signer -> leaf): it lives in its own
 * allocation and is never copied. */
struct attestation_enclave {
	struct attest_enclave ae;
	struct enclaved *daemon; /* its PKI issues the renewed leaves */
};

/* "<n>[s|m|h|d]" in [LEAF_LIFETIME_MIN_S, the intermediate's lifetime]. */
static int parse_lifetime(const char *value, uint64_t *out)
{
	static const struct {
		char suffix;
		uint64_t seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char number[32];
	size_t len = strlen(value);
	uint64_t n, unit = 1;

	if (len == 0 || len >= sizeof(number))
		return -EINVAL;
	memcpy(number, value, len + 1);
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(units); i++)
		if (number[len - 1] == units[i].suffix) {
			number[len - 1] = '\0';
			unit = units[i].seconds;
		}
	if (util_parse_u64(number, PKI_INTERMEDIATE_LIFETIME_S, &n) < 0 ||
	    n > PKI_INTERMEDIATE_LIFETIME_S / unit || n * unit < LEAF_LIFETIME_MIN_S)
		return -ERANGE;
	*out = n * unit;
	return 0;
}

static const char *const config_keys[] = {
    "root_certificate", "intermediate_certificate", "intermediate_key", "machine_id",
    "leaf_lifetime",
};

int attestation_config_check(const char *key, const char *value, char **error)
{
	bool known = false;

	*error = NULL;
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(config_keys); i++)
		known |= strcmp(key, config_keys[i]) == 0;
	if (!known)
		return asprintf(error,
				"unknown key '%s' (known: root_certificate, "
				"intermediate_certificate, intermediate_key, machine_id, "
				"leaf_lifetime)",
				key) < 0
			   ? -ENOMEM
			   : -EINVAL;
	if (strcmp(key, "leaf_lifetime") == 0) {
		uint64_t seconds;
		if (parse_lifetime(value, &seconds) == 0)
			return 0;
		return asprintf(error,
				"'%s' is not a lifetime from %llus to %llud (a number with an "
				"optional s, m, h or d)",
				value, LEAF_LIFETIME_MIN_S, PKI_INTERMEDIATE_LIFETIME_S / 86400) < 0
			   ? -ENOMEM
			   : -EINVAL;
	}
	if (value[0] != '/')
		return asprintf(error, "'%s' is not an absolute path", value) < 0 ? -ENOMEM
										  : -EINVAL;
	if (strlen(value) >= PATH_MAX)
		return asprintf(error, "path is longer than %d bytes", PATH_MAX - 1) < 0 ? -ENOMEM
											 : -EINVAL;
	return 0;
}

static const char *config_value(const struct enclaved *d, const char *key)
{
	for (size_t i = 0; i < d->config.n_entries; i++) {
		const struct config_entry *e = &d->config.entries[i];
		if (strcmp(e->section, "attestation") == 0 && strcmp(e->key, key) == 0)
			return e->value;
	}
	return NULL;
}

static int open_pki(struct enclaved *d, struct pki *pki)
{
	const char *root = config_value(d, "root_certificate");
	const char *inter = config_value(d, "intermediate_certificate");
	const char *inter_key = config_value(d, "intermediate_key");
	char dir[PATH_MAX];
	int n;

	if (root || inter || inter_key) {
		if (!root || !inter || !inter_key) {
			log_error("[attestation]: root_certificate, intermediate_certificate and "
				  "intermediate_key go together (%s is missing)",
				  !root	   ? "root_certificate"
				  : !inter ? "intermediate_certificate"
					   : "intermediate_key");
			return -EINVAL;
		}
		return pki_load_files(pki, root, inter, inter_key);
	}
	if (!d->opts.state_dir) {
		log_error("attestation: no state directory for the PKI");
		return -EINVAL;
	}
	n = snprintf(dir, sizeof(dir), "%s/pki", d->opts.state_dir);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		log_error("attestation: state directory path %s is too long", d->opts.state_dir);
		return -ENAMETOOLONG;
	}
	return pki_open_dir(pki, dir);
}

int attestation_init(struct enclaved *d)
{
	const char *mid_path = config_value(d, "machine_id");
	const char *lifetime = config_value(d, "leaf_lifetime");
	struct attestation *a;
	int r;

	if (d->attestation)
		return 0;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->leaf_lifetime_s = ATTESTATION_DEFAULT_LIFETIME_S;
	if (lifetime && parse_lifetime(lifetime, &a->leaf_lifetime_s) < 0) {
		log_error("[attestation] leaf_lifetime '%s' is out of range", lifetime);
		free(a);
		return -EINVAL;
	}
	r = open_pki(d, &a->pki);
	if (r < 0) {
		log_error("attestation: cannot set up the PKI: %s", strerror(-r));
		pki_clear(&a->pki);
		free(a);
		return r;
	}
	r = attest_read_machine_id(mid_path ? mid_path : DEFAULT_MACHINE_ID_PATH, a->machine_id);
	if (r < 0 && mid_path) {
		/* An operator who named a file wants it used, not silently ignored. */
		pki_clear(&a->pki);
		free(a);
		return r;
	}
	a->have_machine_id = r == 0;
	if (!a->have_machine_id)
		log_warn("attestation: no usable %s; PCR4 of every enclave stays zero",
			 DEFAULT_MACHINE_ID_PATH);
	d->attestation = a;
	return 0;
}

void attestation_free(struct enclaved *d)
{
	if (!d->attestation)
		return;
	pki_clear(&d->attestation->pki);
	OPENSSL_cleanse(d->attestation, sizeof(*d->attestation));
	free(d->attestation);
	d->attestation = NULL;
}

static int require_init(struct enclaved *d)
{
	if (d->attestation)
		return 0;
	log_error("attestation: used before attestation_init");
	return -EAGAIN;
}

int attestation_root_pem(struct enclaved *d, char **pem, uint8_t fingerprint[PCR_DIGEST_LEN])
{
	_cleanup_free_ char *out = NULL;
	struct pki_der der = {0};
	size_t len;
	int r = require_init(d);

	if (r < 0)
		return r;
	r = pki_root_pem(&d->attestation->pki, &out, &len);
	if (r < 0)
		return r;
	if (fingerprint) {
		r = pki_cert_to_der(d->attestation->pki.root, &der);
		if (r < 0)
			return r;
		r = pcr_sha384(der.der, der.len, fingerprint);
		free(der.der);
		if (r < 0)
			return r;
	}
	*pem = util_steal_ptr(&out);
	return 0;
}

int attestation_enclave_new(struct enclaved *d, const char *enclave_id,
			    const struct eif_measurements *m, bool debug, uid_t owner_uid,
			    const char *owner_name, uint64_t lifetime_s,
			    struct attestation_enclave **out)
{
	struct attestation_enclave *e;
	struct attest_launch launch;
	int r = require_init(d);

	if (r < 0)
		return r;
	if (!enclave_id || !enclave_id[0] || strlen(enclave_id) > NSM_MODULE_ID_MAX) {
		log_error("attestation: enclave id must be 1-%d characters", NSM_MODULE_ID_MAX);
		return -EINVAL;
	}
	launch = (struct attest_launch){
	    .enclave_id = enclave_id,
	    .module_id = enclave_id,
	    .lifetime_s = lifetime_s ? lifetime_s : d->attestation->leaf_lifetime_s,
	    .pcr0 = m->pcr0,
	    .pcr1 = m->pcr1,
	    .pcr2 = m->pcr2,
	    .pcr8 = m->has_pcr8 ? m->pcr8 : NULL,
	    .uid = owner_uid,
	    .user_name = owner_name,
	    .machine_id = d->attestation->have_machine_id ? d->attestation->machine_id : NULL,
	    .debug = debug,
	};
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->daemon = d;
	r = attest_enclave_init(&e->ae, &d->attestation->pki, &launch);
	if (r < 0) {
		log_error("attestation: cannot set up enclave %s: %s", enclave_id, strerror(-r));
		attestation_enclave_free(e);
		return r;
	}
	*out = e;
	return 0;
}

void attestation_enclave_free(struct attestation_enclave *e)
{
	if (!e)
		return;
	attest_enclave_clear(&e->ae);
	free(e);
}

static void format_time(const ASN1_TIME *t, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	if (b && ASN1_TIME_print(b, t) == 1 && (n = BIO_read(b, buf, (int)size - 1)) > 0)
		buf[n] = '\0';
	BIO_free(b);
}

/* Before anything is signed: a leaf past two thirds of its life is replaced. A failure keeps
 * the old leaf, still valid for a while, and is retried at the next document. */
static void renew_leaf(struct attestation_enclave *e)
{
	bool renewed = false;
	char until[64] = "?";

	if (!e->daemon || !e->daemon->attestation)
		return;
	if (attest_enclave_renew_leaf(&e->ae, &e->daemon->attestation->pki, 0, &renewed) < 0) {
		log_warn("attestation: %s: cannot renew the leaf certificate; the old one stays",
			 e->ae.nsm.module_id);
		return;
	}
	if (!renewed)
		return;
	format_time(X509_get0_notAfter(e->ae.leaf.cert), until, sizeof(until));
	log_info("attestation: %s: leaf certificate renewed, valid until %s", e->ae.nsm.module_id,
		 until);
}

int attestation_enclave_leaf(const struct attestation_enclave *e, const uint8_t **der, size_t *len)
{
	if (!e->ae.leaf.cert_der.der)
		return -ENOENT;
	*der = e->ae.leaf.cert_der.der;
	*len = e->ae.leaf.cert_der.len;
	return 0;
}

int attestation_handle_nsm(struct attestation_enclave *e, const uint8_t *req, size_t len,
			   uint8_t *resp, size_t resp_max, size_t *resp_len)
{
	enum nsm_error outcome = NSM_E_SUCCESS;
	int r;

	renew_leaf(e);
	r = nsm_handle_request_ex(&e->ae.nsm, req, len, resp, resp_max, resp_len, &outcome);

	if (r < 0)
		log_error("attestation: %s: no room for an NSM response in %zu bytes",
			  e->ae.nsm.module_id, resp_max);
	else if (outcome != NSM_E_SUCCESS)
		log_debug("attestation: %s: NSM request of %zu bytes answered %s",
			  e->ae.nsm.module_id, len, nsm_error_name(outcome));
	return r;
}

static int field_set(struct nsm_bytes *f, const char *name, const uint8_t *data, size_t len,
		     size_t max)
{
	if (!data)
		return 0;
	if (len > max) {
		log_error("attestation: %s is %zu bytes (at most %zu)", name, len, max);
		return -E2BIG;
	}
	*f = (struct nsm_bytes){.present = true, .data = data, .len = len};
	return 0;
}

int attestation_document(struct attestation_enclave *e, const uint8_t *nonce, size_t nonce_len,
			 const uint8_t *user_data, size_t user_data_len, const uint8_t *public_key,
			 size_t public_key_len, uint8_t **doc, size_t *doc_len)
{
	struct nsm_attest_fields fields = {0};
	int r;

	r = field_set(&fields.nonce, "nonce", nonce, nonce_len, ATTESTATION_NONCE_MAX);
	if (r == 0)
		r = field_set(&fields.user_data, "user_data", user_data, user_data_len,
			      ATTESTATION_USER_DATA_MAX);
	if (r == 0)
		r = field_set(&fields.public_key, "public_key", public_key, public_key_len,
			      ATTESTATION_PUBLIC_KEY_MAX);
	if (r < 0)
		return r;
	renew_leaf(e);
	r = attest_enclave_document(&e->ae, &fields, doc, doc_len);
	if (r < 0)
		log_error("attestation: %s: cannot sign a document: %s", e->ae.nsm.module_id,
			  strerror(-r));
	return r;
}

int attestation_enclave_pcr(const struct attestation_enclave *e, unsigned index,
			    uint8_t value[PCR_DIGEST_LEN], bool *locked)
{
	if (index >= NSM_MAX_PCRS)
		return -EINVAL;
	memcpy(value, e->ae.nsm.pcrs[index], PCR_DIGEST_LEN);
	if (locked)
		*locked = nsm_pcr_locked(&e->ae.nsm, index);
	return 0;
}

bool attestation_enclave_debug(const struct attestation_enclave *e)
{
	return e->ae.nsm.debug;
}

const char *attestation_enclave_debug_note(const struct attestation_enclave *e)
{
	return e && e->ae.nsm.debug ? ATTESTATION_DEBUG_NOTE : NULL;
}

int attestation_enclave_save(const struct attestation_enclave *e, const char *path)
{
	return attest_enclave_save(&e->ae, path);
}

/* A reloaded leaf must come from this daemon's intermediate: a state file from another PKI
 * (or an operator who rotated the CA) must not keep signing. */
static int check_issued_by(const struct attestation *a, const struct attest_enclave *ae,
			   const char *path)
{
	EVP_PKEY *issuer_key = X509_get0_pubkey(a->pki.intermediate);

	if (!issuer_key || X509_verify(ae->leaf.cert, issuer_key) != 1) {
		ERR_clear_error();
		log_error("attestation: %s: leaf certificate was not issued by this daemon's "
			  "intermediate CA",
			  path);
		return -EKEYREJECTED;
	}
	return 0;
}

int attestation_enclave_load(struct enclaved *d, const char *path, struct attestation_enclave **out)
{
	struct attestation_enclave *e;
	int r = require_init(d);

	if (r < 0)
		return r;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->daemon = d;
	r = attest_enclave_load(&e->ae, path);
	if (r == 0)
		r = check_issued_by(d->attestation, &e->ae, path);
	if (r < 0) {
		attestation_enclave_free(e);
		return r;
	}
	*out = e;
	return 0;
}
