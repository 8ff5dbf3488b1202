/* A whole enclave's attestation identity: launch conventions for PCR3/PCR4 recomputed here
 * independently, documents from the guest path and the host path both verifying, debug-mode
 * zeros, and the machine-id reader's refusals. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "attest/attest.h"
#include "attest/verify.h"
#include "common/util.h"

#define MACHINE_ID "0123456789abcdef0123456789abcdef"

static struct pki ca;
static char dir[] = "/tmp/test-attest-XXXXXX";
static char mid_path[64], state_path[64];

static int setup(void **unused)
{
	if (!mkdtemp(dir) || pki_create(&ca, 0) < 0)
		return -1;
	snprintf(mid_path, sizeof(mid_path), "%s/machine-id", dir);
	snprintf(state_path, sizeof(state_path), "%s/enclave.state", dir);
	return 0;
}

static int teardown(void **unused)
{
	pki_clear(&ca);
	(void)unlink(mid_path);
	(void)unlink(state_path);
	return rmdir(dir);
}

static void extend_once(uint8_t out[48], const char *s)
{
	uint8_t buf[48 + 256] = {0};
	unsigned int n = 0;

	assert_true(strlen(s) <= 256);
	memcpy(buf + 48, s, strlen(s));
	assert_int_equal(EVP_Digest(buf, 48 + strlen(s), out, &n, EVP_sha384(), NULL), 1);
}

static void test_principal(void **unused)
{
	char buf[64];

	assert_int_equal(attest_principal(1000, "alice", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "uid=1000 name=alice");
	assert_int_equal(attest_principal(0, NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "uid=0 name=");
	assert_int_equal(attest_principal(1, "a\nb", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(attest_principal(1, "alice", buf, 10), -EINVAL);
}

static void test_machine_id(void **unused)
{
	char id[ATTEST_MACHINE_ID_LEN + 1];

	assert_int_equal(util_write_file_atomic(mid_path, MACHINE_ID "\n", 33, 0644), 0);
	assert_int_equal(attest_read_machine_id(mid_path, id), 0);
	assert_string_equal(id, MACHINE_ID);
	assert_int_equal(util_write_file_atomic(mid_path, MACHINE_ID, 32, 0644), 0);
	assert_int_equal(attest_read_machine_id(mid_path, id), 0);
	assert_int_equal(
	    util_write_file_atomic(mid_path, "0123456789ABCDEF0123456789abcdef\n", 33, 0644), 0);
	assert_int_equal(attest_read_machine_id(mid_path, id), -EBADMSG);
	assert_int_equal(util_write_file_atomic(mid_path, "abc\n", 4, 0644), 0);
	assert_int_equal(attest_read_machine_id(mid_path, id), -EBADMSG);
	assert_int_equal(util_write_file_atomic(mid_path, MACHINE_ID "\n\n", 34, 0644), 0);
	assert_int_equal(attest_read_machine_id(mid_path, id), -EBADMSG);
	assert_int_equal(attest_read_machine_id("/nonexistent/machine-id", id), -ENOENT);
}

static void launch_of(struct attest_launch *l, const uint8_t *pcr, bool debug)
{
	*l = (struct attest_launch){
	    .enclave_id = "enc-42",
	    .module_id = "i-host-enc42",
	    .lifetime_s = 600,
	    .pcr0 = pcr,
	    .pcr1 = pcr,
	    .pcr2 = pcr,
	    .uid = 1000,
	    .user_name = "alice",
	    .machine_id = MACHINE_ID,
	    .debug = debug,
	};
}

static void test_enclave(void **unused)
{
	static struct attest_enclave ae;
	struct attest_launch l;
	uint8_t pcr[48], pcr3[48], pcr4[48];
	uint8_t *doc = NULL;
	size_t len = 0;
	struct verify_options o = {0};
	struct verify_result res;
	struct nsm_attest_fields f = {.nonce = {true, (const uint8_t *)"abc", 3}};
	int days = -1, secs = -1;

	memset(pcr, 0x3c, sizeof(pcr));
	launch_of(&l, pcr, false);
	assert_int_equal(attest_enclave_init(&ae, &ca, &l), 0);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ae.leaf.cert),
					X509_get0_notAfter(ae.leaf.cert)),
			 1);
	assert_int_equal(days * 86400 + secs, 600);

	/* Host path (Enclaves.Attest). */
	assert_int_equal(attest_enclave_document(&ae, &f, &doc, &len), 0);
	extend_once(pcr3, "uid=1000 name=alice");
	extend_once(pcr4, MACHINE_ID);
	o.root = ca.root;
	o.pcr_count = 3;
	o.pcrs[0] = (struct verify_expected_pcr){.index = 0, .len = 48};
	memcpy(o.pcrs[0].value, pcr, 48);
	o.pcrs[1] = (struct verify_expected_pcr){.index = 3, .len = 48};
	memcpy(o.pcrs[1].value, pcr3, 48);
	o.pcrs[2] = (struct verify_expected_pcr){.index = 4, .len = 48};
	memcpy(o.pcrs[2].value, pcr4, 48);
	o.check_nonce = true;
	o.nonce = (const uint8_t *)"abc";
	o.nonce_len = 3;
	assert_int_equal(verify_attestation_doc(doc, len, &o, &res), 0);
	assert_string_equal(res.module_id, "i-host-enc42");
	verify_result_clear(&res);
	free(doc);

	/* Too large a field from the host is refused, not truncated. */
	f.user_data = (struct nsm_bytes){true, (const uint8_t *)calloc(1, 1025), 1025};
	assert_non_null(f.user_data.data);
	assert_int_equal(attest_enclave_document(&ae, &f, &doc, &len), -E2BIG);
	free((void *)f.user_data.data);
	attest_enclave_clear(&ae);

	/* Debug mode: PCR0-2 zero, PCR3/4 still measured. */
	launch_of(&l, pcr, true);
	assert_int_equal(attest_enclave_init(&ae, &ca, &l), 0);
	f = (struct nsm_attest_fields){0};
	assert_int_equal(attest_enclave_document(&ae, &f, &doc, &len), 0);
	memset(o.pcrs[0].value, 0, 48);
	o.check_nonce = false;
	assert_int_equal(verify_attestation_doc(doc, len, &o, &res), 0);
	verify_result_clear(&res);
	free(doc);
	attest_enclave_clear(&ae);

	/* Bad launch parameters. */
	launch_of(&l, pcr, false);
	l.machine_id = "short";
	assert_int_equal(attest_enclave_init(&ae, &ca, &l), -EINVAL);
	launch_of(&l, pcr, false);
	l.enclave_id = "bad id";
	assert_int_equal(attest_enclave_init(&ae, &ca, &l), -EINVAL);
	attest_enclave_clear(&ae);
}

