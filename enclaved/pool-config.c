/* CPU list syntax and the [pool] configuration section. */
#include "config.h"

#include "enclaved/pool-internal.h"

#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int pool_fail(char **error, int r, const char *fmt, ...)
{
	va_list ap;

	if (!error)
		return r;
	free(*error);
	*error = NULL;
	va_start(ap, fmt);
	if (vasprintf(error, fmt, ap) < 0)
		*error = NULL;
	va_end(ap);
	return r;
}

void pool_cpuset_zero(struct pool_cpuset *s)
{
	memset(s, 0, sizeof(*s));
}

void pool_cpuset_add(struct pool_cpuset *s, unsigned cpu)
{
	if (cpu < POOL_MAX_CPUS)
		s->bits[cpu / 64] |= UINT64_C(1) << (cpu % 64);
}

void pool_cpuset_del(struct pool_cpuset *s, unsigned cpu)
{
	if (cpu < POOL_MAX_CPUS)
		s->bits[cpu / 64] &= ~(UINT64_C(1) << (cpu % 64));
}

bool pool_cpuset_has(const struct pool_cpuset *s, unsigned cpu)
{
	return cpu < POOL_MAX_CPUS && (s->bits[cpu / 64] >> (cpu % 64)) & 1;
}

unsigned pool_cpuset_count(const struct pool_cpuset *s)
{
	unsigned n = 0;

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(s->bits); i++)
		n += (unsigned)__builtin_popcountll(s->bits[i]);
	return n;
}

bool pool_cpuset_empty(const struct pool_cpuset *s)
{
	return pool_cpuset_count(s) == 0;
}

int pool_cpuset_next(const struct pool_cpuset *s, unsigned from)
{
	for (unsigned c = from; c < POOL_MAX_CPUS; c++) {
		uint64_t word = s->bits[c / 64] >> (c % 64);
		if (word == 0) {
			c |= 63; /* skip the rest of this word */
			continue;
		}
		return (int)(c + (unsigned)__builtin_ctzll(word));
	}
	return -1;
}

bool pool_cpuset_subset(const struct pool_cpuset *sub, const struct pool_cpuset *of)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(sub->bits); i++)
		if (sub->bits[i] & ~of->bits[i])
			return false;
	return true;
}

bool pool_cpuset_equal(const struct pool_cpuset *a, const struct pool_cpuset *b)
{
	return memcmp(a->bits, b->bits, sizeof(a->bits)) == 0;
}

static int parse_cpu_id(const char *start, size_t len, const char *text, unsigned *out,
			char **error)
{
	char num[16];
	uint64_t v;
	int r;

	if (len == 0)
		return pool_fail(error, -EINVAL, "CPU list '%s': missing CPU id at offset %zu",
				 text, (size_t)(start - text));
	if (len >= sizeof(num))
		return pool_fail(error, -ERANGE, "CPU list '%s': CPU id at offset %zu is too long",
				 text, (size_t)(start - text));
	memcpy(num, start, len);
	num[len] = '\0';
	r = util_parse_u64(num, POOL_MAX_CPUS - 1, &v);
	if (r == -ERANGE)
		return pool_fail(error, -ERANGE, "CPU list '%s': CPU %s is beyond the limit of %d",
				 text, num, POOL_MAX_CPUS - 1);
	if (r < 0)
		return pool_fail(error, -EINVAL, "CPU list '%s': '%s' is not a CPU id", text, num);
	*out = (unsigned)v;
	return 0;
}

int pool_cpuset_parse(const char *text, struct pool_cpuset *out, char **error)
{
	struct pool_cpuset set;
	size_t len;
	const char *p, *end;

	if (!text)
		return pool_fail(error, -EINVAL, "CPU list missing");
	pool_cpuset_zero(&set);
	len = strlen(text);
	if (len > 0 && text[len - 1] == '\n')
		len--;
	end = text + len;
	for (p = text; p < end;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *item_end = comma ? comma : end;
		const char *dash = memchr(p, '-', (size_t)(item_end - p));
		unsigned lo, hi;
		int r;

		r = parse_cpu_id(p, (size_t)((dash ? dash : item_end) - p), text, &lo, error);
		if (r < 0)
			return r;
		hi = lo;
		if (dash) {
			r = parse_cpu_id(dash + 1, (size_t)(item_end - dash - 1), text, &hi, error);
			if (r < 0)
				return r;
			if (hi < lo)
				return pool_fail(error, -EINVAL,
						 "CPU list '%s': range %u-%u runs backwards", text,
						 lo, hi);
		}
		for (unsigned c = lo; c <= hi; c++) {
			if (pool_cpuset_has(&set, c))
				return pool_fail(error, -EINVAL,
						 "CPU list '%s': CPU %u is listed twice", text, c);
			pool_cpuset_add(&set, c);
		}
		if (comma && comma + 1 == end)
			return pool_fail(error, -EINVAL, "CPU list '%s': trailing comma", text);
		p = comma ? comma + 1 : end;
	}
	*out = set;
	return 0;
}

