/* Fake sysfs / cgroup / state trees in a temporary directory for the pool unit tests. */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fake {
	char top[256];	       /* the temporary directory */
	char sysfs[PATH_MAX];  /* <top>/root: passed as sysfs root */
	char state[PATH_MAX];  /* <top>/state */
	char cgroup[PATH_MAX]; /* <top>/cgroup: a v1-looking cpuset hierarchy */
};

static __attribute__((unused)) int fake_mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static __attribute__((unused)) void fake_writef(const char *top, const char *content,
						const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static __attribute__((unused)) void fake_writef(const char *top, const char *content,
						const char *fmt, ...)
{
	char rel[PATH_MAX], path[PATH_MAX * 2], dir[PATH_MAX * 2];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s%s", top, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	if (fake_mkdirs(dir) < 0)
		abort();
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(content, f);
	fclose(f);
}

static __attribute__((unused)) char *fake_readf(const char *top, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static __attribute__((unused)) char *fake_readf(const char *top, const char *fmt, ...)
{
	static char buf[4096];
	char rel[PATH_MAX], path[PATH_MAX * 2];
	va_list ap;
	FILE *f;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s%s", top, rel);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return buf;
}

/* online: "0-7"; siblings[i]: thread_siblings_list of CPU i (NULL: no topology dir);
 * nodes[n]: cpulist of node n (nodes NULL: a kernel without NUMA). */
static __attribute__((unused)) void fake_topology(struct fake *f, const char *online,
						  const char *const *siblings, size_t n_cpus,
						  const char *const *nodes, size_t n_nodes)
{
	fake_writef(f->sysfs, online, "/sys/devices/system/cpu/online");
	for (size_t i = 0; i < n_cpus; i++)
		if (siblings[i])
			fake_writef(f->sysfs, siblings[i],
				    "/sys/devices/system/cpu/cpu%zu/topology/thread_siblings_list",
				    i);
	for (size_t n = 0; nodes && n < n_nodes; n++) {
		fake_writef(f->sysfs, nodes[n], "/sys/devices/system/node/node%zu/cpulist", n);
		fake_writef(
		    f->sysfs, "0\n",
		    "/sys/devices/system/node/node%zu/hugepages/hugepages-2048kB/nr_hugepages", n);
		fake_writef(
		    f->sysfs, "0\n",
		    "/sys/devices/system/node/node%zu/hugepages/hugepages-1048576kB/nr_hugepages",
		    n);
	}
}

/* The usual test host: 8 CPUs, 2 threads per core (i and i+4), node 0 = 0-1,4-5, node 1 = 2-3,6-7.
 */
static __attribute__((unused)) void fake_host8(struct fake *f)
{
	static const char *const sib[] = {"0,4", "1,5", "2,6", "3,7", "0,4", "1,5", "2,6", "3,7"};
	static const char *const nodes[] = {"0-1,4-5\n", "2-3,6-7\n"};

	fake_topology(f, "0-7\n", sib, 8, nodes, 2);
}

static __attribute__((unused)) int fake_init(struct fake *f)
{
	snprintf(f->top, sizeof(f->top), "/tmp/pool-test.XXXXXX");
	if (!mkdtemp(f->top))
		return -errno;
	snprintf(f->sysfs, sizeof(f->sysfs), "%s/root", f->top);
	snprintf(f->state, sizeof(f->state), "%s/state", f->top);
	snprintf(f->cgroup, sizeof(f->cgroup), "%s/cgroup", f->top);
	if (fake_mkdirs(f->sysfs) < 0 || fake_mkdirs(f->state) < 0 || fake_mkdirs(f->cgroup) < 0)
		return -errno;
	fake_writef(f->cgroup, "0-7\n", "/cpuset.cpus");
	fake_writef(f->cgroup, "0-1\n", "/cpuset.mems");
	return 0;
}

static __attribute__((unused)) int fake_rm(const char *path, const struct stat *st, int flag,
					   struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static __attribute__((unused)) void fake_cleanup(struct fake *f)
{
	if (f->top[0])
		nftw(f->top, fake_rm, 16, FTW_DEPTH | FTW_PHYS);
}
