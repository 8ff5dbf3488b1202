/* pool_alloc + pool_release of a 64 MiB, 1-CPU lease (ordinary memory, no cgroup) against the
 * floor it cannot beat: memfd_create + ftruncate + close of the same size, in the same run.
 * Prints the RESULTS.md row. Usage: pool-bench [iterations] */
#include "config.h"

#include "enclaved/pool.h"

#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static int raw_once(void)
{
	int fd = memfd_create("bench", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, 64 << 20) < 0)
		return -1;
	return close(fd);
}

int main(int argc, char **argv)
{
	struct pool_options opts = {.cgroup_root = "none"};
	struct pool_config cfg;
	struct pool *pool = NULL;
	char *error = NULL;
	long n = argc > 1 ? atol(argv[1]) : 20000;
	uint64_t t0, t_raw, t_pool;

	log_setup("pool-bench", LOG_LEVEL_WARNING);
	pool_config_init(&cfg);
	if (pool_config_set(&cfg, "cpu_count", "1", &error) < 0 ||
	    pool_config_set(&cfg, "exclude_cpu0", "no", &error) < 0 ||
	    pool_config_set(&cfg, "hugepages", "none", &error) < 0 ||
	    pool_config_set(&cfg, "memory_mib", "64", &error) < 0 ||
	    pool_new(&cfg, &opts, &pool, &error) < 0) {
		fprintf(stderr, "pool-bench: %s\n", error ? error : "setup failed");
		return 1;
	}
	/* Interleaved blocks, so warm-up and drift fall on both sides alike. */
	t_raw = t_pool = 0;
	for (long done = 0; done < n; done += 500) {
		t0 = util_now_monotonic_ns();
		for (long i = 0; i < 500; i++)
			if (raw_once() < 0)
				return 1;
		t_raw += util_now_monotonic_ns() - t0;
		t0 = util_now_monotonic_ns();
		for (long i = 0; i < 500; i++) {
			struct pool_lease *l = NULL;
			if (pool_alloc(pool, "bench", 1, NULL, 64, &l, &error) < 0) {
				fprintf(stderr, "pool-bench: %s\n", error);
				return 1;
			}
			if (pool_release(l) < 0)
				return 1;
		}
		t_pool += util_now_monotonic_ns() - t0;
	}
	n = (n + 499) / 500 * 500;
	printf("| pool alloc+release | 64 MiB 1-CPU lease (plain memfd, no cgroup) vs raw "
	       "memfd_create+ftruncate+close: %.2fx the raw cost (%.1f vs %.1f us/op, %ld ops) | "
	       "`build/<dir>/bench/pool-bench %ld` |\n",
	       (double)t_pool / (double)t_raw, (double)t_pool / (double)n / 1000.0,
	       (double)t_raw / (double)n / 1000.0, n, n);
	pool_free(pool);
	return 0;
}
