/* enclaved's configuration file (INI, parsed with libinih).
 *
 *   [daemon]
 *   group = enclave        # members may run enclaves and manage their own
 *   log_level = info       # error | warning | info | debug
 *
 *   [pool]
 *   ...                    # handed key by key to pool_config_set() (enclaved/pool.h)
 *
 *   [vmm]
 *   user = enclave-vmm     # sandbox account of every VMM (missing: nobody, with a warning)
 *
 * Unknown sections and keys are errors naming file:line. Every entry is also kept as text so
 * that a reload can report exactly what changed. */
#pragma once

#include "common/log.h"

#include <stdbool.h>
#include <stddef.h>

#include "enclaved/config-pool.h"

#define CONFIG_DEFAULT_GROUP	       "enclave"
#define CONFIG_DEFAULT_PING_TIMEOUT_MS 6000u
#define CONFIG_MIN_PING_TIMEOUT_MS     300u
#define CONFIG_MAX_PING_TIMEOUT_MS     600000u
#define CONFIG_DEFAULT_VMM_USER	       "enclave-vmm"
/* A config file is a few lines; anything larger is a mistake, not a config. */
#define CONFIG_FILE_MAX (64u * 1024)
/* inih's line buffer: longer lines would be split silently, so they are refused. */
#define CONFIG_LINE_MAX 199

struct config_entry {
	char *section;
	char *key;
	char *value;
};

struct enclaved_config {
	char *group;
	enum log_level log_level;
	/* [daemon] vmm_ping_timeout_ms: a VMM that answers no Ping for this long is killed as
	 * hung; Pings go out every third of it (enclave-liveness.c). */
	uint32_t vmm_ping_timeout_ms;
	struct pool_config pool;
	char *vmm_user; /* [vmm] user; NULL: CONFIG_DEFAULT_VMM_USER */

	struct config_entry *entries; /* in file order */
	size_t n_entries;
};

/* Defaults for everything; free with config_free. */
int config_init(struct enclaved_config *cfg);
void config_free(struct enclaved_config *cfg);

/* Parse INI text. name is what errors call the file ("enclaved.conf"). On failure *error
 * (malloc'd) says "name:line: problem" and cfg is left freed-and-reinitialized. */
int config_parse_string(struct enclaved_config *cfg, const char *name, const char *text,
			char **error);
/* Read and parse a file of at most CONFIG_FILE_MAX bytes. */
int config_load(struct enclaved_config *cfg, const char *path, char **error);

/* Calls fn for every key whose value differs between old and new (value NULL = absent). */
typedef void (*config_diff_fn)(const char *section, const char *key, const char *old_value,
			       const char *new_value, void *userdata);
void config_diff(const struct enclaved_config *old_cfg, const struct enclaved_config *new_cfg,
		 config_diff_fn fn, void *userdata);

/* "error", "warning", "info", "debug" <-> enum log_level. */
int config_parse_log_level(const char *s, enum log_level *out);
const char *config_log_level_name(enum log_level level);
