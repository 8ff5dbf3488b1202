/* OCI archives without a container daemon: `docker save` output (manifest.json) or an OCI
 * image layout (index.json), as a tar. The outer archive's files are spooled once; layers are
 * then read from the spool (gzip or plain tar) and applied in order with whiteouts. */
#include "config.h"

#include "image/rootfs_internal.h"
#include "image/eif_internal.h"
#include "common/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>

#define OCI_MAX_JSON   (4 * 1024 * 1024)
#define OCI_MAX_LAYERS 256
#define OCI_MAX_BLOBS  4096
#define OCI_CHUNK      (256 * 1024)

struct blob {
	char *name;
	uint64_t off, size;
};

struct spool {
	int fd;
	uint64_t end;
	struct blob *blobs;
	size_t n_blobs;
	uint8_t *buf;
	char *err;
	size_t errlen;
};

/* Copy the current archive entry's data to the end of the spool. */
static int spool_entry(struct spool *s, struct archive *a, uint64_t *off, uint64_t *size)
{
	uint64_t start = s->end;

	for (;;) {
		la_ssize_t n = archive_read_data(a, s->buf, OCI_CHUNK);
		if (n < 0) {
			eif_errf(s->err, s->errlen, "reading archive data: %s",
				 archive_error_string(a));
			return -EBADMSG;
		}
		if (n == 0)
			break;
		if (pwrite(s->fd, s->buf, (size_t)n, (off_t)s->end) != n)
			return errno ? -errno : -EIO;
		s->end += (uint64_t)n;
	}
	*off = start;
	*size = s->end - start;
	return 0;
}

static const struct blob *find_blob(const struct spool *s, const char *name)
{
	char norm[ROOTFS_MAX_PATH];

	if (snprintf(norm, sizeof(norm), "%s", name) >= (int)sizeof(norm) ||
	    rtree_normalize(norm) < 0)
		return NULL;
	for (size_t i = 0; i < s->n_blobs; i++)
		if (strcmp(s->blobs[i].name, norm) == 0)
			return &s->blobs[i];
	return NULL;
}

static int read_outer(struct spool *s, const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r = 0, ar;

	if (!a)
		return -ENOMEM;
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK) {
		eif_errf(s->err, s->errlen, "%s: %s", path, archive_error_string(a));
		r = -EBADMSG;
		goto out;
	}
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		struct blob *b;
		char *name;
		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		if (s->n_blobs >= OCI_MAX_BLOBS) {
			eif_errf(s->err, s->errlen, "%s: more than %d files", path, OCI_MAX_BLOBS);
			r = -E2BIG;
			goto out;
		}
		name = strdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		if (!name || rtree_normalize(name) < 0) {
			free(name);
			continue;
		}
		b = realloc(s->blobs, (s->n_blobs + 1) * sizeof(*b));
		if (!b) {
			free(name);
			r = -ENOMEM;
			goto out;
		}
		s->blobs = b;
		b = &s->blobs[s->n_blobs++];
		b->name = name;
		r = spool_entry(s, a, &b->off, &b->size);
		if (r < 0)
			goto out;
	}
	if (ar != ARCHIVE_EOF) {
		eif_errf(s->err, s->errlen, "%s: %s", path, archive_error_string(a));
		r = -EBADMSG;
	}
out:
	archive_read_free(a);
	return r;
}

static int blob_json(struct spool *s, const char *name, struct json_object **out)
{
	const struct blob *b = find_blob(s, name);
	_cleanup_free_ char *text = NULL;
	int r;

	if (!b) {
		eif_errf(s->err, s->errlen, "archive has no %s", name);
		return -ENOENT;
	}
	if (b->size > OCI_MAX_JSON) {
		eif_errf(s->err, s->errlen, "%s is larger than %d bytes", name, OCI_MAX_JSON);
		return -EFBIG;
	}
	text = malloc((size_t)b->size + 1);
	if (!text)
		return -ENOMEM;
	r = eif_pread_full(s->fd, text, (size_t)b->size, b->off);
	if (r < 0)
		return r;
	text[b->size] = 0;
	*out = json_tokener_parse(text);
	if (!*out) {
		eif_errf(s->err, s->errlen, "%s is not valid JSON", name);
		return -EBADMSG;
	}
	return 0;
}

