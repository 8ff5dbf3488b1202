/* enclavectl build-enclave, describe-eif, pcr: local image commands (no daemon), printing
 * nitro-cli's JSON. Exit codes: 0 ok, CTL_EXIT_USAGE, IMG_EXIT_BAD_IMAGE for an image or input
 * that is malformed (or fails its CRC/signature check), CTL_EXIT_LOCAL for I/O. */
#include "config.h"

#include "attest/pcr.h"
#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "ctl/progress.h"
#include "common/util.h"
#include "image/eif.h"
#include "image/eif_metadata.h"
#include "image/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

enum {
	IMG_EXIT_OK = CTL_EXIT_OK,
	IMG_EXIT_USAGE = CTL_EXIT_USAGE,
	IMG_EXIT_IO = CTL_EXIT_LOCAL,
	IMG_EXIT_BAD_IMAGE = 6,
};

#define MAX_RAMDISKS  29
#define MAX_LIST      1024
#define MAX_CERT_SIZE (64 * 1024)
#define HASH_ALGO     "Sha384 { ... }"

static int err_exit(int code, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int err_exit(int code, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "enclavectl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static int errno_exit(int r)
{
	return r == -EBADMSG || r == -EINVAL || r == -EFBIG || r == -E2BIG || r == -ENOTSUP ||
		       r == -ENAMETOOLONG
		   ? IMG_EXIT_BAD_IMAGE
		   : IMG_EXIT_IO;
}

static void add_hex(struct json_object *o, const char *key, const uint8_t *d)
{
	char hex[PCR_HEX_LEN + 1];

	util_hex_encode(d, PCR_DIGEST_LEN, hex);
	json_object_object_add(o, key, json_object_new_string(hex));
}

static struct json_object *measurements_json(const struct eif_measurements *m)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "HashAlgorithm", json_object_new_string(HASH_ALGO));
	add_hex(o, "PCR0", m->pcr0);
	add_hex(o, "PCR1", m->pcr1);
	add_hex(o, "PCR2", m->pcr2);
	if (m->has_pcr8)
		add_hex(o, "PCR8", m->pcr8);
	return o;
}