/* Leaf renewal: nothing until two thirds of the validity have passed, then a fresh key and
 * certificate with the same subject and validity length that documents carry and verifiers
 * accept; the NSM state is untouched. */
static void test_renew_leaf(void **unused)
{
	static struct attest_enclave ae;
	struct attest_launch l;
	uint8_t pcr[48], *doc = NULL, *old_der;
	size_t len = 0, old_len;
	struct verify_options o = {0};
	struct verify_result res;
	struct nsm_attest_fields f = {0};
	bool renewed = true;
	time_t start = time(NULL);
	int days = -1, secs = -1;
	char cn[80];

	memset(pcr, 0x3c, sizeof(pcr));
	launch_of(&l, pcr, false); /* a 600 s leaf */
	assert_int_equal(attest_enclave_init(&ae, &ca, &l), 0);
	memcpy(ae.nsm.pcrs[16], pcr, 48);
	old_len = ae.leaf.cert_der.len;
	old_der = malloc(old_len);
	assert_non_null(old_der);
	memcpy(old_der, ae.leaf.cert_der.der, old_len);

	assert_int_equal(attest_enclave_renew_leaf(&ae, &ca, start + 350, &renewed), 0);
	assert_false(renewed); /* 250 s of 600 left: more than a third */
	assert_memory_equal(ae.leaf.cert_der.der, old_der, old_len);
	assert_int_equal(attest_enclave_renew_leaf(&ae, &ca, start + 450, &renewed), 0);
	assert_true(renewed);
	assert_true(ae.leaf.cert_der.len != old_len ||
		    memcmp(ae.leaf.cert_der.der, old_der, old_len) != 0);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ae.leaf.cert),
					X509_get0_notAfter(ae.leaf.cert)),
			 1);
	assert_int_equal(days * 86400 + secs, 600);
	assert_int_equal(X509_cmp_time(X509_get0_notBefore(ae.leaf.cert), &(time_t){start + 449}),
			 1);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(ae.leaf.cert), NID_commonName,
					      cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "enc-42"); /* the CN, kept from the first leaf */
	assert_memory_equal(ae.nsm.pcrs[16], pcr, 48);
	/* Right after a renewal there is nothing to do. */
	assert_int_equal(attest_enclave_renew_leaf(&ae, &ca, start + 460, &renewed), 0);
	assert_false(renewed);

	/* Documents carry the new leaf and verify while it is valid. */
	assert_int_equal(attest_enclave_document(&ae, &f, &doc, &len), 0);
	assert_non_null(memmem(doc, len, ae.leaf.cert_der.der, ae.leaf.cert_der.len));
	assert_null(memmem(doc, len, old_der, old_len));
	o.root = ca.root;
	o.now = start + 455;
	assert_int_equal(verify_attestation_doc(doc, len, &o, &res), 0);
	verify_result_clear(&res);
	free(doc);
	free(old_der);
	attest_enclave_clear(&ae);
}

