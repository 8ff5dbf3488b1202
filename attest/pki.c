#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "attest/pki.h"
#include "common/log.h"
#include "common/util.h"

#define PKI_ORG		   "enclaved"
#define PKI_ROOT_FILE	   "root-ca.pem"
#define PKI_ROOT_KEY_FILE  "root-ca.key"
#define PKI_INTER_FILE	   "intermediate-ca.pem"
#define PKI_INTER_KEY_FILE "intermediate-ca.key"

static void log_openssl(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_error("pki: %s: %s", what, buf);
	} else {
		log_error("pki: %s failed", what);
	}
	ERR_clear_error();
}

static EVP_PKEY *new_p384_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");

	if (!k)
		log_openssl("generating a P-384 key");
	return k;
}

static int set_random_serial(X509 *x)
{
	uint8_t raw[16];
	BIGNUM *bn;
	int ret = -EIO;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	raw[0] &= 0x7f; /* positive, and at most 16 bytes once DER-encoded */
	raw[0] |= 0x01; /* never zero */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		ret = 0;
	BN_free(bn);
	return ret;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext) {
		log_openssl(value);
		return -EINVAL;
	}
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

struct cert_spec {
	const char *cn;
	time_t not_before;
	uint64_t lifetime_s;
	const char *basic_constraints;
	const char *key_usage;
};

/* Build and sign one certificate. issuer == NULL: self-signed with key. */
static int make_cert(const struct cert_spec *spec, EVP_PKEY *subject_key, X509 *issuer,
		     EVP_PKEY *issuer_key, X509 **out)
{
	X509 *x = X509_new();
	X509_NAME *name;
	int ret = -ENOMEM;

	if (!x)
		return -ENOMEM;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const uint8_t *)PKI_ORG, -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const uint8_t *)spec->cn, -1,
					-1, 0))
		goto out;
	ret = set_random_serial(x);
	if (ret < 0)
		goto out;
	ret = -EINVAL;
	if (!ASN1_TIME_set(X509_getm_notBefore(x), spec->not_before) ||
	    !ASN1_TIME_adj(X509_getm_notAfter(x), spec->not_before, (int)(spec->lifetime_s / 86400),
			   (long)(spec->lifetime_s % 86400)))
		goto out;
	if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
	    !X509_set_pubkey(x, subject_key))
		goto out;
	/* A leaf must not outlive its issuer: the chain would stop verifying first anyway. */
	if (issuer &&
	    X509_cmp_time(X509_get0_notAfter(issuer),
			  (time_t[]){spec->not_before + (time_t)spec->lifetime_s}) < 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(issuer)))
		goto out;
	if ((ret = add_ext(x, issuer ? issuer : x, NID_basic_constraints,
			   spec->basic_constraints)) < 0 ||
	    (ret = add_ext(x, issuer ? issuer : x, NID_key_usage, spec->key_usage)) < 0 ||
	    (ret = add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash")) < 0 ||
	    (ret = add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid:always")) <
		0)
		goto out;
	if (X509_sign(x, issuer_key, EVP_sha384()) <= 0) {
		log_openssl("signing a certificate");
		ret = -EIO;
		goto out;
	}
	*out = util_steal_ptr(&x);
	ret = 0;
out:
	X509_free(x);
	return ret;
}

int pki_create(struct pki *p, time_t now)
{
	struct cert_spec root = {
	    .cn = "enclaved attestation root CA",
	    .lifetime_s = PKI_ROOT_LIFETIME_S,
	    .basic_constraints = "critical,CA:TRUE,pathlen:1",
	    .key_usage = "critical,keyCertSign,cRLSign",
	};
	struct cert_spec inter = {
	    .cn = "enclaved attestation intermediate CA",
	    .lifetime_s = PKI_INTERMEDIATE_LIFETIME_S,
	    .basic_constraints = "critical,CA:TRUE,pathlen:0",
	    .key_usage = "critical,keyCertSign,cRLSign",
	};
	int ret;

	memset(p, 0, sizeof(*p));
	root.not_before = inter.not_before = now ? now : time(NULL);
	p->root_key = new_p384_key();
	p->intermediate_key = new_p384_key();
	if (!p->root_key || !p->intermediate_key) {
		ret = -EIO;
		goto fail;
	}
	ret = make_cert(&root, p->root_key, NULL, p->root_key, &p->root);
	if (ret < 0)
		goto fail;
	ret = make_cert(&inter, p->intermediate_key, p->root, p->root_key, &p->intermediate);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	pki_clear(p);
	return ret;
}

static bool enclave_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > PKI_ENCLAVE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':'))
			return false;
	}
	return true;
}