static int print_json(struct json_object *o)
{
	int r = puts(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	return r < 0 || fflush(stdout) != 0 ? IMG_EXIT_IO : IMG_EXIT_OK;
}

/* --- build-enclave ----------------------------------------------------------------------- */

struct build_args {
	const char *kernel, *cmdline, *output, *rootfs, *oci, *cert, *key, *name, *version,
	    *metadata;
	const char *ramdisks[MAX_RAMDISKS];
	unsigned n_ramdisks;
	const char *cmd[MAX_LIST], *env[MAX_LIST];
	unsigned n_cmd, n_env;
};

static void build_usage(FILE *f)
{
	fprintf(f,
		"usage: enclavectl build-enclave --kernel FILE --output-file EIF\n"
		"         [--cmdline STR] [--ramdisk FILE]... [--rootfs DIR | --oci-archive TAR]\n"
		"         [--cmd ARG]... [--env K=V]... [--signing-certificate PEM --private-key "
		"PEM]\n"
		"         [--name NAME] [--version VER] [--metadata JSON-FILE]\n");
}

static int parse_build(int argc, char **argv, struct build_args *a)
{
	static const struct option opts[] = {
	    {"kernel", required_argument, NULL, 'k'},
	    {"cmdline", required_argument, NULL, 'c'},
	    {"ramdisk", required_argument, NULL, 'r'},
	    {"output-file", required_argument, NULL, 'o'},
	    {"rootfs", required_argument, NULL, 'R'},
	    {"oci-archive", required_argument, NULL, 'O'},
	    {"cmd", required_argument, NULL, 'C'},
	    {"env", required_argument, NULL, 'e'},
	    {"signing-certificate", required_argument, NULL, 's'},
	    {"private-key", required_argument, NULL, 'p'},
	    {"name", required_argument, NULL, 'n'},
	    {"version", required_argument, NULL, 'v'},
	    {"metadata", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	optind = 0;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			a->kernel = optarg;
			break;
		case 'c':
			a->cmdline = optarg;
			break;
		case 'o':
			a->output = optarg;
			break;
		case 'R':
			a->rootfs = optarg;
			break;
		case 'O':
			a->oci = optarg;
			break;
		case 's':
			a->cert = optarg;
			break;
		case 'p':
			a->key = optarg;
			break;
		case 'n':
			a->name = optarg;
			break;
		case 'v':
			a->version = optarg;
			break;
		case 'm':
			a->metadata = optarg;
			break;
		case 'r':
			if (a->n_ramdisks >= MAX_RAMDISKS)
				return err_exit(IMG_EXIT_USAGE, "build-enclave",
						"at most %d ramdisks", MAX_RAMDISKS);
			a->ramdisks[a->n_ramdisks++] = optarg;
			break;
		case 'C':
		case 'e':
			if ((c == 'C' ? a->n_cmd : a->n_env) >= MAX_LIST)
				return err_exit(IMG_EXIT_USAGE, "build-enclave", "too many --%s",
						c == 'C' ? "cmd" : "env");
			if (c == 'C')
				a->cmd[a->n_cmd++] = optarg;
			else
				a->env[a->n_env++] = optarg;
			break;
		case 'h':
			build_usage(stdout);
			return -1;
		default:
			build_usage(stderr);
			return IMG_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return err_exit(IMG_EXIT_USAGE, "build-enclave", "unexpected argument '%s'",
				argv[optind]);
	if (!a->kernel || !a->output)
		return err_exit(IMG_EXIT_USAGE, "build-enclave",
				"--kernel and --output-file are required");
	if (a->rootfs && a->oci)
		return err_exit(IMG_EXIT_USAGE, "build-enclave",
				"--rootfs and --oci-archive exclude each other");
	if (!a->rootfs && !a->oci && a->n_ramdisks == 0)
		return err_exit(IMG_EXIT_USAGE, "build-enclave",
				"give --ramdisk, --rootfs or --oci-archive");
	if ((a->n_cmd || a->n_env) && !a->rootfs && !a->oci)
		return err_exit(IMG_EXIT_USAGE, "build-enclave",
				"--cmd/--env need --rootfs or --oci-archive");
	if (!a->cert != !a->key)
		return err_exit(IMG_EXIT_USAGE, "build-enclave",
				"--signing-certificate and --private-key go together");
	return 0;
}

/* "path: reason" for the current errno, returned as -errno (read before anything clobbers it) */
static int path_error(char *err, size_t errlen, const char *path)
{
	int e = errno ? errno : EIO;

	snprintf(err, errlen, "%s: %s", path, strerror(e));
	return -e;
}

static int load_key(const char *path, EVP_PKEY **key)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	return *key ? 0 : -EBADMSG;
}

/* Default image name: the output file name without .eif, as nitro-cli names from its input. */
static void default_name(const char *output, char *name, size_t len)
{
	_cleanup_free_ char *copy = strdup(output);
	const char *b = copy ? basename(copy) : "enclave";
	size_t n = strlen(b);

	if (n > 4 && strcmp(b + n - 4, ".eif") == 0)
		n -= 4;
	snprintf(name, len, "%.*s", (int)n, b);
}

struct build_state {
	int fds[MAX_RAMDISKS + 1];
	unsigned n_fds;
	int kernel_fd, out_fd;
	EVP_PKEY *key;
	char *cert, *custom, *docker, *meta;
	char tmp[PATH_MAX];
	struct ctl_progress progress;
};

static int make_rootfs_ramdisk(struct build_args *a, struct build_state *st, char *err,
			       size_t errlen)
{
	_cleanup_free_ char *dir_copy = strdup(a->output);
	struct rootfs_opts o = {.dir = a->rootfs,
				.oci_archive = a->oci,
				.cmd = a->cmd,
				.n_cmd = a->n_cmd,
				.env = a->env,
				.n_env = a->n_env};
	int fd, r;

	if (!dir_copy)
		return -ENOMEM;
	o.spool_dir = dirname(dir_copy);
	fd = open(o.spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "temporary ramdisk file: %s", strerror(errno));
		return -errno;
	}
	st->fds[st->n_fds++] = fd;
	r = rootfs_build_ramdisk(&o, fd, &st->docker, err, errlen);
	return r;
}

static int run_build(struct build_args *a, struct build_state *st, struct eif_measurements *m,
		     char *err, size_t errlen)
{
	struct eif_metadata_info mi = {.name = a->name, .version = a->version};
	struct eif_build in = {0};
	char name[256], kver[128];
	size_t len = 0;
	int r;

	st->kernel_fd = open(a->kernel, O_RDONLY | O_CLOEXEC);
	if (st->kernel_fd < 0)
		return path_error(err, errlen, a->kernel);
	for (unsigned i = 0; i < a->n_ramdisks; i++) {
		st->fds[st->n_fds] = open(a->ramdisks[i], O_RDONLY | O_CLOEXEC);
		if (st->fds[st->n_fds] < 0)
			return path_error(err, errlen, a->ramdisks[i]);
		st->n_fds++;
	}
	if (a->rootfs || a->oci) {
		r = make_rootfs_ramdisk(a, st, err, errlen);
		if (r < 0)
			return r;
	}
	if (a->key) {
		r = load_key(a->key, &st->key);
		if (r < 0)
			return snprintf(err, errlen, "%s: not a readable PEM private key", a->key),
			       r;
		r = util_read_file(a->cert, MAX_CERT_SIZE, &st->cert, &len);
		if (r < 0)
			return snprintf(err, errlen, "%s: %s", a->cert, strerror(-r)), r;
		in.sign_key = st->key;
		in.cert_pem = (const uint8_t *)st->cert;
		in.cert_len = len;
	}
	if (a->metadata) {
		r = util_read_file(a->metadata, EIF_METADATA_MAX_CUSTOM, &st->custom, NULL);
		if (r < 0)
			return snprintf(err, errlen, "%s: %s (limit %d bytes)", a->metadata,
					strerror(-r), EIF_METADATA_MAX_CUSTOM),
			       r;
		mi.custom_json = st->custom;
	}
	if (!a->name) {
		default_name(a->output, name, sizeof(name));
		mi.name = name;
	}
	if (eif_kernel_version(st->kernel_fd, kver, sizeof(kver)) == 0)
		mi.kernel_version = kver;
	mi.docker_json = st->docker;
	r = eif_metadata_build(&mi, &st->meta, err, errlen);
	if (r < 0)
		return r;
	if (snprintf(st->tmp, sizeof(st->tmp), "%s.tmp.%d", a->output, (int)getpid()) >=
	    (int)sizeof(st->tmp))
		return -ENAMETOOLONG;
	st->out_fd = open(st->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (st->out_fd < 0)
		return path_error(err, errlen, st->tmp);
	in.kernel_fd = st->kernel_fd;
	in.cmdline = a->cmdline ? a->cmdline : "";
	in.ramdisk_fds = st->fds;
	in.n_ramdisks = st->n_fds;
	in.metadata = st->meta;
	ctl_progress_begin(&st->progress, "building image");
	in.progress = ctl_progress_bytes;
	in.progress_opaque = &st->progress;
	r = eif_write(&in, st->out_fd, m, err, errlen);
	ctl_progress_end(&st->progress);
	if (r < 0)
		return r;
	if (fsync(st->out_fd) < 0 || rename(st->tmp, a->output) < 0)
		return path_error(err, errlen, a->output);
	st->tmp[0] = 0;
	return 0;
}

int ctl_cmd_build_enclave(int argc, char **argv)
{
	struct build_args a = {0};
	struct build_state st = {.kernel_fd = -1, .out_fd = -1};
	struct eif_measurements m;
	char err[512] = "";
	int r, code;

	r = parse_build(argc, argv, &a);
	if (r != 0)
		return r < 0 ? IMG_EXIT_OK : r;
	r = run_build(&a, &st, &m, err, sizeof(err));
	if (r < 0) {
		code = err_exit(errno_exit(r), "build-enclave", "%s", err[0] ? err : strerror(-r));
	} else {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "Measurements", measurements_json(&m));
		code = print_json(o);
	}
	if (st.tmp[0])
		unlink(st.tmp);
	for (unsigned i = 0; i < st.n_fds; i++)
		close(st.fds[i]);
	if (st.kernel_fd >= 0)
		close(st.kernel_fd);
	if (st.out_fd >= 0)
		close(st.out_fd);
	EVP_PKEY_free(st.key);
	free(st.cert);
	free(st.custom);
	free(st.docker);
	free(st.meta);
	return code;
}

/* --- describe-eif ------------------------------------------------------------------------ */

static void add_metadata(struct eif_file *eif, struct json_object *o)
{
	_cleanup_free_ uint8_t *text = NULL;
	struct json_object *root, *v, *meta, *bm;
	size_t len;

	if (eif->metadata < 0 ||
	    eif_section_read_all(eif, (unsigned)eif->metadata, EIF_MAX_METADATA, &text, &len) < 0)
		return;
	root = json_tokener_parse((char *)text);
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return;
	}
	if (json_object_object_get_ex(root, "ImageName", &v))
		json_object_object_add(o, "ImageName", json_object_get(v));
	if (json_object_object_get_ex(root, "ImageVersion", &v))
		json_object_object_add(o, "ImageVersion", json_object_get(v));
	meta = json_object_new_object();
	if (json_object_object_get_ex(root, "BuildMetadata", &bm) &&
	    json_object_is_type(bm, json_type_object)) {
		json_object_object_foreach(bm, key, val)
		    json_object_object_add(meta, key, json_object_get(val));
	}
	if (json_object_object_get_ex(root, "DockerInfo", &v))
		json_object_object_add(meta, "DockerInfo", json_object_get(v));
	if (json_object_object_get_ex(root, "CustomMetadata", &v))
		json_object_object_add(meta, "CustomMetadata", json_object_get(v));
	json_object_object_add(o, "Metadata", meta);
	json_object_put(root);
}

