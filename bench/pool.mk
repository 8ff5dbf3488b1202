# bench programs of the pool module
noinst_PROGRAMS += bench/pool-bench
bench_pool_bench_SOURCES = bench/pool-bench.c
bench_pool_bench_CFLAGS = $(AM_CFLAGS)
bench_pool_bench_LDADD = $(POOL_LIBS)
