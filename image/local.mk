# image: EIF read/write/sign, cpio and rootfs builders
noinst_LIBRARIES += image/libimage.a
image_libimage_a_SOURCES = image/eif.h image/eif_internal.h image/eif_read.c image/eif_write.c \
	image/eif_sign.c image/eif_metadata.c image/eif_metadata.h image/eif_snapshot.c \
	image/cpio.c image/cpio.h image/rootfs.h image/rootfs.c image/rootfs_oci.c
image_libimage_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(CBOR_CFLAGS) $(ZLIB_CFLAGS) \
	$(ARCHIVE_CFLAGS) $(JSONC_CFLAGS)
EXTRA_DIST += image/README.md

IMAGE_TEST_LIBS = image/libimage.a attest/libmeasure.a common/libcommon.a $(CMOCKA_LIBS) \
	$(OPENSSL_LIBS) $(CBOR_LIBS) $(ZLIB_LIBS) $(ARCHIVE_LIBS) $(JSONC_LIBS)
IMAGE_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS) $(CBOR_CFLAGS) \
	$(ZLIB_CFLAGS) $(ARCHIVE_CFLAGS) $(JSONC_CFLAGS)

check_PROGRAMS += tests/unit/test-eif
TESTS += tests/unit/test-eif
tests_unit_test_eif_SOURCES = tests/unit/test-eif.c
tests_unit_test_eif_CFLAGS = $(IMAGE_TEST_CFLAGS)
tests_unit_test_eif_LDADD = $(IMAGE_TEST_LIBS)

check_PROGRAMS += tests/unit/test-eif-sign
TESTS += tests/unit/test-eif-sign
tests_unit_test_eif_sign_SOURCES = tests/unit/test-eif-sign.c
tests_unit_test_eif_sign_CFLAGS = $(IMAGE_TEST_CFLAGS)
tests_unit_test_eif_sign_LDADD = $(IMAGE_TEST_LIBS)

TESTS += tests/integration/image-cli.sh
EXTRA_DIST += tests/integration/image-cli.sh

check_PROGRAMS += tests/unit/test-eif-rootfs
TESTS += tests/unit/test-eif-rootfs
tests_unit_test_eif_rootfs_SOURCES = tests/unit/test-eif-rootfs.c
tests_unit_test_eif_rootfs_CFLAGS = $(IMAGE_TEST_CFLAGS)
tests_unit_test_eif_rootfs_LDADD = $(IMAGE_TEST_LIBS)
