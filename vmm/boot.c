#include "config.h"

#include "vmm/boot.h"

#include "common/log.h"
#include "common/util.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

#define HDR_MAGIC	 0x53726448u /* "HdrS" */
#define XLF_KERNEL_64_F	 0x1u
#define BOOT_LOADED_HIGH 0x1u
#define PAGE_SIZE_4K	 0x1000ULL
#define ELF_MAX_PHDRS	 64u

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int bad(const char *what, unsigned long long v)
{
	log_error("bzImage: %s (0x%llx)", what, v);
	return -ENOEXEC;
}

int boot_bzimage_parse(const uint8_t *img, size_t len, struct boot_bzimage *out)
{
	struct boot_bzimage b = {0};

	if (len < 0x270)
		return bad("file shorter than the setup header", len);
	if (le16(img + 0x1fe) != 0xaa55)
		return bad("boot_flag is not 0xaa55", le16(img + 0x1fe));
	if (le32(img + 0x202) != HDR_MAGIC)
		return bad("header magic is not HdrS", le32(img + 0x202));
	b.version = le16(img + 0x206);
	if (b.version < 0x20c)
		return bad("boot protocol older than 2.12 (no 64-bit entry)", b.version);
	b.setup_sects = img[0x1f1] ? img[0x1f1] : 4;
	b.setup_bytes = (b.setup_sects + 1u) * 512u;
	if (b.setup_bytes >= len)
		return bad("setup_sects leaves no kernel", b.setup_sects);
	b.kernel_bytes = len - b.setup_bytes;
	if (!(img[0x211] & BOOT_LOADED_HIGH))
		return bad("kernel is not LOADED_HIGH", img[0x211]);
	b.initrd_addr_max = le32(img + 0x22c);
	b.kernel_alignment = le32(img + 0x230);
	b.relocatable = img[0x234];
	b.xloadflags = le16(img + 0x236);
	b.cmdline_size = le32(img + 0x238);
	b.pref_address = le64(img + 0x258);
	b.init_size = le32(img + 0x260);
	if (!(b.xloadflags & XLF_KERNEL_64_F))
		return bad("xloadflags lacks XLF_KERNEL_64", b.xloadflags);
	if (b.kernel_alignment == 0 || (b.kernel_alignment & (b.kernel_alignment - 1)))
		return bad("kernel_alignment is not a power of 2", b.kernel_alignment);
	if (!b.relocatable &&
	    (b.pref_address < BOOT_KERNEL_START || b.pref_address % b.kernel_alignment != 0))
		return bad("non-relocatable kernel with an unusable pref_address", b.pref_address);
	if (b.init_size < b.kernel_bytes)
		return bad("init_size smaller than the kernel", b.init_size);
	*out = b;
	return 0;
}

int boot_load_elf(const struct vmm_memory *mem, const uint8_t *img, size_t len,
		  struct boot_info *info)
{
	Elf64_Ehdr eh;
	bool entry_ok = false;
	uint64_t end = 0;

