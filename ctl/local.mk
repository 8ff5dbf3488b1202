bin_PROGRAMS += ctl/enclavectl
ctl_enclavectl_SOURCES = ctl/main.c
ctl_enclavectl_LDADD = common/libcommon.a $(SYSTEMD_LIBS)
EXTRA_DIST += ctl/README.md
# Command groups owned elsewhere add their sources and libraries here.
include $(top_srcdir)/ctl/image.mk
include $(top_srcdir)/ctl/attest.mk
