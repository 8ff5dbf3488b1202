#include "config.h"

#include "enclaved/state.h"

#include "enclaved/attestation.h"
#include "enclaved/enclave.h"

#include "common/log.h"
#include "common/util.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_MAGIC "enclaved-enclave-record"

static const char *const state_names[] = {"STARTING", "RUNNING"};

static int fail(char **error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **error, int r, const char *fmt, ...)
{
	va_list ap;

	if (error) {
		va_start(ap, fmt);
		if (vasprintf(error, fmt, ap) < 0)
			*error = NULL;
		va_end(ap);
	}
	return r;
}

int state_path(const struct enclaved *d, const char *id, const char *suffix, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/" STATE_RECORD_DIR "/%s%s", d->opts.runtime_dir, id,
			     suffix) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int add(json_object *o, const char *key, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_hex(json_object *o, const char *key, const uint8_t *v, size_t n)
{
	char hex[2 * 64 + 1];

	util_hex_encode(v, n, hex);
	return add(o, key, json_object_new_string(hex));
}

int state_record_encode(const struct enclave *e, char **out, size_t *len)
{
	json_object *o = json_object_new_object(), *cpus = json_object_new_array();
	const char *body;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	size_t body_len;
	int r = -ENOMEM;

	if (!o || !cpus) {
		json_object_put(cpus);
		goto out;
	}
	for (unsigned i = 0; i < e->n_cpus; i++)
		if (json_object_array_add(cpus, json_object_new_int64(e->cpu_ids[i])) < 0)
			goto out;
	if (add(o, "cpu_ids", cpus) < 0)
		goto out;
	if (add(o, "id", json_object_new_string(e->id)) < 0 ||
	    add(o, "name", json_object_new_string(e->name)) < 0 ||
	    add(o, "eif_path", json_object_new_string(e->eif_path ? e->eif_path : "")) < 0 ||
	    add(o, "cid", json_object_new_int64((int64_t)e->cid)) < 0 ||
	    add(o, "owner_uid", json_object_new_int64(e->owner_uid)) < 0 ||
	    add(o, "owner_gid", json_object_new_int64(e->owner_gid)) < 0 ||
	    add(o, "debug", json_object_new_boolean(e->debug)) < 0 ||
	    add(o, "memory_mib", json_object_new_int64((int64_t)e->memory_mib)) < 0 ||
	    add(o, "max_memory_mib", json_object_new_int64((int64_t)e->max_memory_mib)) < 0 ||
	    add(o, "requested_mib", json_object_new_int64((int64_t)e->requested_mib)) < 0 ||
	    add(o, "plugged_mib", json_object_new_int64((int64_t)e->plugged_mib)) < 0 ||
	    add(o, "start_time_ns", json_object_new_int64((int64_t)e->start_time_ns)) < 0 ||
	    add(o, "heartbeat_timeout_ms", json_object_new_int64(e->heartbeat_timeout_ms)) < 0 ||
	    add(o, "state",
		json_object_new_string(
		    state_names[e->state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING])) <
		0 ||
	    add(o, "generation", json_object_new_int64((int64_t)e->generation)) < 0 ||
	    add(o, "pid", json_object_new_int64(e->pid)) < 0 ||
	    add(o, "pid_start", json_object_new_int64((int64_t)e->pid_start)) < 0 ||
	    add_hex(o, "pcr0", e->measurements.pcr0, PCR_DIGEST_LEN) < 0 ||
	    add_hex(o, "pcr1", e->measurements.pcr1, PCR_DIGEST_LEN) < 0 ||
	    add_hex(o, "pcr2", e->measurements.pcr2, PCR_DIGEST_LEN) < 0 ||
	    (e->measurements.has_pcr8 &&
	     add_hex(o, "pcr8", e->measurements.pcr8, PCR_DIGEST_LEN) < 0))
		goto out;
	body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (!body)
		goto out;
	body_len = strlen(body);
	SHA256((const uint8_t *)body, body_len, digest);
	util_hex_encode(digest, sizeof(digest), hex);
	r = asprintf(out, HEADER_MAGIC " %d sha256=%s len=%zu\n%s", STATE_RECORD_VERSION, hex,
		     body_len, body);
	if (r < 0) {
		*out = NULL;
		r = -ENOMEM;
		goto out;
	}
	*len = (size_t)r;
	r = 0;
out:
	json_object_put(o);
	return r;
}

static int ensure_dir(const struct enclave *e)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/" STATE_RECORD_DIR, e->daemon->opts.runtime_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int state_record_save(const struct enclave *e)
{
	_cleanup_free_ char *text = NULL;
	char path[4200];
	size_t len = 0;
	int r;

	if ((r = ensure_dir(e)) < 0 ||
	    (r = state_path(e->daemon, e->id, ".json", path, sizeof(path))) < 0 ||
	    (r = state_record_encode(e, &text, &len)) < 0 ||
	    (r = util_write_file_atomic(path, text, len, 0600)) < 0) {
		log_warn("%s: cannot persist the enclave record %s: %s (it will not be re-adopted "
			 "after an enclaved restart)",
			 e->id, path, strerror(-r));
		return r;
	}
	/* The rename makes a torn record impossible, not a damaged one (a bad block, a careless
	 * hand): a second copy, written only once the first is complete, lets re-adoption recover.
	 * A crash between the two leaves the first one whole, so the pair never both go bad. */
	if ((r = state_path(e->daemon, e->id, STATE_BACKUP_SUFFIX, path, sizeof(path))) < 0 ||
	    (r = util_write_file_atomic(path, text, len, 0600)) < 0)
		log_warn("%s: cannot write the backup record %s: %s", e->id, path, strerror(-r));
	return r;
}

void state_record_remove(const struct enclaved *d, const char *id)
{
	static const char *const suffixes[] = {".json", STATE_BACKUP_SUFFIX, ".attest",
					       ".json.corrupt"};
	char path[4200];

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(suffixes); i++)
		if (state_path(d, id, suffixes[i], path, sizeof(path)) == 0 && unlink(path) < 0 &&
		    errno != ENOENT)
			log_warn("cannot remove %s: %s", path, strerror(errno));
}