int pki_cert_to_der(X509 *cert, struct pki_der *out)
{
	uint8_t *der = NULL;
	int n = i2d_X509(cert, &der);

	if (n <= 0) {
		log_openssl("encoding a certificate");
		return -EIO;
	}
	out->der = der;
	out->len = (size_t)n;
	return 0;
}

int pki_issue_leaf(const struct pki *p, const char *enclave_id, time_t now, uint64_t lifetime_s,
		   struct pki_leaf *leaf)
{
	struct cert_spec spec = {
	    .cn = enclave_id,
	    .lifetime_s = lifetime_s,
	    .basic_constraints = "critical,CA:FALSE",
	    .key_usage = "critical,digitalSignature",
	};
	int ret;

	memset(leaf, 0, sizeof(*leaf));
	if (!p->intermediate || !p->intermediate_key) {
		log_error("pki: no intermediate CA loaded");
		return -EINVAL;
	}
	if (!enclave_id || !enclave_id_ok(enclave_id)) {
		log_error("pki: enclave id '%s' is not 1..%d of [A-Za-z0-9._:-]",
			  enclave_id ? enclave_id : "(null)", PKI_ENCLAVE_ID_MAX);
		return -EINVAL;
	}
	if (lifetime_s == 0 || lifetime_s > PKI_INTERMEDIATE_LIFETIME_S) {
		log_error("pki: leaf lifetime %llu s out of range", (unsigned long long)lifetime_s);
		return -EINVAL;
	}
	spec.not_before = now ? now : time(NULL);
	if (X509_cmp_time(X509_get0_notAfter(p->intermediate), &spec.not_before) <= 0 ||
	    X509_cmp_time(X509_get0_notBefore(p->intermediate), &spec.not_before) > 0) {
		log_error("pki: the intermediate CA is not valid at the leaf's start time");
		return -EKEYEXPIRED;
	}
	leaf->key = new_p384_key();
	if (!leaf->key) {
		ret = -EIO;
		goto fail;
	}
	ret = make_cert(&spec, leaf->key, p->intermediate, p->intermediate_key, &leaf->cert);
	if (ret < 0)
		goto fail;
	if ((ret = pki_cert_to_der(leaf->cert, &leaf->cert_der)) < 0 ||
	    (ret = pki_cert_to_der(p->root, &leaf->cabundle[0])) < 0 ||
	    (ret = pki_cert_to_der(p->intermediate, &leaf->cabundle[1])) < 0)
		goto fail;
	leaf->cabundle_count = 2;
	return 0;
fail:
	pki_leaf_clear(leaf);
	return ret;
}

void pki_leaf_clear(struct pki_leaf *leaf)
{
	EVP_PKEY_free(leaf->key);
	X509_free(leaf->cert);
	OPENSSL_free(leaf->cert_der.der);
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(leaf->cabundle); i++)
		OPENSSL_free(leaf->cabundle[i].der);
	memset(leaf, 0, sizeof(*leaf));
}

void pki_clear(struct pki *p)
{
	X509_free(p->root);
	EVP_PKEY_free(p->root_key);
	X509_free(p->intermediate);
	EVP_PKEY_free(p->intermediate_key);
	memset(p, 0, sizeof(*p));
}

