/* CONNECT line parser, OK formatting, host port allocator, socket file ownership. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/vsock_bridge.h"

static int parse(const char *s, uint32_t *port)
{
	return vsock_bridge_parse_connect(s, strlen(s), port);
}

static void test_parse_ok(void **state)
{
	uint32_t port = 0;

	assert_int_equal(parse("CONNECT 5000\n", &port), 0);
	assert_int_equal(port, 5000);
	assert_int_equal(parse("connect 52\n", &port), 0);
	assert_int_equal(port, 52);
	assert_int_equal(parse("CoNnEcT 4294967295\n", &port), 0);
	assert_int_equal(port, UINT32_MAX);
	assert_int_equal(parse("CONNECT 0\n", &port), 0);
	assert_int_equal(port, 0);
}

static void test_parse_bad(void **state)
{
	uint32_t port = 7;
	static const char *const bad[] = {
	    "CONNECT 5000",	    /* no newline */
	    "CONNECT \n",	    /* no port */
	    "CONNECT -1\n",	    /* sign */
	    "CONNECT +1\n",	    /* sign */
	    "CONNECT 4294967296\n", /* overflow */
	    "CONNECT 99999999999999999999\n",
	    "CONNECT 12a\n",
	    "CONNECT  12\n", /* two spaces */
	    "CONNECT 12 \n",
	    "CONNECTX 12\n",
	    "CONNEC 12\n",
	    "LISTEN 12\n",
	    "\n",
	    "",
	    "CONNECT 12\r\n",
	    "CONNECT 0000000000000000000000001\n", /* 34 bytes: over the line limit */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &port), -EINVAL);
		assert_int_equal(port, 7);
	}
	/* An embedded NUL is not a digit. */
	assert_int_equal(vsock_bridge_parse_connect("CONNECT 1\0002\n", 12, &port), -EINVAL);
}

static void test_format_ok(void **state)
{
	char buf[32];

	assert_int_equal(vsock_bridge_format_ok(1u << 30, buf, sizeof(buf)), 14);
	assert_string_equal(buf, "OK 1073741824\n");
	assert_int_equal(vsock_bridge_format_ok(1u << 30, buf, 5), -ENOBUFS);
}

static void test_port_alloc(void **state)
{
	struct vsock_port_alloc a;

	vsock_port_alloc_init(&a);
	assert_int_equal(vsock_port_alloc_next(&a), 1u << 30);
	assert_int_equal(vsock_port_alloc_next(&a), (1u << 30) + 1);
	a.next = VSOCK_HOST_PORT_END - 1;
	assert_int_equal(vsock_port_alloc_next(&a), VSOCK_HOST_PORT_END - 1);
	assert_int_equal(vsock_port_alloc_next(&a), VSOCK_HOST_PORT_FIRST);
	a.next = 17; /* corrupted: back into the range */
	assert_int_equal(vsock_port_alloc_next(&a), VSOCK_HOST_PORT_FIRST);
}

static void test_listen_mode_owner(void **state)
{
	char dir[] = "/tmp/test-vsock-bridge.XXXXXX";
	char path[256];
	struct stat st;
	int fd = -1;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(vsock_bridge_listen(dir, (uid_t)-1, (gid_t)-1, 0600, &fd), 0);
	snprintf(path, sizeof(path), "%s/vsock.sock", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
	if (geteuid() == 0) {
		/* Replaces the stale file; owned by the enclave's owner, group may connect. */
		assert_int_equal(vsock_bridge_listen(dir, 65534, 65534, 0660, &fd), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_uid, 65534);
		assert_int_equal(st.st_gid, 65534);
		assert_int_equal(st.st_mode & 07777, 0660);
		close(fd);
	}
	/* Other bits are never granted. */
	assert_int_equal(vsock_bridge_listen(dir, (uid_t)-1, (gid_t)-1, 0777, &fd), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	close(fd);
	unlink(path);
	assert_int_equal(vsock_bridge_connect_port(dir, 5, &fd), -ENOENT);
	rmdir(dir);
}

static void test_path_too_long(void **state)
{
	char dir[200];
	char buf[108];

	memset(dir, 'a', sizeof(dir) - 1);
	dir[sizeof(dir) - 1] = 0;
	assert_int_equal(vsock_bridge_path(dir, 5, buf, sizeof(buf)), -ENAMETOOLONG);
	assert_int_equal(vsock_bridge_path("/run/x", 5, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/x/vsock.sock_5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),	      cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_format_ok),	      cmocka_unit_test(test_port_alloc),
	    cmocka_unit_test(test_listen_mode_owner), cmocka_unit_test(test_path_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
