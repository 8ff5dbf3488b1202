# Load, fault, authorization and sandbox tests (tests/integration/{stress,authz,sandbox}-*.sh).
HARDENING_TESTS = tests/integration/stress-cycles.sh tests/integration/stress-mixed.sh \
	tests/integration/stress-idle.sh tests/integration/stress-fds.sh tests/integration/stress-vmm-kill.sh \
	tests/integration/authz-members.sh tests/integration/sandbox-vmm.sh
TESTS += $(HARDENING_TESTS)
EXTRA_DIST += $(HARDENING_TESTS) tests/integration/stress-client.py