/* ---- decoding ---------------------------------------------------------------------------- */

static int get_u64(json_object *o, const char *key, uint64_t max, uint64_t *out, char **error)
{
	json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return fail(error, -EBADMSG, "field '%s' missing or not an integer", key);
	x = json_object_get_int64(v);
	if (x < 0 || (uint64_t)x > max)
		return fail(error, -EBADMSG, "field '%s' = %" PRId64 ": out of range 0..%" PRIu64,
			    key, x, max);
	*out = (uint64_t)x;
	return 0;
}

static int get_str(json_object *o, const char *key, char *buf, size_t size, char **error)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return fail(error, -EBADMSG, "field '%s' missing or not a string", key);
	s = json_object_get_string(v);
	if (strlen(s) >= size || (size_t)json_object_get_string_len(v) != strlen(s))
		return fail(error, -EBADMSG, "field '%s': longer than %zu bytes or holds NUL", key,
			    size - 1);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(error, -EBADMSG, "field '%s': control character at offset %zu",
				    key, (size_t)(p - s));
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

static int get_pcr(json_object *o, const char *key, bool required, uint8_t *out, bool *present,
		   char **error)
{
	char hex[2 * PCR_DIGEST_LEN + 2];
	size_t n = 0;
	int r;

	if (!json_object_object_get_ex(o, key, NULL) && !required) {
		*present = false;
		return 0;
	}
	r = get_str(o, key, hex, sizeof(hex), error);
	if (r < 0)
		return r;
	if (strlen(hex) != 2 * PCR_DIGEST_LEN ||
	    util_hex_decode(hex, out, PCR_DIGEST_LEN, &n) < 0 || n != PCR_DIGEST_LEN)
		return fail(error, -EBADMSG, "field '%s': not %d hex digits", key,
			    2 * PCR_DIGEST_LEN);
	*present = true;
	return 0;
}

