/* Shared by the pool unit tests over fake trees (test-pool.c, test-pool-state.c): the test
 * environment (fake host of two nodes, a 512 MiB 2M-page pool over CPUs 2-3,6-7) and helpers. */
#pragma once

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "enclaved/pool-internal.h"
#include "tests/unit/test-pool-fake.h"

#define NR2M_NODE0 "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"
#define NR2M_NODE1 "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"

struct env {
	struct fake f;
	struct pool_config cfg;
	struct pool_options opts;
	unsigned grant_cap; /* the fake kernel grants at most this many pages (0: no cap) */
};

/* The fake kernel: writes back less than was asked for. */
static __attribute__((unused)) void cap_grant(const char *path, void *userdata)
{
	struct env *e = userdata;
	char buf[32];
	FILE *f;
	unsigned long v = 0;

	if (!e->grant_cap || !(f = fopen(path, "r+")))
		return;
	if (fscanf(f, "%lu", &v) == 1 && v > e->grant_cap) {
		rewind(f);
		snprintf(buf, sizeof(buf), "%u\n", e->grant_cap);
		if (ftruncate(fileno(f), 0) == 0)
			fputs(buf, f);
	}
	fclose(f);
}

static __attribute__((unused)) int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e || fake_init(&e->f) < 0)
		return -1;
	fake_host8(&e->f);
	pool_config_init(&e->cfg);
	assert_int_equal(pool_config_set(&e->cfg, "cpu_pool", "2-3,6-7", NULL), 0);
	assert_int_equal(pool_config_set(&e->cfg, "memory_mib", "512", NULL), 0);
	assert_int_equal(pool_config_set(&e->cfg, "hugepages", "2M", NULL), 0);
	e->opts.sysfs_root = e->f.sysfs;
	e->opts.cgroup_root = e->f.cgroup;
	e->opts.state_dir = e->f.state;
	e->opts.plain_memfd = true;
	e->opts.after_hugepage_write = cap_grant;
	e->opts.hook_userdata = e;
	*state = e;
	return 0;
}

static __attribute__((unused)) int teardown(void **state)
{
	struct env *e = *state;

	fake_cleanup(&e->f);
	free(e);
	return 0;
}

static __attribute__((unused)) struct pool *new_ok(struct env *e)
{
	struct pool *p = NULL;
	char *err = NULL;

	if (pool_new(&e->cfg, &e->opts, &p, &err) < 0)
		fail_msg("pool_new: %s", err);
	return p;
}

static __attribute__((unused)) struct pool_cpuset set_of(const char *list)
{
	struct pool_cpuset s;

	assert_int_equal(pool_cpuset_parse(list, &s, NULL), 0);
	return s;
}

static __attribute__((unused)) void expect_set(const struct pool_cpuset *s, const char *list)
{
	char *text = pool_cpuset_format(s);

	assert_non_null(text);
	if (strcmp(text, list) != 0)
		fail_msg("CPU set is '%s', expected '%s'", text, list);
	free(text);
}

/* r is the expected error and the message mentions needle. */
static __attribute__((unused)) void expect_error(int got, char **errp, int want, const char *needle)
{
	char *err = *errp;

	*errp = NULL;
	if (got != want)
		fail_msg("got %d (%s), expected %d", got, err ? err : "no message", want);
	assert_non_null(err);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
	free(err);
}

static __attribute__((unused)) struct pool_lease *
alloc_ok(struct pool *p, const char *owner, unsigned count, const char *cpus, uint64_t mib)
{
	struct pool_cpuset s;
	struct pool_lease *l = NULL;
	char *err = NULL;

	if (cpus)
		s = set_of(cpus);
	if (pool_alloc(p, owner, count, cpus ? &s : NULL, mib, &l, &err) < 0)
		fail_msg("alloc %s: %s", owner, err);
	return l;
}

static __attribute__((unused)) int alloc_err(struct pool *p, const char *owner, unsigned count,
					     const char *cpus, uint64_t mib, char **err)
{
	struct pool_cpuset s;
	struct pool_lease *l = NULL;
	int r;

	if (cpus)
		s = set_of(cpus);
	r = pool_alloc(p, owner, count, cpus ? &s : NULL, mib, &l, err);
	assert_null(l);
	return r;
}

/* One node of 8 single-thread cores: CPU 0 for the host, 1-7 for enclaves. */
static __attribute__((unused)) void flat8(struct env *e)
{
	static const char *const sib[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
	static const char *const nodes[] = {"0-7"};

	char node1[PATH_MAX * 2];

	snprintf(node1, sizeof(node1), "%s/sys/devices/system/node/node1", e->f.sysfs);
	nftw(node1, fake_rm, 16, FTW_DEPTH | FTW_PHYS);
	fake_topology(&e->f, "0-7\n", sib, 8, nodes, 1);
	pool_config_init(&e->cfg);
	assert_int_equal(pool_config_set(&e->cfg, "cpu_count", "7", NULL), 0);
	assert_int_equal(pool_config_set(&e->cfg, "memory_mib", "448", NULL), 0);
	assert_int_equal(pool_config_set(&e->cfg, "hugepages", "none", NULL), 0);
}
