/* enclaved.v1.Images: describing and measuring EIF files the daemon can read. The daemon runs
 * as root, so the file is opened with the caller's filesystem identity (fsuid, fsgid and
 * supplementary groups): a member must not learn anything about a file it could not read. */
#include "config.h"

#include "enclaved/api.h"

#include "common/log.h"
#include "common/util.h"
#include "image/eif.h"
#include "proto/enclaved.pb-c.h"

#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_ALGORITHM "Sha384 { ... }"
#define MAX_GROUPS     256

/* The supplementary groups of uid's passwd entry plus gid; just gid when uid has none. */
static int peer_groups(uid_t uid, gid_t gid, gid_t *groups, int *n)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	int max = *n;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		groups[0] = gid;
		*n = 1;
		return 0;
	}
	if (getgrouplist(pw.pw_name, gid, groups, &max) < 0) {
		log_warn("images: uid %u is in more than %d groups; using the first %d", uid,
			 MAX_GROUPS, MAX_GROUPS);
		max = *n;
	}
	*n = max;
	return 0;
}

/* open(path) as the peer would. A non-root daemon cannot switch identities: then only its own
 * uid (or root) may ask, so nobody reads through it what they could not read themselves. */
static int open_as_peer(const struct rpc_peer *peer, const char *path, int *out)
{
	gid_t saved[MAX_GROUPS], groups[MAX_GROUPS];
	int n_saved, n = MAX_GROUPS, fd, err;
	uid_t old_fsuid;
	gid_t old_fsgid;

	if (geteuid() != 0) {
		if (peer->uid != 0 && peer->uid != geteuid())
			return -EACCES;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0)
			return -errno;
		*out = fd;
		return 0;
	}
	n_saved = getgroups(MAX_GROUPS, saved);
	if (n_saved < 0)
		return -errno;
	peer_groups(peer->uid, peer->gid, groups, &n);
	if (setgroups((size_t)n, groups) < 0)
		return -errno;
	old_fsgid = (gid_t)setfsgid(peer->gid);
	old_fsuid = (uid_t)setfsuid(peer->uid);
	/* O_NONBLOCK: a FIFO must not hang the daemon's only thread. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	err = fd < 0 ? -errno : 0;
	setfsuid(old_fsuid);
	setfsgid(old_fsgid);
	if (setgroups((size_t)n_saved, saved) < 0) {
		/* Running on with the peer's groups would be a privilege mix-up: stop. */
		log_error("images: cannot restore the daemon's groups: %s", strerror(errno));
		abort();
	}
	if (err < 0)
		return err;
	*out = fd;
	return 0;
}

/* Opens and measures req_path for the call; on failure the call is finished. */
static int open_and_measure(struct rpc_call *call, const char *path, struct eif_file *eif,
			    struct eif_measurements *m, bool *crc_ok)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (!path || path[0] != '/' || strlen(path) >= PATH_MAX) {
		rpc_call_fail(call, RPC_INVALID_ARGUMENT,
			      "eif_path must be an absolute path shorter than %d bytes", PATH_MAX);
		return -EINVAL;
	}
	r = open_as_peer(rpc_call_peer(call), path, &fd);
	if (r < 0) {
		rpc_call_fail(call,
			      r == -ENOENT		    ? RPC_NOT_FOUND
			      : r == -EACCES || r == -EPERM ? RPC_PERMISSION_DENIED
							    : RPC_INVALID_ARGUMENT,
			      "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rpc_call_fail(call, RPC_INVALID_ARGUMENT, "%s: not a regular file", path);
		return -EINVAL;
	}
	r = eif_open_fd(eif, fd);
	if (r == 0)
		r = eif_measure(eif, m, crc_ok);
	if (r < 0) {
		rpc_call_fail(call, RPC_INVALID_ARGUMENT, "%s: %s", path, eif->error);
		eif_close(eif);
		return r;
	}
	/* eif borrows the fd: hand it over so that eif_close closes it. */
	eif->fd = util_steal_fd(&fd);
	eif->owns_fd = true;
	return 0;
}

