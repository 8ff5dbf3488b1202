/* enclaved/attestation.c with a temporary state directory: the PKI is created once (keys
 * 0600) and reloaded unchanged, operator-provided CA files and config keys, per-enclave
 * identities whose NSM answers and documents verify against the root, debug zeros, state
 * save/load, and hostile input. */
#include "config.h"

#include "enclaved/attestation.h"

#include "attest/acbor.h"
#include "attest/nsm.h"
#include "attest/pki.h"
#include "attest/verify.h"
#include "common/util.h"
#include "enclaved/config-file.h"
#include "enclaved/enclaved.h"
#include "image/eif.h"

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>

struct fixture {
	char dir[64];
	struct enclaved d;
	struct eif_measurements m;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test-enclaved-attestation.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(config_init(&f->d.config), 0);
	f->d.opts.state_dir = f->dir;
	for (unsigned i = 0; i < PCR_DIGEST_LEN; i++) {
		f->m.pcr0[i] = (uint8_t)(0x10 + i);
		f->m.pcr1[i] = (uint8_t)(0x20 + i);
		f->m.pcr2[i] = (uint8_t)(0x30 + i);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	attestation_free(&f->d);
	config_free(&f->d.config);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static char *path_in(const struct fixture *f, const char *name)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
	return p;
}

static void assert_mode(const char *path, mode_t mode)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, mode);
}

static X509 *root_of(struct enclaved *d)
{
	_cleanup_free_ char *pem = NULL;
	BIO *bio;
	X509 *x;

	assert_int_equal(attestation_root_pem(d, &pem, NULL), 0);
	bio = BIO_new_mem_buf(pem, -1);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(x);
	return x;
}

static void test_pki_created_once(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *pem1 = NULL, *pem2 = NULL;
	_cleanup_free_ char *key = path_in(f, "pki/intermediate-ca.key");
	_cleanup_free_ char *root_key = path_in(f, "pki/root-ca.key");
	_cleanup_free_ char *cert = path_in(f, "pki/root-ca.pem");
	uint8_t fp1[PCR_DIGEST_LEN], fp2[PCR_DIGEST_LEN];

	assert_int_equal(attestation_root_pem(&f->d, &pem1, fp1), -EAGAIN);
	assert_int_equal(attestation_init(&f->d), 0);
	assert_int_equal(attestation_init(&f->d), 0); /* idempotent */
	assert_int_equal(attestation_root_pem(&f->d, &pem1, fp1), 0);
	assert_non_null(strstr(pem1, "-----BEGIN CERTIFICATE-----"));
	assert_mode(key, 0600);
	assert_mode(root_key, 0600);
	assert_mode(cert, 0644);

	/* A restart reloads the same CA rather than making a new one. */
	attestation_free(&f->d);
	assert_null(f->d.attestation);
	assert_int_equal(attestation_init(&f->d), 0);
	assert_int_equal(attestation_root_pem(&f->d, &pem2, fp2), 0);
	assert_string_equal(pem1, pem2);
	assert_memory_equal(fp1, fp2, sizeof(fp1));
}

static void test_pki_partial_refused(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *key = path_in(f, "pki/intermediate-ca.key");

	assert_int_equal(attestation_init(&f->d), 0);
	attestation_free(&f->d);
	assert_int_equal(unlink(key), 0);
	assert_int_equal(attestation_init(&f->d), -ENOENT);
	assert_null(f->d.attestation);
}

