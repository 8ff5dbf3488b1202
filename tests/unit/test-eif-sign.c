/* Signed EIFs with real keys and certificates: the section's exact CBOR shape, PCR8, signature
 * verification, and detection of a modified image, a swapped certificate, an expired
 * certificate and a signature section that is not CBOR. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "attest/cose.h"
#include "attest/pcr.h"
#include "common/util.h"
#include "image/eif.h"

struct signer {
	EVP_PKEY *key;
	char *pem;
	size_t pem_len;
};

static void make_signer(struct signer *s, const char *curve, long from, long to)
{
	X509 *x = X509_new();
	X509_NAME *n;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;

	s->key = EVP_EC_gen(curve);
	assert_non_null(s->key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, s->key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"eif-test", -1, -1,
				   0);
	X509_set_issuer_name(x, n);
	assert_true(X509_sign(x, s->key, EVP_sha384()) > 0);
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	len = BIO_get_mem_data(bio, &data);
	s->pem = strndup(data, (size_t)len);
	s->pem_len = (size_t)len;
	BIO_free(bio);
	X509_free(x);
}

static void free_signer(struct signer *s)
{
	EVP_PKEY_free(s->key);
	free(s->pem);
}

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("eif-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(util_write_full(fd, data, len), 0);
	return fd;
}

static int build_signed(struct signer *s, struct eif_measurements *m)
{
	int kfd = memfd_with("kernel", 6), rfd = memfd_with("ramdisk", 7);
	int out = memfd_create("eif-out", MFD_CLOEXEC);
	struct eif_build in = {.kernel_fd = kfd,
			       .cmdline = "console=ttyS0",
			       .ramdisk_fds = &rfd,
			       .n_ramdisks = 1,
			       .metadata = "{}",
			       .sign_key = s->key,
			       .cert_pem = (const uint8_t *)s->pem,
			       .cert_len = s->pem_len};
	char err[256] = "";

	assert_int_equal(eif_write(&in, out, m, err, sizeof(err)), 0);
	close(kfd);
	close(rfd);
	return out;
}

/* Open, measure, decode and check the signature of an image in fd. */
static int check(int fd, struct eif_sig_info *info, struct eif_measurements *m, char *err,
		 size_t errlen)
{
	struct eif_file eif;
	struct eif_signature sig;
	uint8_t *buf = NULL, pcr8[PCR_DIGEST_LEN];
	size_t len = 0;
	bool crc_ok;
	int r;

	r = eif_open_fd(&eif, fd);
	if (r == 0)
		r = eif_measure(&eif, m, &crc_ok);
	if (r < 0) {
		snprintf(err, errlen, "%s", eif.error);
		return r;
	}
	assert_true(eif.signature >= 0);
	assert_int_equal(
	    eif_section_read_all(&eif, (unsigned)eif.signature, EIF_MAX_SIGNATURE, &buf, &len), 0);
	r = eif_signature_decode(buf, len, &sig, err, errlen);
	if (r == 0) {
		r = eif_signature_check(&sig, m->pcr0, info, pcr8, err, errlen);
		if (r == 0)
			assert_memory_equal(pcr8, m->pcr8, PCR_DIGEST_LEN);
		eif_signature_clear(&sig);
	}
	free(buf);
	return r;
}

static void test_signed_roundtrip(void **state)
{
	const char *curves[] = {"P-256", "P-384", "P-521"};

	for (int c = 0; c < 3; c++) {
		struct signer s;
		struct eif_measurements wm, rm;
		struct eif_sig_info info;
		char err[256] = "";
		uint8_t want8[PCR_DIGEST_LEN];
		int fd;

		make_signer(&s, curves[c], -3600, 3600);
		fd = build_signed(&s, &wm);
		assert_true(wm.has_pcr8);
		assert_int_equal(check(fd, &info, &rm, err, sizeof(err)), 0);
		assert_memory_equal(&wm, &rm, sizeof(wm));
		assert_true(info.signature_ok);
		assert_true(info.pcr0_matches);
		assert_true(info.cert_dates_ok);
		assert_non_null(strstr(info.issuer, "CN=eif-test"));
		assert_string_equal(info.algorithm, "ecdsa-with-SHA384");
		assert_int_equal(eif_cert_pcr((uint8_t *)s.pem, s.pem_len, want8), 0);
		assert_memory_equal(want8, rm.pcr8, PCR_DIGEST_LEN);
		close(fd);
		free_signer(&s);
	}
}

