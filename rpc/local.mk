noinst_LIBRARIES += rpc/librpc.a
rpc_librpc_a_SOURCES = rpc/rpc.h
rpc_librpc_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(LIBEVENT_CFLAGS)
EXTRA_DIST += rpc/README.md
