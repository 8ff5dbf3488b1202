/* A tiny ring-0 test guest for enclave-vmm, entered in 64-bit mode with rsi = zero page.
 * The first byte of the command line picks what it does after printing its banner on COM1:
 *   p  power off (port 0x604)      h  cli; hlt (ends the enclave: halted)
 *   t  triple fault (ud2, no IDT)  i  sti; hlt forever (until terminated)
 *   c  print the command line and the e820 entry count, then power off
 *   m  touch 64 MiB from 4 MiB, print "touched", then sti; hlt forever
 *   u  write to 128 MiB (with 128 MiB of boot memory: the first, unplugged, hotplug block),
 *      print "wrote unplugged", then sti; hlt forever
 * Build: gcc -nostdlib -static -no-pie -Wl,-Ttext-segment=0x100000 -Wl,--build-id=none */
	.code64
	.text
	.globl _start
_start:
	mov	%rsi, %r13		/* zero page */
	mov	0x228(%r13), %ebx	/* cmd_line_ptr */
	movzbl	(%rbx), %r12d
	lea	banner(%rip), %rdi
	call	puts
	cmp	$'p', %r12b
	je	poweroff
	cmp	$'h', %r12b
	je	halt
	cmp	$'t', %r12b
	je	triple
	cmp	$'i', %r12b
	je	idle
	cmp	$'c', %r12b
	je	cmdline
	cmp	$'m', %r12b
	je	touch
	cmp	$'u', %r12b
	je	unplugged
	jmp	halt

poweroff:
	mov	$0x604, %dx
	mov	$0x2000, %ax
	outw	%ax, %dx
	jmp	halt

halt:
	cli
	hlt
	jmp	halt

triple:
	ud2

idle:
	sti
	hlt
	jmp	idle

cmdline:
	lea	cmdmsg(%rip), %rdi
	call	puts
	mov	%rbx, %rdi
	call	puts
	lea	e820msg(%rip), %rdi
	call	puts
	movzbl	0x1e8(%r13), %eax	/* e820_entries */
	add	$'0', %al
	call	putc
	mov	$'\n', %al
	call	putc
	jmp	poweroff

touch:
	mov	$0x400000, %rdi
	mov	$0x4400000, %rcx
1:	movb	$1, (%rdi)
	add	$0x1000, %rdi
	cmp	%rcx, %rdi
	jb	1b
	lea	touched(%rip), %rdi
	call	puts
	jmp	idle

unplugged:
	mov	$0x8000000, %rdi
	movb	$1, (%rdi)
	lea	wrote(%rip), %rdi
	call	puts
	jmp	idle

/* puts(rdi): NUL-terminated string to COM1, polling LSR.THRE. */
puts:
	movb	(%rdi), %al
	test	%al, %al
	jz	2f
	call	putc
	inc	%rdi
	jmp	puts
2:	ret

putc:
	mov	%al, %cl
	mov	$0x3fd, %dx
3:	inb	%dx, %al
	test	$0x20, %al
	jz	3b
	mov	%cl, %al
	mov	$0x3f8, %dx
	outb	%al, %dx
	ret

	.section .rodata
banner:	.asciz	"vmm-guest: hello from ring 0\n"
cmdmsg:	.asciz	"cmdline: "
e820msg: .asciz	"\ne820: "
touched: .asciz	"vmm-guest: touched\n"
wrote:	.asciz	"vmm-guest: wrote unplugged\n"
	.section .note.GNU-stack,"",@progbits