static void test_section_shape(void **state)
{
	struct signer s;
	uint8_t pcr0[PCR_DIGEST_LEN], *sec = NULL;
	size_t len = 0, off;
	static const char key1[] = "\x73signing_certificate";

	make_signer(&s, "P-384", -10, 3600);
	memset(pcr0, 0xab, sizeof(pcr0));
	assert_int_equal(eif_signature_create(s.key, (uint8_t *)s.pem, s.pem_len, pcr0, &sec, &len),
			 0);
	/* [ { "signing_certificate": [uints...], "signature": [uints...] } ] */
	assert_int_equal(sec[0], 0x81);
	assert_int_equal(sec[1], 0xa2);
	assert_memory_equal(sec + 2, key1, 20);
	off = 22;
	/* array header: 0x99 + u16 length for a PEM of 256..65535 bytes */
	assert_int_equal(sec[off], 0x99);
	assert_int_equal((size_t)(sec[off + 1] << 8 | sec[off + 2]), s.pem_len);
	off += 3;
	/* '-' = 0x2d >= 24 encodes as 0x18 0x2d */
	assert_int_equal(sec[off], 0x18);
	assert_int_equal(sec[off + 1], '-');
	free(sec);
	free_signer(&s);
}

static void rewrite_crc(int fd)
{
	struct stat st;
	uint8_t *buf;
	uLong crc;

	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	crc = crc32(crc32(0L, buf, 544), buf + 548, (uInt)(st.st_size - 548));
	for (int i = 0; i < 4; i++)
		buf[544 + i] = (uint8_t)(crc >> (24 - 8 * i));
	assert_int_equal(pwrite(fd, buf + 544, 4, 544), 4);
	free(buf);
}

static void test_tampered_image(void **state)
{
	struct signer s;
	struct eif_measurements m;
	struct eif_sig_info info;
	struct eif_file eif;
	char err[256] = "";
	int fd;

	make_signer(&s, "P-384", -10, 3600);
	fd = build_signed(&s, &m);
	assert_int_equal(eif_open_fd(&eif, fd), 0);
	/* change the ramdisk's first byte, keep the CRC right */
	assert_int_equal(pwrite(fd, "R", 1, (off_t)eif.sections[3].data_offset), 1);
	rewrite_crc(fd);
	assert_int_equal(check(fd, &info, &m, err, sizeof(err)), 0);
	assert_false(info.pcr0_matches);
	assert_false(info.signature_ok);
	close(fd);
	free_signer(&s);
}

static void test_swapped_cert_and_expired(void **state)
{
	struct signer s, other, old;
	struct eif_measurements m;
	struct eif_sig_info info;
	struct eif_signature sig = {0};
	uint8_t pcr0[PCR_DIGEST_LEN] = {1}, pcr8[PCR_DIGEST_LEN], *sec = NULL;
	size_t len = 0;
	char err[256] = "";

	make_signer(&s, "P-384", -10, 3600);
	make_signer(&other, "P-384", -10, 3600);
	make_signer(&old, "P-384", -7200, -3600);
	/* signed by s, but carrying other's certificate */
	assert_int_equal(
	    eif_signature_create(s.key, (uint8_t *)other.pem, other.pem_len, pcr0, &sec, &len), 0);
	assert_int_equal(eif_signature_decode(sec, len, &sig, err, sizeof(err)), 0);
	assert_int_equal(eif_signature_check(&sig, pcr0, &info, pcr8, err, sizeof(err)), 0);
	assert_true(info.pcr0_matches);
	assert_false(info.signature_ok);
	eif_signature_clear(&sig);
	free(sec);
	/* expired certificate: signature fine, dates not */
	assert_int_equal(
	    eif_signature_create(old.key, (uint8_t *)old.pem, old.pem_len, pcr0, &sec, &len), 0);
	assert_int_equal(eif_signature_decode(sec, len, &sig, err, sizeof(err)), 0);
	assert_int_equal(eif_signature_check(&sig, pcr0, &info, pcr8, err, sizeof(err)), 0);
	assert_true(info.signature_ok);
	assert_false(info.cert_dates_ok);
	eif_signature_clear(&sig);
	free(sec);
	(void)m;
	free_signer(&s);
	free_signer(&other);
	free_signer(&old);
}