struct pcr_set {
	Enclaved__V1__Pcr pcrs[4];
	Enclaved__V1__Pcr *ptrs[4];
	Enclaved__V1__Measurements msg;
};

static void measurements_fill(struct pcr_set *s, struct eif_measurements *m)
{
	const uint8_t *values[4] = {m->pcr0, m->pcr1, m->pcr2, m->pcr8};
	const unsigned index[4] = {0, 1, 2, 8};
	size_t n = m->has_pcr8 ? 4 : 3;

	enclaved__v1__measurements__init(&s->msg);
	for (size_t i = 0; i < n; i++) {
		enclaved__v1__pcr__init(&s->pcrs[i]);
		s->pcrs[i].index = index[i];
		s->pcrs[i].value.data = (uint8_t *)values[i];
		s->pcrs[i].value.len = PCR_DIGEST_LEN;
		s->ptrs[i] = &s->pcrs[i];
	}
	s->msg.hash_algorithm = (char *)HASH_ALGORITHM;
	s->msg.n_pcrs = n;
	s->msg.pcrs = s->ptrs;
}

static void images_measure(struct enclaved *d, struct rpc_call *call,
			   const struct api_caller *caller, const struct api_method *method,
			   const uint8_t *payload, size_t len)
{
	Enclaved__V1__MeasureImageResponse resp = ENCLAVED__V1__MEASURE_IMAGE_RESPONSE__INIT;
	Enclaved__V1__MeasureImageRequest *req = (Enclaved__V1__MeasureImageRequest *)api_unpack(
	    call, &enclaved__v1__measure_image_request__descriptor, payload, len);
	struct eif_measurements m;
	struct eif_file eif;
	struct pcr_set pcrs;
	bool crc_ok = false;

	if (!req)
		return;
	if (open_and_measure(call, req->eif_path, &eif, &m, &crc_ok) == 0) {
		eif_close(&eif);
		if (!crc_ok) {
			rpc_call_fail(call, RPC_INVALID_ARGUMENT, "%s: CRC mismatch",
				      req->eif_path);
		} else {
			measurements_fill(&pcrs, &m);
			resp.measurements = &pcrs.msg;
			api_reply(call, &resp.base);
		}
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

static char *json_string_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return strdup(json_object_get_string(v));
	return strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

struct meta_strings {
	char *s[9];
};

/* The metadata section's JSON (bounded by EIF_MAX_METADATA) into ImageMetadata; a missing or
 * malformed section leaves it empty, as describe-eif does. */
static void metadata_fill(struct eif_file *eif, Enclaved__V1__ImageMetadata *md,
			  struct meta_strings *ms)
{
	_cleanup_free_ uint8_t *text = NULL;
	struct json_object *root, *bm = NULL;
	size_t len;

	memset(ms, 0, sizeof(*ms));
	enclaved__v1__image_metadata__init(md);
	if (eif->metadata < 0 ||
	    eif_section_read_all(eif, (unsigned)eif->metadata, EIF_MAX_METADATA, &text, &len) < 0)
		return;
	root = json_tokener_parse((char *)text);
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return;
	}
	if (!json_object_object_get_ex(root, "BuildMetadata", &bm) ||
	    !json_object_is_type(bm, json_type_object))
		bm = NULL;
	ms->s[0] = json_string_of(root, "ImageName");
	ms->s[1] = json_string_of(root, "ImageVersion");
	ms->s[2] = json_string_of(bm, "BuildTime");
	ms->s[3] = json_string_of(bm, "BuildTool");
	ms->s[4] = json_string_of(bm, "BuildToolVersion");
	ms->s[5] = json_string_of(bm, "OperatingSystem");
	ms->s[6] = json_string_of(bm, "KernelVersion");
	ms->s[7] = json_string_of(root, "DockerInfo");
	ms->s[8] = json_string_of(root, "CustomMetadata");
	json_object_put(root);
	/* Absent keys become "" rather than NULL, as for every other proto3 string here. */
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(ms->s); i++)
		if (!ms->s[i])
			ms->s[i] = strdup("");
	md->image_name = ms->s[0];
	md->image_version = ms->s[1];
	md->build_time = ms->s[2];
	md->build_tool = ms->s[3];
	md->build_tool_version = ms->s[4];
	md->operating_system = ms->s[5];
	md->kernel_version = ms->s[6];
	md->docker_info_json = ms->s[7];
	md->custom_metadata_json = ms->s[8];
}

