/* The [pool] section's type and setter come from the pool module; this indirection keeps
 * config-file.h's only dependency on it in one place. */
#pragma once

#include "enclaved/pool.h"
