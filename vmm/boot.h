/* Loading a guest kernel into RAM and describing the machine to it. Two paths share one zero
 * page (Linux boot_params at BOOT_ZERO_PAGE): a plain ELF64 kernel (PT_LOAD segments) and a
 * Linux bzImage (64-bit boot protocol); the magic bytes decide. The layout functions work on any
 * struct vmm_memory (unit tests use a buffer), the vCPU register state is set by vmm/vcpu.c. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

#define BOOT_GDT	  0x500ULL /* null, null, code64 0x10, data 0x18, TSS 0x20 */
#define BOOT_TSS	  0x580ULL
#define BOOT_ZERO_PAGE	  0x7000ULL
#define BOOT_STACK_TOP	  0x8ff0ULL
#define BOOT_PAGE_TABLES  0x9000ULL /* PML4, PDPT, then 4 PDs: identity map of 0..4 GiB */
#define BOOT_CMDLINE	  0x20000ULL
#define BOOT_CMDLINE_MAX  0x10000ULL /* bytes including the NUL */
#define BOOT_KERNEL_START 0x100000ULL
#define BOOT_EBDA_START	  0x9fc00ULL

#define BOOT_CODE64_SEL 0x10
#define BOOT_DATA_SEL	0x18
#define BOOT_TSS_SEL	0x20

#define BOOT_E820_RAM	   1
#define BOOT_E820_RESERVED 2
#define BOOT_E820_MAX	   128

enum boot_kind { BOOT_KIND_ELF = 1, BOOT_KIND_BZIMAGE = 2 };

struct boot_e820 {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* What a bzImage's setup header says, after the checks. */
struct boot_bzimage {
	uint16_t version;
	uint8_t setup_sects;
	uint32_t setup_bytes;  /* (setup_sects + 1) * 512: where the 64-bit kernel starts */
	uint64_t kernel_bytes; /* protected-mode part */
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint16_t xloadflags;
};

/* Result of loading a kernel. */
struct boot_info {
	enum boot_kind kind;
	uint64_t entry;	     /* guest-physical 64-bit entry point */
	uint64_t kernel_end; /* first byte above the kernel's footprint */
	uint64_t initrd_gpa;
	uint64_t initrd_size;
	size_t cmdline_len; /* without the NUL */
};

/* Check the setup header of a bzImage. -ENOEXEC with a message naming the field. */
int boot_bzimage_parse(const uint8_t *img, size_t len, struct boot_bzimage *out);

/* Place the PT_LOAD segments of an ELF64 x86-64 executable, each inside RAM and at or above
 * BOOT_KERNEL_START. entry and kernel_end are filled. */
int boot_load_elf(const struct vmm_memory *mem, const uint8_t *img, size_t len,
		  struct boot_info *info);

/* The e820 map of mem: RAM below the EBDA, the reserved legacy area, RAM from 1 MiB, RAM above
 * 4 GiB. Returns the number of entries. */
unsigned boot_e820(const struct vmm_memory *mem, struct boot_e820 *out, unsigned max);

/* Where an initrd of size bytes goes: page-aligned, as high as possible in low RAM with its end
 * at or below limit (inclusive last byte, bzImage initrd_addr_max), not below floor. */
int boot_place_initrd(const struct vmm_memory *mem, uint64_t size, uint64_t floor, uint64_t limit,
		      uint64_t *gpa);

/* Load a kernel (ELF64 or bzImage by magic), the initrd and the command line into mem, and
 * write the zero page, the GDT/TSS and the identity-mapping page tables. The initrd parts are
 * concatenated (EIF ramdisks). */
int boot_load(const struct vmm_memory *mem, const uint8_t *kernel, size_t kernel_len,
	      const uint8_t *const *initrds, const size_t *initrd_lens, unsigned nr_initrds,
	      const char *cmdline, struct boot_info *info);
