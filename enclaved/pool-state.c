/* The pool persisted as <state-dir>/pool.json, so a resize survives a restart. */
#include "config.h"

#include "enclaved/pool-internal.h"

#include "common/util.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define STATE_FILE    "pool.json"
#define STATE_MAX     (64 * 1024)
#define STATE_VERSION 1
#define MIB_LIMIT     (UINT64_C(1) << 30)

void pool_boot_id(char *buf, size_t len)
{
	_cleanup_free_ char *text = NULL;
	size_t n;

	buf[0] = '\0';
	if (util_read_file("/proc/sys/kernel/random/boot_id", 128, &text, &n) < 0)
		return;
	if (n > 0 && text[n - 1] == '\n')
		text[n - 1] = '\0';
	snprintf(buf, len, "%s", text);
}

int pool_state_to_json(const struct pool_state *st, char **out)
{
	_cleanup_free_ char *cpus = pool_cpuset_format(&st->cpus);
	json_object *o = json_object_new_object();
	int r = -ENOMEM;

	if (!cpus || !o)
		goto out;
	if (json_object_object_add(o, "version", json_object_new_int(STATE_VERSION)) < 0 ||
	    json_object_object_add(o, "cpus", json_object_new_string(cpus)) < 0 ||
	    json_object_object_add(o, "memory_mib",
				   json_object_new_int64((int64_t)st->memory_mib)) < 0 ||
	    json_object_object_add(
		o, "hugepages", json_object_new_string(pool_hugepages_to_string(st->hugepages))) <
		0 ||
	    json_object_object_add(o, "page_kib", json_object_new_int64((int64_t)st->page_kib)) <
		0 ||
	    json_object_object_add(o, "min_enclave_mib",
				   json_object_new_int64((int64_t)st->min_enclave_mib)) < 0 ||
	    json_object_object_add(o, "exclude_cpu0", json_object_new_boolean(st->exclude_cpu0)) <
		0 ||
	    json_object_object_add(o, "node", json_object_new_int(st->node)) < 0 ||
	    json_object_object_add(o, "reserved_pages",
				   json_object_new_int64((int64_t)st->reserved_pages)) < 0 ||
	    json_object_object_add(o, "boot_id", json_object_new_string(st->boot_id)) < 0)
		goto out;
	*out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	r = *out ? 0 : -ENOMEM;
out:
	json_object_put(o);
	return r;
}

static int get_u64(json_object *o, const char *key, uint64_t max, uint64_t *out, char **error)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return pool_fail(error, -EINVAL, "pool.json: '%s' missing or not an integer", key);
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max)
		return pool_fail(error, -EINVAL, "pool.json: '%s' = %lld out of range 0..%llu", key,
				 (long long)n, (unsigned long long)max);
	*out = (uint64_t)n;
	return 0;
}

static int get_string(json_object *o, const char *key, const char **out, char **error)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return pool_fail(error, -EINVAL, "pool.json: '%s' missing or not a string", key);
	*out = json_object_get_string(v);
	return 0;
}

