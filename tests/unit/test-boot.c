/* Boot layout without KVM: bzImage setup-header checks, zero page and e820 of a synthetic and
 * (when one can be found) a real Debian bzImage, initrd placement, ELF64 loading bounds. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <asm/bootparam.h>
#include <cmocka.h>
#include <elf.h>

#include "vmm/boot.h"

#define MIB (1ULL << 20)

struct ram {
	uint8_t *buf;
	struct vmm_memory mem;
};

static void ram_new(struct ram *r, uint64_t size)
{
	r->buf = calloc(1, size);
	assert_non_null(r->buf);
	vmm_memory_init_buffer(&r->mem, r->buf, size);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* A bzImage header as Linux 6.x writes it, setup_sects = 1, kernel_len bytes of payload. */
static uint8_t *fake_bzimage(size_t kernel_len, size_t *len)
{
	*len = 1024 + kernel_len;
	uint8_t *img = calloc(1, *len);
	assert_non_null(img);
	img[0x1f1] = 1;
	put16(img + 0x1fe, 0xaa55);
	img[0x201] = 0x6a; /* header length: ends at 0x26c */
	put32(img + 0x202, 0x53726448);
	put16(img + 0x206, 0x020f);
	img[0x211] = 1; /* LOADED_HIGH */
	put32(img + 0x22c, 0x7fffffff);
	put32(img + 0x230, 0x200000);
	img[0x234] = 1;
	put16(img + 0x236, 0x7f);
	put32(img + 0x238, 2047);
	put64(img + 0x258, 0x1000000);
	put32(img + 0x260, 0x400000);
	for (size_t i = 0; i < kernel_len; i++)
		img[1024 + i] = (uint8_t)(i * 7 + 1);
	return img;
}

static void test_bzimage_parse(void **state)
{
	size_t len;
	uint8_t *img = fake_bzimage(4096, &len);
	struct boot_bzimage b;

	assert_int_equal(boot_bzimage_parse(img, len, &b), 0);
	assert_int_equal(b.version, 0x20f);
	assert_int_equal(b.setup_bytes, 1024);
	assert_int_equal(b.kernel_bytes, 4096);
	assert_int_equal(b.kernel_alignment, 0x200000);
	assert_int_equal(b.init_size, 0x400000);
	assert_int_equal(b.initrd_addr_max, 0x7fffffff);
	free(img);
}

static void expect_refused(void (*mutate)(uint8_t *img, size_t *len))
{
	size_t len;
	uint8_t *img = fake_bzimage(4096, &len);
	struct boot_bzimage b;

	mutate(img, &len);
	assert_int_equal(boot_bzimage_parse(img, len, &b), -ENOEXEC);
	free(img);
}

static void m_flag(uint8_t *img, size_t *len)
{
	put16(img + 0x1fe, 0x55aa);
}
static void m_magic(uint8_t *img, size_t *len)
{
	img[0x202] = 'X';
}
static void m_version(uint8_t *img, size_t *len)
{
	put16(img + 0x206, 0x020b);
}
static void m_xlf(uint8_t *img, size_t *len)
{
	put16(img + 0x236, 0x7e);
}
static void m_align(uint8_t *img, size_t *len)
{
	put32(img + 0x230, 0x300000);
}
static void m_nonreloc(uint8_t *img, size_t *len)
{
	img[0x234] = 0;
	put64(img + 0x258, 0x1234);
}
static void m_short(uint8_t *img, size_t *len)
{
	*len = 0x260;
}
static void m_setup_sects(uint8_t *img, size_t *len)
{
	img[0x1f1] = 200; /* setup longer than the file */
}
static void m_init_size(uint8_t *img, size_t *len)
{
	put32(img + 0x260, 16);
}
static void m_not_high(uint8_t *img, size_t *len)
{
	img[0x211] = 0;
}

