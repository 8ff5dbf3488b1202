// clang-format off
// fuzz-sources: enclaved/pool-state.c enclaved/pool-config.c enclaved/pool-topology.c common/util.c
// fuzz-pkgs: json-c
// clang-format on
/* pool.json and CPU list text are read from disk: neither may crash, leak or overflow. */
#include "enclaved/pool-internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char *error = NULL, *again = NULL;
	struct pool_state st;
	struct pool_cpuset set;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (pool_state_from_json(text, &st, &error) == 0 && pool_state_to_json(&st, &again) == 0) {
		struct pool_state back;
		if (pool_state_from_json(again, &back, NULL) != 0 || memcmp(&st, &back, sizeof(st)))
			abort(); /* what we write we must read back identically */
	}
	free(again);
	free(error);
	error = NULL;
	if (pool_cpuset_parse(text, &set, &error) == 0) {
		char *canon = pool_cpuset_format(&set);
		struct pool_cpuset back;
		if (!canon || pool_cpuset_parse(canon, &back, NULL) != 0 ||
		    !pool_cpuset_equal(&set, &back))
			abort();
		free(canon);
	}
	free(error);
	free(text);
	return 0;
}