/* The signature section: its certificate and whether it verifies over this PCR0 now. */
static int signature_fill(struct eif_file *eif, const struct eif_measurements *m, char **cert_pem,
			  bool *ok, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct eif_signature sig = {0};
	struct eif_sig_info info;
	uint8_t pcr8[PCR_DIGEST_LEN];
	size_t len = 0;
	int r;

	r = eif_section_read_all(eif, (unsigned)eif->signature, EIF_MAX_SIGNATURE, &buf, &len);
	if (r < 0)
		snprintf(err, errlen, "%s", eif->error);
	if (r == 0)
		r = eif_signature_decode(buf, len, &sig, err, errlen);
	if (r == 0)
		r = eif_signature_check(&sig, m->pcr0, &info, pcr8, err, errlen);
	if (r == 0) {
		*ok = info.signature_ok && info.pcr0_matches && info.cert_dates_ok;
		*cert_pem = (char *)util_steal_ptr(&sig.cert_pem);
	}
	eif_signature_clear(&sig);
	return r;
}

static void images_describe(struct enclaved *d, struct rpc_call *call,
			    const struct api_caller *caller, const struct api_method *method,
			    const uint8_t *payload, size_t len)
{
	Enclaved__V1__DescribeImageResponse resp = ENCLAVED__V1__DESCRIBE_IMAGE_RESPONSE__INIT;
	Enclaved__V1__DescribeImageRequest *req = (Enclaved__V1__DescribeImageRequest *)api_unpack(
	    call, &enclaved__v1__describe_image_request__descriptor, payload, len);
	Enclaved__V1__ImageMetadata md;
	struct meta_strings ms = {0};
	_cleanup_free_ char *cert = NULL;
	struct eif_measurements m;
	struct eif_file eif;
	struct pcr_set pcrs;
	char err[512] = "";
	uint8_t magic[4];
	bool crc_ok = false, sig_ok = false;

	if (!req)
		return;
	if (open_and_measure(call, req->eif_path, &eif, &m, &crc_ok) < 0)
		goto out;
	if (eif.signature >= 0 && signature_fill(&eif, &m, &cert, &sig_ok, err, sizeof(err)) < 0) {
		rpc_call_fail(call, RPC_INVALID_ARGUMENT, "%s: signature: %s", req->eif_path, err);
		eif_close(&eif);
		goto out;
	}
	metadata_fill(&eif, &md, &ms);
	measurements_fill(&pcrs, &m);
	resp.eif_version = eif.hdr.version;
	resp.measurements = &pcrs.msg;
	resp.is_signed = eif.signature >= 0;
	resp.signing_certificate = cert ? cert : (char *)"";
	resp.check_crc = crc_ok;
	resp.signature_check = sig_ok;
	resp.metadata = &md;
	resp.file_size = eif.file_size;
	resp.section_count = eif.n_sections;
	resp.kernel_format = (char *)"bzImage";
	if (eif.kernel >= 0 && eif_section_pread(&eif, (unsigned)eif.kernel, 0, magic, 4) == 0 &&
	    memcmp(magic,
		   "\x7f"
		   "ELF",
		   4) == 0)
		resp.kernel_format = (char *)"elf64";
	api_reply(call, &resp.base);
	eif_close(&eif);
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(ms.s); i++)
		free(ms.s[i]);
out:
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

const struct api_method api_images_methods[] = {
    {API_SERVICE_IMAGES, "Describe", AUTHZ_NEED_MEMBER, images_describe},
    {API_SERVICE_IMAGES, "Measure", AUTHZ_NEED_MEMBER, images_measure},
};
const size_t api_images_n_methods = UTIL_ARRAY_SIZE(api_images_methods);
