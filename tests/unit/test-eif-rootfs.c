/* Ramdisk building blocks: newc cpio bytes, archive path normalisation, layer/whiteout tree
 * operations, and a ramdisk built from a real temporary directory. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/util.h"
#include "image/cpio.h"
#include "image/rootfs.h"
#include "image/rootfs_internal.h"

static uint8_t *slurp(int fd, size_t *len)
{
	struct stat st;
	uint8_t *buf;

	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	*len = (size_t)st.st_size;
	return buf;
}

static void test_cpio_bytes(void **state)
{
	int fd = memfd_create("cpio", MFD_CLOEXEC);
	struct cpio_writer w;
	uint8_t *buf;
	size_t len;
	static const char want[] =
	    "070701"
	    "00000001000081A4000000000000000000000001000000000000000300000000"
	    "000000000000000000000000000000040000000000"
	    "cmd\0"
	    "abc\0";

	cpio_init(&w, fd);
	assert_int_equal(cpio_add_file(&w, "cmd", 0644, 0, 0, "abc", 3), 0);
	assert_int_equal(cpio_finish(&w), 0);
	buf = slurp(fd, &len);
	/* 110-byte header + "cmd\0" = 114, padded to 116; data 3 padded to 4 */
	assert_memory_equal(buf, want, 110);
	assert_memory_equal(buf + 110, "cmd\0\0\0abc\0", 10);
	assert_memory_equal(buf + 120, "070701", 6);
	assert_memory_equal(buf + 120 + 110, "TRAILER!!!", 11);
	assert_int_equal(len % 4, 0);
	free(buf);
	close(fd);
}

static void test_normalize(void **state)
{
	char a[] = "./a//b/./c/", b[] = "../x", c[] = "a/../b", d[] = "/", e[] = "usr/bin/..";

	assert_int_equal(rtree_normalize(a), 0);
	assert_string_equal(a, "a/b/c");
	assert_int_equal(rtree_normalize(b), -EINVAL);
	assert_int_equal(rtree_normalize(c), -EINVAL);
	assert_int_equal(rtree_normalize(d), 0);
	assert_string_equal(d, "");
	assert_int_equal(rtree_normalize(e), -EINVAL);
}

static void test_tree_layers(void **state)
{
	struct rtree t;
	struct rnode *n;

	rtree_init(&t);
	assert_int_equal(rtree_put(&t, "etc/conf.d/a", S_IFREG | 0644, 1, &n), 0);
	assert_int_equal(rtree_put(&t, "etc/conf.d/b", S_IFREG | 0644, 1, &n), 0);
	assert_int_equal(rtree_put(&t, "etc/passwd", S_IFREG | 0644, 1, &n), 0);
	assert_true(S_ISDIR(rtree_lookup(&t, "etc/conf.d")->mode));
	/* layer 2: opaque etc/conf.d, then a new file in it */
	assert_int_equal(rtree_put(&t, "etc/conf.d/c", S_IFREG | 0644, 2, &n), 0);
	rtree_clear_lower(&t, "etc/conf.d", 2);
	assert_null(rtree_lookup(&t, "etc/conf.d/a"));
	assert_null(rtree_lookup(&t, "etc/conf.d/b"));
	assert_non_null(rtree_lookup(&t, "etc/conf.d/c"));
	rtree_remove(&t, "etc/passwd");
	assert_null(rtree_lookup(&t, "etc/passwd"));
	/* a file replaced by a directory, and a directory by a symlink */
	assert_int_equal(rtree_put(&t, "etc/conf.d/c/x", S_IFREG | 0600, 3, &n), 0);
	assert_true(S_ISDIR(rtree_lookup(&t, "etc/conf.d/c")->mode));
	assert_int_equal(rtree_put(&t, "etc", S_IFLNK | 0777, 3, &n), 0);
	assert_null(rtree_lookup(&t, "etc/conf.d"));
	assert_int_equal(t.n_entries, 1);
	rtree_free(&t);
}

static void test_ramdisk_from_dir(void **state)
{
	char dir[] = "/tmp/eif-rootfs.XXXXXX", path[256];
	const char *cmd[] = {"/bin/app", "--x"}, *env[] = {"A=1"};
	struct rootfs_opts o = {.cmd = cmd, .n_cmd = 2, .env = env, .n_env = 1};
	int fd = memfd_create("rd", MFD_CLOEXEC);
	char err[256] = "", *cfg = NULL;
	uint8_t *buf;
	size_t len;

	assert_non_null(mkdtemp(dir));
	o.dir = dir;
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/file", dir);
	assert_int_equal(util_write_file_atomic(path, "data", 4, 0640), 0);
	assert_int_equal(rootfs_build_ramdisk(&o, fd, &cfg, err, sizeof(err)), 0);
	assert_null(cfg);
	buf = slurp(fd, &len);
	buf[len] = 0;
	assert_non_null(memmem(buf, len, "cmd\0", 4));
	assert_non_null(memmem(buf, len, "/bin/app\n--x\n", 13));
	assert_non_null(memmem(buf, len, "A=1\n", 4));
	assert_non_null(memmem(buf, len, "rootfs/sub/file\0", 16));
	assert_non_null(memmem(buf, len, "data", 4));
	assert_non_null(memmem(buf, len, "TRAILER!!!", 10));
	free(buf);
	/* a missing directory names itself */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(rootfs_build_ramdisk(&o, fd, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, dir));
	/* both sources at once */
	o.oci_archive = "x.tar";
	assert_int_equal(rootfs_build_ramdisk(&o, fd, NULL, err, sizeof(err)), -EINVAL);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpio_bytes),
	    cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_tree_layers),
	    cmocka_unit_test(test_ramdisk_from_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
