/* enclavectl verify-attestation, called as the command function over real files: its JSON,
 * its exit codes and its one-line reasons. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "attest/acbor.h"
#include "attest/document.h"
#include "attest/nsm.h"
#include "attest/pki.h"
#include "common/util.h"
#include "ctl/commands.h"

static char dir[] = "/tmp/test-verify-cli-XXXXXX";
static char doc_path[64], b64_path[64], cut_path[64], root_path[64], other_path[64], out_path[64],
    err_path[64];
static char pcr0_arg[8 + 96];
static uint8_t pcr0[48];

static void write_path(const char *path, const void *data, size_t len)
{
	assert_int_equal(util_write_file_atomic(path, data, len, 0644), 0);
}

static int setup(void **unused)
{
	struct pki ca, other;
	struct pki_leaf leaf;
	struct nsm_state st;
	struct doc_signer signer;
	uint8_t req[64], resp[NSM_RESPONSE_MAX], *b64;
	size_t resp_len = 0, n;
	struct acbor_writer w;
	struct acbor_reader r;
	uint64_t cnt;
	const char *s;
	const uint8_t *doc;
	char *pem;

	if (!mkdtemp(dir))
		return -1;
#define P(var, name) snprintf(var, sizeof(var), "%s/" name, dir)
	P(doc_path, "doc.cose");
	P(b64_path, "doc.b64");
	P(cut_path, "cut.cose");
	P(root_path, "root.pem");
	P(other_path, "other.pem");
	P(out_path, "out.json");
	P(err_path, "err.txt");
#undef P
	if (pki_create(&ca, 0) < 0 || pki_create(&other, 0) < 0 ||
	    pki_issue_leaf(&ca, "enc-cli", 0, 600, &leaf) < 0)
		return -1;
	memset(pcr0, 0x5a, sizeof(pcr0));
	if (nsm_state_init(&st, "i-cli-enc", pcr0, pcr0, pcr0, NULL, NULL, "host", false) < 0)
		return -1;
	signer = (struct doc_signer){.leaf = &leaf};
	nsm_state_set_signer(&st, doc_nsm_attest, &signer);
	acbor_writer_init(&w, req, sizeof(req));
	acbor_put_map(&w, 1);
	acbor_put_tstr(&w, "Attestation");
	acbor_put_map(&w, 1);
	acbor_put_tstr(&w, "nonce");
	acbor_put_bstr(&w, "\x01\x02\xab", 3);
	if (nsm_handle_request(&st, req, w.len, resp, sizeof(resp), &resp_len) < 0)
		return -1;
	acbor_reader_init(&r, resp, resp_len);
	if (acbor_read_map(&r, &cnt) < 0 || acbor_read_tstr(&r, &s, &n) < 0 ||
	    acbor_read_map(&r, &cnt) < 0 || acbor_read_tstr(&r, &s, &n) < 0 ||
	    acbor_read_bstr(&r, &doc, &n) < 0)
		return -1;
	write_path(doc_path, doc, n);
	write_path(cut_path, doc, n / 2);
	b64 = malloc(4 * n / 3 + 8);
	if (!b64)
		return -1;
	write_path(b64_path, b64, (size_t)EVP_EncodeBlock(b64, doc, (int)n));
	free(b64);
	if (pki_root_pem(&ca, &pem, &n) < 0)
		return -1;
	write_path(root_path, pem, n);
	free(pem);
	if (pki_root_pem(&other, &pem, &n) < 0)
		return -1;
	write_path(other_path, pem, n);
	free(pem);
	memcpy(pcr0_arg, "0=", 2);
	util_hex_encode(pcr0, 48, pcr0_arg + 2);
	pki_leaf_clear(&leaf);
	pki_clear(&ca);
	pki_clear(&other);
	return 0;
}

static int teardown(void **unused)
{
	const char *files[] = {doc_path,   b64_path, cut_path, root_path,
			       other_path, out_path, err_path};

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(files); i++)
		(void)unlink(files[i]);
	return rmdir(dir);
}

/* Run the command with stdout and stderr captured; returns its exit code. */
static int run(struct json_object **json, char **err, ...)
{
	char *argv[32];
	int argc = 0, code, saved_out, saved_err, fd;
	va_list ap;
	char *out_text = NULL;
	size_t n;

	argv[argc++] = (char *)"verify-attestation";
	va_start(ap, err);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 1), 1);
	close(fd);
	fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	code = ctl_cmd_verify_attestation(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	assert_int_equal(util_read_file(out_path, 1 << 20, &out_text, &n), 0);
	*json = n ? json_tokener_parse(out_text) : NULL;
	free(out_text);
	assert_int_equal(util_read_file(err_path, 1 << 20, err, &n), 0);
	return code;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static void test_verified(void **unused)
{
	struct json_object *j = NULL, *pcrs;
	char *err = NULL;

	assert_int_equal(run(&j, &err, "--doc", doc_path, "--root", root_path, "--pcr", pcr0_arg,
			     "--nonce", "0102AB", NULL),
			 0);
	assert_non_null(j);
	assert_string_equal(jstr(j, "verified"), "true");
	assert_string_equal(jstr(j, "module_id"), "i-cli-enc");
	assert_string_equal(jstr(j, "nonce"), "0102ab");
	assert_null(jstr(j, "user_data"));
	assert_null(jstr(j, "failure"));
	assert_true(json_object_object_get_ex(j, "pcrs", &pcrs));
	assert_string_equal(jstr(pcrs, "PCR0"), pcr0_arg + 2);
	assert_int_equal(json_object_object_length(pcrs), 16);
	assert_string_equal(err, "");
	json_object_put(j);
	free(err);

	/* The base64 form `enclavectl attest` prints works too. */
	assert_int_equal(run(&j, &err, "--doc", b64_path, "--root", root_path, NULL), 0);
	assert_string_equal(jstr(j, "verified"), "true");
	json_object_put(j);
	free(err);
}

static void expect_failure(const char *reason, ...)
{
	struct json_object *j = NULL;
	char *err = NULL;
	char *argv[16];
	int n = 0;
	va_list ap;

	va_start(ap, reason);
	while ((argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	assert_true(n <= 8);
	assert_int_equal(run(&j, &err, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5],
			     argv[6], argv[7], NULL),
			 2);
	assert_non_null(j);
	assert_string_equal(jstr(j, "verified"), "false");
	assert_string_equal(jstr(j, "failure"), reason);
	/* One line on stderr naming the reason. */
	assert_non_null(strstr(err, reason));
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
	json_object_put(j);
	free(err);
}

static void test_rejected(void **unused)
{
	char wrong_pcr[sizeof(pcr0_arg)];

	memcpy(wrong_pcr, pcr0_arg, sizeof(wrong_pcr));
	wrong_pcr[2] = wrong_pcr[2] == '0' ? '1' : '0';
	expect_failure("nonce-mismatch", "--doc", doc_path, "--root", root_path, "--nonce", "00",
		       NULL);
	expect_failure("untrusted-chain", "--doc", doc_path, "--root", other_path, NULL);
	expect_failure("pcr-mismatch", "--doc", doc_path, "--root", root_path, "--pcr", wrong_pcr,
		       NULL);
	expect_failure("certificate-expired", "--doc", doc_path, "--root", root_path, "--time",
		       "4000000000", NULL);
	expect_failure("malformed-cose", "--doc", cut_path, "--root", root_path, NULL);
	expect_failure("user-data-mismatch", "--doc", doc_path, "--root", root_path, "--user-data",
		       "aa", NULL);
}

static void test_usage(void **unused)
{
	struct json_object *j = NULL;
	char *err = NULL;

	assert_int_equal(run(&j, &err, "--doc", doc_path, NULL), 1);
	assert_non_null(strstr(err, "--root"));
	free(err);
	assert_int_equal(
	    run(&j, &err, "--doc", doc_path, "--root", root_path, "--pcr", "32=00", NULL), 1);
	free(err);
	assert_int_equal(run(&j, &err, "--doc", doc_path, "--root", root_path, "--pcr", "x", NULL),
			 1);
	free(err);
	assert_int_equal(
	    run(&j, &err, "--doc", doc_path, "--root", root_path, "--nonce", "abc", NULL), 1);
	free(err);
	assert_int_equal(run(&j, &err, "--bogus", NULL), 1);
	free(err);
	assert_int_equal(run(&j, &err, "--doc", "/nonexistent", "--root", root_path, NULL), 5);
	assert_non_null(strstr(err, "/nonexistent"));
	free(err);
	assert_int_equal(run(&j, &err, "--doc", doc_path, "--root", doc_path, NULL), 5);
	free(err);
	assert_int_equal(run(&j, &err, "--help", NULL), 0);
	json_object_put(j);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verified),
	    cmocka_unit_test(test_rejected),
	    cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
