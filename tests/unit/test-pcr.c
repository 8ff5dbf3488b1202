/* SHA-384 PCR measurement and the extend rule against known values. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attest/pcr.h"
#include "common/util.h"

static void hex(const uint8_t *d, char out[PCR_HEX_LEN + 1])
{
	util_hex_encode(d, PCR_DIGEST_LEN, out);
}

/* reference/nitro-enclaves.md 1.4: PCR2 of an EIF with one ramdisk */
static void test_empty_stream_vector(void **state)
{
	static const char *want = "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c"
				  "10edb30948c90ba67310f7b964fc500a";
	uint8_t pcr[PCR_DIGEST_LEN];
	char s[PCR_HEX_LEN + 1];
	struct pcr_hash h;

	assert_int_equal(pcr_measure(NULL, 0, pcr), 0);
	hex(pcr, s);
	assert_string_equal(s, want);

	assert_int_equal(pcr_hash_init(&h), 0);
	assert_int_equal(pcr_hash_final_measure(&h, pcr), 0);
	pcr_hash_free(&h);
	pcr_hash_free(&h);
	hex(pcr, s);
	assert_string_equal(s, want);
}

static void test_sha384_abc(void **state)
{
	uint8_t d[PCR_DIGEST_LEN];
	char s[PCR_HEX_LEN + 1];

	assert_int_equal(pcr_sha384("abc", 3, d), 0);
	hex(d, s);
	assert_string_equal(s, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
			       "8086072ba1e7cc2358baeca134c825a7");
}

static void test_streaming_equals_oneshot(void **state)
{
	uint8_t buf[10000], a[PCR_DIGEST_LEN], b[PCR_DIGEST_LEN];
	struct pcr_hash h;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	assert_int_equal(pcr_measure(buf, sizeof(buf), a), 0);
	assert_int_equal(pcr_hash_init(&h), 0);
	for (size_t off = 0; off < sizeof(buf); off += 333)
		assert_int_equal(pcr_hash_update(&h, buf + off, UTIL_MIN(333, sizeof(buf) - off)),
				 0);
	assert_int_equal(pcr_hash_final_measure(&h, b), 0);
	pcr_hash_free(&h);
	assert_memory_equal(a, b, PCR_DIGEST_LEN);
}

static void test_extend_rule(void **state)
{
	uint8_t pcr[PCR_DIGEST_LEN] = {0}, cat[2 * PCR_DIGEST_LEN] = {0}, want[PCR_DIGEST_LEN];

	/* extend(0, x) == SHA384(0^48 || x) */
	memcpy(cat + PCR_DIGEST_LEN, "0123456789abcdef0123456789abcdef0123456789abcdef",
	       PCR_DIGEST_LEN);
	assert_int_equal(pcr_sha384(cat, sizeof(cat), want), 0);
	assert_int_equal(pcr_extend(pcr, cat + PCR_DIGEST_LEN, PCR_DIGEST_LEN), 0);
	assert_memory_equal(pcr, want, PCR_DIGEST_LEN);
	assert_int_equal(pcr_extend(pcr, NULL, 1), -EINVAL);
}

