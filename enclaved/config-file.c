#include "config.h"

#include "enclaved/config-file.h"

#include "common/util.h"
#include "enclaved/attestation.h"

#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <string.h>

struct parse_state {
	struct enclaved_config *cfg;
	char *error; /* first problem found by the handler, without the file:line prefix */
};

static const char *const known_sections[] = {"daemon", "pool", "attestation", "vmm"};

int config_parse_log_level(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
	    {"error", LOG_LEVEL_ERROR},
	    {"warning", LOG_LEVEL_WARNING},
	    {"info", LOG_LEVEL_INFO},
	    {"debug", LOG_LEVEL_DEBUG},
	};

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(levels); i++) {
		if (strcmp(s, levels[i].name) == 0) {
			*out = levels[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

const char *config_log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return "error";
	case LOG_LEVEL_WARNING:
		return "warning";
	case LOG_LEVEL_INFO:
		return "info";
	case LOG_LEVEL_DEBUG:
		return "debug";
	}
	return "unknown";
}

int config_init(struct enclaved_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->group = strdup(CONFIG_DEFAULT_GROUP);
	if (!cfg->group)
		return -ENOMEM;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->vmm_ping_timeout_ms = CONFIG_DEFAULT_PING_TIMEOUT_MS;
	pool_config_init(&cfg->pool);
	return 0;
}

void config_free(struct enclaved_config *cfg)
{
	for (size_t i = 0; i < cfg->n_entries; i++) {
		free(cfg->entries[i].section);
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
	}
	free(cfg->entries);
	free(cfg->group);
	free(cfg->vmm_user);
	memset(cfg, 0, sizeof(*cfg));
}

static int state_fail(struct parse_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first problem and returns 0, which tells inih to stop at this line. */
static int state_fail(struct parse_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->error)
		return 0;
	va_start(ap, fmt);
	if (vasprintf(&st->error, fmt, ap) < 0)
		st->error = NULL;
	va_end(ap);
	return 0;
}

/* Group names as shadow-utils accepts them: no shell or path surprises in logs or chown. */
static bool group_name_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 32 || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			return false;
	}
	return true;
}

static int entry_add(struct enclaved_config *cfg, const char *section, const char *key,
		     const char *value)
{
	struct config_entry *n;
	struct config_entry e = {
	    .section = strdup(section),
	    .key = strdup(key),
	    .value = strdup(value),
	};

	if (!e.section || !e.key || !e.value)
		goto oom;
	n = reallocarray(cfg->entries, cfg->n_entries + 1, sizeof(*n));
	if (!n)
		goto oom;
	cfg->entries = n;
	cfg->entries[cfg->n_entries++] = e;
	return 0;
oom:
	free(e.section);
	free(e.key);
	free(e.value);
	return -ENOMEM;
}

static const char *entry_find(const struct enclaved_config *cfg, const char *section,
			      const char *key)
{
	for (size_t i = 0; i < cfg->n_entries; i++) {
		if (strcmp(cfg->entries[i].section, section) == 0 &&
		    strcmp(cfg->entries[i].key, key) == 0)
			return cfg->entries[i].value;
	}
	return NULL;
}

static int handle_daemon_key(struct parse_state *st, const char *key, const char *value)
{
	struct enclaved_config *cfg = st->cfg;

	if (strcmp(key, "group") == 0) {
		char *dup;
		if (!group_name_valid(value))
			return state_fail(st, "[daemon] group: invalid group name '%s'", value);
		dup = strdup(value);
		if (!dup)
			return state_fail(st, "out of memory");
		free(cfg->group);
		cfg->group = dup;
		return 1;
	}
	if (strcmp(key, "log_level") == 0) {
		if (config_parse_log_level(value, &cfg->log_level) < 0)
			return state_fail(st,
					  "[daemon] log_level: '%s' is not one of error, warning, "
					  "info, debug",
					  value);
		return 1;
	}
	if (strcmp(key, "vmm_ping_timeout_ms") == 0) {
		uint64_t ms;
		if (util_parse_u64(value, CONFIG_MAX_PING_TIMEOUT_MS, &ms) < 0 ||
		    ms < CONFIG_MIN_PING_TIMEOUT_MS)
			return state_fail(st,
					  "[daemon] vmm_ping_timeout_ms: '%s' is not a number of "
					  "milliseconds from %u to %u",
					  value, CONFIG_MIN_PING_TIMEOUT_MS,
					  CONFIG_MAX_PING_TIMEOUT_MS);
		cfg->vmm_ping_timeout_ms = (uint32_t)ms;
		return 1;
	}
	return state_fail(st,
			  "unknown key '%s' in [daemon] (known: group, log_level, "
			  "vmm_ping_timeout_ms)",
			  key);
}

static int handle_pool_key(struct parse_state *st, const char *key, const char *value)
{
	_cleanup_free_ char *err = NULL;
	int r = pool_config_set(&st->cfg->pool, key, value, &err);

	if (r < 0)
		return state_fail(st, "[pool] %s: %s", key, err ? err : strerror(-r));
	return 1;
}

/* [vmm] user: the account every enclave-vmm runs as once sandboxed (looked up at start). */
static int handle_vmm_key(struct parse_state *st, const char *key, const char *value)
{
	char *dup;

	if (strcmp(key, "user") != 0)
		return state_fail(st, "unknown key '%s' in [vmm] (known: user)", key);
	if (!group_name_valid(value))
		return state_fail(st, "[vmm] user: invalid user name '%s'", value);
	dup = strdup(value);
	if (!dup)
		return state_fail(st, "out of memory");
	free(st->cfg->vmm_user);
	st->cfg->vmm_user = dup;
	return 1;
}

