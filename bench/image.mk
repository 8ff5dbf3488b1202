# bench programs of the image module
noinst_PROGRAMS += bench/eif-throughput
bench_eif_throughput_SOURCES = bench/eif-throughput.c bench/results.c bench/results.h
bench_eif_throughput_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
bench_eif_throughput_LDADD = image/libimage.a attest/libmeasure.a common/libcommon.a \
	$(CBOR_LIBS) $(OPENSSL_LIBS) $(ZLIB_LIBS)