static void test_bank(void **state)
{
	struct pcr_bank bank;
	uint8_t v[PCR_DIGEST_LEN], zero[PCR_DIGEST_LEN] = {0}, want[PCR_DIGEST_LEN] = {0};
	bool locked = true;

	pcr_bank_reset(&bank);
	assert_int_equal(pcr_bank_get(&bank, 16, v, &locked), 0);
	assert_memory_equal(v, zero, PCR_DIGEST_LEN);
	assert_false(locked);
	assert_int_equal(pcr_bank_extend(&bank, 16, "x", 1), 0);
	assert_int_equal(pcr_extend(want, "x", 1), 0);
	assert_int_equal(pcr_bank_get(&bank, 16, v, NULL), 0);
	assert_memory_equal(v, want, PCR_DIGEST_LEN);
	assert_int_equal(pcr_bank_lock(&bank, 16), 0);
	assert_int_equal(pcr_bank_extend(&bank, 16, "x", 1), -EPERM);
	assert_int_equal(pcr_bank_get(&bank, 16, v, &locked), 0);
	assert_true(locked);
	assert_memory_equal(v, want, PCR_DIGEST_LEN);
	assert_int_equal(pcr_bank_lock_range(&bank, 16), 0);
	assert_int_equal(pcr_bank_extend(&bank, 15, "x", 1), -EPERM);
	assert_int_equal(pcr_bank_extend(&bank, 17, "x", 1), 0);
	assert_int_equal(pcr_bank_extend(&bank, PCR_COUNT, "x", 1), -EINVAL);
	assert_int_equal(pcr_bank_lock(&bank, PCR_COUNT), -EINVAL);
	assert_int_equal(pcr_bank_lock_range(&bank, PCR_COUNT + 1), -EINVAL);
	assert_int_equal(pcr_bank_get(&bank, PCR_COUNT, v, NULL), -EINVAL);
}

/* Two hashes fed the same bytes, one on the pair's thread and one here, in pieces large and
 * small, equal the one-shot values; a pair reused across many pieces and freed mid-life is
 * fine. */
static void test_pair(void **state)
{
	size_t total = 5u << 20;
	uint8_t *data = malloc(total), one[PCR_DIGEST_LEN], two[PCR_DIGEST_LEN];
	uint8_t want_all[PCR_DIGEST_LEN], want_tail[PCR_DIGEST_LEN];
	struct pcr_hash here, there;
	struct pcr_pair *pair = NULL;
	size_t sizes[] = {1, 100, 70000, 1u << 20, 3u << 20}, off = 0;

	assert_non_null(data);
	for (size_t i = 0; i < total; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(pcr_pair_new(&pair), 0);
	assert_int_equal(pcr_hash_init(&here), 0);
	assert_int_equal(pcr_hash_init(&there), 0);
	for (size_t k = 0; off < total; k++) {
		size_t n = sizes[k % UTIL_ARRAY_SIZE(sizes)];
		if (n > total - off)
			n = total - off;
		assert_int_equal(pcr_pair_begin(pair, &there, data + off, n), 0);
		assert_int_equal(pcr_hash_update(&here, data + off, n), 0);
		assert_int_equal(pcr_pair_finish(pair), 0);
		off += n;
	}
	assert_int_equal(pcr_hash_final(&here, one), 0);
	assert_int_equal(pcr_hash_final(&there, two), 0);
	assert_int_equal(pcr_sha384(data, total, want_all), 0);
	assert_memory_equal(one, want_all, PCR_DIGEST_LEN);
	assert_memory_equal(two, want_all, PCR_DIGEST_LEN);
	/* An update that fails (a freed hash) is reported by finish, not lost. */
	pcr_hash_free(&there);
	assert_int_equal(pcr_pair_begin(pair, &there, data, 1u << 20), 0);
	assert_int_equal(pcr_pair_finish(pair), -EINVAL);
	assert_int_equal(pcr_pair_finish(pair), 0);
	/* Freed with a job done and none pending. */
	assert_int_equal(pcr_hash_init(&there), 0);
	assert_int_equal(pcr_pair_begin(pair, &there, data + 1, total - 1), 0);
	pcr_pair_free(pair);
	assert_int_equal(pcr_hash_final(&there, two), 0);
	assert_int_equal(pcr_sha384(data + 1, total - 1, want_tail), 0);
	assert_memory_equal(two, want_tail, PCR_DIGEST_LEN);
	pcr_hash_free(&here);
	pcr_hash_free(&there);
	pcr_pair_free(NULL);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_stream_vector),
	    cmocka_unit_test(test_sha384_abc),
	    cmocka_unit_test(test_streaming_equals_oneshot),
	    cmocka_unit_test(test_extend_rule),
	    cmocka_unit_test(test_bank),
	    cmocka_unit_test(test_pair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
