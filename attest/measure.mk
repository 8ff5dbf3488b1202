noinst_LIBRARIES += attest/libmeasure.a
attest_libmeasure_a_SOURCES = attest/README.md
attest_libmeasure_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(CBOR_CFLAGS)