static int check_signature(struct eif_file *eif, const struct eif_measurements *m,
			   struct json_object *o, bool *ok, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct eif_signature sig = {0};
	struct eif_sig_info info;
	uint8_t pcr8[PCR_DIGEST_LEN];
	struct json_object *c;
	size_t len = 0;
	int r;

	r = eif_section_read_all(eif, (unsigned)eif->signature, EIF_MAX_SIGNATURE, &buf, &len);
	if (r == 0)
		r = eif_signature_decode(buf, len, &sig, err, errlen);
	if (r == 0)
		r = eif_signature_check(&sig, m->pcr0, &info, pcr8, err, errlen);
	eif_signature_clear(&sig);
	if (r < 0)
		return r;
	c = json_object_new_object();
	json_object_object_add(c, "IssuerName", json_object_new_string(info.issuer));
	json_object_object_add(c, "Algorithm", json_object_new_string(info.algorithm));
	json_object_object_add(c, "NotBefore", json_object_new_string(info.not_before));
	json_object_object_add(c, "NotAfter", json_object_new_string(info.not_after));
	json_object_object_add(c, "Signature", json_object_new_string(info.signature_hex));
	json_object_object_add(o, "SigningCertificate", c);
	*ok = info.signature_ok && info.cert_dates_ok;
	json_object_object_add(o, "SignatureCheck", json_object_new_boolean(*ok));
	if (!info.pcr0_matches)
		snprintf(err, errlen, "the signature covers another PCR0 (image modified)");
	else if (!info.signature_ok)
		snprintf(err, errlen, "the signature does not verify with the certificate's key");
	else if (!info.cert_dates_ok)
		snprintf(err, errlen, "the signing certificate is not valid now (%s .. %s)",
			 info.not_before, info.not_after);
	return 0;
}

