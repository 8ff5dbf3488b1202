# build-enclave, describe-eif, pcr (see ctl/cmd_image.c); the progress line (ctl/progress.c)
# that they and run-enclave / pool resize draw on a terminal
ctl_enclavectl_SOURCES += ctl/cmd_image.c ctl/progress.c ctl/progress.h
ctl_enclavectl_LDADD += image/libimage.a attest/libmeasure.a $(ARCHIVE_LIBS) $(ZLIB_LIBS) \
	$(CBOR_LIBS) $(OPENSSL_LIBS) $(JSONC_LIBS)

TESTS += tests/integration/progress-basic.sh
EXTRA_DIST += tests/integration/progress-basic.sh

check_PROGRAMS += tests/unit/test-eif-progress
TESTS += tests/unit/test-eif-progress
tests_unit_test_eif_progress_SOURCES = tests/unit/test-eif-progress.c
tests_unit_test_eif_progress_CFLAGS = $(IMAGE_TEST_CFLAGS)
tests_unit_test_eif_progress_LDADD = $(IMAGE_TEST_LIBS)

# ctl_fail (ctl/call.c) holds the progress line while it prints, so whatever links call.c
# links progress.c too (test-ctl-json is defined in ctl/local.mk, included before this file)
tests_unit_test_ctl_json_SOURCES += ctl/progress.c
