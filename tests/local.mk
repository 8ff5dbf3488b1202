# Shared test helpers. Each component's local.mk adds its own unit tests (tests/unit/test-*.c)
# and integration tests (tests/integration/*.sh) to check_PROGRAMS / TESTS.
EXTRA_DIST += tests/README.md tests/integration/lib.sh tests/fuzz/run tests/fuzz/README.md
