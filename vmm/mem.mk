# virtio-mem (vmm/virtio_mem.h): the request core is a library for the unit test and the fuzzer;
# the virtio-mmio glue carries a VMM_DEVICE_INIT constructor, so it is linked as an object.
noinst_LIBRARIES += vmm/libvirtiomem.a
vmm_libvirtiomem_a_SOURCES = vmm/virtio_mem.c vmm/virtio_mem.h
vmm_enclave_vmm_SOURCES += vmm/virtio_mem_mmio.c
vmm_enclave_vmm_LDADD += vmm/libvirtiomem.a common/libcommon.a

check_PROGRAMS += tests/unit/test-virtio-mem
TESTS += tests/unit/test-virtio-mem
tests_unit_test_virtio_mem_SOURCES = tests/unit/test-virtio-mem.c
tests_unit_test_virtio_mem_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_virtio_mem_LDADD = vmm/libvirtiomem.a vmm/libvmm.a common/libcommon.a \
	$(CMOCKA_LIBS) $(SYSTEMD_LIBS) -lpthread

TESTS += tests/integration/resize-basic.sh
EXTRA_DIST += tests/integration/resize-basic.sh
EXTRA_DIST += bench/memory-hotplug.sh

# The daemon side of live resize lives in enclaved/ but is listed here, after enclaved/local.mk.
include $(top_srcdir)/enclaved/resize.mk
