/* enclavectl verify-attestation: check a document offline against a root the caller trusts.
 * Needs no daemon; self-contained so that it also links into its own unit test. */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/verify.h"
#include "common/util.h"
#include "ctl/commands.h"

/* Exit codes, as in ctl/ctl.h's table, plus one of our own. */
#define EXIT_OK		  0
#define EXIT_USAGE	  1
#define EXIT_NOT_VERIFIED 2 /* the document was read but did not verify */
#define EXIT_LOCAL	  5

/* Documents are at most 0x3000 bytes; base64 text of one is a third larger. */
#define DOC_FILE_MAX (64 * 1024)

static const char verify_help[] =
    "Usage: enclavectl verify-attestation --doc FILE --root PEM [--pcr N=HEX]...\n"
    "                                     [--nonce HEX] [--user-data HEX] [--time UNIX]\n"
    "Verify an attestation document (raw COSE_Sign1 or base64) offline: its structure, the\n"
    "certificate chain to the root in PEM, validity dates (now, or --time), the ES384\n"
    "signature, and each expected PCR, nonce and user data. Prints the decoded document as\n"
    "JSON; exits 2 with a one-line reason when it does not verify.\n";

__attribute__((format(printf, 3, 4))) static int fail(int code, const char *cmd, const char *fmt,
						      ...)
{
	va_list ap;

	fprintf(stderr, "enclavectl: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (code == EXIT_USAGE)
		fprintf(stderr, "Try 'enclavectl %s --help'.\n", cmd);
	return code;
}

/* Raw CBOR starts with an array(4) head or tag 18; anything else is taken as base64. */
static int load_document(const char *path, uint8_t **doc, size_t *len, const char *cmd)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ char *compact = NULL;
	size_t n = 0, m = 0;
	int ret = util_read_file(path, DOC_FILE_MAX, &buf, &n);

	if (ret < 0)
		return fail(EXIT_LOCAL, cmd, "--doc %s: %s", path, strerror(-ret));
	if (n > 0 && ((uint8_t)buf[0] == 0x84 || (uint8_t)buf[0] == 0xd2)) {
		*doc = util_steal_ptr(&buf);
		*len = n;
		return EXIT_OK;
	}
	compact = malloc(n + 1);
	if (!compact)
		return fail(EXIT_LOCAL, cmd, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (buf[i] != '\n' && buf[i] != '\r' && buf[i] != ' ' && buf[i] != '\t')
			compact[m++] = buf[i];
	if (m == 0 || m % 4 != 0)
		return fail(EXIT_LOCAL, cmd, "--doc %s: neither a COSE_Sign1 nor base64", path);
	*doc = malloc(m / 4 * 3);
	if (!*doc)
		return fail(EXIT_LOCAL, cmd, "out of memory");
	int dec = EVP_DecodeBlock(*doc, (const uint8_t *)compact, (int)m);
	if (dec < 0) {
		free(util_steal_ptr(doc));
		return fail(EXIT_LOCAL, cmd, "--doc %s: neither a COSE_Sign1 nor base64", path);
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	*len = (size_t)dec - (compact[m - 1] == '=') - (compact[m - 2] == '=');
	return EXIT_OK;
}

/* Read here rather than through pki_read_cert_file so that the only error line is ours. */
static int load_root(const char *path, X509 **root, const char *cmd)
{
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	BIO *bio;
	int ret = util_read_file(path, DOC_FILE_MAX, &buf, &n);

	if (ret < 0)
		return fail(EXIT_LOCAL, cmd, "--root %s: %s", path, strerror(-ret));
	bio = BIO_new_mem_buf(buf, (int)n);
	*root = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	ERR_clear_error();
	if (!*root)
		return fail(EXIT_LOCAL, cmd, "--root %s: no PEM certificate in it", path);
	return EXIT_OK;
}

static int parse_pcr(const char *arg, struct verify_options *o, const char *cmd)
{
	char index_text[8];
	const char *eq = strchr(arg, '=');
	uint64_t index;
	struct verify_expected_pcr *p;

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(index_text))
		return fail(EXIT_USAGE, cmd, "--pcr '%s': expected N=HEX", arg);
	memcpy(index_text, arg, (size_t)(eq - arg));
	index_text[eq - arg] = '\0';
	if (util_parse_u64(index_text, VERIFY_MAX_PCRS - 1, &index) < 0)
		return fail(EXIT_USAGE, cmd, "--pcr '%s': index must be 0..%d", arg,
			    VERIFY_MAX_PCRS - 1);
	for (size_t i = 0; i < o->pcr_count; i++)
		if (o->pcrs[i].index == index)
			return fail(EXIT_USAGE, cmd, "--pcr: PCR %u given twice", (unsigned)index);
	p = &o->pcrs[o->pcr_count];
	if (util_hex_decode(eq + 1, p->value, sizeof(p->value), &p->len) < 0 ||
	    (p->len != 32 && p->len != 48 && p->len != 64))
		return fail(EXIT_USAGE, cmd, "--pcr %u: value must be 32, 48 or 64 bytes of hex",
			    (unsigned)index);
	p->index = (unsigned)index;
	o->pcr_count++;
	return EXIT_OK;
}

static struct json_object *hex_or_null(const struct verify_bytes *b)
{
	_cleanup_free_ char *hex = NULL;

	if (!b->present)
		return NULL;
	hex = malloc(2 * b->len + 1);
	if (!hex)
		return NULL;
	util_hex_encode(b->data, b->len, hex);
	return json_object_new_string(hex);
}

static void print_result(const struct verify_result *res, bool verified)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *pcrs = json_object_new_object();

	if (!obj || !pcrs) {
		json_object_put(obj);
		json_object_put(pcrs);
		return;
	}
	json_object_object_add(obj, "verified", json_object_new_boolean(verified));
	if (res->payload_ok) {
		json_object_object_add(obj, "module_id", json_object_new_string(res->module_id));
		json_object_object_add(obj, "digest", json_object_new_string(res->digest));
		json_object_object_add(obj, "timestamp",
				       json_object_new_int64((int64_t)res->timestamp_ms));
		for (unsigned i = 0; i < VERIFY_MAX_PCRS; i++) {
			char key[8], hex[2 * VERIFY_PCR_MAX_LEN + 1];

			if (!((res->pcr_mask >> i) & 1u))
				continue;
			snprintf(key, sizeof(key), "PCR%u", i);
			util_hex_encode(res->pcrs[i], res->pcr_len, hex);
			json_object_object_add(pcrs, key, json_object_new_string(hex));
		}
		json_object_object_add(obj, "pcrs", util_steal_ptr(&pcrs));
		json_object_object_add(obj, "public_key", hex_or_null(&res->public_key));
		json_object_object_add(obj, "user_data", hex_or_null(&res->user_data));
		json_object_object_add(obj, "nonce", hex_or_null(&res->nonce));
	}
	json_object_object_add(obj, "failure",
			       verified ? NULL
					: json_object_new_string(verify_error_name(res->error)));
	json_object_object_add(obj, "message",
			       verified ? NULL : json_object_new_string(res->message));
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(pcrs);
	json_object_put(obj);
}

