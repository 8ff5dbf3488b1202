# guest: the sample enclave (see guest/README.md)
EXTRA_DIST += guest/README.md
