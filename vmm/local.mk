# enclave-vmm: the core (KVM, memory, boot, serial, virtio-mmio, virtqueue, event loop, channel,
# sandbox) is a library so unit tests and the device models' tests can link it.
noinst_LIBRARIES += vmm/libvmm.a
vmm_libvmm_a_SOURCES = \
	vmm/vmm.h vmm/memory.c vmm/memory.h vmm/event.c vmm/event.h \
	vmm/virtqueue.c vmm/virtqueue.h vmm/virtio_mmio.c vmm/virtio_mmio.h \
	vmm/kvm.c vmm/kvm.h vmm/registry.c vmm/boot.c vmm/boot.h vmm/serial.c vmm/serial.h \
	vmm/vcpu.c vmm/vcpu.h vmm/vmm.c vmm/channel.c vmm/channel_adopt.c vmm/channel.h \
	vmm/channel_internal.h vmm/sandbox.c vmm/sandbox.h
vmm_libvmm_a_CFLAGS = $(AM_CFLAGS) -pthread $(PROTOBUF_C_CFLAGS) $(SECCOMP_CFLAGS)

VMM_LIBS = vmm/libvmm.a image/libimage.a attest/libmeasure.a proto/libproto.a \
	common/libcommon.a $(PROTOBUF_C_LIBS) $(SECCOMP_LIBS) $(SYSTEMD_LIBS) $(OPENSSL_LIBS) \
	$(CBOR_LIBS) $(ZLIB_LIBS) $(ARCHIVE_LIBS) $(JSONC_LIBS) -lpthread

# Device models (vmm/devices.mk) add their sources to vmm_enclave_vmm_SOURCES: their
# VMM_DEVICE_INIT constructors must be linked as objects, not pulled from a library.
libexec_PROGRAMS += vmm/enclave-vmm
vmm_enclave_vmm_SOURCES = vmm/main.c
vmm_enclave_vmm_CFLAGS = $(AM_CFLAGS) -pthread $(PROTOBUF_C_CFLAGS) $(SECCOMP_CFLAGS) \
	$(OPENSSL_CFLAGS)
vmm_enclave_vmm_LDADD = $(VMM_LIBS)
EXTRA_DIST += vmm/README.md

check_PROGRAMS += tests/unit/test-virtq
TESTS += tests/unit/test-virtq
tests_unit_test_virtq_SOURCES = tests/unit/test-virtq.c
tests_unit_test_virtq_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_virtq_LDADD = vmm/libvmm.a common/libcommon.a $(CMOCKA_LIBS) $(SYSTEMD_LIBS) \
	-lpthread

check_PROGRAMS += tests/unit/test-boot
TESTS += tests/unit/test-boot
tests_unit_test_boot_SOURCES = tests/unit/test-boot.c
tests_unit_test_boot_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_boot_LDADD = vmm/libvmm.a common/libcommon.a $(CMOCKA_LIBS) $(SYSTEMD_LIBS) \
	-lpthread

TESTS += tests/integration/vmm-standalone.sh tests/integration/vmm-channel.sh
EXTRA_DIST += tests/integration/vmm-standalone.sh tests/integration/vmm-channel.sh \
	tests/integration/vmm-guest.S

include $(top_srcdir)/vmm/devices.mk
include $(top_srcdir)/vmm/mem.mk
