/* The [pool] section's type and setter, from the pool module.
 *
 * TODO(daemon): enclaved/pool.h and enclaved/pool*.c are not committed yet. Until they are,
 * this stub accepts every [pool] key so that configs parse; once they land, replace the body
 * of this file with `#include "enclaved/pool.h"`. */
#pragma once

struct pool_config {
	int unused;
};

static inline void pool_config_init(struct pool_config *cfg)
{
	cfg->unused = 0;
}

static inline int pool_config_set(struct pool_config *cfg, const char *key, const char *value,
				  char **error)
{
	(void)cfg;
	(void)key;
	(void)value;
	(void)error;
	return 0;
}