/* Run a PEM writer into memory and hand back the text. */
static int pem_of(int (*write)(BIO *, const void *), const void *obj, char **pem, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ret = -EIO;

	if (!bio)
		return -ENOMEM;
	if (write(bio, obj) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0) {
		*pem = malloc((size_t)n + 1);
		if (*pem) {
			memcpy(*pem, data, (size_t)n);
			(*pem)[n] = '\0';
			*len = (size_t)n;
			ret = 0;
		} else {
			ret = -ENOMEM;
		}
	}
	BIO_free(bio);
	return ret;
}

static int write_cert_pem(BIO *bio, const void *x)
{
	return PEM_write_bio_X509(bio, (X509 *)x);
}

static int write_key_pem(BIO *bio, const void *k)
{
	return PEM_write_bio_PrivateKey(bio, (EVP_PKEY *)k, NULL, NULL, 0, NULL, NULL);
}

int pki_root_pem(const struct pki *p, char **pem, size_t *len)
{
	if (!p->root)
		return -EINVAL;
	return pem_of(write_cert_pem, p->root, pem, len);
}

static int read_bounded(const char *path, char **buf, size_t *len)
{
	int ret = util_read_file(path, PKI_FILE_MAX, buf, len);

	if (ret == -EFBIG)
		log_error("pki: %s is larger than %d bytes", path, PKI_FILE_MAX);
	else if (ret < 0)
		log_error("pki: cannot read %s: %s", path, strerror(-ret));
	return ret;
}

int pki_read_cert_file(const char *path, X509 **out)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	BIO *bio;
	int ret = read_bounded(path, &buf, &len);

	if (ret < 0)
		return ret;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (!bio)
		return -ENOMEM;
	*out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!*out) {
		ERR_clear_error();
		log_error("pki: %s holds no PEM certificate", path);
		return -EBADMSG;
	}
	return 0;
}

static int read_key_file(const char *path, EVP_PKEY **out)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	BIO *bio;
	struct stat sb;
	int ret = read_bounded(path, &buf, &len);

	if (ret < 0)
		return ret;
	if (stat(path, &sb) == 0 && (sb.st_mode & 077))
		log_warn("pki: private key %s is accessible to group or others (mode %04o)", path,
			 (unsigned)(sb.st_mode & 07777));
	bio = BIO_new_mem_buf(buf, (int)len);
	if (!bio)
		return -ENOMEM;
	/* A NULL passphrase callback with an encrypted key would prompt on the terminal. */
	*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	OPENSSL_cleanse(buf, len);
	if (!*out) {
		ERR_clear_error();
		log_error("pki: %s holds no unencrypted PEM private key", path);
		return -EBADMSG;
	}
	return 0;
}

/* The loaded set must be coherent: intermediate is a CA, issued and signed by the root, and
 * its key matches. Catching this here beats every document failing verification later. */
static int check_loaded(const struct pki *p, const char *where)
{
	if (X509_check_ca(p->intermediate) < 1) {
		log_error("pki: %s: the intermediate certificate is not a CA", where);
		return -EINVAL;
	}
	if (X509_check_issued(p->root, p->intermediate) != X509_V_OK ||
	    X509_verify(p->intermediate, X509_get0_pubkey(p->root)) != 1) {
		ERR_clear_error();
		log_error("pki: %s: the intermediate certificate is not issued by the root", where);
		return -EINVAL;
	}
	if (X509_check_private_key(p->intermediate, p->intermediate_key) != 1) {
		ERR_clear_error();
		log_error("pki: %s: the intermediate key does not match its certificate", where);
		return -EINVAL;
	}
	if (p->root_key && X509_check_private_key(p->root, p->root_key) != 1) {
		ERR_clear_error();
		log_error("pki: %s: the root key does not match its certificate", where);
		return -EINVAL;
	}
	return 0;
}

