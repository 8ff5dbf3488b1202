noinst_LIBRARIES += common/libcommon.a
common_libcommon_a_SOURCES = common/util.c common/util.h common/log.c common/log.h
EXTRA_DIST += common/README.md