int ctl_cmd_describe_eif(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"eif-path", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *path = NULL;
	struct eif_file eif;
	struct eif_measurements m;
	struct json_object *o;
	bool crc_ok = false, sig_ok = true;
	char err[512] = "";
	int c, r, code;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'e')
			path = optarg;
		else if (c == 'h')
			return puts("usage: enclavectl describe-eif --eif-path FILE") < 0;
		else
			return IMG_EXIT_USAGE;
	}
	if (!path || optind < argc)
		return err_exit(IMG_EXIT_USAGE, "describe-eif", "usage: --eif-path FILE");
	r = eif_open(&eif, path);
	if (r == 0) {
		struct ctl_progress p;
		ctl_progress_begin(&p, "measuring image");
		r = eif_measure_progress(&eif, &m, &crc_ok, ctl_progress_bytes, &p);
		ctl_progress_end(&p);
	}
	if (r < 0) {
		code = err_exit(errno_exit(r), "describe-eif", "%s: %s", path, eif.error);
		eif_close(&eif);
		return code;
	}
	o = json_object_new_object();
	json_object_object_add(o, "EifVersion", json_object_new_int(eif.hdr.version));
	json_object_object_add(o, "Measurements", measurements_json(&m));
	json_object_object_add(o, "IsSigned", json_object_new_boolean(eif.signature >= 0));
	json_object_object_add(o, "CheckCRC", json_object_new_boolean(crc_ok));
	if (eif.signature >= 0) {
		r = check_signature(&eif, &m, o, &sig_ok, err, sizeof(err));
		if (r < 0) {
			json_object_put(o);
			eif_close(&eif);
			return err_exit(IMG_EXIT_BAD_IMAGE, "describe-eif", "%s: signature: %s",
					path, err);
		}
	}
	add_metadata(&eif, o);
	eif_close(&eif);
	code = print_json(o);
	if (code == 0 && !crc_ok)
		code = err_exit(IMG_EXIT_BAD_IMAGE, "describe-eif",
				"%s: CRC mismatch (header says %08x)", path, eif.hdr.crc32);
	if (code == 0 && !sig_ok)
		code = err_exit(IMG_EXIT_BAD_IMAGE, "describe-eif", "%s: %s", path, err);
	return code;
}

