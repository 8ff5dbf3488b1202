# enclaved: the daemon. Everything but main.c lives in libenclaved.a so that unit tests can
# link the real code. The pool module keeps its own fragment (enclaved/pool.mk), which may add
# sources to libenclaved.a or the daemon.
noinst_LIBRARIES += enclaved/libenclaved.a
enclaved_libenclaved_a_SOURCES = \
	enclaved/enclaved.h enclaved/daemon.c enclaved/version.c \
	enclaved/config-file.c enclaved/config-file.h enclaved/config-pool.h \
	enclaved/authz.c enclaved/authz.h \
	enclaved/api.c enclaved/api.h enclaved/api_system.c enclaved/api_enclaves.c \
	enclaved/api_pool.c enclaved/api_images.c \
	enclaved/enclave.c enclaved/enclave.h enclaved/daemon-enclaves.c enclaved/vmm_process.c enclaved/vmm_process.h \
	enclaved/nsm_forward.c enclaved/nsm_forward.h enclaved/api_enclaves.h \
	enclaved/api_run.c enclaved/api_query.c enclaved/api_terminate.c enclaved/api_console.c
enclaved_libenclaved_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(SYSTEMD_CFLAGS) $(INIH_CFLAGS)
# Generated headers, so that building a single target works without `make all` first.
$(enclaved_libenclaved_a_OBJECTS): proto/enclaved.pb-c.h proto/vmm.pb-c.h enclaved/git-describe.h

sbin_PROGRAMS += enclaved/enclaved
enclaved_enclaved_SOURCES = enclaved/main.c
enclaved_enclaved_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(INIH_CFLAGS)
enclaved_enclaved_LDADD = enclaved/libenclaved.a enclaved/libpool.a rpc/librpc.a \
	proto/libproto.a common/libcommon.a $(PROTOBUF_C_LIBS) $(LIBEVENT_LIBS) $(SYSTEMD_LIBS) \
	$(INIH_LIBS) $(JSONC_LIBS) -lpthread
EXTRA_DIST += enclaved/README.md

# `git describe` at build time, for System.Version; rewritten only when it changes.
BUILT_SOURCES += enclaved/git-describe.h
CLEANFILES += enclaved/git-describe.h
enclaved/git-describe.h: enclaved-git-describe-force
	$(AM_V_GEN)$(MKDIR_P) enclaved && \
	d=$$(git -C $(top_srcdir) describe --always --dirty 2>/dev/null || true); \
	printf '#define ENCLAVED_GIT_DESCRIBE "%s"\n' "$$d" >$@.tmp && \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
.PHONY: enclaved-git-describe-force
enclaved-git-describe-force:

check_PROGRAMS += tests/unit/test-enclaved-config tests/unit/test-enclaved-authz
TESTS += tests/unit/test-enclaved-config tests/unit/test-enclaved-authz
tests_unit_test_enclaved_config_SOURCES = tests/unit/test-enclaved-config.c
tests_unit_test_enclaved_config_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(INIH_CFLAGS)
tests_unit_test_enclaved_config_LDADD = enclaved/libenclaved.a enclaved/libpool.a \
	common/libcommon.a $(CMOCKA_LIBS) $(INIH_LIBS) $(JSONC_LIBS) $(SYSTEMD_LIBS) -lpthread
tests_unit_test_enclaved_authz_SOURCES = tests/unit/test-enclaved-authz.c
tests_unit_test_enclaved_authz_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_enclaved_authz_LDADD = enclaved/libenclaved.a common/libcommon.a $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test-enclaved-lifecycle
TESTS += tests/unit/test-enclaved-lifecycle
tests_unit_test_enclaved_lifecycle_SOURCES = tests/unit/test-enclaved-lifecycle.c
tests_unit_test_enclaved_lifecycle_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(PROTOBUF_C_CFLAGS) \
	$(INIH_CFLAGS)
tests_unit_test_enclaved_lifecycle_LDADD = enclaved/libenclaved.a enclaved/libpool.a \
	rpc/librpc.a proto/libproto.a $(ENCLAVED_ATTEST_LIBS) $(CMOCKA_LIBS) $(PROTOBUF_C_LIBS) \
	$(LIBEVENT_LIBS) $(INIH_LIBS) $(SYSTEMD_LIBS) -lpthread
$(tests_unit_test_enclaved_lifecycle_OBJECTS): proto/enclaved.pb-c.h

LIFECYCLE_TESTS = tests/integration/lifecycle-basic.sh tests/integration/lifecycle-invalid.sh \
	tests/integration/lifecycle-kill.sh tests/integration/lifecycle-heartbeat.sh \
	tests/integration/lifecycle-many.sh tests/integration/daemon-pool.sh \
	tests/integration/lifecycle-wait.sh tests/integration/lifecycle-owner.sh \
	tests/integration/lifecycle-measure.sh
TESTS += $(LIFECYCLE_TESTS)
EXTRA_DIST += $(LIFECYCLE_TESTS)

TESTS += tests/integration/daemon-basic.sh tests/integration/daemon-authz.sh \
	tests/integration/daemon-systemd.sh
EXTRA_DIST += tests/integration/daemon-basic.sh tests/integration/daemon-authz.sh \
	tests/integration/daemon-systemd.sh


EXTRA_DIST += tests/fuzz/fuzz-enclaved-config.c \
	tests/fuzz/corpus/fuzz-enclaved-config/full.conf \
	tests/fuzz/corpus/fuzz-enclaved-config/cpu-pool.conf \
	tests/fuzz/corpus/fuzz-enclaved-config/bad.conf

# The pool module keeps its own fragment.
include $(top_srcdir)/enclaved/pool.mk
include $(top_srcdir)/enclaved/attestation.mk
include $(top_srcdir)/enclaved/events.mk
include $(top_srcdir)/enclaved/restart.mk
