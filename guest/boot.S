/* Ring-0 part of the sample enclave: two entry points (64-bit ELF entry for enclave-vmm, PVH
 * 32-bit entry for QEMU -kernel), static page tables, GDT, TSS with an I/O bitmap for COM1,
 * IDT, and the handful of handlers. Guest ring-0 code is emulated instruction by instruction
 * on the KVM we target, so everything that can be static data is, and the rest is short. */

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS   0x23
#define USER_CS   0x2b
#define TSS_SEL   0x30

#define LAPIC     0xfee00000
#define LAPIC_EOI     0xb0
#define LAPIC_TMICT   0x380
#define LAPIC_LVT0    0x350
#define LAPIC_LVT1    0x360

#define EFER_MSR  0xc0000080
#define EFER_LME  0x100
#define CR0_PG    0x80000000
#define CR0_PE    0x1
#define CR4_PAE   0x20

/* Xen PVH entry note: QEMU (and other PVH loaders) enter here in 32-bit protected mode,
 * paging off, ebx = hvm_start_info. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 4, 18 /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long pvh_start

	.section .text.boot, "ax"
	.code64
	.globl _start
_start:
	/* enclave-vmm: 64-bit mode, interrupts off, rsi = Linux zero page */
	movq %rsi, arch_boot_info
	movl $1, arch_boot_kind
	jmp common64

	.code32
pvh_start:
	movl %ebx, arch_boot_info
	movl $2, arch_boot_kind
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $EFER_MSR, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	lgdt gdt_ptr
	ljmp $KERNEL_CS, $common64

	.code64
common64:
	lgdt gdt_ptr
	movq $pml4, %rax
	movq %rax, %cr3
	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movq $stack0_top, %rsp
	pushq $KERNEL_CS
	pushq $1f
	lretq
1:
	/* TSS descriptor: base split over the 16-byte system descriptor. */
	movq $tss, %rdx
	movq %rdx, %rax
	shlq $16, %rax
	movabsq $0x000000ffffff0000, %rcx
	andq %rcx, %rax
	movq %rdx, %rcx
	shrq $24, %rcx
	andq $0xff, %rcx
	shlq $56, %rcx
	orq %rcx, %rax
	movabsq $(0x0000890000000000 + TSS_LIMIT), %rcx
	orq %rcx, %rax
	movq %rax, gdt_tss
	shrq $32, %rdx
	movq %rdx, gdt_tss + 8
	movl $TSS_SEL, %eax
	ltr %ax

	/* IDT: 32 exception stubs, 16 bytes apart, then the few vectors we use. */
	movq $idt, %rdi
	movq $exc_stubs, %rsi
	movl $32, %ecx
	movl $0x8e, %r8d
2:	call set_gate
	addq $16, %rdi
	addq $16, %rsi
	decl %ecx
	jnz 2b
	movq $(idt + 3 * 16), %rdi
	movq $int3_handler, %rsi
	movl $0xee, %r8d /* DPL 3: ring 3 calls int3 to wait */
	call set_gate
	movl $0x8e, %r8d
	movq $(idt + 0x40 * 16), %rdi
	movq $irq_handler, %rsi
	call set_gate
	movq $(idt + 0x41 * 16), %rdi
	call set_gate
	movq $(idt + 0xff * 16), %rdi
	movq $spurious_handler, %rsi
	call set_gate
	lidt idt_ptr

	/* The LAPIC comes out of reset with LINT0 as ExtINT: mask both LINT pins so a legacy
	 * PIC or NMI source cannot reach us. The rest of the APIC setup happens at ring 3. */
	movl $LAPIC, %edx
	movl $0x10000, LAPIC_LVT0(%rdx)
	movl $0x10000, LAPIC_LVT1(%rdx)

	/* To ring 3 with interrupts on (they only reach us while idle: see guest/README.md). */
	pushq $USER_DS
	pushq $stack3_top
	pushq $0x202
	pushq $USER_CS
	pushq $ring3_start
	iretq

/* rdi = gate, rsi = handler, r8 = type/attributes byte. Clobbers rax, rdx. */
set_gate:
	movq %rsi, %rax
	andl $0xffff, %eax
	orl $(KERNEL_CS << 16), %eax
	movl %eax, (%rdi)
	movq %rsi, %rax
	shrq $16, %rax
	shlq $16, %rax
	movl %r8d, %edx
	shll $8, %edx
	orl %edx, %eax
	movl %eax, 4(%rdi)
	movq %rsi, %rax
	shrq $32, %rax
	movq %rax, 8(%rdi)
	ret