static void test_bzimage_refused(void **state)
{
	expect_refused(m_flag);
	expect_refused(m_magic);
	expect_refused(m_version);
	expect_refused(m_xlf);
	expect_refused(m_align);
	expect_refused(m_nonreloc);
	expect_refused(m_short);
	expect_refused(m_setup_sects);
	expect_refused(m_init_size);
	expect_refused(m_not_high);
}

static void check_e820_64m(const struct boot_params *bp, uint64_t ram)
{
	assert_int_equal(bp->e820_entries, 3);
	assert_int_equal(bp->e820_table[0].addr, 0);
	assert_int_equal(bp->e820_table[0].size, 0x9fc00);
	assert_int_equal(bp->e820_table[0].type, BOOT_E820_RAM);
	assert_int_equal(bp->e820_table[1].addr, 0x9fc00);
	assert_int_equal(bp->e820_table[1].size, 0x100000 - 0x9fc00);
	assert_int_equal(bp->e820_table[1].type, BOOT_E820_RESERVED);
	assert_int_equal(bp->e820_table[2].addr, 0x100000);
	assert_int_equal(bp->e820_table[2].size, ram - 0x100000);
	assert_int_equal(bp->e820_table[2].type, BOOT_E820_RAM);
}

static void test_bzimage_zero_page(void **state)
{
	struct ram r;
	size_t len;
	uint8_t *img = fake_bzimage(8192, &len);
	const uint8_t part1[] = "first-ramdisk", part2[] = "second";
	const uint8_t *parts[] = {part1, part2};
	const size_t lens[] = {sizeof(part1) - 1, sizeof(part2) - 1};
	struct boot_info info;
	const struct boot_params *bp;

	ram_new(&r, 64 * MIB);
	assert_int_equal(boot_load(&r.mem, img, len, parts, lens, 2, "console=ttyS0 quiet", &info),
			 0);
	bp = (const struct boot_params *)(r.buf + BOOT_ZERO_PAGE);
	assert_int_equal(info.kind, BOOT_KIND_BZIMAGE);
	assert_int_equal(info.entry, 0x100200);
	assert_memory_equal(r.buf + 0x100000, img + 1024, 8192);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.version, 0x20f);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.kernel_alignment, 0x200000);
	assert_int_equal(bp->hdr.cmd_line_ptr, 0x20000);
	assert_string_equal((const char *)r.buf + 0x20000, "console=ttyS0 quiet");
	assert_int_equal(bp->hdr.ramdisk_size, lens[0] + lens[1]);
	assert_int_equal(bp->hdr.ramdisk_image % 4096, 0);
	assert_true(bp->hdr.ramdisk_image + bp->hdr.ramdisk_size <= 64 * MIB);
	assert_true(bp->hdr.ramdisk_image + bp->hdr.ramdisk_size > 64 * MIB - 4096);
	assert_memory_equal(r.buf + bp->hdr.ramdisk_image, "first-ramdisksecond", 19);
	check_e820_64m(bp, 64 * MIB);
	/* Identity map: PML4[0] -> PDPT, PD entry 1 maps 2 MiB with PS. */
	uint64_t e;
	memcpy(&e, r.buf + BOOT_PAGE_TABLES, 8);
	assert_int_equal(e & ~0xfffULL, BOOT_PAGE_TABLES + 0x1000);
	memcpy(&e, r.buf + BOOT_PAGE_TABLES + 0x2000 + 8, 8);
	assert_int_equal(e, 0x200000 | 0x83);
	free(img);
	free(r.buf);
}

static void test_bzimage_initrd_limit(void **state)
{
	struct ram r;
	size_t len;
	uint8_t *img = fake_bzimage(4096, &len);
	const uint8_t part[8192] = {1};
	const uint8_t *parts[] = {part};
	const size_t lens[] = {sizeof(part)};
	struct boot_info info;

	put32(img + 0x22c, 0x01ffffff); /* initrd_addr_max: 32 MiB - 1 */
	ram_new(&r, 64 * MIB);
	assert_int_equal(boot_load(&r.mem, img, len, parts, lens, 1, "", &info), 0);
	assert_int_equal(info.initrd_gpa, 32 * MIB - 8192);
	/* Below the kernel's footprint (1 MiB + init_size = 5 MiB): no room. */
	put32(img + 0x22c, 0x004fffff);
	assert_int_equal(boot_load(&r.mem, img, len, parts, lens, 1, "", &info), -E2BIG);
	free(img);
	free(r.buf);
}

