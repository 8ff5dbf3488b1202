# bench programs of the attest module
noinst_PROGRAMS += bench/attest-sign
bench_attest_sign_SOURCES = bench/attest-sign.c bench/results.c bench/results.h
bench_attest_sign_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(CBOR_CFLAGS)
bench_attest_sign_LDADD = attest/libattest.a attest/libmeasure.a common/libcommon.a \
	$(CBOR_LIBS) $(OPENSSL_LIBS) $(SYSTEMD_LIBS)
