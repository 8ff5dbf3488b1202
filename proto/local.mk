# protoc-c generates C from every .proto here at build time.
PROTO_FILES = proto/ttrpc.proto proto/status.proto proto/enclaved.proto proto/vmm.proto
PROTO_C = $(PROTO_FILES:.proto=.pb-c.c)
PROTO_H = $(PROTO_FILES:.proto=.pb-c.h)

noinst_LIBRARIES += proto/libproto.a
nodist_proto_libproto_a_SOURCES = $(PROTO_C) $(PROTO_H)
proto_libproto_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
BUILT_SOURCES += $(PROTO_C) $(PROTO_H)
CLEANFILES += $(PROTO_C) $(PROTO_H)
EXTRA_DIST += $(PROTO_FILES) proto/README.md

proto/%.pb-c.c proto/%.pb-c.h: proto/%.proto
	$(AM_V_GEN)$(MKDIR_P) proto && $(PROTOC_C) -I$(srcdir) --c_out=$(builddir) $<
