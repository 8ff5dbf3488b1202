# bench programs of the rpc module
noinst_PROGRAMS += bench/rpc-latency
bench_rpc_latency_SOURCES = bench/rpc-latency.c bench/results.c bench/results.h
bench_rpc_latency_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(LIBEVENT_CFLAGS)
bench_rpc_latency_LDADD = rpc/librpc.a proto/libproto.a common/libcommon.a $(LIBEVENT_LIBS) \
	$(PROTOBUF_C_LIBS) $(SYSTEMD_LIBS) -lpthread
