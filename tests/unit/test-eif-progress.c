/* The EIF writer's and measurement's progress callback: done rises to exactly total (the
 * input bytes when writing, the section bytes when measuring), the measurements are those
 * of a run without a callback, and a callback-less run still works. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "common/util.h"
#include "image/eif.h"

#define KERNEL_SIZE  (3 * 1024 * 1024 + 17) /* several 1 MiB chunks and a short one */
#define RAMDISK_SIZE (2 * 1024 * 1024 + 5)

struct calls {
	unsigned n;
	uint64_t last_done, total;
	bool went_back, total_changed;
};

static void record(void *opaque, uint64_t done, uint64_t total)
{
	struct calls *c = opaque;

	if (c->n > 0 && (done < c->last_done))
		c->went_back = true;
	if (c->n > 0 && total != c->total)
		c->total_changed = true;
	c->n++;
	c->last_done = done;
	c->total = total;
}

static int memfd_of_size(size_t size, uint8_t fill)
{
	_cleanup_free_ uint8_t *buf = malloc(size);
	int fd = memfd_create("eif-progress", MFD_CLOEXEC);

	assert_non_null(buf);
	assert_true(fd >= 0);
	memset(buf, fill, size);
	assert_int_equal(util_write_full(fd, buf, size), 0);
	return fd;
}

static int write_image(struct calls *c, struct eif_measurements *m)
{
	int kfd = memfd_of_size(KERNEL_SIZE, 0x4b);
	int rfd = memfd_of_size(RAMDISK_SIZE, 0x52);
	int out = memfd_create("eif-out", MFD_CLOEXEC);
	struct eif_build in = {.kernel_fd = kfd,
			       .cmdline = "console=ttyS0",
			       .ramdisk_fds = &rfd,
			       .n_ramdisks = 1,
			       .metadata = "{}",
			       .progress = c ? record : NULL,
			       .progress_opaque = c};
	char err[256] = "";

	assert_true(out >= 0);
	assert_int_equal(eif_write(&in, out, m, err, sizeof(err)), 0);
	close(kfd);
	close(rfd);
	return out;
}

static void test_write_progress(void **state)
{
	struct calls c = {0};
	struct eif_measurements with, without;
	int a = write_image(&c, &with), b = write_image(NULL, &without);

	assert_true(c.n >= 6); /* 4 kernel chunks + 3 ramdisk chunks */
	assert_false(c.went_back);
	assert_false(c.total_changed);
	assert_int_equal(c.total, (uint64_t)KERNEL_SIZE + RAMDISK_SIZE);
	assert_int_equal(c.last_done, c.total);
	assert_memory_equal(&with, &without, sizeof(with));
	close(a);
	close(b);
}

static void test_measure_progress(void **state)
{
	struct calls c = {0};
	struct eif_measurements wm, rm, plain;
	struct eif_file eif;
	uint64_t sections = 0;
	bool crc_ok = false;
	int fd = write_image(NULL, &wm);

	assert_int_equal(eif_open_fd(&eif, fd), 0);
	for (unsigned i = 0; i < eif.n_sections; i++)
		sections += eif.sections[i].size;
	assert_int_equal(eif_measure_progress(&eif, &rm, &crc_ok, record, &c), 0);
	assert_true(crc_ok);
	assert_false(c.went_back);
	assert_false(c.total_changed);
	assert_int_equal(c.total, sections);
	assert_int_equal(c.last_done, sections);
	assert_memory_equal(rm.pcr0, wm.pcr0, sizeof(rm.pcr0));
	assert_int_equal(eif_measure_progress(&eif, &plain, &crc_ok, NULL, NULL), 0);
	assert_memory_equal(&plain, &rm, sizeof(plain));
	eif_close(&eif);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_progress),
	    cmocka_unit_test(test_measure_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
