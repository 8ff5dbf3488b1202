# CPU and memory pools (enclaved/pool*.c): libpool.a, its unit tests, tools and integration test.
noinst_LIBRARIES += enclaved/libpool.a
enclaved_libpool_a_SOURCES = enclaved/pool.h enclaved/pool-internal.h enclaved/pool.c \
	enclaved/pool-config.c enclaved/pool-topology.c enclaved/pool-hugepages.c \
	enclaved/pool-cgroup.c enclaved/pool-state.c enclaved/pool-lease.c enclaved/pool-resize.c
enclaved_libpool_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
POOL_LIBS = enclaved/libpool.a common/libcommon.a $(JSONC_LIBS) $(SYSTEMD_LIBS) -lpthread

POOL_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JSONC_CFLAGS)
POOL_TEST_LIBS = $(POOL_LIBS) $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test-pool-config
TESTS += tests/unit/test-pool-config
tests_unit_test_pool_config_SOURCES = tests/unit/test-pool-config.c
tests_unit_test_pool_config_CFLAGS = $(POOL_TEST_CFLAGS)
tests_unit_test_pool_config_LDADD = $(POOL_TEST_LIBS)

check_PROGRAMS += tests/unit/test-pool-topology
TESTS += tests/unit/test-pool-topology
tests_unit_test_pool_topology_SOURCES = tests/unit/test-pool-topology.c tests/unit/test-pool-fake.h
tests_unit_test_pool_topology_CFLAGS = $(POOL_TEST_CFLAGS)
tests_unit_test_pool_topology_LDADD = $(POOL_TEST_LIBS)

check_PROGRAMS += tests/unit/test-pool
TESTS += tests/unit/test-pool
tests_unit_test_pool_SOURCES = tests/unit/test-pool.c tests/unit/test-pool-env.h \
	tests/unit/test-pool-fake.h
tests_unit_test_pool_CFLAGS = $(POOL_TEST_CFLAGS)
tests_unit_test_pool_LDADD = $(POOL_TEST_LIBS)

check_PROGRAMS += tests/unit/test-pool-state
TESTS += tests/unit/test-pool-state
tests_unit_test_pool_state_SOURCES = tests/unit/test-pool-state.c tests/unit/test-pool-env.h \
	tests/unit/test-pool-fake.h
tests_unit_test_pool_state_CFLAGS = $(POOL_TEST_CFLAGS)
tests_unit_test_pool_state_LDADD = $(POOL_TEST_LIBS)

# Drives a pool from the shell for tests/integration/pool-*.sh.
check_PROGRAMS += tests/pool-tool
tests_pool_tool_SOURCES = tests/pool-tool.c
tests_pool_tool_CFLAGS = $(AM_CFLAGS)
tests_pool_tool_LDADD = $(POOL_LIBS)

TESTS += tests/integration/pool-hugepages.sh
EXTRA_DIST += tests/integration/pool-hugepages.sh