/* Ring 3 asks to wait: rax = 0 sleep (rdi = the wake count it saw), 1 = halt for good. */
int3_handler:
	cmpq $1, %rax
	je halt_forever
	cmpl $0, arch_lapic_ok
	je 3f
	cmpq arch_wake_count, %rdi
	jne 3f
	pushq %rax
	pushq %rdx
	movl $LAPIC, %edx
	movl arch_idle_ticks, %eax
	movl %eax, LAPIC_TMICT(%rdx)
	popq %rdx
	popq %rax
	sti
	hlt
	cli
3:	iretq

irq_handler:
	incq arch_wake_count
	pushq %rax
	movl $LAPIC, %eax
	movl $0, LAPIC_EOI(%rax)
	popq %rax
	iretq

spurious_handler:
	iretq

halt_forever:
	cli
	hlt
	jmp halt_forever

	.balign 16
exc_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.balign 16
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	pushq $\vec
	.else
	pushq $0
	pushq $\vec
	.endif
	jmp exc_common
	.endr

/* Stack: vector, error code (the CPU's, or 0 pushed by the stub), then the CPU frame. */
exc_common:
	movq %rsp, %rdi
	call arch_exception_report
	jmp halt_forever

/* Ring 3: clear the BSS (natively, fast) and run the program. */
ring3_start:
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	cld
	rep stosb
	call main3
	movl $1, %eax
	int3

	.data
	.balign 4096
pml4:
	.quad pdpt + 0x7
	.fill 511, 8, 0
pdpt:
	.quad pd0 + 0x7
	.quad pd1 + 0x7
	.quad pd2 + 0x7
	.quad pd3 + 0x7
	.fill 508, 8, 0
/* Identity map of the first 4 GiB with 2 MiB pages, present, writable, user: ring 3 reaches
 * RAM, the virtio-mmio window and the APICs directly. */
	.set addr, 0
	.irp pd, pd0, pd1, pd2, pd3
\pd:
	.rept 512
	.quad addr + 0x87
	.set addr, addr + 0x200000
	.endr
	.endr

	.balign 8
gdt:
	.quad 0
	.quad 0x00af9a000000ffff /* 0x08 kernel code 64 */
	.quad 0x00cf92000000ffff /* 0x10 kernel data */
	.quad 0x00cffa000000ffff /* 0x18 user code 32 (unused) */
	.quad 0x00cff2000000ffff /* 0x20 user data */
	.quad 0x00affa000000ffff /* 0x28 user code 64 */
gdt_tss:
	.quad 0, 0               /* 0x30 TSS, filled at boot */
gdt_end:
	.balign 8
	.word 0, 0, 0
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

	.balign 8
	.word 0, 0, 0
idt_ptr:
	.word 256 * 16 - 1
	.quad idt

	.balign 16
tss:
	.long 0
	.quad stack0_top        /* rsp0: interrupts and exceptions from ring 3 land here */
	.quad 0, 0              /* rsp1, rsp2 */
	.quad 0                 /* reserved */
	.quad 0, 0, 0, 0, 0, 0, 0 /* ist1-7 */
	.quad 0                 /* reserved */
	.word 0
	.word iomap - tss
/* I/O permission bitmap: a clear bit allows the port. Only COM1 (0x3f8-0x3ff) is allowed;
 * ports past the TSS limit are denied by the CPU. */
iomap:
	.fill 0x7f, 1, 0xff
	.byte 0x00
	.byte 0xff
tss_end:
	.set TSS_LIMIT, tss_end - tss - 1

	.globl arch_boot_kind, arch_boot_info, arch_wake_count, arch_lapic_ok, arch_idle_ticks
	.balign 8
arch_boot_info:	.quad 0
arch_wake_count: .quad 0
arch_boot_kind:	.long 0
arch_lapic_ok:	.long 0
arch_idle_ticks: .long 5000000 /* 5 ms at KVM's 1 GHz APIC bus */

	/* In .data, not .bss: ring 3 clears the BSS while the IDT is live. */
	.balign 4096
idt:
	.fill 256 * 16, 1, 0

	.section .stack, "aw", @nobits
	.balign 16
	.fill 16384, 1, 0
stack0_top:
	.fill 65536, 1, 0
stack3_top:
