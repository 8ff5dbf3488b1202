sbin_PROGRAMS += enclaved/enclaved
enclaved_enclaved_SOURCES = enclaved/main.c
enclaved_enclaved_CFLAGS = $(AM_CFLAGS)
enclaved_enclaved_LDADD = common/libcommon.a $(SYSTEMD_LIBS)
EXTRA_DIST += enclaved/README.md
# The pool module keeps its own fragment.
include $(top_srcdir)/enclaved/pool.mk
