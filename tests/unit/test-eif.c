/* EIF: write/read round trip, layout bytes, CRC and PCR values computed independently, and
 * each malformed-image case giving a clear error. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "attest/pcr.h"
#include "common/util.h"
#include "image/eif.h"

static const char kernel[] = "KERNEL-IMAGE-BYTES";
static const char cmdline[] = "console=ttyS0 reboot=k";
static const char rd1[] = "bootstrap-ramdisk";
static const char rd2[] = "customer-ramdisk-contents";
static const char meta[] = "{\"ImageName\":\"t\"}";

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("eif-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(util_write_full(fd, data, len), 0);
	return fd;
}

static int build(unsigned n_ramdisks, struct eif_measurements *m)
{
	int kfd = memfd_with(kernel, strlen(kernel));
	int rfds[2] = {memfd_with(rd1, strlen(rd1)), memfd_with(rd2, strlen(rd2))};
	int out = memfd_create("eif-out", MFD_CLOEXEC);
	struct eif_build in = {.kernel_fd = kfd,
			       .cmdline = cmdline,
			       .ramdisk_fds = rfds,
			       .n_ramdisks = n_ramdisks,
			       .metadata = meta};
	char err[256] = "";

	assert_true(out >= 0);
	assert_int_equal(eif_write(&in, out, m, err, sizeof(err)), 0);
	close(kfd);
	close(rfds[0]);
	close(rfds[1]);
	return out;
}

static uint8_t *slurp(int fd, size_t *len)
{
	struct stat st;
	uint8_t *buf;

	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	*len = (size_t)st.st_size;
	return buf;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void fix_crc(uint8_t *buf, size_t len)
{
	uLong crc = crc32(0L, buf, 544);
	crc = crc32(crc, buf + 548, (uInt)(len - 548));
	put_be(buf + 544, crc, 4);
}

/* Open a mutated copy; returns eif_open_fd's result, error text in err. */
static int open_bytes(const uint8_t *buf, size_t len, struct eif_file *eif)
{
	int fd = memfd_with(buf, len);
	int r = eif_open_fd(eif, fd);

	eif->owns_fd = true;
	return r;
}

static void test_layout(void **state)
{
	struct eif_measurements m;
	int fd = build(2, &m);
	size_t len;
	uint8_t *buf = slurp(fd, &len);
	uint64_t off = 548;

	assert_memory_equal(buf, ".eif", 4);
	assert_int_equal(buf[4] << 8 | buf[5], 4);
	assert_int_equal(buf[6] << 8 | buf[7], 0);
	assert_int_equal(be64(buf + 8), 1ULL << 30);
	assert_int_equal(be64(buf + 16), 2);
	assert_int_equal(buf[26] << 8 | buf[27], 5);
	/* kernel, cmdline (no NUL), metadata, ramdisks, back to back */
	const char *datas[] = {kernel, cmdline, meta, rd1, rd2};
	const int types[] = {1, 2, 5, 3, 3};
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(datas[i]);
		assert_int_equal(be64(buf + 28 + 8 * i), off);
		assert_int_equal(be64(buf + 284 + 8 * i), n);
		assert_int_equal(buf[off] << 8 | buf[off + 1], types[i]);
		assert_int_equal(be64(buf + off + 4), n);
		assert_memory_equal(buf + off + 12, datas[i], n);
		off += 12 + n;
	}
	assert_int_equal(off, len);
	/* CRC over [0,544) then everything after the header */
	uLong crc = crc32(0L, buf, 544);
	crc = crc32(crc, buf + 548, (uInt)(len - 548));
	assert_int_equal((uint32_t)buf[544] << 24 | (uint32_t)buf[545] << 16 | buf[546] << 8 |
			     buf[547],
			 crc & 0xffffffffu);
	free(buf);
	close(fd);
}

static void test_roundtrip_measure(void **state)
{
	struct eif_measurements wm, rm;
	struct eif_file eif;
	int fd = build(2, &wm);
	uint8_t want[PCR_DIGEST_LEN];
	char cat[256];
	uint8_t *data = NULL;
	size_t n = 0;
	bool crc_ok = false;

	assert_int_equal(eif_open_fd(&eif, fd), 0);
	assert_int_equal(eif.n_sections, 5);
	assert_int_equal(eif.n_ramdisks, 2);
	assert_int_equal(eif.kernel, 0);
	assert_int_equal(eif.cmdline, 1);
	assert_int_equal(eif.metadata, 2);
	assert_int_equal(eif.signature, -1);
	assert_int_equal(eif_measure(&eif, &rm, &crc_ok), 0);
	assert_true(crc_ok);
	assert_memory_equal(&wm, &rm, sizeof(wm));

	snprintf(cat, sizeof(cat), "%s%s%s%s", kernel, cmdline, rd1, rd2);
	assert_int_equal(pcr_measure(cat, strlen(cat), want), 0);
	assert_memory_equal(rm.pcr0, want, PCR_DIGEST_LEN);
	snprintf(cat, sizeof(cat), "%s%s%s", kernel, cmdline, rd1);
	assert_int_equal(pcr_measure(cat, strlen(cat), want), 0);
	assert_memory_equal(rm.pcr1, want, PCR_DIGEST_LEN);
	assert_int_equal(pcr_measure(rd2, strlen(rd2), want), 0);
	assert_memory_equal(rm.pcr2, want, PCR_DIGEST_LEN);

	assert_int_equal(eif_section_read_all(&eif, 1, EIF_MAX_CMDLINE, &data, &n), 0);
	assert_string_equal((char *)data, cmdline);
	free(data);
	assert_int_equal(eif_section_read_all(&eif, 0, 4, &data, &n), -EFBIG);
	assert_int_equal(eif_section_pread(&eif, 0, 10, cat, 100), -ERANGE);
	assert_int_equal(eif_section_pread(&eif, 9, 0, cat, 1), -EINVAL);
	eif_close(&eif);
	close(fd);
}

