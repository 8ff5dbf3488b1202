# enclavectl. Command groups owned elsewhere (image.mk, attest.mk) add their sources with
# `ctl_enclavectl_SOURCES += ...` and libraries with `ctl_enclavectl_LDADD += ...`.
bin_PROGRAMS += ctl/enclavectl
ctl_enclavectl_SOURCES = ctl/main.c ctl/commands.h ctl/ctl.h ctl/getopt-util.h ctl/call.c \
	ctl/json.c ctl/fallback.c ctl/cmd_enclaves.c ctl/cmd_console.c ctl/cmd_system.c \
	ctl/wait.c ctl/wait.h
ctl_enclavectl_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(JSONC_CFLAGS) $(OPENSSL_CFLAGS) \
	$(SYSTEMD_CFLAGS)
ctl_enclavectl_LDADD = rpc/librpc.a proto/libproto.a common/libcommon.a $(PROTOBUF_C_LIBS) \
	$(JSONC_LIBS) $(OPENSSL_LIBS) $(LIBEVENT_LIBS) $(SYSTEMD_LIBS)
EXTRA_DIST += ctl/README.md
$(ctl_enclavectl_OBJECTS): proto/enclaved.pb-c.h enclaved/git-describe.h

check_PROGRAMS += tests/unit/test-ctl-json
TESTS += tests/unit/test-ctl-json
tests_unit_test_ctl_json_SOURCES = tests/unit/test-ctl-json.c ctl/json.c ctl/call.c
tests_unit_test_ctl_json_CFLAGS = $(ctl_enclavectl_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_ctl_json_LDADD = $(ctl_enclavectl_LDADD) $(CMOCKA_LIBS)
$(tests_unit_test_ctl_json_OBJECTS): proto/enclaved.pb-c.h

TESTS += tests/integration/ctl-basic.sh tests/integration/wait-reconnect.sh
EXTRA_DIST += tests/integration/ctl-basic.sh tests/integration/wait-reconnect.sh

# Command groups owned elsewhere add their sources and libraries here.
include $(top_srcdir)/ctl/image.mk
include $(top_srcdir)/ctl/attest.mk