	if (len < sizeof(eh))
		return log_error("ELF: file of %zu bytes has no header", len), -ENOEXEC;
	memcpy(&eh, img, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_EXEC) {
		log_error("ELF: not a little-endian x86-64 ELF64 executable (class %u, machine %u, "
			  "type %u)",
			  eh.e_ident[EI_CLASS], eh.e_machine, eh.e_type);
		return -ENOEXEC;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS ||
	    eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		log_error("ELF: program headers out of the file (phoff 0x%llx, phnum %u, "
			  "phentsize %u, file %zu bytes)",
			  (unsigned long long)eh.e_phoff, eh.e_phnum, eh.e_phentsize, len);
		return -ENOEXEC;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *dst;

		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len ||
		    ph.p_filesz > len - ph.p_offset) {
			log_error(
			    "ELF: segment %u: file range (offset 0x%llx, filesz 0x%llx, memsz "
			    "0x%llx) is outside the file of %zu bytes",
			    i, (unsigned long long)ph.p_offset, (unsigned long long)ph.p_filesz,
			    (unsigned long long)ph.p_memsz, len);
			return -ENOEXEC;
		}
		dst = vmm_memory_ptr(mem, ph.p_paddr, ph.p_memsz);
		if (ph.p_paddr < BOOT_KERNEL_START || !dst) {
			log_error(
			    "ELF: segment %u at paddr 0x%llx (+0x%llx) is not inside guest RAM "
			    "above 1 MiB",
			    i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
			return -ENOEXEC;
		}
		memcpy(dst, img + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		end = UTIL_MAX(end, ph.p_paddr + ph.p_memsz);
		if (eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz &&
		    (ph.p_flags & PF_X)) {
			info->entry = eh.e_entry - ph.p_vaddr + ph.p_paddr;
			entry_ok = true;
		}
	}
	if (!entry_ok) {
		log_error("ELF: entry 0x%llx is not inside an executable PT_LOAD segment",
			  (unsigned long long)eh.e_entry);
		return -ENOEXEC;
	}
	info->kind = BOOT_KIND_ELF;
	info->kernel_end = end;
	return 0;
}

unsigned boot_e820(const struct vmm_memory *mem, struct boot_e820 *out, unsigned max)
{
	unsigned n = 0;
	uint64_t low = mem->nr_regions ? mem->regions[0].size : 0;

#define ADD(a, s, t)                                                                               \
	do {                                                                                       \
		if (n < max)                                                                       \
			out[n++] = (struct boot_e820){.addr = (a), .size = (s), .type = (t)};      \
	} while (0)
	ADD(0, UTIL_MIN(low, BOOT_EBDA_START), BOOT_E820_RAM);
	ADD(BOOT_EBDA_START, BOOT_KERNEL_START - BOOT_EBDA_START, BOOT_E820_RESERVED);
	if (low > BOOT_KERNEL_START)
		ADD(BOOT_KERNEL_START, low - BOOT_KERNEL_START, BOOT_E820_RAM);
	for (unsigned i = 1; i < mem->nr_regions; i++)
		ADD(mem->regions[i].gpa, mem->regions[i].size, BOOT_E820_RAM);
#undef ADD
	return n;
}

int boot_place_initrd(const struct vmm_memory *mem, uint64_t size, uint64_t floor, uint64_t limit,
		      uint64_t *gpa)
{
	uint64_t top = mem->nr_regions ? mem->regions[0].size : 0;

	if (limit < UINT64_MAX)
		top = UTIL_MIN(top, limit + 1);
	floor = (floor + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
	if (size > top || ((top - size) & ~(PAGE_SIZE_4K - 1)) < floor) {
		log_error("initrd of %llu bytes does not fit between 0x%llx and 0x%llx",
			  (unsigned long long)size, (unsigned long long)floor,
			  (unsigned long long)top);
		return -E2BIG;
	}
	*gpa = (top - size) & ~(PAGE_SIZE_4K - 1);
	return 0;
}

static int write_tables(const struct vmm_memory *mem)
{
	/* Identity map 0..4 GiB with 2 MiB pages: RAM, and the MMIO gap for devices and APICs. */
	uint64_t *pml4 = vmm_memory_ptr(mem, BOOT_PAGE_TABLES, 6 * PAGE_SIZE_4K);
	uint64_t gdt[6] = {
	    0,
	    0,
	    0x00af9b000000ffffULL,				   /* 0x10: 64-bit code */
	    0x00cf93000000ffffULL,				   /* 0x18: data */
	    0x0000890000000067ULL | ((BOOT_TSS & 0xffffff) << 16), /* 0x20: 64-bit TSS */
	    0,
	};

	if (!pml4 || vmm_memory_write(mem, BOOT_GDT, gdt, sizeof(gdt)) < 0 ||
	    !vmm_memory_ptr(mem, BOOT_TSS, 0x68))
		return -ENOMEM;
	memset(pml4, 0, 6 * PAGE_SIZE_4K);
	memset(vmm_memory_ptr(mem, BOOT_TSS, 0x68), 0, 0x68);
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;
	pml4[0] = (BOOT_PAGE_TABLES + PAGE_SIZE_4K) | 0x3; /* present, writable */
	for (unsigned g = 0; g < 4; g++) {
		pdpt[g] = (BOOT_PAGE_TABLES + (2 + g) * PAGE_SIZE_4K) | 0x3;
		for (unsigned i = 0; i < 512; i++)
			pd[g * 512 + i] = ((uint64_t)g << 30) + ((uint64_t)i << 21) + 0x83;
	}
	return 0;
}

static int load_bzimage(const struct vmm_memory *mem, const uint8_t *img, size_t len,
			struct boot_params *bp, struct boot_info *info)
{
	struct boot_bzimage b;
	uint64_t load, hdr_end;
	void *dst;
	int r;

	r = boot_bzimage_parse(img, len, &b);
	if (r < 0)
		return r;
	load = b.relocatable ? BOOT_KERNEL_START : b.pref_address;
	dst = vmm_memory_ptr(mem, load, UTIL_MAX(b.init_size, b.kernel_bytes));
	if (!dst || load + b.init_size > mem->regions[0].size) {
		log_error("bzImage: needs 0x%x bytes from 0x%llx, more than the guest's low RAM "
			  "(0x%llx)",
			  b.init_size, (unsigned long long)load,
			  (unsigned long long)mem->regions[0].size);
		return -E2BIG;
	}
	memcpy(dst, img + b.setup_bytes, b.kernel_bytes);
	/* The setup header runs from 0x1f1 to 0x202 + the byte at 0x201 (boot.rst). */
	hdr_end = UTIL_MIN(0x202u + img[0x201], sizeof(*bp));
	hdr_end = UTIL_MIN(hdr_end, len);
	memcpy((uint8_t *)bp + 0x1f1, img + 0x1f1, hdr_end - 0x1f1);
	bp->hdr.code32_start = (uint32_t)load;
	info->kind = BOOT_KIND_BZIMAGE;
	info->entry = load + 0x200;
	info->kernel_end = load + b.init_size;
	return 0;
}

int boot_load(const struct vmm_memory *mem, const uint8_t *kernel, size_t kernel_len,
	      const uint8_t *const *initrds, const size_t *initrd_lens, unsigned nr_initrds,
	      const char *cmdline, struct boot_info *info)
{
	_cleanup_free_ struct boot_params *bp = calloc(1, sizeof(*bp));
	struct boot_e820 e820[BOOT_E820_MAX];
	uint64_t initrd_limit = UINT64_MAX, cmdline_max = BOOT_CMDLINE_MAX - 1, total = 0;
	unsigned n;
	int r;

	if (!bp)
		return -ENOMEM;
	if (mem->nr_regions == 0 || mem->regions[0].size < 2 * BOOT_KERNEL_START)
		return log_error("guest RAM too small to boot"), -E2BIG;
	*info = (struct boot_info){0};
	if (kernel_len >= 4 && memcmp(kernel, ELFMAG, SELFMAG) == 0) {
		r = boot_load_elf(mem, kernel, kernel_len, info);
	} else if (kernel_len >= 0x206 && le32(kernel + 0x202) == HDR_MAGIC) {
		r = load_bzimage(mem, kernel, kernel_len, bp, info);
		if (r >= 0) {
			initrd_limit = bp->hdr.initrd_addr_max;
			if (bp->hdr.cmdline_size)
				cmdline_max = UTIL_MIN(cmdline_max, bp->hdr.cmdline_size);
		}
	} else {
		log_error("kernel image is neither ELF64 nor a bzImage (no ELF magic, no HdrS)");
		r = -ENOEXEC;
	}
	if (r < 0)
		return r;

	info->cmdline_len = strlen(cmdline);
	if (info->cmdline_len > cmdline_max) {
		log_error("command line of %zu bytes exceeds the kernel's limit of %llu",
			  info->cmdline_len, (unsigned long long)cmdline_max);
		return -E2BIG;
	}
	r = vmm_memory_write(mem, BOOT_CMDLINE, cmdline, info->cmdline_len + 1);
	if (r < 0)
		return r;

	for (unsigned i = 0; i < nr_initrds; i++) {
		if (initrd_lens[i] > UINT32_MAX || total + initrd_lens[i] > UINT32_MAX)
			return log_error("initrd larger than 4 GiB"), -E2BIG;
		total += initrd_lens[i];
	}
	if (total) {
		r = boot_place_initrd(mem, total, info->kernel_end, initrd_limit,
				      &info->initrd_gpa);
		if (r < 0)
			return r;
		uint64_t at = info->initrd_gpa;
		for (unsigned i = 0; i < nr_initrds; i++) {
			r = vmm_memory_write(mem, at, initrds[i], initrd_lens[i]);
			if (r < 0)
				return r;
			at += initrd_lens[i];
		}
		info->initrd_size = total;
	}

	bp->hdr.type_of_loader = 0xff;
	bp->hdr.boot_flag = 0xaa55;
	bp->hdr.header = HDR_MAGIC;
	bp->hdr.loadflags |= BOOT_LOADED_HIGH;
	bp->hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE;
	bp->hdr.cmdline_size = (uint32_t)info->cmdline_len + 1;
	bp->hdr.ramdisk_image = (uint32_t)info->initrd_gpa;
	bp->hdr.ramdisk_size = (uint32_t)info->initrd_size;
	n = boot_e820(mem, e820, BOOT_E820_MAX);
	for (unsigned i = 0; i < n; i++) {
		bp->e820_table[i].addr = e820[i].addr;
		bp->e820_table[i].size = e820[i].size;
		bp->e820_table[i].type = e820[i].type;
	}
	bp->e820_entries = (uint8_t)n;
	r = vmm_memory_write(mem, BOOT_ZERO_PAGE, bp, sizeof(*bp));
	if (r < 0)
		return r;
	return write_tables(mem);
}
