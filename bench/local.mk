# bench: see bench/README.md
EXTRA_DIST += bench/README.md bench/RESULTS.md bench/lib.sh bench/benchlib.py
include $(top_srcdir)/bench/rpc.mk
include $(top_srcdir)/bench/image.mk
include $(top_srcdir)/bench/attest.mk
include $(top_srcdir)/bench/vsock.mk
include $(top_srcdir)/bench/vmm.mk
include $(top_srcdir)/bench/pool.mk
include $(top_srcdir)/bench/lifecycle.mk
