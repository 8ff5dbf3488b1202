# Shared test helpers. Each component's local.mk adds its own unit tests (tests/unit/test-*.c)
# and integration tests (tests/integration/*.sh) to check_PROGRAMS / TESTS.
EXTRA_DIST += tests/README.md tests/integration/lib.sh tests/integration/users.sh \
	tests/integration/ttrpc_wire.py tests/fuzz/run tests/fuzz/README.md \
	tests/systemd/lib.sh tests/systemd/daemon.sh tests/systemd/enclave-unit.sh \
	tests/systemd/restart.sh tests/systemd/README.md tests/integration/install.sh
TESTS += tests/integration/install.sh

# The units under a real systemd (PID 1 in its own namespaces). Once per scripts/check is
# enough: the sanitizer pass skips them (systemd's own binaries are not instrumented anyway).
if !SANITIZERS
TESTS += tests/systemd/daemon.sh tests/systemd/enclave-unit.sh tests/systemd/restart.sh
endif

include $(top_srcdir)/tests/hardening.mk
CLEANFILES += .install.lock .systemd-tests.lock