static void test_bad_signature_sections(void **state)
{
	struct eif_signature sig;
	char err[256] = "";
	static const uint8_t not_cbor[] = {0xff, 0x00, 0x13};
	static const uint8_t bstr_cert[] = {0x81, 0xa2, 0x73, 's', 'i',	 'g', 'n',  'i', 'n',
					    'g',  '_',	'c',  'e', 'r',	 't', 'i',  'f', 'i',
					    'c',  'a',	't',  'e', 0x41, 'x', 0x69, 's', 'i',
					    'g',  'n',	'a',  't', 'u',	 'r', 'e',  0x80};
	static const uint8_t wrong_order[] = {0x81, 0xa2, 0x69, 's',  'i',  'g', 'n', 'a', 't',
					      'u',  'r',  'e',	0x80, 0x73, 's', 'i', 'g', 'n',
					      'i',  'n',  'g',	'_',  'c',  'e', 'r', 't', 'i',
					      'f',  'i',  'c',	'a',  't',  'e', 0x80};
	static const uint8_t big_elem[] = {0x81, 0xa2, 0x73, 's',  'i',	 'g',  'n',  'i', 'n', 'g',
					   '_',	 'c',  'e',  'r',  't',	 'i',  'f',  'i', 'c', 'a',
					   't',	 'e',  0x81, 0x19, 0x01, 0x00, 0x69, 's', 'i', 'g',
					   'n',	 'a',  't',  'u',  'r',	 'e',  0x80};
	static const uint8_t huge_array[] = {0x9b, 0, 0, 0, 1, 0, 0, 0, 0};
	uint8_t pcr0[PCR_DIGEST_LEN] = {0}, pcr8[PCR_DIGEST_LEN];
	struct eif_sig_info info;
	/* well-formed section whose certificate is garbage */
	static const uint8_t garbage_cert[] = {0x81, 0xa2, 0x73, 's', 'i',  'g',  'n',	'i',  'n',
					       'g',  '_',  'c',	 'e', 'r',  't',  'i',	'f',  'i',
					       'c',  'a',  't',	 'e', 0x81, 0x01, 0x69, 's',  'i',
					       'g',  'n',  'a',	 't', 'u',  'r',  'e',	0x81, 0x02};

	assert_int_equal(eif_signature_decode(not_cbor, sizeof(not_cbor), &sig, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "CBOR"));
	assert_int_equal(eif_signature_decode(bstr_cert, sizeof(bstr_cert), &sig, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "signing_certificate is not an array"));
	assert_int_equal(
	    eif_signature_decode(wrong_order, sizeof(wrong_order), &sig, err, sizeof(err)),
	    -EBADMSG);
	assert_non_null(strstr(err, "keys"));
	assert_int_equal(eif_signature_decode(big_elem, sizeof(big_elem), &sig, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "signing_certificate[0]"));
	assert_int_equal(
	    eif_signature_decode(huge_array, sizeof(huge_array), &sig, err, sizeof(err)), -EBADMSG);
	assert_int_equal(
	    eif_signature_decode(garbage_cert, sizeof(garbage_cert), &sig, err, sizeof(err)), 0);
	assert_int_equal(eif_signature_check(&sig, pcr0, &info, pcr8, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "not a PEM"));
	eif_signature_clear(&sig);
}

/* A signed image whose signature section bytes are replaced by non-CBOR: eif_measure fails
 * naming the section. */
static void test_measure_rejects_non_cbor(void **state)
{
	struct signer s;
	struct eif_measurements m;
	struct eif_file eif;
	bool crc_ok;
	int fd;

	make_signer(&s, "P-256", -10, 3600);
	fd = build_signed(&s, &m);
	assert_int_equal(eif_open_fd(&eif, fd), 0);
	assert_int_equal(pwrite(fd, "\xff\xff\xff", 3, (off_t)eif.sections[4].data_offset), 3);
	rewrite_crc(fd);
	assert_int_equal(eif_measure(&eif, &m, &crc_ok), -EBADMSG);
	assert_non_null(strstr(eif.error, "signature section 4 at offset"));
	assert_non_null(strstr(eif.error, "CBOR"));
	close(fd);
	free_signer(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_signed_roundtrip),
	    cmocka_unit_test(test_section_shape),
	    cmocka_unit_test(test_tampered_image),
	    cmocka_unit_test(test_swapped_cert_and_expired),
	    cmocka_unit_test(test_bad_signature_sections),
	    cmocka_unit_test(test_measure_rejects_non_cbor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