static void test_pcr2_vector_one_ramdisk(void **state)
{
	struct eif_measurements m;
	char hex[PCR_HEX_LEN + 1];
	int fd = build(1, &m);

	util_hex_encode(m.pcr2, PCR_DIGEST_LEN, hex);
	assert_string_equal(hex, "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c"
				 "10edb30948c90ba67310f7b964fc500a");
	close(fd);
}

static void test_reproducible(void **state)
{
	struct eif_measurements m;
	int a = build(2, &m), b = build(2, &m);
	size_t la, lb;
	uint8_t *ba = slurp(a, &la), *bb = slurp(b, &lb);

	assert_int_equal(la, lb);
	assert_memory_equal(ba, bb, la);
	free(ba);
	free(bb);
	close(a);
	close(b);
}

/* Mutate a good image and expect eif_open_fd to fail with text containing want. */
static void expect_open_error(const uint8_t *buf, size_t len, int code, const char *want)
{
	struct eif_file eif;
	int r = open_bytes(buf, len, &eif);

	if (r != code || !strstr(eif.error, want))
		fail_msg("got %d '%s', expected %d containing '%s'", r, eif.error, code, want);
	eif_close(&eif);
}

static void test_bad_headers(void **state)
{
	struct eif_measurements m;
	int fd = build(2, &m);
	size_t len;
	uint8_t *good = slurp(fd, &len), *buf = malloc(len + 64);

	assert_non_null(buf);
#define RESET() memcpy(buf, good, len)
	RESET();
	expect_open_error(buf, 100, -EBADMSG, "truncated: file is 100 bytes");
	expect_open_error(buf, 0, -EBADMSG, "truncated");
	buf[1] = 'E';
	expect_open_error(buf, len, -EBADMSG, "magic at offset 0 is 2e456966");
	RESET();
	put_be(buf + 4, 5, 2);
	expect_open_error(buf, len, -EBADMSG, "version at offset 4 is 5");
	RESET();
	put_be(buf + 4, 0, 2);
	expect_open_error(buf, len, -EBADMSG, "version at offset 4 is 0");
	RESET();
	put_be(buf + 6, 2, 2);
	expect_open_error(buf, len, -EBADMSG, "flags at offset 6 is 0x2");
	RESET();
	put_be(buf + 26, 33, 2);
	expect_open_error(buf, len, -EBADMSG, "num_sections at offset 26 is 33");
	RESET();
	put_be(buf + 26, 0, 2);
	expect_open_error(buf, len, -EBADMSG, "num_sections at offset 26 is 0");
	RESET();
	put_be(buf + 26, 4, 2);
	expect_open_error(buf, len, -EBADMSG, "nonzero beyond num_sections");
	RESET();
	/* section past EOF: last ramdisk claims more data than the file holds */
	put_be(buf + 284 + 8 * 4, 1000, 8);
	put_be(buf + be64(buf + 28 + 8 * 4) + 4, 1000, 8);
	expect_open_error(buf, len, -EBADMSG, "runs past end of file");
	RESET();
	/* section header offset past EOF */
	put_be(buf + 28 + 8 * 4, len + 10, 8);
	expect_open_error(buf, len, -EBADMSG, "section_offsets[4] at offset 60");
	RESET();
	/* header size disagrees with table */
	put_be(buf + be64(buf + 28) + 4, 3, 8);
	expect_open_error(buf, len, -EBADMSG, "section_size 3 differs from section_sizes[0]");
	RESET();
	put_be(buf + be64(buf + 28) + 2, 1, 2);
	expect_open_error(buf, len, -EBADMSG, "flags is 0x1");
	RESET();
	put_be(buf + be64(buf + 28), 9, 2);
	expect_open_error(buf, len, -EBADMSG, "section_type 9 is not valid");
	RESET();
	put_be(buf + be64(buf + 28 + 8), 1, 2); /* cmdline becomes a second kernel */
	expect_open_error(buf, len, -EBADMSG, "second kernel section");
	RESET();
	put_be(buf + 4, 3, 2); /* metadata in a v3 image */
	expect_open_error(buf, len, -EBADMSG, "metadata in a version 3 image");
	RESET();
	expect_open_error(buf, len + 5, -EBADMSG, "5 trailing bytes");
	RESET();
	/* both ramdisks turned into metadata-free images lose their ramdisk: retype to kernel */
	put_be(buf + be64(buf + 28 + 8 * 3), 5, 2);
	expect_open_error(buf, len, -EBADMSG, "second metadata section");
	RESET();
	/* overlap: second section's offset points into the kernel */
	put_be(buf + 28 + 8, 560, 8);
	expect_open_error(buf, len, -EBADMSG, "overlaps the previous section");
#undef RESET
	free(buf);
	free(good);
	close(fd);
}

