# libmeasure: PCRs and COSE_Sign1 (used by images and attestation alike).
include $(top_srcdir)/attest/measure.mk
# libattest: NSM requests, documents, PKI, verification. Link it before libmeasure.
noinst_LIBRARIES += attest/libattest.a
attest_libattest_a_SOURCES = attest/acbor.c attest/acbor.h attest/nsm.c attest/nsm.h \
	attest/pki.c attest/pki.h attest/document.c attest/document.h \
	attest/verify.c attest/verify.h attest/attest.c attest/attest.h \
	attest/attest-state.c
attest_libattest_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(CBOR_CFLAGS)
EXTRA_DIST += attest/README.md

ATTEST_TEST_LIBS = attest/libattest.a attest/libmeasure.a common/libcommon.a \
	$(CMOCKA_LIBS) $(CBOR_LIBS) $(OPENSSL_LIBS) $(SYSTEMD_LIBS)
ATTEST_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS) $(CBOR_CFLAGS)

check_PROGRAMS += tests/unit/test-nsm
TESTS += tests/unit/test-nsm
tests_unit_test_nsm_SOURCES = tests/unit/test-nsm.c tests/unit/test-nsm-cbor.h
tests_unit_test_nsm_CFLAGS = $(ATTEST_TEST_CFLAGS)
tests_unit_test_nsm_LDADD = $(ATTEST_TEST_LIBS)

check_PROGRAMS += tests/unit/test-nsm-malformed
TESTS += tests/unit/test-nsm-malformed
tests_unit_test_nsm_malformed_SOURCES = tests/unit/test-nsm-malformed.c tests/unit/test-nsm-cbor.h
tests_unit_test_nsm_malformed_CFLAGS = $(ATTEST_TEST_CFLAGS)
tests_unit_test_nsm_malformed_LDADD = $(ATTEST_TEST_LIBS)

check_PROGRAMS += tests/unit/test-nsm-attest
TESTS += tests/unit/test-nsm-attest
tests_unit_test_nsm_attest_SOURCES = tests/unit/test-nsm-attest.c tests/unit/test-nsm-cbor.h
tests_unit_test_nsm_attest_CFLAGS = $(ATTEST_TEST_CFLAGS)
tests_unit_test_nsm_attest_LDADD = $(ATTEST_TEST_LIBS)

check_PROGRAMS += tests/unit/test-pki
TESTS += tests/unit/test-pki
tests_unit_test_pki_SOURCES = tests/unit/test-pki.c
tests_unit_test_pki_CFLAGS = $(ATTEST_TEST_CFLAGS)
tests_unit_test_pki_LDADD = $(ATTEST_TEST_LIBS)

check_PROGRAMS += tests/unit/test-verify
TESTS += tests/unit/test-verify
tests_unit_test_verify_SOURCES = tests/unit/test-verify.c
tests_unit_test_verify_CFLAGS = $(ATTEST_TEST_CFLAGS)
tests_unit_test_verify_LDADD = $(ATTEST_TEST_LIBS)

check_PROGRAMS += tests/unit/test-attest-cbor
TESTS += tests/unit/test-attest-cbor
tests_unit_test_attest_cbor_SOURCES = tests/unit/test-attest-cbor.c
tests_unit_test_attest_cbor_CFLAGS = $(ATTEST_TEST_CFLAGS)
tests_unit_test_attest_cbor_LDADD = $(ATTEST_TEST_LIBS)

check_PROGRAMS += tests/unit/test-attest
TESTS += tests/unit/test-attest
tests_unit_test_attest_SOURCES = tests/unit/test-attest.c
tests_unit_test_attest_CFLAGS = $(ATTEST_TEST_CFLAGS)
tests_unit_test_attest_LDADD = $(ATTEST_TEST_LIBS)
