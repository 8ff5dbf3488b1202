/* Customer ramdisk builder: a tree from a directory or an OCI archive, written as newc cpio
 * under rootfs/ with cmd and env beside it. */
#include "config.h"

#include "image/rootfs.h"
#include "image/rootfs_internal.h"
#include "image/cpio.h"
#include "image/eif_internal.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

void rtree_init(struct rtree *t)
{
	memset(t, 0, sizeof(*t));
	t->root.mode = S_IFDIR | 0755;
	t->root.src_fd = -1;
}

/* Free what n holds; returns how many descendant nodes went with it. */
static unsigned node_free(struct rnode *n)
{
	unsigned freed = 0;

	for (size_t i = 0; i < n->n_children; i++) {
		freed += 1 + node_free(n->children[i]);
		free(n->children[i]);
	}
	free(n->children);
	free(n->name);
	free(n->link);
	free(n->src_path);
	n->children = NULL;
	n->n_children = n->cap = 0;
	n->name = n->link = n->src_path = NULL;
	return freed;
}

void rtree_free(struct rtree *t)
{
	(void)node_free(&t->root);
	t->n_entries = 0;
}

int rtree_normalize(char *path)
{
	char *out = path, *p = path;
	unsigned depth = 0;

	if (strlen(path) >= ROOTFS_MAX_PATH)
		return -ENAMETOOLONG;
	while (*p) {
		char *end;
		size_t len;
		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len == 0)
			break;
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (!(len == 1 && p[0] == '.')) {
			if (++depth > ROOTFS_MAX_DEPTH)
				return -EINVAL;
			if (out != path)
				*out++ = '/';
			memmove(out, p, len);
			out += len;
		}
		p = end;
	}
	*out = 0;
	return 0;
}

static struct rnode *child(struct rnode *dir, const char *name, size_t len, size_t *index)
{
	for (size_t i = 0; i < dir->n_children; i++) {
		if (strlen(dir->children[i]->name) == len &&
		    memcmp(dir->children[i]->name, name, len) == 0) {
			if (index)
				*index = i;
			return dir->children[i];
		}
	}
	return NULL;
}

static int add_child(struct rtree *t, struct rnode *dir, const char *name, size_t len, mode_t mode,
		     unsigned layer, struct rnode **out)
{
	struct rnode *n;

	if (t->n_entries >= ROOTFS_MAX_ENTRIES)
		return -E2BIG;
	if (dir->n_children == dir->cap) {
		size_t cap = dir->cap ? dir->cap * 2 : 8;
		struct rnode **c = realloc(dir->children, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		dir->children = c;
		dir->cap = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strndup(name, len))) {
		free(n);
		return -ENOMEM;
	}
	n->mode = mode;
	n->layer = layer;
	n->src_fd = -1;
	dir->children[dir->n_children++] = n;
	t->n_entries++;
	*out = n;
	return 0;
}

/* Drop what a node held, keeping its name and place: for a later layer replacing it. */
static void node_reset(struct rtree *t, struct rnode *n, mode_t mode, unsigned layer)
{
	char *name = n->name;

	n->name = NULL;
	t->n_entries -= node_free(n);
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->mode = mode;
	n->layer = layer;
	n->src_fd = -1;
}

int rtree_put(struct rtree *t, const char *path, mode_t mode, unsigned layer, struct rnode **out)
{
	struct rnode *dir = &t->root, *n = NULL;
	const char *p = path;
	int r;

	if (!*path) {
		*out = &t->root;
		return 0;
	}
	for (;;) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		bool last = *end == 0;
		mode_t want = last ? mode : S_IFDIR | 0755;

		n = child(dir, p, len, NULL);
		/* a non-directory in the way, or any non-directory overwritten: start afresh; an
		 * existing directory stays (with its children) when a directory is wanted */
		if (n && (!S_ISDIR(want) || !S_ISDIR(n->mode)))
			node_reset(t, n, want, layer);
		if (!n) {
			r = add_child(t, dir, p, len, want, layer, &n);
			if (r < 0)
				return r;
		}
		if (last)
			break;
		dir = n;
		p = end + 1;
	}
	n->layer = layer;
	*out = n;
	return 0;
}

struct rnode *rtree_lookup(struct rtree *t, const char *path)
{
	struct rnode *n = &t->root;
	const char *p = path;

	while (*p && n) {
		const char *end = strchrnul(p, '/');
		n = child(n, p, (size_t)(end - p), NULL);
		p = *end ? end + 1 : end;
	}
	return n;
}

static void remove_at(struct rtree *t, struct rnode *dir, size_t i)
{
	t->n_entries -= 1 + node_free(dir->children[i]);
	free(dir->children[i]);
	memmove(&dir->children[i], &dir->children[i + 1],
		(dir->n_children - i - 1) * sizeof(dir->children[0]));
	dir->n_children--;
}

