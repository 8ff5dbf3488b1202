/* PKI: root and intermediate created in a state directory with the right modes and reloaded
 * unchanged, leaf certificates with the right names, extensions and lifetimes, chains that
 * OpenSSL verifies, and incoherent or hostile inputs refused. Real keys throughout. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "attest/pki.h"
#include "common/util.h"

static char tmpdir[] = "/tmp/test-pki-XXXXXX";
static char dir[sizeof(tmpdir) + 16];

static const char *const files[] = {
    "root-ca.pem", "root-ca.key", "intermediate-ca.pem", "intermediate-ca.key", "other.pem",
    "big.pem",	   "junk.pem"};

static void path_of(char *buf, size_t size, const char *file)
{
	snprintf(buf, size, "%s/%s", dir, file);
}

static int setup(void **unused)
{
	if (!mkdtemp(tmpdir))
		return -1;
	/* pki_open_dir creates the state directory itself. */
	snprintf(dir, sizeof(dir), "%s/state", tmpdir);
	return 0;
}

static int teardown(void **unused)
{
	char p[256];

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(files); i++) {
		path_of(p, sizeof(p), files[i]);
		(void)unlink(p);
	}
	(void)rmdir(dir);
	return rmdir(tmpdir);
}

static mode_t mode_of(const char *file)
{
	char p[256];
	struct stat sb;

	path_of(p, sizeof(p), file);
	assert_int_equal(stat(p, &sb), 0);
	return sb.st_mode & 07777;
}

static int verify_chain(X509 *root, X509 *inter, X509 *leaf, time_t at)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int ok;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, root), 1);
	assert_true(sk_X509_push(untrusted, inter) > 0);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, untrusted), 1);
	X509_STORE_CTX_set_time(ctx, 0, at);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		ok = -X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted);
	return ok;
}

static void test_dir_create_and_reload(void **unused)
{
	struct pki a, b;
	struct pki_der da, db;
	char *pem = NULL;
	size_t pem_len = 0;

	assert_int_equal(pki_open_dir(&a, dir), 0);
	assert_non_null(a.root_key);
	assert_int_equal(mode_of("root-ca.key"), 0600);
	assert_int_equal(mode_of("intermediate-ca.key"), 0600);
	assert_int_equal(mode_of("root-ca.pem"), 0644);
	assert_int_equal(mode_of("intermediate-ca.pem"), 0644);

	/* Second start loads the same CA instead of making a new one. */
	assert_int_equal(pki_open_dir(&b, dir), 0);
	assert_int_equal(pki_cert_to_der(a.root, &da), 0);
	assert_int_equal(pki_cert_to_der(b.root, &db), 0);
	assert_int_equal(da.len, db.len);
	assert_memory_equal(da.der, db.der, da.len);
	assert_int_equal(EVP_PKEY_eq(a.intermediate_key, b.intermediate_key), 1);
	OPENSSL_free(da.der);
	OPENSSL_free(db.der);

	assert_int_equal(pki_root_pem(&b, &pem, &pem_len), 0);
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
	assert_int_equal(strlen(pem), pem_len);
	free(pem);

	/* CA extensions. */
	assert_int_equal(X509_check_ca(a.root), 1);
	assert_int_equal(X509_check_ca(a.intermediate), 1);
	assert_int_equal(
	    X509_EXTENSION_get_critical(X509_get_ext(
		a.intermediate, X509_get_ext_by_NID(a.intermediate, NID_basic_constraints, -1))),
	    1);
	assert_true(X509_get_key_usage(a.intermediate) & KU_KEY_CERT_SIGN);
	assert_int_equal(X509_get_pathlen(a.intermediate), 0);
	assert_int_equal(X509_get_pathlen(a.root), 1);
	pki_clear(&a);
	pki_clear(&b);
}