/* Checked here, applied by attestation_init from the kept entries. */
static int handle_attestation_key(struct parse_state *st, const char *key, const char *value)
{
	_cleanup_free_ char *err = NULL;
	int r = attestation_config_check(key, value, &err);

	if (r < 0)
		return state_fail(st, "[attestation] %s: %s", key, err ? err : strerror(-r));
	return 1;
}

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;

	if (section[0] == '\0')
		return state_fail(st, "key '%s' outside any section", name);
	if (entry_find(st->cfg, section, name))
		return state_fail(st, "duplicate key '%s' in [%s]", name, section);
	if (entry_add(st->cfg, section, name, value) < 0)
		return state_fail(st, "out of memory");
	if (strcmp(section, "daemon") == 0)
		return handle_daemon_key(st, name, value);
	if (strcmp(section, "pool") == 0)
		return handle_pool_key(st, name, value);
	if (strcmp(section, "attestation") == 0)
		return handle_attestation_key(st, name, value);
	if (strcmp(section, "vmm") == 0)
		return handle_vmm_key(st, name, value);
	return state_fail(st, "unknown section [%s]", section);
}

/* inih neither reports empty sections nor long lines, so look at both before it runs. */
static int prescan(const char *text, unsigned *bad_line, char **error)
{
	unsigned line = 0;

	for (const char *p = text; *p;) {
		const char *end = strchrnul(p, '\n');
		size_t len = (size_t)(end - p);
		const char *s = p;

		line++;
		if (len > CONFIG_LINE_MAX) {
			*bad_line = line;
			return asprintf(error, "line is %zu characters long (at most %u)", len,
					CONFIG_LINE_MAX) < 0
				   ? -ENOMEM
				   : -EINVAL;
		}
		while (s < end && isspace((unsigned char)*s))
			s++;
		if (s < end && *s == '[') {
			const char *close = memchr(s, ']', (size_t)(end - s));
			bool known = false;
			if (close) {
				size_t n = (size_t)(close - s - 1);
				for (size_t i = 0; i < UTIL_ARRAY_SIZE(known_sections); i++)
					known |= strlen(known_sections[i]) == n &&
						 memcmp(known_sections[i], s + 1, n) == 0;
			}
			if (!known) {
				int n = close ? (int)(close - s - 1) : (int)(end - s);
				*bad_line = line;
				return asprintf(error,
						"unknown section [%.*s] (known: [daemon], [pool], "
						"[attestation], [vmm])",
						n, close ? s + 1 : s) < 0
					   ? -ENOMEM
					   : -EINVAL;
			}
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

int config_parse_string(struct enclaved_config *cfg, const char *name, const char *text,
			char **error)
{
	struct parse_state st = {.cfg = cfg};
	_cleanup_free_ char *msg = NULL;
	unsigned bad_line = 0;
	int r;

	*error = NULL;
	r = prescan(text, &bad_line, &msg);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		goto fail;

	ini_stop_on_first_error = true;
	r = ini_parse_string(text, on_ini_entry, &st);
	if (r == 0)
		return 0;
	msg = st.error;
	st.error = NULL;
	if (r < 0) {
		r = -ENOMEM;
		goto fail;
	}
	bad_line = (unsigned)r;
	r = -EINVAL;
	if (!msg && !(msg = strdup("syntax error: expected 'key = value' or '[section]'")))
		return -ENOMEM;
fail:
	if (asprintf(error, "%s:%u: %s", name, bad_line, msg ? msg : "out of memory") < 0)
		*error = NULL;
	config_free(cfg);
	if (config_init(cfg) < 0)
		return -ENOMEM;
	return r;
}

int config_load(struct enclaved_config *cfg, const char *path, char **error)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	*error = NULL;
	r = util_read_file(path, CONFIG_FILE_MAX, &text, &len);
	if (r < 0) {
		if (asprintf(error, "%s: %s%s", path, strerror(-r),
			     r == -EFBIG ? " (larger than 64 KiB)" : "") < 0)
			*error = NULL;
		return r;
	}
	if (memchr(text, '\0', len)) {
		if (asprintf(error, "%s: contains a NUL byte at offset %zu", path,
			     (size_t)((char *)memchr(text, '\0', len) - text)) < 0)
			*error = NULL;
		return -EINVAL;
	}
	return config_parse_string(cfg, path, text, error);
}

void config_diff(const struct enclaved_config *old_cfg, const struct enclaved_config *new_cfg,
		 config_diff_fn fn, void *userdata)
{
	for (size_t i = 0; i < old_cfg->n_entries; i++) {
		const struct config_entry *e = &old_cfg->entries[i];
		const char *now = entry_find(new_cfg, e->section, e->key);
		if (!now || strcmp(now, e->value) != 0)
			fn(e->section, e->key, e->value, now, userdata);
	}
	for (size_t i = 0; i < new_cfg->n_entries; i++) {
		const struct config_entry *e = &new_cfg->entries[i];
		if (!entry_find(old_cfg, e->section, e->key))
			fn(e->section, e->key, NULL, e->value, userdata);
	}
}
