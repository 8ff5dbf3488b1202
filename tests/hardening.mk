# Load, fault, authorization and sandbox tests (tests/integration/{stress,authz,sandbox}-*.sh).
HARDENING_TESTS = tests/integration/stress-cycles.sh
TESTS += $(HARDENING_TESTS)
EXTRA_DIST += $(HARDENING_TESTS) tests/integration/stress-client.py
