# verify-attestation (see ctl/cmd_attest.c). libattest before libmeasure: it uses cose_*/pcr_*.
ctl_enclavectl_SOURCES += ctl/cmd_attest.c
ctl_enclavectl_LDADD += attest/libattest.a attest/libmeasure.a common/libcommon.a \
	$(CBOR_LIBS) $(OPENSSL_LIBS) $(JSONC_LIBS) $(SYSTEMD_LIBS)

# The command linked alone with its unit test (no daemon needed).
check_PROGRAMS += tests/unit/test-verify-cli
TESTS += tests/unit/test-verify-cli
tests_unit_test_verify_cli_SOURCES = tests/unit/test-verify-cli.c ctl/cmd_attest.c
tests_unit_test_verify_cli_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_verify_cli_LDADD = attest/libattest.a attest/libmeasure.a common/libcommon.a \
	$(CMOCKA_LIBS) $(CBOR_LIBS) $(OPENSSL_LIBS) $(JSONC_LIBS) $(SYSTEMD_LIBS)