static void test_bzimage_too_big(void **state)
{
	struct ram r;
	size_t len;
	uint8_t *img = fake_bzimage(4096, &len);
	struct boot_info info;
	char cmdline[3000];

	ram_new(&r, 4 * MIB);
	/* init_size 4 MiB from 1 MiB does not fit in 4 MiB of RAM. */
	assert_int_equal(boot_load(&r.mem, img, len, NULL, NULL, 0, "", &info), -E2BIG);
	free(r.buf);
	ram_new(&r, 64 * MIB);
	memset(cmdline, 'a', sizeof(cmdline) - 1);
	cmdline[sizeof(cmdline) - 1] = 0;
	assert_int_equal(boot_load(&r.mem, img, len, NULL, NULL, 0, cmdline, &info), -E2BIG);
	free(r.buf);
	free(img);
}

static void test_e820_high(void **state)
{
	struct vmm_memory mem = {.nr_regions = 2,
				 .regions = {{.gpa = 0, .size = VMM_MEMORY_LOW_END},
					     {.gpa = VMM_MEMORY_HIGH_BASE, .size = 1ULL << 30}}};
	struct boot_e820 e[8];

	assert_int_equal(boot_e820(&mem, e, 8), 4);
	assert_int_equal(e[2].addr, 0x100000);
	assert_int_equal(e[2].size, VMM_MEMORY_LOW_END - 0x100000);
	assert_int_equal(e[3].addr, 1ULL << 32);
	assert_int_equal(e[3].size, 1ULL << 30);
	assert_int_equal(boot_e820(&mem, e, 2), 2); /* bounded by the caller's array */
}

/* ---- ELF ---- */

struct elf_img {
	uint8_t buf[0x3000];
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
};

static void fake_elf(struct elf_img *e)
{
	memset(e->buf, 0, sizeof(e->buf));
	e->eh = (Elf64_Ehdr *)e->buf;
	e->ph = (Elf64_Phdr *)(e->buf + sizeof(Elf64_Ehdr));
	memcpy(e->eh->e_ident, ELFMAG, SELFMAG);
	e->eh->e_ident[EI_CLASS] = ELFCLASS64;
	e->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	e->eh->e_type = ET_EXEC;
	e->eh->e_machine = EM_X86_64;
	e->eh->e_entry = 0xffffffff80200010ULL; /* higher-half virtual, loaded at 2 MiB */
	e->eh->e_phoff = sizeof(Elf64_Ehdr);
	e->eh->e_phentsize = sizeof(Elf64_Phdr);
	e->eh->e_phnum = 2;
	e->ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
				.p_flags = PF_R | PF_X,
				.p_offset = 0x1000,
				.p_vaddr = 0xffffffff80200000ULL,
				.p_paddr = 0x200000,
				.p_filesz = 0x1000,
				.p_memsz = 0x1000};
	e->ph[1] = (Elf64_Phdr){.p_type = PT_LOAD,
				.p_flags = PF_R | PF_W,
				.p_offset = 0x2000,
				.p_vaddr = 0xffffffff80300000ULL,
				.p_paddr = 0x300000,
				.p_filesz = 0x800,
				.p_memsz = 0x4000};
	memset(e->buf + 0x1000, 0xcc, 0x1000);
	memset(e->buf + 0x2000, 0xdd, 0x800);
}