static void test_leaf(void **unused)
{
	struct pki p;
	struct pki_leaf leaf;
	time_t now = time(NULL);
	char cn[128];
	const ASN1_TIME *nb, *na;
	int days = -1, secs = -1;

	assert_int_equal(pki_create(&p, 0), 0);
	assert_int_equal(pki_issue_leaf(&p, "enc-0123456789abcdef", now, 3600, &leaf), 0);
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.cert), NID_commonName,
						   cn, sizeof(cn)),
			 20);
	assert_string_equal(cn, "enc-0123456789abcdef");
	assert_int_equal(X509_check_ca(leaf.cert), 0);
	assert_int_equal(X509_get_key_usage(leaf.cert), KU_DIGITAL_SIGNATURE);
	assert_int_equal(EVP_PKEY_get_bits(leaf.key), 384);

	nb = X509_get0_notBefore(leaf.cert);
	na = X509_get0_notAfter(leaf.cert);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, nb, na), 1);
	assert_int_equal(days, 0);
	assert_int_equal(secs, 3600);

	assert_int_equal(leaf.cabundle_count, 2);
	assert_true(leaf.cert_der.len > 100);
	assert_int_equal(verify_chain(p.root, p.intermediate, leaf.cert, now + 10), 1);
	assert_int_equal(verify_chain(p.root, p.intermediate, leaf.cert, now + 7200),
			 -X509_V_ERR_CERT_HAS_EXPIRED);
	pki_leaf_clear(&leaf);

	/* Leaves never outlive the intermediate. */
	assert_int_equal(
	    pki_issue_leaf(&p, "enc-1", now + PKI_INTERMEDIATE_LIFETIME_S - 100, 1000, &leaf), 0);
	assert_int_equal(
	    ASN1_TIME_compare(X509_get0_notAfter(leaf.cert), X509_get0_notAfter(p.intermediate)),
	    0);
	pki_leaf_clear(&leaf);

	assert_int_equal(pki_issue_leaf(&p, "", now, 60, &leaf), -EINVAL);
	assert_int_equal(pki_issue_leaf(&p, "a/b", now, 60, &leaf), -EINVAL);
	assert_int_equal(pki_issue_leaf(&p, "CN=x,O=y", now, 60, &leaf), -EINVAL);
	assert_int_equal(pki_issue_leaf(&p, "ok", now, 0, &leaf), -EINVAL);
	assert_int_equal(pki_issue_leaf(&p, "ok", now + 2 * PKI_INTERMEDIATE_LIFETIME_S, 60, &leaf),
			 -EKEYEXPIRED);
	pki_clear(&p);
}

static void write_file(const char *file, const void *data, size_t len)
{
	char p[256];

	path_of(p, sizeof(p), file);
	assert_int_equal(util_write_file_atomic(p, data, len, 0644), 0);
}

static void test_incoherent_inputs(void **unused)
{
	struct pki p, other;
	char root[256], inter[256], ikey[256], rkey[256], big[256], junk[256], oth[256];
	char *pem = NULL;
	size_t len = 0;
	_cleanup_free_ char *bigbuf = calloc(1, PKI_FILE_MAX + 2);

	/* The directory from the first test exists; take its files apart. */
	assert_int_equal(pki_open_dir(&p, dir), 0);
	pki_clear(&p);
	path_of(root, sizeof(root), "root-ca.pem");
	path_of(inter, sizeof(inter), "intermediate-ca.pem");
	path_of(ikey, sizeof(ikey), "intermediate-ca.key");
	path_of(rkey, sizeof(rkey), "root-ca.key");
	path_of(big, sizeof(big), "big.pem");
	path_of(junk, sizeof(junk), "junk.pem");
	path_of(oth, sizeof(oth), "other.pem");

	/* An operator-provided CA without its root key works. */
	assert_int_equal(pki_load_files(&p, root, inter, ikey), 0);
	assert_null(p.root_key);
	pki_clear(&p);

	/* A root from another CA does not vouch for this intermediate. */
	assert_int_equal(pki_create(&other, 0), 0);
	assert_int_equal(pki_root_pem(&other, &pem, &len), 0);
	write_file("other.pem", pem, len);
	free(pem);
	pki_clear(&other);
	assert_int_equal(pki_load_files(&p, oth, inter, ikey), -EINVAL);
	/* Intermediate key given as the root cert's key: mismatch. */
	assert_int_equal(pki_load_files(&p, root, inter, rkey), -EINVAL);
	/* The root certificate as intermediate: issued by itself but not its key. */
	assert_int_equal(pki_load_files(&p, root, root, ikey), -EINVAL);

	assert_non_null(bigbuf);
	memset(bigbuf, 'A', PKI_FILE_MAX + 1);
	write_file("big.pem", bigbuf, PKI_FILE_MAX + 1);
	assert_int_equal(pki_load_files(&p, big, inter, ikey), -EFBIG);
	write_file("junk.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n", 33);
	assert_int_equal(pki_load_files(&p, junk, inter, ikey), -EBADMSG);
	assert_int_equal(pki_load_files(&p, root, inter, junk), -EBADMSG);
	assert_int_equal(pki_load_files(&p, root, inter, "/nonexistent/key"), -ENOENT);

	/* A partial set in the state directory is reported, not silently replaced. */
	assert_int_equal(unlink(inter), 0);
	assert_int_equal(pki_open_dir(&p, dir), -ENOENT);
	assert_int_equal(access(root, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dir_create_and_reload),
	    cmocka_unit_test(test_leaf),
	    cmocka_unit_test(test_incoherent_inputs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