static int parse_object(json_object *o, struct pool_state *st, char **error)
{
	_cleanup_free_ char *why = NULL;
	const char *cpus, *huge, *boot;
	uint64_t version, page;
	json_object *v;
	int r;

	memset(st, 0, sizeof(*st));
	if (!json_object_is_type(o, json_type_object))
		return pool_fail(error, -EINVAL, "pool.json: not a JSON object");
	if ((r = get_u64(o, "version", 1000, &version, error)) < 0)
		return r;
	if (version != STATE_VERSION)
		return pool_fail(error, -EINVAL, "pool.json: version %llu, expected %d",
				 (unsigned long long)version, STATE_VERSION);
	if ((r = get_string(o, "cpus", &cpus, error)) < 0 ||
	    (r = get_string(o, "hugepages", &huge, error)) < 0 ||
	    (r = get_string(o, "boot_id", &boot, error)) < 0 ||
	    (r = get_u64(o, "memory_mib", MIB_LIMIT, &st->memory_mib, error)) < 0 ||
	    (r = get_u64(o, "min_enclave_mib", MIB_LIMIT, &st->min_enclave_mib, error)) < 0 ||
	    (r = get_u64(o, "page_kib", UINT64_C(1) << 30, &page, error)) < 0 ||
	    (r = get_u64(o, "reserved_pages", MIB_LIMIT, &st->reserved_pages, error)) < 0)
		return r;
	if ((r = pool_cpuset_parse(cpus, &st->cpus, &why)) < 0)
		return pool_fail(error, r, "pool.json: 'cpus': %s", why ? why : "invalid");
	st->hugepages = POOL_HUGEPAGES_NONE + 1;
	for (enum pool_hugepages h = POOL_HUGEPAGES_AUTO; h <= POOL_HUGEPAGES_NONE; h++)
		if (strcmp(huge, pool_hugepages_to_string(h)) == 0)
			st->hugepages = h;
	if (st->hugepages > POOL_HUGEPAGES_NONE)
		return pool_fail(error, -EINVAL, "pool.json: 'hugepages' = '%s' unknown", huge);
	if (page != 4 && page != 2048 && page != 1048576)
		return pool_fail(error, -EINVAL, "pool.json: 'page_kib' = %llu is no page size",
				 (unsigned long long)page);
	st->page_kib = page;
	if (!json_object_object_get_ex(o, "exclude_cpu0", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return pool_fail(error, -EINVAL,
				 "pool.json: 'exclude_cpu0' missing or not a boolean");
	st->exclude_cpu0 = json_object_get_boolean(v);
	if (!json_object_object_get_ex(o, "node", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < -1 || json_object_get_int64(v) >= POOL_MAX_CPUS)
		return pool_fail(error, -EINVAL, "pool.json: 'node' missing or out of range");
	st->node = (int)json_object_get_int64(v);
	if (strlen(boot) >= sizeof(st->boot_id))
		return pool_fail(error, -EINVAL, "pool.json: 'boot_id' too long");
	snprintf(st->boot_id, sizeof(st->boot_id), "%s", boot);
	return 0;
}

int pool_state_from_json(const char *text, struct pool_state *st, char **error)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;
	int r;

	if (!tok)
		return pool_fail(error, -ENOMEM, "out of memory");
	o = json_tokener_parse_ex(tok, text, (int)strnlen(text, STATE_MAX));
	if (!o || json_tokener_get_error(tok) != json_tokener_success)
		r = pool_fail(error, -EINVAL, "pool.json: not JSON: %s at offset %zu",
			      json_tokener_error_desc(json_tokener_get_error(tok)),
			      json_tokener_get_parse_end(tok));
	else
		r = parse_object(o, st, error);
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

int pool_state_load(const char *state_dir, struct pool_state *st, char **error)
{
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX];
	int r = pool_path(path, sizeof(path), state_dir, "/" STATE_FILE);

	if (r < 0)
		return pool_fail(error, r, "state directory path too long");
	r = util_read_file(path, STATE_MAX, &text, NULL);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return pool_fail(error, r, "%s: %s", path, strerror(-r));
	return pool_state_from_json(text, st, error);
}

int pool_state_save(const char *state_dir, const struct pool_state *st, char **error)
{
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX];
	int r = pool_path(path, sizeof(path), state_dir, "/" STATE_FILE);

	if (r < 0)
		return pool_fail(error, r, "state directory path too long");
	r = pool_state_to_json(st, &text);
	if (r < 0)
		return pool_fail(error, r, "pool.json: cannot encode");
	r = util_write_file_atomic(path, text, strlen(text), 0600);
	if (r < 0)
		return pool_fail(error, r, "%s: cannot write: %s", path, strerror(-r));
	return 0;
}