/* ExtendPCR 16 and LockPCR 17 through the guest path. */
static void guest_changes(struct attest_enclave *ae)
{
	static const uint8_t extend[] = {0xa1, 0x69, 'E',  'x',	 't', 'e', 'n',	 'd', 'P',
					 'C',  'R',  0xa2, 0x65, 'i', 'n', 'd',	 'e', 'x',
					 0x10, 0x64, 'd',  'a',	 't', 'a', 0x41, 'z'};
	static const uint8_t lock[] = {0xa1, 0x67, 'L', 'o', 'c', 'k', 'P', 'C', 'R',
				       0xa1, 0x65, 'i', 'n', 'd', 'e', 'x', 0x11};
	uint8_t resp[NSM_RESPONSE_MAX];
	size_t len = 0;
	enum nsm_error e;

	assert_int_equal(
	    nsm_handle_request_ex(&ae->nsm, extend, sizeof(extend), resp, sizeof(resp), &len, &e),
	    0);
	assert_int_equal(e, NSM_E_SUCCESS);
	assert_int_equal(
	    nsm_handle_request_ex(&ae->nsm, lock, sizeof(lock), resp, sizeof(resp), &len, &e), 0);
	assert_int_equal(e, NSM_E_SUCCESS);
}

static void test_save_load(void **unused)
{
	static struct attest_enclave a, b;
	struct attest_launch l;
	uint8_t pcr[48];
	uint8_t *doc = NULL, *file = NULL;
	size_t len = 0, flen = 0;
	struct verify_options o = {0};
	struct verify_result res;
	struct nsm_attest_fields f = {0};

	memset(pcr, 0x77, sizeof(pcr));
	launch_of(&l, pcr, false);
	assert_int_equal(attest_enclave_init(&a, &ca, &l), 0);
	guest_changes(&a);
	assert_int_equal(attest_enclave_save(&a, state_path), 0);
	{
		struct stat sb;

		assert_int_equal(stat(state_path, &sb), 0);
		assert_int_equal(sb.st_mode & 07777, 0600);
	}
	assert_int_equal(attest_enclave_load(&b, state_path), 0);
	assert_memory_equal(a.nsm.pcrs, b.nsm.pcrs, sizeof(a.nsm.pcrs));
	assert_int_equal(b.nsm.locked, 0x2ffffu);
	assert_string_equal(b.nsm.module_id, "i-host-enc42");
	assert_int_equal(EVP_PKEY_eq(a.leaf.key, b.leaf.key), 1);

	/* The restored identity signs documents that verify, PCR 17 included. */
	assert_int_equal(attest_enclave_document(&b, &f, &doc, &len), 0);
	o.root = ca.root;
	o.pcr_count = 1;
	o.pcrs[0] = (struct verify_expected_pcr){.index = 17, .len = 48};
	assert_int_equal(verify_attestation_doc(doc, len, &o, &res), 0);
	assert_int_equal(res.pcr_mask, 0x2ffffu);
	verify_result_clear(&res);
	free(doc);
	attest_enclave_clear(&b);

	/* Every truncation, and a flipped lock bit below 16, is refused. */
	assert_int_equal(util_read_file(state_path, ATTEST_STATE_FILE_MAX, (char **)&file, &flen),
			 0);
	for (size_t cut = 0; cut < flen; cut += 7) {
		assert_int_equal(util_write_file_atomic(state_path, file, cut, 0600), 0);
		assert_int_equal(attest_enclave_load(&b, state_path), -EBADMSG);
	}
	/* "locked" is followed by 0x1a and the u32 0x0002ffff; clear bit 0. */
	for (size_t i = 0; i + 5 <= flen; i++)
		if (!memcmp(file + i, "\x1a\x00\x02\xff\xff", 5)) {
			file[i + 4] = 0xfe;
			break;
		}
	assert_int_equal(util_write_file_atomic(state_path, file, flen, 0600), 0);
	assert_int_equal(attest_enclave_load(&b, state_path), -EBADMSG);
	free(file);
	attest_enclave_clear(&a);
	assert_int_equal(attest_enclave_load(&b, "/nonexistent/state"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_principal), cmocka_unit_test(test_machine_id),
	    cmocka_unit_test(test_enclave),   cmocka_unit_test(test_renew_leaf),
	    cmocka_unit_test(test_save_load),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
