libexec_PROGRAMS += vmm/enclave-vmm
vmm_enclave_vmm_SOURCES = vmm/main.c
vmm_enclave_vmm_LDADD = common/libcommon.a $(SYSTEMD_LIBS)
EXTRA_DIST += vmm/README.md
include $(top_srcdir)/vmm/devices.mk
