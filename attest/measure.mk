noinst_LIBRARIES += attest/libmeasure.a
attest_libmeasure_a_SOURCES = attest/pcr.c attest/pcr.h attest/cose.c attest/cose.h
attest_libmeasure_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(CBOR_CFLAGS)

check_PROGRAMS += tests/unit/test-pcr tests/unit/test-cose
TESTS += tests/unit/test-pcr tests/unit/test-cose
tests_unit_test_pcr_SOURCES = tests/unit/test-pcr.c
tests_unit_test_pcr_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_pcr_LDADD = attest/libmeasure.a common/libcommon.a $(CMOCKA_LIBS) $(OPENSSL_LIBS)
tests_unit_test_cose_SOURCES = tests/unit/test-cose.c
tests_unit_test_cose_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS) $(CBOR_CFLAGS)
tests_unit_test_cose_LDADD = attest/libmeasure.a common/libcommon.a $(CMOCKA_LIBS) \
	$(OPENSSL_LIBS) $(CBOR_LIBS)
