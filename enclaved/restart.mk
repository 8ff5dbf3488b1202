# Surviving daemon restarts (restart component): persisted enclave records, re-adoption of
# running VMMs, VMM liveness. Included from the end of enclaved/local.mk.
enclaved_libenclaved_a_SOURCES += enclaved/state.c enclaved/state.h enclaved/state-adopt.c \
	enclaved/enclave-liveness.c

check_PROGRAMS += tests/unit/test-enclaved-state
TESTS += tests/unit/test-enclaved-state
tests_unit_test_enclaved_state_SOURCES = tests/unit/test-enclaved-state.c
tests_unit_test_enclaved_state_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(PROTOBUF_C_CFLAGS) \
	$(INIH_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_enclaved_state_LDADD = enclaved/libenclaved.a enclaved/libpool.a \
	rpc/librpc.a proto/libproto.a $(ENCLAVED_ATTEST_LIBS) $(CMOCKA_LIBS) $(PROTOBUF_C_LIBS) \
	$(LIBEVENT_LIBS) $(INIH_LIBS) $(SYSTEMD_LIBS) -lpthread
$(tests_unit_test_enclaved_state_OBJECTS): proto/enclaved.pb-c.h proto/vmm.pb-c.h

RESTART_TESTS = tests/integration/restart-basic.sh tests/integration/restart-hung.sh \
	tests/integration/restart-hugepages.sh
TESTS += $(RESTART_TESTS)
EXTRA_DIST += $(RESTART_TESTS) enclaved/restart.mk tests/fuzz/fuzz-enclave-record.c \
	tests/fuzz/corpus/fuzz-enclave-record/running.json \
	tests/fuzz/corpus/fuzz-enclave-record/torn.json