/* --- pcr --------------------------------------------------------------------------------- */

static int file_pcr(const char *path, uint8_t pcr[PCR_DIGEST_LEN])
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ uint8_t *buf = malloc(1024 * 1024);
	struct pcr_hash h = {0};
	struct ctl_progress p;
	struct stat st;
	uint64_t done = 0, total = 0;
	ssize_t n;
	int r;

	if (fd < 0)
		return -errno;
	if (!buf)
		return -ENOMEM;
	/* the size only scales the progress line; a pipe or a growing file just shows less */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		total = (uint64_t)st.st_size;
	ctl_progress_begin(&p, "measuring");
	r = pcr_hash_init(&h);
	while (r == 0 && (n = read(fd, buf, 1024 * 1024)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		r = n < 0 ? -errno : pcr_hash_update(&h, buf, (size_t)n);
		if (r == 0) {
			done += (uint64_t)n;
			ctl_progress_bytes(&p, done, UTIL_MAX(done, total));
		}
	}
	ctl_progress_end(&p);
	if (r == 0)
		r = pcr_hash_final_measure(&h, pcr);
	pcr_hash_free(&h);
	return r;
}

int ctl_cmd_pcr(int argc, char **argv)
{
	static const struct option opts[] = {{"input", required_argument, NULL, 'i'},
					     {"signing-certificate", required_argument, NULL, 's'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *input = NULL, *cert = NULL;
	uint8_t pcr[PCR_DIGEST_LEN];
	struct json_object *o;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'i')
			input = optarg;
		else if (c == 's')
			cert = optarg;
		else if (c == 'h')
			return puts("usage: enclavectl pcr --input FILE | --signing-certificate "
				    "PEM") < 0;
		else
			return IMG_EXIT_USAGE;
	}
	if (!input == !cert || optind < argc)
		return err_exit(IMG_EXIT_USAGE, "pcr",
				"give exactly one of --input FILE, --signing-certificate PEM");
	if (input) {
		r = file_pcr(input, pcr);
		if (r < 0)
			return err_exit(IMG_EXIT_IO, "pcr", "%s: %s", input, strerror(-r));
	} else {
		_cleanup_free_ char *pem = NULL;
		size_t len = 0;
		r = util_read_file(cert, MAX_CERT_SIZE, &pem, &len);
		if (r < 0)
			return err_exit(errno_exit(r), "pcr", "%s: %s", cert, strerror(-r));
		r = eif_cert_pcr((const uint8_t *)pem, len, pcr);
		if (r < 0)
			return err_exit(IMG_EXIT_BAD_IMAGE, "pcr",
					"%s: not a PEM X.509 certificate", cert);
	}
	o = json_object_new_object();
	add_hex(o, input ? "PCR0" : "PCR8", pcr);
	return print_json(o);
}