int pki_load_files(struct pki *p, const char *root_pem, const char *intermediate_pem,
		   const char *intermediate_key_pem)
{
	int ret;

	memset(p, 0, sizeof(*p));
	if ((ret = pki_read_cert_file(root_pem, &p->root)) < 0 ||
	    (ret = pki_read_cert_file(intermediate_pem, &p->intermediate)) < 0 ||
	    (ret = read_key_file(intermediate_key_pem, &p->intermediate_key)) < 0 ||
	    (ret = check_loaded(p, intermediate_pem)) < 0) {
		pki_clear(p);
		return ret;
	}
	return 0;
}

static int path_in(char *buf, size_t size, const char *dir, const char *file)
{
	int n = snprintf(buf, size, "%s/%s", dir, file);

	if (n < 0 || (size_t)n >= size) {
		log_error("pki: path %s/%s too long", dir, file);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int write_pem_file(const char *dir, const char *file, int (*write)(BIO *, const void *),
			  const void *obj, mode_t mode)
{
	char path[PATH_MAX];
	_cleanup_free_ char *pem = NULL;
	size_t len = 0;
	int ret = path_in(path, sizeof(path), dir, file);

	if (ret < 0)
		return ret;
	ret = pem_of(write, obj, &pem, &len);
	if (ret < 0)
		return ret;
	ret = util_write_file_atomic(path, pem, len, mode);
	OPENSSL_cleanse(pem, len);
	if (ret < 0)
		log_error("pki: cannot write %s: %s", path, strerror(-ret));
	return ret;
}

static int create_in_dir(struct pki *p, const char *dir)
{
	int ret = pki_create(p, 0);

	if (ret < 0)
		return ret;
	/* Keys first, the root certificate last: a crash in between leaves an incomplete set
	 * that the next start reports instead of a root that matches nothing. */
	if ((ret = write_pem_file(dir, PKI_ROOT_KEY_FILE, write_key_pem, p->root_key, 0600)) < 0 ||
	    (ret = write_pem_file(dir, PKI_INTER_KEY_FILE, write_key_pem, p->intermediate_key,
				  0600)) < 0 ||
	    (ret = write_pem_file(dir, PKI_INTER_FILE, write_cert_pem, p->intermediate, 0644)) <
		0 ||
	    (ret = write_pem_file(dir, PKI_ROOT_FILE, write_cert_pem, p->root, 0644)) < 0) {
		pki_clear(p);
		return ret;
	}
	log_info("pki: created a new attestation root CA and intermediate in %s", dir);
	return 0;
}

int pki_open_dir(struct pki *p, const char *dir)
{
	static const char *const required[] = {PKI_ROOT_FILE, PKI_INTER_FILE, PKI_INTER_KEY_FILE};
	char paths[3][PATH_MAX], root_key[PATH_MAX];
	bool exists[3];
	unsigned present = 0;
	int ret;

	memset(p, 0, sizeof(*p));
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		log_error("pki: cannot create %s: %s", dir, strerror(errno));
		return ret;
	}
	for (unsigned i = 0; i < 3; i++) {
		ret = path_in(paths[i], sizeof(paths[i]), dir, required[i]);
		if (ret < 0)
			return ret;
		exists[i] = access(paths[i], F_OK) == 0;
		present += exists[i];
	}
	ret = path_in(root_key, sizeof(root_key), dir, PKI_ROOT_KEY_FILE);
	if (ret < 0)
		return ret;
	if (present == 0 && access(root_key, F_OK) != 0)
		return create_in_dir(p, dir);
	for (unsigned i = 0; i < 3; i++)
		if (!exists[i]) {
			log_error("pki: %s is missing (the other CA files exist; refusing to "
				  "replace them)",
				  paths[i]);
			return -ENOENT;
		}
	ret = pki_load_files(p, paths[0], paths[1], paths[2]);
	if (ret < 0)
		return ret;
	/* The root key is optional: an operator may keep it offline. */
	if (access(root_key, F_OK) == 0) {
		ret = read_key_file(root_key, &p->root_key);
		if (ret == 0)
			ret = check_loaded(p, root_key);
		if (ret < 0) {
			pki_clear(p);
			return ret;
		}
	}
	return 0;
}
