# libmeasure: PCRs and COSE_Sign1 (used by images and attestation alike).
include $(top_srcdir)/attest/measure.mk
# libattest: NSM requests, documents, PKI, verification.
noinst_LIBRARIES += attest/libattest.a
attest_libattest_a_SOURCES = attest/README.md
attest_libattest_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(CBOR_CFLAGS)