int ctl_cmd_verify_attestation(int argc, char **argv)
{
	static const struct option options[] = {
	    {"doc", required_argument, NULL, 'd'},
	    {"root", required_argument, NULL, 'r'},
	    {"pcr", required_argument, NULL, 'p'},
	    {"nonce", required_argument, NULL, 'n'},
	    {"user-data", required_argument, NULL, 'u'},
	    {"time", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = argc > 0 && argv[0] ? argv[0] : "verify-attestation";
	const char *doc_path = NULL, *root_path = NULL;
	static struct verify_options o;
	static uint8_t nonce[VERIFY_FIELD_MAX], user_data[VERIFY_FIELD_MAX];
	_cleanup_free_ uint8_t *doc = NULL;
	size_t doc_len = 0;
	struct verify_result res;
	uint64_t when;
	X509 *root = NULL;
	int c, rc;

	memset(&o, 0, sizeof(o));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			doc_path = optarg;
			break;
		case 'r':
			root_path = optarg;
			break;
		case 'p':
			if (o.pcr_count >= VERIFY_MAX_PCRS)
				return fail(EXIT_USAGE, cmd, "--pcr: at most %d", VERIFY_MAX_PCRS);
			if ((rc = parse_pcr(optarg, &o, cmd)))
				return rc;
			break;
		case 'n':
			if (util_hex_decode(optarg, nonce, sizeof(nonce), &o.nonce_len) < 0)
				return fail(EXIT_USAGE, cmd,
					    "--nonce: not even-length hex of at most %d bytes",
					    VERIFY_FIELD_MAX);
			o.nonce = nonce;
			o.check_nonce = true;
			break;
		case 'u':
			if (util_hex_decode(optarg, user_data, sizeof(user_data),
					    &o.user_data_len) < 0)
				return fail(EXIT_USAGE, cmd,
					    "--user-data: not even-length hex of at most %d bytes",
					    VERIFY_FIELD_MAX);
			o.user_data = user_data;
			o.check_user_data = true;
			break;
		case 't':
			if (util_parse_u64(optarg, INT32_MAX * 4ull, &when) < 0 || when == 0)
				return fail(EXIT_USAGE, cmd, "--time: not a positive UNIX time");
			o.now = (time_t)when;
			break;
		case 'h':
			fputs(verify_help, stdout);
			return EXIT_OK;
		default:
			return fail(EXIT_USAGE, cmd, "unknown option or missing value: '%s'",
				    argv[optind - 1] ? argv[optind - 1] : "?");
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, cmd, "unexpected argument '%s'", argv[optind]);
	if (!doc_path || !root_path)
		return fail(EXIT_USAGE, cmd, "--doc and --root are required");
	if ((rc = load_document(doc_path, &doc, &doc_len, cmd)))
		return rc;
	if ((rc = load_root(root_path, &root, cmd)))
		return rc;
	o.root = root;
	rc = verify_attestation_doc(doc, doc_len, &o, &res);
	print_result(&res, rc == 0);
	if (rc < 0)
		rc = fail(EXIT_NOT_VERIFIED, cmd, "%s: %s", verify_error_name(res.error),
			  res.message);
	verify_result_clear(&res);
	X509_free(root);
	return rc;
}