/* "sha256:<hex>" -> "blobs/sha256/<hex>" */
static int digest_path(const char *digest, char *out, size_t len)
{
	const char *colon = digest ? strchr(digest, ':') : NULL;

	if (!colon || strchr(colon + 1, '/') || colon == digest)
		return -EBADMSG;
	if (snprintf(out, len, "blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1) >=
	    (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Fill layers (paths into the archive) and config (path) from manifest.json or index.json. */
static int find_layers(struct spool *s, struct json_object **keep, char layers[][256],
		       unsigned *n_layers, char *config, size_t config_len)
{
	struct json_object *root = NULL, *m, *arr = NULL, *man = NULL;
	char path[256];
	int r;

	if (find_blob(s, "manifest.json")) {
		/* docker save: [{"Config": "...", "Layers": ["..."]}] */
		r = blob_json(s, "manifest.json", &root);
		if (r < 0)
			return r;
		keep[0] = root;
		m = json_object_is_type(root, json_type_array) ? json_object_array_get_idx(root, 0)
							       : NULL;
		if (!m || !get_str(m, "Config") || !json_object_object_get_ex(m, "Layers", &arr) ||
		    !json_object_is_type(arr, json_type_array)) {
			eif_errf(s->err, s->errlen, "manifest.json: no Config/Layers in entry 0");
			return -EBADMSG;
		}
		snprintf(config, config_len, "%s", get_str(m, "Config"));
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			const char *l = json_object_get_string(json_object_array_get_idx(arr, i));
			if (*n_layers >= OCI_MAX_LAYERS || !l || strlen(l) >= 256) {
				eif_errf(s->err, s->errlen, "manifest.json: Layers[%zu] is bad", i);
				return -EBADMSG;
			}
			snprintf(layers[(*n_layers)++], 256, "%s", l);
		}
		return 0;
	}
	/* OCI layout: index.json -> manifests[0] -> {config, layers[]} */
	r = blob_json(s, "index.json", &root);
	if (r < 0)
		return r;
	keep[0] = root;
	if (!json_object_object_get_ex(root, "manifests", &arr) ||
	    !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) < 1 ||
	    digest_path(get_str(json_object_array_get_idx(arr, 0), "digest"), path, sizeof(path)) <
		0) {
		eif_errf(s->err, s->errlen, "index.json: no manifests[0].digest");
		return -EBADMSG;
	}
	r = blob_json(s, path, &man);
	if (r < 0)
		return r;
	keep[1] = man;
	if (!json_object_object_get_ex(man, "config", &m) ||
	    digest_path(get_str(m, "digest"), config, config_len) < 0 ||
	    !json_object_object_get_ex(man, "layers", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		eif_errf(s->err, s->errlen, "%s: no config.digest or layers", path);
		return -EBADMSG;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		if (*n_layers >= OCI_MAX_LAYERS ||
		    digest_path(get_str(json_object_array_get_idx(arr, i), "digest"),
				layers[*n_layers], 256) < 0) {
			eif_errf(s->err, s->errlen, "%s: layers[%zu].digest is bad", path, i);
			return -EBADMSG;
		}
		(*n_layers)++;
	}
	return 0;
}

struct blob_reader {
	struct spool *s;
	const struct blob *b;
	uint64_t pos;
	uint8_t buf[OCI_CHUNK];
};

static la_ssize_t blob_read(struct archive *a, void *data, const void **out)
{
	struct blob_reader *br = data;
	size_t n = (size_t)UTIL_MIN((uint64_t)OCI_CHUNK, br->b->size - br->pos);
	ssize_t got;

	if (n == 0)
		return 0;
	got = pread(br->s->fd, br->buf, n, (off_t)(br->b->off + br->pos));
	if (got <= 0) {
		archive_set_error(a, EIO, "spool read failed");
		return -1;
	}
	br->pos += (uint64_t)got;
	*out = br->buf;
	return got;
}

static int apply_entry(struct rtree *t, struct spool *s, struct archive *a, struct archive_entry *e,
		       unsigned layer)
{
	char path[ROOTFS_MAX_PATH];
	const char *name = archive_entry_pathname(e), *base;
	const char *hard = archive_entry_hardlink(e);
	mode_t mode = archive_entry_mode(e);
	struct rnode *n;
	int r;

	if (!name || snprintf(path, sizeof(path), "%s", name) >= (int)sizeof(path) ||
	    rtree_normalize(path) < 0) {
		eif_errf(s->err, s->errlen, "layer %u: entry '%s' escapes the root", layer,
			 name ? name : "");
		return -EINVAL;
	}
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strncmp(base, ".wh.", 4) == 0) {
		/* whiteouts delete from lower layers: the directory's opaque marker, or one name */
		char *slash = strrchr(path, '/');
		if (strcmp(base, ".wh..wh..opq") == 0) {
			if (slash)
				*slash = 0;
			else
				path[0] = 0;
			rtree_clear_lower(t, path, layer);
		} else {
			memmove((char *)base, base + 4, strlen(base + 4) + 1);
			rtree_remove(t, path);
		}
		return 0;
	}
	if (!path[0])
		return 0;
	if (hard) {
		char target[ROOTFS_MAX_PATH];
		struct rnode *src;
		snprintf(target, sizeof(target), "%s", hard);
		if (rtree_normalize(target) < 0 || !(src = rtree_lookup(t, target)) ||
		    !S_ISREG(src->mode)) {
			eif_errf(s->err, s->errlen, "layer %u: hard link %s to missing %s", layer,
				 path, hard);
			return -EBADMSG;
		}
		struct rnode copy = *src;
		r = rtree_put(t, path, copy.mode, layer, &n);
		if (r < 0)
			return r;
		n->uid = copy.uid;
		n->gid = copy.gid;
		n->src_fd = copy.src_fd;
		n->src_off = copy.src_off;
		n->size = copy.size;
		return 0;
	}
	r = rtree_put(t, path, mode, layer, &n);
	if (r < 0) {
		eif_errf(s->err, s->errlen, "layer %u: %s: %s", layer, path, strerror(-r));
		return r;
	}
	n->mode = mode;
	n->uid = (uid_t)archive_entry_uid(e);
	n->gid = (gid_t)archive_entry_gid(e);
	n->rdev = archive_entry_rdev(e);
	if (S_ISLNK(mode)) {
		n->link = strdup(archive_entry_symlink(e) ? archive_entry_symlink(e) : "");
		return n->link ? 0 : -ENOMEM;
	}
	if (S_ISREG(mode)) {
		n->src_fd = s->fd;
		return spool_entry(s, a, &n->src_off, &n->size);
	}
	return 0;
}

static int apply_layer(struct rtree *t, struct spool *s, const char *name, unsigned layer)
{
	struct blob_reader *br = calloc(1, sizeof(*br));
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r = 0, ar;

	if (!br || !a) {
		r = -ENOMEM;
		goto out;
	}
	br->s = s;
	br->b = find_blob(s, name);
	if (!br->b) {
		eif_errf(s->err, s->errlen, "layer %u: %s is not in the archive", layer, name);
		r = -ENOENT;
		goto out;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open(a, br, NULL, blob_read, NULL) != ARCHIVE_OK) {
		eif_errf(s->err, s->errlen, "layer %u (%s): %s", layer, name,
			 archive_error_string(a));
		r = -EBADMSG;
		goto out;
	}
	while (r == 0 && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		r = apply_entry(t, s, a, e, layer);
	if (r == 0 && ar != ARCHIVE_EOF) {
		eif_errf(s->err, s->errlen, "layer %u (%s): %s", layer, name,
			 archive_error_string(a));
		r = -EBADMSG;
	}
out:
	if (a)
		archive_read_free(a);
	free(br);
	return r;
}

int rootfs_oci_load(struct rtree *t, const char *archive, int spool_fd, char **config_json,
		    char *err, size_t errlen)
{
	struct spool s = {.fd = spool_fd, .err = err, .errlen = errlen};
	struct json_object *keep[2] = {NULL, NULL}, *cfg = NULL;
	char(*layers)[256] = calloc(OCI_MAX_LAYERS, 256);
	char config[256] = "";
	unsigned n_layers = 0;
	int r;

	s.buf = malloc(OCI_CHUNK);
	if (!layers || !s.buf) {
		r = -ENOMEM;
		goto out;
	}
	r = read_outer(&s, archive);
	if (r == 0)
		r = find_layers(&s, keep, layers, &n_layers, config, sizeof(config));
	if (r == 0 && config[0] && find_blob(&s, config) && blob_json(&s, config, &cfg) == 0) {
		*config_json = strdup(json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN));
		if (!*config_json)
			r = -ENOMEM;
	}
	/* layer numbers start at 1 so an opaque whiteout in the first layer clears nothing */
	for (unsigned i = 0; i < n_layers && r == 0; i++)
		r = apply_layer(t, &s, layers[i], i + 1);
out:
	for (size_t i = 0; i < s.n_blobs; i++)
		free(s.blobs[i].name);
	free(s.blobs);
	free(s.buf);
	free(layers);
	json_object_put(keep[0]);
	json_object_put(keep[1]);
	json_object_put(cfg);
	return r;
}