static void test_elf_load(void **state)
{
	struct ram r;
	struct elf_img e;
	struct boot_info info = {0};

	ram_new(&r, 8 * MIB);
	memset(r.buf + 0x300800, 0xee, 0x100); /* stale bytes where .bss goes */
	fake_elf(&e);
	assert_int_equal(boot_load_elf(&r.mem, e.buf, sizeof(e.buf), &info), 0);
	assert_int_equal(info.entry, 0x200010);
	assert_int_equal(info.kernel_end, 0x304000);
	assert_int_equal(r.buf[0x200000], 0xcc);
	assert_int_equal(r.buf[0x3007ff], 0xdd);
	assert_int_equal(r.buf[0x300800], 0); /* bss zeroed */
	assert_int_equal(boot_load(&r.mem, e.buf, sizeof(e.buf), NULL, NULL, 0, "x", &info), 0);
	assert_int_equal(info.kind, BOOT_KIND_ELF);
	const struct boot_params *bp = (const struct boot_params *)(r.buf + BOOT_ZERO_PAGE);
	assert_int_equal(bp->hdr.cmd_line_ptr, 0x20000);
	check_e820_64m(bp, 8 * MIB);
	free(r.buf);
}

static void expect_elf_refused(void (*mutate)(struct elf_img *e), size_t len)
{
	struct ram r;
	struct elf_img e;
	struct boot_info info = {0};

	ram_new(&r, 8 * MIB);
	fake_elf(&e);
	mutate(&e);
	assert_int_equal(boot_load_elf(&r.mem, e.buf, len ? len : sizeof(e.buf), &info), -ENOEXEC);
	free(r.buf);
}

static void e_low(struct elf_img *e)
{
	e->ph[1].p_paddr = 0x7000; /* over the zero page */
}
static void e_beyond_ram(struct elf_img *e)
{
	e->ph[1].p_paddr = 8 * MIB - 0x1000;
}
static void e_wrap(struct elf_img *e)
{
	e->ph[1].p_paddr = UINT64_MAX - 0x10;
}
static void e_file_range(struct elf_img *e)
{
	e->ph[0].p_filesz = 0x3000; /* lying length, past the end of the file */
	e->ph[0].p_memsz = 0x3000;
}
static void e_offset_wrap(struct elf_img *e)
{
	e->ph[0].p_offset = UINT64_MAX - 4;
}
static void e_filesz_gt_memsz(struct elf_img *e)
{
	e->ph[1].p_memsz = 0x10;
}
static void e_phnum(struct elf_img *e)
{
	e->eh->e_phnum = 0xffff;
}
static void e_phoff(struct elf_img *e)
{
	e->eh->e_phoff = 0x2ff0;
}
static void e_entry(struct elf_img *e)
{
	e->eh->e_entry = 0xffffffff80300010ULL; /* in the non-executable segment */
}
static void e_machine(struct elf_img *e)
{
	e->eh->e_machine = EM_AARCH64;
}
static void e_class(struct elf_img *e)
{
	e->eh->e_ident[EI_CLASS] = ELFCLASS32;
}
static void e_none(struct elf_img *e)
{
}

static void test_elf_refused(void **state)
{
	expect_elf_refused(e_low, 0);
	expect_elf_refused(e_beyond_ram, 0);
	expect_elf_refused(e_wrap, 0);
	expect_elf_refused(e_file_range, 0);
	expect_elf_refused(e_offset_wrap, 0);
	expect_elf_refused(e_filesz_gt_memsz, 0);
	expect_elf_refused(e_phnum, 0);
	expect_elf_refused(e_phoff, 0);
	expect_elf_refused(e_entry, 0);
	expect_elf_refused(e_machine, 0);
	expect_elf_refused(e_class, 0);
	expect_elf_refused(e_none, 40); /* truncated header */
}

static void test_neither(void **state)
{
	struct ram r;
	struct boot_info info;
	const uint8_t junk[64] = "MZ not a kernel";

	ram_new(&r, 4 * MIB);
	assert_int_equal(boot_load(&r.mem, junk, sizeof(junk), NULL, NULL, 0, "", &info), -ENOEXEC);
	free(r.buf);
}

/* ---- a real bzImage, when this machine has one ---- */