static void test_config_keys(void **state)
{
	struct fixture *f = *state;
	struct enclaved_config cfg;
	_cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL;

	(void)f;
	assert_int_equal(attestation_config_check("root_certificate", "/etc/x.pem", &err), 0);
	assert_null(err);
	assert_int_equal(attestation_config_check("root_cert", "/etc/x.pem", &err), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'root_cert'"));
	assert_int_equal(attestation_config_check("intermediate_key", "rel/x.key", &err2), -EINVAL);
	assert_non_null(strstr(err2, "not an absolute path"));

	assert_int_equal(config_init(&cfg), 0);
	assert_int_equal(
	    config_parse_string(&cfg, "t.conf", "[attestation]\nmachine_id = relative\n", &err3),
	    -EINVAL);
	assert_non_null(strstr(err3, "t.conf:2: [attestation] machine_id"));
	config_free(&cfg);
}

/* Operator-provided CA files; a missing one of the three is named. */
static void test_operator_ca(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *root = path_in(f, "op-root.pem"), *inter = path_in(f, "op-inter.pem"),
			    *ikey = path_in(f, "op-inter.key"), *text = NULL, *err = NULL,
			    *pem = NULL, *mid = path_in(f, "machine-id");
	_cleanup_free_ char *ours = NULL;
	size_t ours_len = 0;
	struct pki p;
	FILE *fp;

	assert_int_equal(pki_create(&p, 0), 0);
	fp = fopen(root, "w");
	assert_true(PEM_write_X509(fp, p.root));
	fclose(fp);
	fp = fopen(inter, "w");
	assert_true(PEM_write_X509(fp, p.intermediate));
	fclose(fp);
	fp = fopen(ikey, "w");
	assert_true(PEM_write_PrivateKey(fp, p.intermediate_key, NULL, NULL, 0, NULL, NULL));
	fclose(fp);
	fp = fopen(mid, "w");
	fputs("0123456789abcdef0123456789abcdef\n", fp);
	fclose(fp);
	assert_int_equal(pki_root_pem(&p, &ours, &ours_len), 0);

	config_free(&f->d.config);
	assert_int_equal(config_init(&f->d.config), 0);
	assert_true(asprintf(&text, "[attestation]\nroot_certificate = %s\n", root) > 0);
	assert_int_equal(config_parse_string(&f->d.config, "t.conf", text, &err), 0);
	assert_int_equal(attestation_init(&f->d), -EINVAL); /* the other two are missing */
	free(text);
	text = NULL;
	config_free(&f->d.config);
	assert_int_equal(config_init(&f->d.config), 0);
	assert_true(asprintf(&text,
			     "[attestation]\nroot_certificate = %s\nintermediate_certificate = "
			     "%s\nintermediate_key = %s\nmachine_id = %s\n",
			     root, inter, ikey, mid) > 0);
	assert_int_equal(config_parse_string(&f->d.config, "t.conf", text, &err), 0);
	assert_int_equal(attestation_init(&f->d), 0);
	assert_int_equal(attestation_root_pem(&f->d, &pem, NULL), 0);
	assert_string_equal(pem, ours);
	/* Nothing was created in the state directory. */
	assert_int_equal(access(f->dir, F_OK), 0);
	{
		_cleanup_free_ char *pki_dir = path_in(f, "pki");
		assert_int_equal(access(pki_dir, F_OK), -1);
	}
	pki_clear(&p);
}

/* Raw NSM request: {"ExtendPCR": {"index": i, "data": bytes}} etc. */
static size_t extend_req(uint8_t *buf, size_t max, unsigned index)
{
	struct acbor_writer w;

	acbor_writer_init(&w, buf, max);
	acbor_put_map(&w, 1);
	acbor_put_tstr(&w, "ExtendPCR");
	acbor_put_map(&w, 2);
	acbor_put_tstr(&w, "index");
	acbor_put_uint(&w, index);
	acbor_put_tstr(&w, "data");
	acbor_put_bstr(&w, (const uint8_t *)"hello", 5);
	assert_int_equal(acbor_writer_finish(&w), 0);
	return w.len;
}

static bool resp_is_error(const uint8_t *resp, size_t len, const char *name)
{
	/* {"Error": "<name>"}: a map of one, the key, then the name as text. */
	return len > strlen(name) && memmem(resp, len, "Error", 5) &&
	       memmem(resp, len, name, strlen(name));
}

static void verify_doc(X509 *root, const uint8_t *doc, size_t len, const uint8_t *nonce,
		       size_t nonce_len, const uint8_t pcr0[PCR_DIGEST_LEN], int expect)
{
	struct verify_options o = {.root = root};
	struct verify_result res;
	int r;

	memset(&res, 0, sizeof(res));
	if (nonce) {
		o.check_nonce = true;
		o.nonce = nonce;
		o.nonce_len = nonce_len;
	}
	o.pcrs[0].index = 0;
	memcpy(o.pcrs[0].value, pcr0, PCR_DIGEST_LEN);
	o.pcrs[0].len = PCR_DIGEST_LEN;
	o.pcr_count = 1;
	r = verify_attestation_doc(doc, len, &o, &res);
	if (r != expect)
		fail_msg("verify: %d (%s), expected %d", r, res.message, expect);
	verify_result_clear(&res);
}

static void test_enclave_documents(void **state)
{
	struct fixture *f = *state;
	struct attestation_enclave *e = NULL, *dbg = NULL;
	_cleanup_free_ uint8_t *doc = NULL, *resp = malloc(NSM_RESPONSE_MAX);
	_cleanup_free_ uint8_t *big = calloc(1, ATTESTATION_NONCE_MAX + 1);
	uint8_t req[64], value[PCR_DIGEST_LEN], zeros[PCR_DIGEST_LEN] = {0};
	size_t doc_len = 0, resp_len = 0, req_len;
	bool locked;
	X509 *root;

	assert_int_equal(attestation_init(&f->d), 0);
	root = root_of(&f->d);
	assert_int_equal(attestation_enclave_new(&f->d, "i-0000000000000000-enc0000000000000001",
						 &f->m, false, 1000, "alice", 3600, &e),
			 0);
	assert_false(attestation_enclave_debug(e));
	assert_null(attestation_enclave_debug_note(e));
	assert_int_equal(attestation_enclave_pcr(e, 0, value, &locked), 0);
	assert_memory_equal(value, f->m.pcr0, PCR_DIGEST_LEN);
	assert_true(locked);
	assert_int_equal(attestation_enclave_pcr(e, 3, value, &locked), 0);
	assert_memory_not_equal(value, zeros, PCR_DIGEST_LEN); /* the principal */
	assert_int_equal(attestation_enclave_pcr(e, 32, value, &locked), -EINVAL);

	assert_int_equal(
	    attestation_document(e, (const uint8_t *)"n0nce", 5, NULL, 0, NULL, 0, &doc, &doc_len),
	    0);
	verify_doc(root, doc, doc_len, (const uint8_t *)"n0nce", 5, f->m.pcr0, 0);
	verify_doc(root, doc, doc_len, (const uint8_t *)"other", 5, f->m.pcr0, -EPERM);
	doc[doc_len - 1] ^= 1; /* the signature's last byte */
	verify_doc(root, doc, doc_len, NULL, 0, f->m.pcr0, -EKEYREJECTED);
	assert_int_equal(attestation_document(e, big, ATTESTATION_NONCE_MAX + 1, NULL, 0, NULL, 0,
					      &doc, &doc_len),
			 -E2BIG);

	/* NSM requests from the guest: PCR 16 extends, PCR 0 is read-only; garbage answered. */
	req_len = extend_req(req, sizeof(req), 16);
	assert_int_equal(attestation_handle_nsm(e, req, req_len, resp, NSM_RESPONSE_MAX, &resp_len),
			 0);
	assert_false(resp_is_error(resp, resp_len, "ReadOnlyIndex"));
	assert_int_equal(attestation_enclave_pcr(e, 16, value, &locked), 0);
	assert_memory_not_equal(value, zeros, PCR_DIGEST_LEN);
	assert_false(locked);
	req_len = extend_req(req, sizeof(req), 0);
	assert_int_equal(attestation_handle_nsm(e, req, req_len, resp, NSM_RESPONSE_MAX, &resp_len),
			 0);
	assert_true(resp_is_error(resp, resp_len, "ReadOnlyIndex"));
	assert_int_equal(attestation_handle_nsm(e, (const uint8_t *)"\xff\x00\x01", 3, resp,
						NSM_RESPONSE_MAX, &resp_len),
			 0);
	assert_true(resp_is_error(resp, resp_len, "InvalidOperation"));
	assert_int_equal(attestation_handle_nsm(e, req, req_len, resp, 2, &resp_len), -ENOBUFS);

	/* Debug mode: PCR0-2 zero, said plainly. */
	assert_int_equal(attestation_enclave_new(&f->d, "i-0000000000000000-enc0000000000000002",
						 &f->m, true, 0, "root", 0, &dbg),
			 0);
	assert_string_equal(attestation_enclave_debug_note(dbg), ATTESTATION_DEBUG_NOTE);
	free(doc);
	doc = NULL;
	assert_int_equal(
	    attestation_document(dbg, NULL, 0, (const uint8_t *)"u", 1, NULL, 0, &doc, &doc_len),
	    0);
	verify_doc(root, doc, doc_len, NULL, 0, zeros, 0);
	verify_doc(root, doc, doc_len, NULL, 0, f->m.pcr0, -EPERM);

	/* Bad enclave ids. */
	assert_int_equal(attestation_enclave_new(&f->d, "", &f->m, false, 0, "x", 0, &e), -EINVAL);
	attestation_enclave_free(dbg);
	attestation_enclave_free(e);
	attestation_enclave_free(NULL);
	X509_free(root);
}

static void test_save_load(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *path = path_in(f, "enc.attest");
	_cleanup_free_ char *other_dir = path_in(f, "other");
	struct attestation_enclave *e = NULL, *back = NULL;
	_cleanup_free_ uint8_t *resp = malloc(NSM_RESPONSE_MAX), *doc = NULL;
	uint8_t req[64], v1[PCR_DIGEST_LEN], v2[PCR_DIGEST_LEN];
	size_t resp_len, req_len, doc_len;
	struct enclaved other = {0};
	X509 *root;

	assert_int_equal(attestation_init(&f->d), 0);
	root = root_of(&f->d);
	assert_int_equal(attestation_enclave_new(&f->d, "i-0000000000000000-enc00000000000000aa",
						 &f->m, false, 42, "bob", 600, &e),
			 0);
	req_len = extend_req(req, sizeof(req), 20);
	assert_int_equal(attestation_handle_nsm(e, req, req_len, resp, NSM_RESPONSE_MAX, &resp_len),
			 0);
	assert_int_equal(attestation_enclave_save(e, path), 0);
	assert_mode(path, 0600);
	assert_int_equal(attestation_enclave_load(&f->d, path, &back), 0);
	assert_int_equal(attestation_enclave_pcr(e, 20, v1, NULL), 0);
	assert_int_equal(attestation_enclave_pcr(back, 20, v2, NULL), 0);
	assert_memory_equal(v1, v2, PCR_DIGEST_LEN);
	assert_int_equal(
	    attestation_document(back, (const uint8_t *)"x", 1, NULL, 0, NULL, 0, &doc, &doc_len),
	    0);
	verify_doc(root, doc, doc_len, (const uint8_t *)"x", 1, f->m.pcr0, 0);

	/* Another daemon's PKI must not adopt this leaf. */
	assert_int_equal(mkdir(other_dir, 0700), 0);
	assert_int_equal(config_init(&other.config), 0);
	other.opts.state_dir = other_dir;
	assert_int_equal(attestation_init(&other), 0);
	attestation_enclave_free(back);
	back = NULL;
	assert_int_equal(attestation_enclave_load(&other, path, &back), -EKEYREJECTED);
	assert_null(back);
	attestation_free(&other);
	config_free(&other.config);

	/* A truncated state file is refused. */
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(attestation_enclave_load(&f->d, path, &back), -EBADMSG);
	attestation_enclave_free(e);
	X509_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pki_created_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pki_partial_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_operator_ca, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enclave_documents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