static void test_crc_mismatch(void **state)
{
	struct eif_measurements m;
	struct eif_file eif;
	int fd = build(2, &m);
	size_t len;
	uint8_t *buf = slurp(fd, &len);
	bool crc_ok = true;

	buf[len - 1] ^= 0xff;
	assert_int_equal(open_bytes(buf, len, &eif), 0);
	assert_int_equal(eif_measure(&eif, &m, &crc_ok), 0);
	assert_false(crc_ok);
	eif_close(&eif);
	fix_crc(buf, len);
	assert_int_equal(open_bytes(buf, len, &eif), 0);
	assert_int_equal(eif_measure(&eif, &m, &crc_ok), 0);
	assert_true(crc_ok);
	eif_close(&eif);
	free(buf);
	close(fd);
}

/* 33 sections do not fit; also the writer refuses more than 32 */
static void test_too_many_ramdisks(void **state)
{
	int kfd = memfd_with(kernel, strlen(kernel));
	int rfds[31];
	int out = memfd_create("eif-out", MFD_CLOEXEC);
	struct eif_measurements m;
	struct eif_build in = {.kernel_fd = kfd,
			       .cmdline = cmdline,
			       .ramdisk_fds = rfds,
			       .n_ramdisks = 29,
			       .metadata = meta};
	struct eif_file eif;
	char err[256] = "";
	bool crc_ok;

	for (int i = 0; i < 31; i++)
		rfds[i] = memfd_with(rd1, strlen(rd1));
	assert_int_equal(eif_write(&in, out, &m, err, sizeof(err)), 0);
	assert_int_equal(eif_open_fd(&eif, out), 0);
	assert_int_equal(eif.n_sections, 32);
	assert_int_equal(eif_measure(&eif, &m, &crc_ok), 0);
	assert_true(crc_ok);
	eif_close(&eif);
	assert_int_equal(ftruncate(out, 0), 0);
	in.n_ramdisks = 30;
	assert_int_equal(eif_write(&in, out, &m, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "more than 32 sections"));
	for (int i = 0; i < 31; i++)
		close(rfds[i]);
	close(kfd);
	close(out);
}

/* eif_snapshot: a sealed copy that keeps the bytes of the moment, whatever happens to the
 * file afterwards, and refuses to be changed itself. */
static void test_snapshot(void **state)
{
	int fd = memfd_create("test-eif-file", MFD_CLOEXEC), copy = -1, seals;
	size_t size = (3u << 20) + 123;
	uint8_t *data = malloc(size), *back = malloc(size);

	assert_true(fd >= 0);
	assert_non_null(data);
	assert_non_null(back);
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(util_write_full(fd, data, size), 0);
	assert_int_equal(eif_snapshot(fd, size, &copy), 0);
	/* The original changes and grows; the copy does not. */
	assert_int_equal(pwrite(fd, "XXXX", 4, 1000), 4);
	assert_int_equal(pwrite(fd, "tail", 4, (off_t)size), 4);
	assert_int_equal(pread(copy, back, size, 0), (ssize_t)size);
	assert_memory_equal(back, data, size);
	assert_int_equal(pread(copy, back, 16, (off_t)size), 0);
	/* Sealed: no write, no growth, no shrinking, no unsealing. */
	seals = fcntl(copy, F_GET_SEALS);
	assert_int_equal(seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
			 F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	assert_int_equal(pwrite(copy, "Y", 1, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(copy, 10), -1);
	assert_int_equal(lseek(copy, 0, SEEK_CUR), 0);
	assert_true(fcntl(copy, F_GETFD) & FD_CLOEXEC);
	close(copy);
	/* A file shorter than the size asked for. */
	assert_int_equal(eif_snapshot(fd, size + 100, &copy), -ENODATA);
	assert_int_equal(eif_snapshot(-1, 10, &copy), -EBADF);
	close(fd);
	free(data);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_roundtrip_measure),
	    cmocka_unit_test(test_pcr2_vector_one_ramdisk),
	    cmocka_unit_test(test_reproducible),
	    cmocka_unit_test(test_bad_headers),
	    cmocka_unit_test(test_crc_mismatch),
	    cmocka_unit_test(test_too_many_ramdisks),
	    cmocka_unit_test(test_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
