# build-enclave, describe-eif, pcr (see ctl/cmd_image.c)
ctl_enclavectl_SOURCES += ctl/cmd_image.c
ctl_enclavectl_LDADD += image/libimage.a attest/libmeasure.a $(ARCHIVE_LIBS) $(ZLIB_LIBS) \
	$(CBOR_LIBS) $(OPENSSL_LIBS) $(JSONC_LIBS)
