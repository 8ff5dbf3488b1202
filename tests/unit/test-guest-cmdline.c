/* The sample enclave's command-line parser (guest/cmdline.c), built for the host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "guest/cmdline.h"

static size_t parse(const char *s, struct cmdline_device *out, size_t max, size_t *rejected)
{
	return cmdline_parse_devices(s, strlen(s) + 1, out, max, rejected);
}

static void test_vmm_entries(void **state)
{
	struct cmdline_device d[4];
	size_t bad = 99;
	size_t n = parse("console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 quiet "
			 "virtio_mmio.device=4K@0xd0001000:6",
			 d, 4, &bad);
	assert_int_equal(n, 2);
	assert_int_equal(bad, 0);
	assert_int_equal(d[0].addr, 0xd0000000);
	assert_int_equal(d[0].size, 4096);
	assert_int_equal(d[0].gsi, 5);
	assert_int_equal(d[1].addr, 0xd0001000);
	assert_int_equal(d[1].gsi, 6);
}

static void test_qemu_style_entry(void **state)
{
	struct cmdline_device d[1];
	size_t bad;
	assert_int_equal(parse("virtio_mmio.device=512@0xfeb00e00:12", d, 1, &bad), 1);
	assert_int_equal(d[0].size, 512);
	assert_int_equal(d[0].addr, 0xfeb00e00);
	assert_int_equal(d[0].gsi, 12);
}

static void test_hostile_entries(void **state)
{
	static const char *bad_lines[] = {
	    "virtio_mmio.device=4K@0x100000000:5",		     /* beyond the identity map */
	    "virtio_mmio.device=4K@0xfffff800:5",		     /* wraps past 4 GiB */
	    "virtio_mmio.device=4K@0xd0000000:24",		     /* no such IOAPIC pin */
	    "virtio_mmio.device=4K@0xd0000000",			     /* no GSI */
	    "virtio_mmio.device=4K@:5",				     /* no address */
	    "virtio_mmio.device=@0xd0000000:5",			     /* no size */
	    "virtio_mmio.device=4K@0xd0000000:5x",		     /* trailing junk */
	    "virtio_mmio.device=99999999999999999999K@0xd0000000:5", /* overflow */
	    "virtio_mmio.device=16@0xd0000000:5", /* smaller than the register file */
	};
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		struct cmdline_device d[1];
		size_t bad = 0;
		assert_int_equal(parse(bad_lines[i], d, 1, &bad), 0);
		assert_int_equal(bad, 1);
	}
}

static void test_limits(void **state)
{
	struct cmdline_device d[1];
	size_t bad = 0;
	/* More entries than room: the extra one is counted, not written. */
	assert_int_equal(
	    parse("virtio_mmio.device=4K@0x1000:1 virtio_mmio.device=4K@0x2000:2", d, 1, &bad), 1);
	assert_int_equal(bad, 1);
	/* The length bound is honoured even without a NUL. */
	char buf[64];
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "virtio_mmio.device=4K@0x1000:1", 30);
	assert_int_equal(cmdline_parse_devices(buf, 20, d, 1, &bad), 0);
	assert_int_equal(cmdline_parse_devices("", 1, d, 1, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vmm_entries),
	    cmocka_unit_test(test_qemu_style_entry),
	    cmocka_unit_test(test_hostile_entries),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
