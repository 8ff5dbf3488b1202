# guest: the sample enclave (see guest/README.md). A freestanding kernel built with the host gcc
# and our own flags (never $(AM_CFLAGS): no sanitizers, no stack protector, no red zone).
GUEST_CFLAGS = -std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wno-unused-parameter -ffreestanding -nostdlib -static -fno-pic -fno-pie \
	-mno-red-zone -mgeneral-regs-only -fno-stack-protector -fno-builtin \
	-fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables \
	-fcf-protection=none -I$(top_srcdir)
GUEST_LINK_FLAGS = -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
	-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
GUEST_C = lib.c console.c exception.c cmdline.c virtio.c idle.c gcbor.c nsm.c vsock.c \
	services.c mem.c main.c
GUEST_H = arch.h cmdline.h console.h gcbor.h idle.h lib.h nsm.h services.h virtio.h vsock.h mem.h
GUEST_OBJS = guest/boot.o $(GUEST_C:%.c=guest/%.o)
GUEST_DEPS = $(GUEST_H:%=$(top_srcdir)/guest/%) $(top_srcdir)/guest/local.mk

guest/boot.o: $(top_srcdir)/guest/boot.S $(GUEST_DEPS)
	@$(MKDIR_P) guest
	$(AM_V_CC)$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_C:%.c=guest/%.o): guest/%.o: $(top_srcdir)/guest/%.c $(GUEST_DEPS)
	@$(MKDIR_P) guest
	$(AM_V_CC)$(CC) $(GUEST_CFLAGS) -c -o $@ $<

guest/sample-enclave.elf: $(GUEST_OBJS) $(top_srcdir)/guest/sample-enclave.ld
	$(AM_V_CCLD)$(CC) $(GUEST_CFLAGS) $(GUEST_LINK_FLAGS) \
		-T $(top_srcdir)/guest/sample-enclave.ld -o $@ $(GUEST_OBJS)

guest/sample-enclave.cpio: $(top_srcdir)/guest/mkcpio.sh
	$(AM_V_GEN)$(SHELL) $(top_srcdir)/guest/mkcpio.sh $@

# Packed with our own EIF writer. Until `enclavectl build-enclave` exists the rule warns and
# leaves no .eif behind (so the rest of the tree still builds); once it exists a failure is
# an error.
guest/sample-enclave.eif: guest/sample-enclave.elf guest/sample-enclave.cpio ctl/enclavectl
	$(AM_V_GEN)if ctl/enclavectl build-enclave --kernel guest/sample-enclave.elf \
		--cmdline "console=ttyS0" --ramdisk guest/sample-enclave.cpio \
		--name sample-enclave --version 1.0 --output-file $@ >$@.log 2>&1; then \
		rm -f $@.log; \
	elif ctl/enclavectl build-enclave --help >/dev/null 2>&1; then \
		cat $@.log; rm -f $@; exit 1; \
	else \
		echo "warning: enclavectl build-enclave is not available yet; $@ not built"; \
		rm -f $@; \
	fi

pkgdata_DATA = guest/sample-enclave.eif
CLEANFILES += $(GUEST_OBJS) guest/sample-enclave.elf guest/sample-enclave.cpio \
	guest/sample-enclave.eif guest/sample-enclave.eif.log
EXTRA_DIST += guest/README.md $(GUEST_H:%=guest/%) $(GUEST_C:%=guest/%) guest/boot.S \
	guest/sample-enclave.ld guest/mkcpio.sh

# Host-side unit tests of the pure parts (CBOR, command line).
check_PROGRAMS += tests/unit/test-guest-cbor tests/unit/test-guest-cmdline
TESTS += tests/unit/test-guest-cbor tests/unit/test-guest-cmdline
tests_unit_test_guest_cbor_SOURCES = tests/unit/test-guest-cbor.c guest/gcbor.c
tests_unit_test_guest_cbor_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_guest_cbor_LDADD = $(CMOCKA_LIBS)
tests_unit_test_guest_cmdline_SOURCES = tests/unit/test-guest-cmdline.c guest/cmdline.c
tests_unit_test_guest_cmdline_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_guest_cmdline_LDADD = $(CMOCKA_LIBS)

TESTS += tests/integration/guest-boot-qemu.sh tests/integration/guest-vsock.sh
EXTRA_DIST += tests/integration/guest-boot-qemu.sh tests/integration/guest-vsock.sh
