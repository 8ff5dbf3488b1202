# enclaved's attestation (PKI, per-enclave NSM identity) and its API handlers; included at the
# end of enclaved/local.mk. libenclaved.a now needs libattest/libimage wherever it is linked.
enclaved_libenclaved_a_SOURCES += enclaved/attestation.c enclaved/attestation.h \
	enclaved/api_attest.c enclaved/api_attest.h
enclaved_libenclaved_a_CFLAGS += $(OPENSSL_CFLAGS) $(CBOR_CFLAGS) $(JSONC_CFLAGS)

ENCLAVED_ATTEST_LIBS = attest/libattest.a image/libimage.a attest/libmeasure.a \
	common/libcommon.a $(OPENSSL_LIBS) $(CBOR_LIBS) $(JSONC_LIBS) $(ZLIB_LIBS) $(ARCHIVE_LIBS)
enclaved_enclaved_LDADD += $(ENCLAVED_ATTEST_LIBS)
tests_unit_test_enclaved_config_LDADD += $(ENCLAVED_ATTEST_LIBS)
tests_unit_test_enclaved_authz_LDADD += $(ENCLAVED_ATTEST_LIBS)

check_PROGRAMS += tests/unit/test-enclaved-attestation
TESTS += tests/unit/test-enclaved-attestation
tests_unit_test_enclaved_attestation_SOURCES = tests/unit/test-enclaved-attestation.c
tests_unit_test_enclaved_attestation_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS) \
	$(INIH_CFLAGS)
tests_unit_test_enclaved_attestation_LDADD = enclaved/libenclaved.a enclaved/libpool.a \
	rpc/librpc.a proto/libproto.a $(ENCLAVED_ATTEST_LIBS) $(CMOCKA_LIBS) $(PROTOBUF_C_LIBS) \
	$(LIBEVENT_LIBS) $(INIH_LIBS) $(SYSTEMD_LIBS) -lpthread

TESTS += tests/integration/attest-daemon.sh tests/integration/attest-guest.sh \
	tests/integration/attest-renew.sh
EXTRA_DIST += tests/integration/attest-daemon.sh tests/integration/attest-guest.sh \
	tests/integration/attest-renew.sh \
	tests/integration/attest-helper.py

# Bench: documents through the guest and the daemon (bench/RESULTS.md rows).
EXTRA_DIST += bench/attest-guest.sh
