noinst_LIBRARIES += rpc/librpc.a
rpc_librpc_a_SOURCES = rpc/rpc.h rpc/frame.c rpc/frame.h rpc/message.c rpc/message.h \
	rpc/internal.h rpc/server.c rpc/call.c rpc/client.c
rpc_librpc_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(LIBEVENT_CFLAGS)
EXTRA_DIST += rpc/README.md
# Generated protobuf headers must exist before rpc/ compiles.
rpc/librpc_a-message.$(OBJEXT) rpc/librpc_a-server.$(OBJEXT) \
rpc/librpc_a-call.$(OBJEXT) rpc/librpc_a-client.$(OBJEXT): proto/ttrpc.pb-c.h proto/status.pb-c.h

RPC_TEST_LIBS = rpc/librpc.a proto/libproto.a common/libcommon.a $(LIBEVENT_LIBS) \
	$(PROTOBUF_C_LIBS) $(SYSTEMD_LIBS) $(CMOCKA_LIBS) -lpthread
RPC_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(PROTOBUF_C_CFLAGS) $(LIBEVENT_CFLAGS)

check_PROGRAMS += tests/unit/test-rpc-frame
TESTS += tests/unit/test-rpc-frame
tests_unit_test_rpc_frame_SOURCES = tests/unit/test-rpc-frame.c
tests_unit_test_rpc_frame_CFLAGS = $(RPC_TEST_CFLAGS)
tests_unit_test_rpc_frame_LDADD = $(RPC_TEST_LIBS)

check_PROGRAMS += tests/unit/test-rpc-server
TESTS += tests/unit/test-rpc-server
tests_unit_test_rpc_server_SOURCES = tests/unit/test-rpc-server.c tests/unit/test-rpc-harness.c \
	tests/unit/test-rpc-harness.h
tests_unit_test_rpc_server_CFLAGS = $(RPC_TEST_CFLAGS)
tests_unit_test_rpc_server_LDADD = $(RPC_TEST_LIBS)

check_PROGRAMS += tests/unit/test-rpc-bad
TESTS += tests/unit/test-rpc-bad
tests_unit_test_rpc_bad_SOURCES = tests/unit/test-rpc-bad.c tests/unit/test-rpc-harness.c \
	tests/unit/test-rpc-harness.h
tests_unit_test_rpc_bad_CFLAGS = $(RPC_TEST_CFLAGS)
tests_unit_test_rpc_bad_LDADD = $(RPC_TEST_LIBS)

# Interop with containerd's Go ttrpc (skips without Debian's golang packages).
check_PROGRAMS += tests/integration/ttrpc-interop
tests_integration_ttrpc_interop_SOURCES = tests/integration/ttrpc-interop.c
tests_integration_ttrpc_interop_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(LIBEVENT_CFLAGS)
tests_integration_ttrpc_interop_LDADD = rpc/librpc.a proto/libproto.a common/libcommon.a \
	$(LIBEVENT_LIBS) $(PROTOBUF_C_LIBS) $(SYSTEMD_LIBS)
TESTS += tests/integration/ttrpc-go-interop.sh
EXTRA_DIST += tests/integration/ttrpc-go-interop.sh tests/integration/ttrpc-go/main.go
