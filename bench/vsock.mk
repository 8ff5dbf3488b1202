# bench programs of the vsock module: bench/vsock-throughput.sh boots the sample enclave and runs
# bench/vsock-throughput against it (rows "| vsock ..." of bench/RESULTS.md)
noinst_PROGRAMS += bench/vsock-throughput
bench_vsock_throughput_SOURCES = bench/vsock-throughput.c
bench_vsock_throughput_LDADD = common/libcommon.a $(SYSTEMD_LIBS) -lpthread
EXTRA_DIST += bench/vsock-throughput.sh