char *pool_cpuset_format(const struct pool_cpuset *s)
{
	/* Worst case "0,2,4,...": at most 5 bytes per CPU. */
	char *buf = malloc(POOL_MAX_CPUS * 5 + 1);
	size_t n = 0;
	int c;

	if (!buf)
		return NULL;
	buf[0] = '\0';
	for (c = pool_cpuset_next(s, 0); c >= 0;) {
		int last = c;
		while (last + 1 < POOL_MAX_CPUS && pool_cpuset_has(s, (unsigned)last + 1))
			last++;
		n += (size_t)snprintf(buf + n, POOL_MAX_CPUS * 5 + 1 - n,
				      last == c ? "%s%d" : "%s%d-%d", n ? "," : "", c, last);
		c = last + 1 < POOL_MAX_CPUS ? pool_cpuset_next(s, (unsigned)last + 1) : -1;
	}
	return buf;
}

void pool_config_init(struct pool_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cpu_count = 2;
	cfg->memory_mib = 512;
	cfg->hugepages = POOL_HUGEPAGES_AUTO;
	cfg->exclude_cpu0 = true;
	cfg->min_enclave_mib = 64;
	cfg->cpu_oversubscribe = 1;
}

const char *pool_hugepages_to_string(enum pool_hugepages h)
{
	switch (h) {
	case POOL_HUGEPAGES_AUTO:
		return "auto";
	case POOL_HUGEPAGES_1G:
		return "1G";
	case POOL_HUGEPAGES_2M:
		return "2M";
	case POOL_HUGEPAGES_NONE:
		return "none";
	}
	return "?";
}

static int parse_bool(const char *key, const char *value, bool *out, char **error)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return pool_fail(error, -EINVAL, "[pool] %s = '%s': expected yes or no", key, value);
}

static int parse_number(const char *key, const char *value, uint64_t min, uint64_t max,
			uint64_t *out, char **error)
{
	uint64_t v;

	if (util_parse_u64(value, max, &v) < 0 || v < min)
		return pool_fail(error, -EINVAL,
				 "[pool] %s = '%s': expected a whole number from %llu to %llu", key,
				 value, (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

int pool_config_set(struct pool_config *cfg, const char *key, const char *value, char **error)
{
	uint64_t v = 0;
	int r;

	if (!key || !value)
		return pool_fail(error, -EINVAL, "[pool]: key or value missing");
	if (strcmp(key, "cpu_pool") == 0) {
		_cleanup_free_ char *why = NULL;
		struct pool_cpuset set;

		if (!cfg->has_cpu_pool && cfg->cpu_count_set)
			return pool_fail(error, -EINVAL,
					 "[pool] cpu_pool = '%s': conflicts with cpu_count", value);
		r = pool_cpuset_parse(value, &set, &why);
		if (r < 0)
			return pool_fail(error, r, "[pool] cpu_pool = '%s': %s", value,
					 why ? why : "invalid");
		if (pool_cpuset_empty(&set))
			return pool_fail(error, -EINVAL, "[pool] cpu_pool = '%s': no CPUs", value);
		cfg->has_cpu_pool = true;
		cfg->cpu_pool = set;
		cfg->cpu_count = 0;
		return 0;
	}
	if (strcmp(key, "cpu_count") == 0) {
		if (cfg->has_cpu_pool)
			return pool_fail(error, -EINVAL,
					 "[pool] cpu_count = '%s': conflicts with cpu_pool", value);
		r = parse_number(key, value, 1, POOL_MAX_CPUS, &v, error);
		if (r < 0)
			return r;
		cfg->cpu_count = (unsigned)v;
		cfg->cpu_count_set = true;
		return 0;
	}
	if (strcmp(key, "memory_mib") == 0)
		return parse_number(key, value, 2, UINT64_C(1) << 30, &cfg->memory_mib, error);
	if (strcmp(key, "min_enclave_mib") == 0)
		return parse_number(key, value, 2, UINT64_C(1) << 30, &cfg->min_enclave_mib, error);
	if (strcmp(key, "cpu_oversubscribe") == 0) {
		r = parse_number(key, value, 1, POOL_MAX_SHARE, &v, error);
		if (r < 0)
			return r;
		cfg->cpu_oversubscribe = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "exclude_cpu0") == 0)
		return parse_bool(key, value, &cfg->exclude_cpu0, error);
	if (strcmp(key, "hugepages") == 0) {
		for (enum pool_hugepages h = POOL_HUGEPAGES_AUTO; h <= POOL_HUGEPAGES_NONE; h++) {
			if (strcasecmp(value, pool_hugepages_to_string(h)) == 0) {
				cfg->hugepages = h;
				return 0;
			}
		}
		return pool_fail(error, -EINVAL,
				 "[pool] hugepages = '%s': expected auto, 1G, 2M or none", value);
	}
	return pool_fail(error, -EINVAL, "[pool] %s = '%s': unknown key", key, value);
}
