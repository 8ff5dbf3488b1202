/* cpuset cgroups: enclaved/ holds the pool CPUs, enclaved/<owner>/ each lease's CPUs. */
#include "config.h"

#include "enclaved/pool-internal.h"

#include "common/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CGROUP_DIR "enclaved"

static int write_attr(const char *dir, const char *name, const char *value)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	int r = pool_path(path, sizeof(path), dir, "/%s", name);

	if (r < 0)
		return r;
	/* O_CREAT only matters for the plain directories tests use as a fake cgroupfs. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	return util_write_full(fd, value, strlen(value));
}

static bool has_file(const char *dir, const char *name)
{
	char path[PATH_MAX];

	return pool_path(path, sizeof(path), dir, "/%s", name) == 0 && access(path, F_OK) == 0;
}

static int detect_version(const char *root)
{
	char path[PATH_MAX];
	_cleanup_free_ char *controllers = NULL;

	if (pool_path(path, sizeof(path), root, "/cgroup.controllers") == 0 &&
	    util_read_file(path, 4096, &controllers, NULL) == 0) {
		for (char *tok = strtok(controllers, " \n"); tok; tok = strtok(NULL, " \n"))
			if (strcmp(tok, "cpuset") == 0)
				return 2;
		return 0;
	}
	return has_file(root, "cpuset.cpus") ? 1 : 0;
}

/* delegate: v2 only, lets children use cpuset; a v2 leaf must not, or it cannot hold tasks. */
static int set_cpus(const char *dir, const struct pool_cpuset *cpus, int node, bool delegate)
{
	_cleanup_free_ char *list = pool_cpuset_format(cpus);
	char mems[16];
	int r;

	if (!list)
		return -ENOMEM;
	snprintf(mems, sizeof(mems), "%d", node < 0 ? 0 : node);
	/* v1 needs mems before any task may join; both orders are fine for v2. */
	r = write_attr(dir, "cpuset.mems", mems);
	if (r == 0)
		r = write_attr(dir, "cpuset.cpus", list);
	if (r == 0 && delegate)
		r = write_attr(dir, "cgroup.subtree_control", "+cpuset");
	return r;
}

int pool_cgroup_remove(const char *dir)
{
	static const char *const fake_files[] = {"cpuset.cpus", "cpuset.mems",
						 "cgroup.subtree_control", "cgroup.procs"};

	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST)
		return -errno;
	/* A plain directory standing in for cgroupfs keeps the attribute files we wrote. */
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(fake_files); i++) {
		char path[PATH_MAX];
		if (pool_path(path, sizeof(path), dir, "/%s", fake_files[i]) == 0)
			(void)unlink(path);
	}
	return rmdir(dir) == 0 ? 0 : -errno;
}

void pool_cgroup_setup(struct pool_cgroup *cg, const char *root, const struct pool_cpuset *cpus,
		       int node)
{
	static const char *const probe[] = {"/sys/fs/cgroup/cpuset", "/sys/fs/cgroup"};
	int r;

	memset(cg, 0, sizeof(*cg));
	if (root && strcmp(root, "none") == 0) {
		snprintf(cg->note, sizeof(cg->note), "cgroups disabled by configuration");
		return;
	}
	for (size_t i = 0; !root && i < UTIL_ARRAY_SIZE(probe); i++)
		if (detect_version(probe[i]))
			root = probe[i];
	if (!root || !(cg->version = detect_version(root))) {
		snprintf(cg->note, sizeof(cg->note), "no cpuset cgroup controller%s%.150s",
			 root ? " at " : "", root ? root : "");
		return;
	}
	if (cg->version == 2 && (r = write_attr(root, "cgroup.subtree_control", "+cpuset")) < 0)
		goto fail;
	r = pool_path(cg->dir, sizeof(cg->dir), root, "/" CGROUP_DIR);
	if (r < 0)
		goto fail;
	if (mkdir(cg->dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	r = set_cpus(cg->dir, cpus, node, cg->version == 2);
	if (r < 0) {
		(void)pool_cgroup_remove(cg->dir);
		goto fail;
	}
	snprintf(
	    cg->note, sizeof(cg->note),
	    "cpuset cgroup v%d at %.150s (enclaves confined to their CPUs; other host tasks are "
	    "not moved off pool CPUs)",
	    cg->version, cg->dir);
	return;
fail:
	snprintf(cg->note, sizeof(cg->note), "cpuset cgroup at %.150s unusable (%s); pinning only",
		 root, strerror(-r));
	cg->version = 0;
	cg->dir[0] = '\0';
}

int pool_cgroup_set_cpus(const struct pool_cgroup *cg, const struct pool_cpuset *cpus, int node)
{
	return cg->version ? set_cpus(cg->dir, cpus, node, cg->version == 2) : 0;
}

int pool_cgroup_lease_create(const struct pool_cgroup *cg, const char *owner,
			     const struct pool_cpuset *cpus, int node, char **path)
{
	char dir[PATH_MAX];
	int r;

	*path = NULL;
	if (!cg->version)
		return 0;
	r = pool_path(dir, sizeof(dir), cg->dir, "/%s", owner);
	if (r < 0)
		return r;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	r = set_cpus(dir, cpus, node, false);
	if (r < 0) {
		(void)pool_cgroup_remove(dir);
		return r;
	}
	*path = strdup(dir);
	if (!*path) {
		(void)pool_cgroup_remove(dir);
		return -ENOMEM;
	}
	return 0;
}

int pool_cgroup_attach(const struct pool_cgroup *cg, const char *dir, pid_t pid)
{
	char text[32];

	if (!cg->version || !dir)
		return 0;
	snprintf(text, sizeof(text), "%d\n", (int)pid);
	return write_attr(dir, "cgroup.procs", text);
}
