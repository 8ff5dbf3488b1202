// clang-format off
// fuzz-sources: enclaved/config-file.c enclaved/pool-config.c enclaved/attestation.c attest/acbor.c attest/attest-state.c attest/attest.c attest/cose.c attest/document.c attest/nsm.c attest/pcr.c attest/pki.c attest/verify.c common/util.c common/log.c
// fuzz-pkgs: inih libsystemd libcrypto libcbor
// clang-format on
/* enclaved.conf text: parse it, diff it against the defaults, free it; no crash, no leak, and a
 * failure always comes with a message naming a line. */
#include "enclaved/config-file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void ignore_diff(const char *section, const char *key, const char *old_value,
			const char *new_value, void *userdata)
{
	(void)section;
	(void)key;
	(void)old_value;
	(void)new_value;
	(void)userdata;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enclaved_config cfg, defaults;
	char *text, *error = NULL;
	int r;

	if (size > CONFIG_FILE_MAX)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_init(&cfg) < 0 || config_init(&defaults) < 0)
		abort();
	r = config_parse_string(&cfg, "fuzz.conf", text, &error);
	if (r < 0 && r != -ENOMEM && (!error || strncmp(error, "fuzz.conf:", 10) != 0))
		abort();
	config_diff(&defaults, &cfg, ignore_diff, NULL);
	config_free(&cfg);
	config_free(&defaults);
	free(error);
	free(text);
	return 0;
}
