// clang-format off
// fuzz-sources: common/util.c common/log.c
// fuzz-pkgs: json-c libcrypto libsystemd libprotobuf-c
// clang-format on
/* The daemon's reading of a persisted enclave record (enclaved/state.c, state_record_decode):
 * a torn, damaged or forged <runtime>/enclave-records/<id>.json must be refused with a message,
 * never crash or be half-trusted. Every decoded field is checked against its bounds. */
#include "enclaved/state.c"

#include <assert.h>
#include <stdlib.h>

/* Stand-ins for attestation.c (state_attestation_sync is not reached from decoding). */
int attestation_enclave_save(const struct attestation_enclave *e, const char *path)
{
	return -ENOSYS;
}

int attestation_enclave_pcr(const struct attestation_enclave *e, unsigned index,
			    uint8_t value[PCR_DIGEST_LEN], bool *locked)
{
	return -ENOSYS;
}

int attestation_enclave_leaf(const struct attestation_enclave *e, const uint8_t **der, size_t *len)
{
	return -ENOSYS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enclave *e = calloc(1, sizeof(*e));
	char *error = NULL;
	int r;

	if (!e)
		return 0;
	r = state_record_decode((const char *)data, size, "i-0000000000000000-enc00112233aabbccdd",
				e, &error);
	if (r == 0) {
		assert(strcmp(e->id, "i-0000000000000000-enc00112233aabbccdd") == 0);
		assert(e->n_cpus >= 1 && e->n_cpus <= POOL_MAX_CPUS);
		for (unsigned i = 0; i < e->n_cpus; i++)
			assert(e->cpu_ids[i] < POOL_MAX_CPUS);
		assert(e->cid >= 4 && e->cid < UINT32_MAX);
		assert(e->memory_mib > 0 && e->pid > 1);
		assert(!strchr(e->name, '/'));
	} else {
		assert(error && error[0]);
	}
	free(error);
	free(e->eif_path);
	free(e);
	return 0;
}
