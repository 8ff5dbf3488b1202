# virtio devices (vsock, nsm). The cores are a library (unit tests and fuzzers link it); the
# virtio-mmio glue files carry VMM_DEVICE_INIT constructors, so they are linked as objects.
noinst_LIBRARIES += vmm/libdevices.a
vmm_libdevices_a_SOURCES = vmm/vsock_packet.c vmm/vsock_packet.h vmm/vsock_conn.c \
	vmm/vsock_conn.h vmm/vsock_bridge.c vmm/vsock_bridge.h vmm/vsock_mux.c vmm/vsock_mux.h \
	vmm/vsock_rx.c vmm/vsock_host.c vmm/vsock_mux_internal.h vmm/vsock_queue.c \
	vmm/vsock_queue.h vmm/heartbeat.c vmm/heartbeat.h vmm/nsm_dev.c vmm/nsm_dev.h
vmm_enclave_vmm_SOURCES += vmm/vsock.c vmm/vsock.h vmm/nsm.c
vmm_enclave_vmm_LDADD += vmm/libdevices.a common/libcommon.a
DEVICES_TEST_LIBS = vmm/libdevices.a vmm/libvmm.a common/libcommon.a $(CMOCKA_LIBS) \
	$(SYSTEMD_LIBS) -lpthread

check_PROGRAMS += tests/unit/test-vsock-bridge
TESTS += tests/unit/test-vsock-bridge
tests_unit_test_vsock_bridge_SOURCES = tests/unit/test-vsock-bridge.c
tests_unit_test_vsock_bridge_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_vsock_bridge_LDADD = $(DEVICES_TEST_LIBS)

check_PROGRAMS += tests/unit/test-vsock
TESTS += tests/unit/test-vsock
tests_unit_test_vsock_SOURCES = tests/unit/test-vsock.c tests/unit/test-vsock-fx.h
tests_unit_test_vsock_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_vsock_LDADD = $(DEVICES_TEST_LIBS)

check_PROGRAMS += tests/unit/test-vsock-hostile
TESTS += tests/unit/test-vsock-hostile
tests_unit_test_vsock_hostile_SOURCES = tests/unit/test-vsock-hostile.c tests/unit/test-vsock-fx.h
tests_unit_test_vsock_hostile_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_vsock_hostile_LDADD = $(DEVICES_TEST_LIBS)

check_PROGRAMS += tests/unit/test-nsmdev
TESTS += tests/unit/test-nsmdev
tests_unit_test_nsmdev_SOURCES = tests/unit/test-nsmdev.c
tests_unit_test_nsmdev_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_nsmdev_LDADD = $(DEVICES_TEST_LIBS)

# vsock end to end with the sample enclave (tests/integration/vsock-*.sh; vsock-lib.sh is sourced)
TESTS += tests/integration/vsock-echo.sh tests/integration/vsock-dialback.sh
EXTRA_DIST += tests/integration/vsock-echo.sh tests/integration/vsock-dialback.sh \
	tests/integration/vsock-lib.sh