static char *find_real_bzimage(char *tmpdir)
{
	const char *env = getenv("VMM_TEST_BZIMAGE");
	char cmd[1024];
	char *path = malloc(512);

	assert_non_null(path);
	if (env && *env) {
		snprintf(path, 512, "%s", env);
		return path;
	}
	/* /boot, else a Debian kernel package fetched earlier with
	 * `apt-get download linux-image-<version>-cloud-amd64` into /var/cache/enclaved-test. */
	snprintf(cmd, sizeof(cmd),
		 "f=$(ls /boot/vmlinuz-* 2>/dev/null | head -1); if [ -n \"$f\" ]; then echo $f; "
		 "exit; fi; d=$(ls /var/cache/enclaved-test/linux-image-*.deb "
		 "/var/cache/apt/archives/linux-image-*-amd64_*.deb 2>/dev/null | head -1); "
		 "[ -n \"$d\" ] || exit 0; dpkg-deb --fsys-tarfile \"$d\" | tar -x -C %s "
		 "--wildcards './boot/vmlinuz-*' 2>/dev/null && ls %s/boot/vmlinuz-* | head -1",
		 tmpdir, tmpdir);
	FILE *p = popen(cmd, "r");
	if (!p || !fgets(path, 512, p)) {
		if (p)
			pclose(p);
		free(path);
		return NULL;
	}
	pclose(p);
	path[strcspn(path, "\n")] = 0;
	return path;
}

static void test_real_bzimage(void **state)
{
	char tmpdir[] = "/tmp/test-boot.XXXXXX", cmd[256];
	char *path;
	FILE *f;
	uint8_t *img;
	long len;
	struct ram r;
	struct boot_bzimage b;
	struct boot_info info;
	const uint8_t initrd[4096] = {0x30, 0x37, 0x30, 0x37};
	const uint8_t *parts[] = {initrd};
	const size_t lens[] = {sizeof(initrd)};

	assert_non_null(mkdtemp(tmpdir));
	path = find_real_bzimage(tmpdir);
	if (!path) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		assert_int_equal(system(cmd), 0);
		print_message("no bzImage in /boot, $VMM_TEST_BZIMAGE or a cached linux-image "
			      "package: skipped\n");
		skip();
	}
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	img = malloc((size_t)len);
	assert_non_null(img);
	assert_int_equal(fread(img, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	print_message("real bzImage: %s (%ld bytes)\n", path, len);

	assert_int_equal(boot_bzimage_parse(img, (size_t)len, &b), 0);
	assert_true(b.version >= 0x20c);
	assert_true(b.xloadflags & 1);
	ram_new(&r, 256 * MIB);
	assert_int_equal(boot_load(&r.mem, img, (size_t)len, parts, lens, 1,
				   "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5", &info),
			 0);
	const struct boot_params *bp = (const struct boot_params *)(r.buf + BOOT_ZERO_PAGE);
	assert_int_equal(info.entry, 0x100200);
	assert_memory_equal(r.buf + 0x100000, img + b.setup_bytes, 4096);
	assert_int_equal(bp->hdr.version, b.version);
	assert_int_equal(bp->hdr.init_size, b.init_size);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.cmd_line_ptr, 0x20000);
	assert_int_equal(bp->hdr.ramdisk_size, 4096);
	assert_true(bp->hdr.ramdisk_image + 4096 <= (uint64_t)b.initrd_addr_max + 1);
	assert_true(bp->hdr.ramdisk_image >= 0x100000 + b.init_size);
	check_e820_64m(bp, 256 * MIB);
	free(r.buf);
	free(img);
	free(path);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bzimage_parse),     cmocka_unit_test(test_bzimage_refused),
	    cmocka_unit_test(test_bzimage_zero_page), cmocka_unit_test(test_bzimage_initrd_limit),
	    cmocka_unit_test(test_bzimage_too_big),   cmocka_unit_test(test_e820_high),
	    cmocka_unit_test(test_elf_load),	      cmocka_unit_test(test_elf_refused),
	    cmocka_unit_test(test_neither),	      cmocka_unit_test(test_real_bzimage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