void rtree_remove(struct rtree *t, const char *path)
{
	const char *slash = strrchr(path, '/');
	struct rnode *dir = &t->root;
	const char *name = path;
	size_t i;

	if (slash) {
		_cleanup_free_ char *parent = strndup(path, (size_t)(slash - path));
		if (!parent)
			return;
		dir = rtree_lookup(t, parent);
		name = slash + 1;
	}
	if (dir && child(dir, name, strlen(name), &i))
		remove_at(t, dir, i);
}

void rtree_clear_lower(struct rtree *t, const char *path, unsigned layer)
{
	struct rnode *dir = rtree_lookup(t, path);

	if (!dir)
		return;
	for (size_t i = dir->n_children; i-- > 0;)
		if (dir->children[i]->layer < layer)
			remove_at(t, dir, i);
}

/* --- directory source -------------------------------------------------------------------- */

static int load_dir(struct rtree *t, const char *base, const char *rel, unsigned depth, char *err,
		    size_t errlen)
{
	char path[PATH_MAX];
	struct dirent **names = NULL;
	int n, r = 0;

	if (depth > ROOTFS_MAX_DEPTH) {
		eif_errf(err, errlen, "%s/%s: nested deeper than %d", base, rel, ROOTFS_MAX_DEPTH);
		return -ELOOP;
	}
	if (snprintf(path, sizeof(path), "%s/%s", base, rel) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		r = -errno;
		eif_errf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	for (int i = 0; i < n; i++) {
		char crel[PATH_MAX], full[PATH_MAX], target[PATH_MAX];
		const char *nm = names[i]->d_name;
		struct rnode *node;
		struct stat st;
		ssize_t len;

		if (r < 0 || !strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		if (snprintf(crel, sizeof(crel), "%s%s%s", rel, *rel ? "/" : "", nm) >=
			(int)sizeof(crel) ||
		    snprintf(full, sizeof(full), "%s/%s", base, crel) >= (int)sizeof(full)) {
			r = -ENAMETOOLONG;
			eif_errf(err, errlen, "%s/%s: path too long", path, nm);
			continue;
		}
		if (lstat(full, &st) < 0) {
			r = -errno;
			eif_errf(err, errlen, "%s: %s", full, strerror(errno));
			continue;
		}
		r = rtree_put(t, crel, st.st_mode, 0, &node);
		if (r < 0) {
			eif_errf(err, errlen, "%s: %s", full, strerror(-r));
			continue;
		}
		node->mode = st.st_mode;
		node->uid = st.st_uid;
		node->gid = st.st_gid;
		node->rdev = st.st_rdev;
		if (S_ISREG(st.st_mode)) {
			node->size = (uint64_t)st.st_size;
			node->src_path = strdup(full);
			if (!node->src_path)
				r = -ENOMEM;
		} else if (S_ISLNK(st.st_mode)) {
			len = readlink(full, target, sizeof(target) - 1);
			if (len < 0) {
				r = -errno;
				eif_errf(err, errlen, "%s: readlink: %s", full, strerror(errno));
				continue;
			}
			target[len] = 0;
			node->link = strdup(target);
			if (!node->link)
				r = -ENOMEM;
		} else if (S_ISDIR(st.st_mode)) {
			r = load_dir(t, base, crel, depth + 1, err, errlen);
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* --- cpio output ------------------------------------------------------------------------- */

static int cmp_node(const void *a, const void *b)
{
	return strcmp((*(struct rnode *const *)a)->name, (*(struct rnode *const *)b)->name);
}

static int emit_file(struct cpio_writer *w, const char *name, struct rnode *n, char *err,
		     size_t errlen)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (n->src_fd >= 0)
		return cpio_add_file_fd(w, name, n->mode, n->uid, n->gid, n->src_fd, n->src_off,
					n->size);
	if (!n->src_path)
		return cpio_add_file(w, name, n->mode, n->uid, n->gid, "", 0);
	fd = open(n->src_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		eif_errf(err, errlen, "%s: %s", n->src_path, strerror(errno));
		return r;
	}
	if ((uint64_t)st.st_size != n->size) {
		eif_errf(err, errlen, "%s: changed size while building", n->src_path);
		return -EAGAIN;
	}
	r = cpio_add_file_fd(w, name, n->mode, n->uid, n->gid, fd, 0, n->size);
	if (r < 0)
		eif_errf(err, errlen, "%s: %s", n->src_path, strerror(-r));
	return r;
}

static int emit(struct cpio_writer *w, const char *prefix, struct rnode *dir, char *err,
		size_t errlen)
{
	int r = 0;

	qsort(dir->children, dir->n_children, sizeof(dir->children[0]), cmp_node);
	for (size_t i = 0; i < dir->n_children && r == 0; i++) {
		struct rnode *n = dir->children[i];
		_cleanup_free_ char *name = NULL;

		if (asprintf(&name, "%s/%s", prefix, n->name) < 0)
			return -ENOMEM;
		if (S_ISDIR(n->mode)) {
			r = cpio_add_dir(w, name, n->mode, n->uid, n->gid);
			if (r == 0)
				r = emit(w, name, n, err, errlen);
		} else if (S_ISREG(n->mode)) {
			r = emit_file(w, name, n, err, errlen);
		} else if (S_ISLNK(n->mode)) {
			r = cpio_add_symlink(w, name, n->link ? n->link : "", n->uid, n->gid);
		} else {
			r = cpio_add_node(w, name, n->mode, n->uid, n->gid, n->rdev);
		}
	}
	return r;
}

/* Each entry on its own line, \n-terminated, as Nitro's init reads /cmd and /env. */
static int lines_file(struct cpio_writer *w, const char *name, const char *const *a, unsigned n_a,
		      const char *const *b, unsigned n_b, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool bad = false;

	if (!f)
		return -ENOMEM;
	for (unsigned i = 0; i < n_a + n_b; i++) {
		const char *s = i < n_a ? a[i] : b[i - n_a];
		bad |= strchr(s, '\n') != NULL;
		fprintf(f, "%s\n", s);
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	if (bad) {
		eif_errf(err, errlen, "a /%s entry contains a newline", name);
		return -EINVAL;
	}
	return cpio_add_file(w, name, 0644, 0, 0, buf, len);
}

struct oci_defaults {
	const char **cmd, **env;
	unsigned n_cmd, n_env;
};

static void defaults_free(struct oci_defaults *d)
{
	free(d->cmd);
	free(d->env);
}

/* Entrypoint + Cmd and Env from an image config (pointers into cfg). */
static int config_defaults(struct json_object *cfg, struct oci_defaults *d)
{
	struct json_object *c = NULL, *arr;
	const char *keys[] = {"Entrypoint", "Cmd", "Env"};

	if (!json_object_object_get_ex(cfg, "config", &c) &&
	    !json_object_object_get_ex(cfg, "container_config", &c))
		return 0;
	for (unsigned k = 0; k < 3; k++) {
		const char ***list = k < 2 ? &d->cmd : &d->env;
		unsigned *n = k < 2 ? &d->n_cmd : &d->n_env;
		size_t len;
		if (!json_object_object_get_ex(c, keys[k], &arr) ||
		    !json_object_is_type(arr, json_type_array))
			continue;
		len = json_object_array_length(arr);
		if (len > 4096)
			return -E2BIG;
		const char **nl = realloc(*list, (*n + len) * sizeof(char *) + 1);
		if (!nl)
			return -ENOMEM;
		*list = nl;
		for (size_t i = 0; i < len; i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
			if (s)
				nl[(*n)++] = s;
		}
	}
	return 0;
}

static int open_spool(const char *dir)
{
	int fd = open(dir ? dir : "/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		fd = memfd_create("rootfs-spool", MFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int rootfs_build_ramdisk(const struct rootfs_opts *opts, int out_fd, char **config_json, char *err,
			 size_t errlen)
{
	struct rtree t;
	struct cpio_writer w;
	struct oci_defaults def = {0};
	struct json_object *cfg = NULL;
	_cleanup_free_ char *cfg_text = NULL;
	_cleanup_close_ int spool = -1;
	int r;

	rtree_init(&t);
	if (!!opts->dir == !!opts->oci_archive) {
		eif_errf(err, errlen, "give exactly one of a directory and an OCI archive");
		r = -EINVAL;
		goto out;
	}
	if (opts->dir) {
		r = load_dir(&t, opts->dir, "", 0, err, errlen);
	} else {
		r = spool = open_spool(opts->spool_dir);
		if (r >= 0)
			r = rootfs_oci_load(&t, opts->oci_archive, spool, &cfg_text, err, errlen);
		if (r >= 0 && cfg_text) {
			cfg = json_tokener_parse(cfg_text);
			if (cfg)
				r = config_defaults(cfg, &def);
		}
	}
	if (r < 0)
		goto out;
	cpio_init(&w, out_fd);
	r = lines_file(&w, "cmd", opts->n_cmd ? opts->cmd : def.cmd,
		       opts->n_cmd ? opts->n_cmd : def.n_cmd, NULL, 0, err, errlen);
	if (r == 0)
		r = lines_file(&w, "env", def.env, def.n_env, opts->env, opts->n_env, err, errlen);
	if (r == 0)
		r = cpio_add_dir(&w, "rootfs", 0755, 0, 0);
	if (r == 0)
		r = emit(&w, "rootfs", &t.root, err, errlen);
	if (r == 0)
		r = cpio_finish(&w);
	if (r < 0 && err && errlen && !err[0])
		eif_errf(err, errlen, "writing the ramdisk: %s", strerror(-r));
	if (r == 0 && config_json && cfg_text)
		*config_json = util_steal_ptr(&cfg_text);
out:
	defaults_free(&def);
	json_object_put(cfg);
	rtree_free(&t);
	return r < 0 ? r : 0;
}