static int decode_body(json_object *o, const char *id, struct enclave *e, char **error)
{
	char state[16], path[4096];
	json_object *cpus;
	uint64_t v;
	bool present;
	size_t n;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return fail(error, -EBADMSG, "the body is not a JSON object");
	if ((r = get_str(o, "id", e->id, sizeof(e->id), error)) < 0)
		return r;
	if (strcmp(e->id, id) != 0)
		return fail(error, -EBADMSG, "field 'id' = '%s' does not match the file name",
			    e->id);
	if ((r = get_str(o, "name", e->name, sizeof(e->name), error)) < 0 ||
	    (r = get_str(o, "eif_path", path, sizeof(path), error)) < 0)
		return r;
	if (strchr(e->name, '/'))
		return fail(error, -EBADMSG, "field 'name' holds '/'");
	e->eif_path = strdup(path);
	if (!e->eif_path)
		return fail(error, -ENOMEM, "out of memory");
	if ((r = get_u64(o, "cid", UINT32_MAX - 1, &e->cid, error)) < 0)
		return r;
	if (e->cid < 4)
		return fail(error, -EBADMSG, "field 'cid' = %" PRIu64 ": not an enclave CID",
			    e->cid);
	if ((r = get_u64(o, "owner_uid", UINT32_MAX - 1, &v, error)) < 0)
		return r;
	e->owner_uid = (uid_t)v;
	if ((r = get_u64(o, "owner_gid", UINT32_MAX - 1, &v, error)) < 0)
		return r;
	e->owner_gid = (gid_t)v;
	if (!json_object_object_get_ex(o, "debug", &cpus) ||
	    !json_object_is_type(cpus, json_type_boolean))
		return fail(error, -EBADMSG, "field 'debug' missing or not a boolean");
	e->debug = json_object_get_boolean(cpus);
	if ((r = get_u64(o, "memory_mib", UINT64_C(1) << 30, &e->memory_mib, error)) < 0 ||
	    (r = get_u64(o, "max_memory_mib", UINT64_C(1) << 30, &e->max_memory_mib, error)) < 0 ||
	    (r = get_u64(o, "requested_mib", UINT64_C(1) << 30, &e->requested_mib, error)) < 0 ||
	    (r = get_u64(o, "plugged_mib", UINT64_C(1) << 30, &e->plugged_mib, error)) < 0 ||
	    (r = get_u64(o, "start_time_ns", INT64_MAX, &e->start_time_ns, error)) < 0 ||
	    (r = get_u64(o, "generation", INT64_MAX, &e->generation, error)) < 0 ||
	    (r = get_u64(o, "pid_start", INT64_MAX, &e->pid_start, error)) < 0)
		return r;
	if (e->memory_mib == 0)
		return fail(error, -EBADMSG, "field 'memory_mib' = 0");
	if ((r = get_u64(o, "heartbeat_timeout_ms", UINT32_MAX, &v, error)) < 0)
		return r;
	e->heartbeat_timeout_ms = (uint32_t)v;
	if ((r = get_u64(o, "pid", INT32_MAX, &v, error)) < 0)
		return r;
	if (v < 2)
		return fail(error, -EBADMSG, "field 'pid' = %" PRIu64 ": not a VMM", v);
	e->pid = (pid_t)v;
	if ((r = get_str(o, "state", state, sizeof(state), error)) < 0)
		return r;
	if (strcmp(state, "RUNNING") == 0)
		e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING;
	else if (strcmp(state, "STARTING") == 0)
		e->state = ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_STARTING;
	else
		return fail(error, -EBADMSG, "field 'state' = '%s': not STARTING or RUNNING",
			    state);
	if (!json_object_object_get_ex(o, "cpu_ids", &cpus) ||
	    !json_object_is_type(cpus, json_type_array))
		return fail(error, -EBADMSG, "field 'cpu_ids' missing or not an array");
	n = json_object_array_length(cpus);
	if (n == 0 || n > POOL_MAX_CPUS)
		return fail(error, -EBADMSG, "field 'cpu_ids' has %zu entries (1..%d)", n,
			    POOL_MAX_CPUS);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(cpus, i);
		int64_t x = json_object_is_type(c, json_type_int) ? json_object_get_int64(c) : -1;
		if (x < 0 || x >= POOL_MAX_CPUS)
			return fail(error, -EBADMSG, "field 'cpu_ids[%zu]': not a CPU id below %d",
				    i, POOL_MAX_CPUS);
		e->cpu_ids[i] = (uint32_t)x;
	}
	e->n_cpus = (unsigned)n;
	if ((r = get_pcr(o, "pcr0", true, e->measurements.pcr0, &present, error)) < 0 ||
	    (r = get_pcr(o, "pcr1", true, e->measurements.pcr1, &present, error)) < 0 ||
	    (r = get_pcr(o, "pcr2", true, e->measurements.pcr2, &present, error)) < 0 ||
	    (r = get_pcr(o, "pcr8", false, e->measurements.pcr8, &e->measurements.has_pcr8,
			 error)) < 0)
		return r;
	return 0;
}

