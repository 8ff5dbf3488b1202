# docs (see docs/README.md); the checks keep them in step with the code.
EXTRA_DIST += docs/README.md docs/architecture.md docs/api.md docs/security.md \
	docs/linux-enclave-guide.md tests/integration/docs-api.sh tests/integration/docs-man.sh bench/run
TESTS += tests/integration/docs-api.sh tests/integration/docs-man.sh