int state_record_decode(const char *text, size_t len, const char *id, struct enclave *e,
			char **error)
{
	const char *nl = memchr(text, '\n', UTIL_MIN(len, (size_t)256));
	char hex[2 * SHA256_DIGEST_LENGTH + 1], want[2 * SHA256_DIGEST_LENGTH + 1], header[257];
	uint8_t digest[SHA256_DIGEST_LENGTH];
	unsigned version = 0;
	size_t body_len = 0;
	json_tokener *tok;
	json_object *o;
	int consumed = 0, r;

	if (!nl)
		return fail(error, -EBADMSG, "no header line in the first 256 bytes (%zu bytes)",
			    len);
	/* The text need not be NUL-terminated: parse a copy of the header line. */
	memcpy(header, text, (size_t)(nl - text));
	header[nl - text] = '\0';
	if (sscanf(header, HEADER_MAGIC " %u sha256=%64[0-9a-f] len=%zu%n", &version, want,
		   &body_len, &consumed) != 3 ||
	    (size_t)consumed != (size_t)(nl - text))
		return fail(error, -EBADMSG,
			    "header line is not '" HEADER_MAGIC " <version> sha256=<hex> len=<n>'");
	if (version != STATE_RECORD_VERSION)
		return fail(error, -EPROTO, "record version %u (this enclaved reads %d)", version,
			    STATE_RECORD_VERSION);
	if (strlen(want) != 2 * SHA256_DIGEST_LENGTH)
		return fail(error, -EBADMSG, "header: sha256 is not 64 hex digits");
	if (body_len != len - (size_t)(nl + 1 - text))
		return fail(error, -EBADMSG,
			    "body is %zu bytes, the header says %zu (torn or truncated write)",
			    len - (size_t)(nl + 1 - text), body_len);
	SHA256((const uint8_t *)nl + 1, body_len, digest);
	util_hex_encode(digest, sizeof(digest), hex);
	if (strcmp(hex, want) != 0)
		return fail(error, -EBADMSG,
			    "checksum mismatch: body sha256 %.16s..., header %.16s...", hex, want);
	tok = json_tokener_new();
	if (!tok)
		return fail(error, -ENOMEM, "out of memory");
	o = json_tokener_parse_ex(tok, nl + 1, (int)body_len);
	if (!o || json_tokener_get_parse_end(tok) != body_len) {
		r = fail(error, -EBADMSG, "body is not one JSON object (offset %zu)",
			 json_tokener_get_parse_end(tok));
		json_object_put(o);
		json_tokener_free(tok);
		return r;
	}
	json_tokener_free(tok);
	r = decode_body(o, id, e, error);
	json_object_put(o);
	return r;
}

int state_pid_start(pid_t pid, uint64_t *out)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	const char *p;
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = util_read_file(path, 4096, &text, &len);
	if (r < 0)
		return r;
	/* comm may hold spaces and parentheses: fields count from the last ')'. */
	p = strrchr(text, ')');
	if (!p)
		return -EBADMSG;
	p++;
	for (int field = 3; field < 22 && p; field++) /* p: the space before field 3 */
		p = strchr(p + 1, ' ');
	if (!p)
		return -EBADMSG;
	return sscanf(p + 1, "%" SCNu64, out) == 1 ? 0 : -EBADMSG;
}

bool state_pid_alive(pid_t pid, uint64_t start)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	const char *p;
	uint64_t now = 0;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (util_read_file(path, 4096, &text, &len) < 0 || !(p = strrchr(text, ')')) || !p[1] ||
	    !p[2])
		return false;
	/* Field 3, the state: Z zombie, X dead. */
	if (p[2] == 'Z' || p[2] == 'X')
		return false;
	return state_pid_start(pid, &now) == 0 && now == start;
}

int state_attestation_sync(struct enclave *e)
{
	EVP_MD_CTX *ctx;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	const uint8_t *leaf = NULL;
	size_t leaf_len = 0;
	char path[4200];
	int r;

	if (!e->attestation)
		return 0;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < 32; i++) {
		uint8_t value[PCR_DIGEST_LEN];
		bool locked = false;
		if (attestation_enclave_pcr(e->attestation, i, value, &locked) < 0)
			continue;
		(void)EVP_DigestUpdate(ctx, value, sizeof(value));
		(void)EVP_DigestUpdate(ctx, &locked, sizeof(locked));
	}
	/* The leaf too: a renewed one must be what a restarted daemon loads. */
	if (attestation_enclave_leaf(e->attestation, &leaf, &leaf_len) == 0)
		(void)EVP_DigestUpdate(ctx, leaf, leaf_len);
	r = EVP_DigestFinal_ex(ctx, digest, NULL) == 1 ? 0 : -EIO;
	EVP_MD_CTX_free(ctx);
	if (r < 0)
		return r;
	if (e->attestation_saved && memcmp(digest, e->attestation_digest, sizeof(digest)) == 0)
		return 0;
	r = ensure_dir(e);
	if (r == 0)
		r = state_path(e->daemon, e->id, ".attest", path, sizeof(path));
	if (r == 0)
		r = attestation_enclave_save(e->attestation, path);
	if (r < 0) {
		log_warn("%s: cannot persist the attestation identity: %s", e->id, strerror(-r));
		return r;
	}
	memcpy(e->attestation_digest, digest, sizeof(digest));
	e->attestation_saved = true;
	return 0;
}
