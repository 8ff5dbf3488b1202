/* Platform Configuration Registers as Nitro defines them: SHA-384, 48 bytes, starting at zero,
 * extended as PCR = SHA384(PCR || data). An EIF section stream is measured by hashing the
 * stream once and extending a zero PCR with that digest (reference/nitro-enclaves.md 1.4). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCR_DIGEST_LEN 48
#define PCR_COUNT      32
#define PCR_HEX_LEN    (2 * PCR_DIGEST_LEN)

/* Streaming SHA-384 (an EVP_MD_CTX behind an opaque pointer). */
struct pcr_hash {
	void *ctx;
};

int pcr_hash_init(struct pcr_hash *h);
int pcr_hash_update(struct pcr_hash *h, const void *data, size_t len);
/* The plain SHA-384 of the stream so far; the hash must be re-initialised to reuse it. */
int pcr_hash_final(struct pcr_hash *h, uint8_t digest[PCR_DIGEST_LEN]);
/* Finish the stream and give the PCR it measures: SHA384(0^48 || SHA384(stream)). */
int pcr_hash_final_measure(struct pcr_hash *h, uint8_t pcr[PCR_DIGEST_LEN]);
/* Release the context; safe on a zeroed or already freed struct. */
void pcr_hash_free(struct pcr_hash *h);

/* A helper thread that feeds one hash while the caller feeds another with the same bytes: an
 * EIF section goes into PCR0 and into PCR1 or PCR2, and SHA-384 bounds how fast images are
 * built and measured. Between pcr_pair_begin and pcr_pair_finish the caller may read the same
 * bytes (hash them into another context, CRC them) but not change them. Without a thread (none
 * could be made, or the piece is small) begin does the work itself. */
struct pcr_pair;

int pcr_pair_new(struct pcr_pair **out);
/* Stops the thread; safe on NULL. */
void pcr_pair_free(struct pcr_pair *p);
int pcr_pair_begin(struct pcr_pair *p, struct pcr_hash *h, const void *data, size_t len);
/* Wait for the update begun last: its result. */
int pcr_pair_finish(struct pcr_pair *p);

/* One-shot SHA-384. */
int pcr_sha384(const void *data, size_t len, uint8_t digest[PCR_DIGEST_LEN]);
/* pcr = SHA384(pcr || data), in place. */
int pcr_extend(uint8_t pcr[PCR_DIGEST_LEN], const void *data, size_t len);
/* SHA384(0^48 || SHA384(data)): the value of a PCR measuring data in one go. */
int pcr_measure(const void *data, size_t len, uint8_t pcr[PCR_DIGEST_LEN]);

/* A bank of PCR_COUNT registers with per-register locks, as an NSM keeps them. */
struct pcr_bank {
	uint8_t value[PCR_COUNT][PCR_DIGEST_LEN];
	bool locked[PCR_COUNT];
};

/* All registers zero and unlocked. */
void pcr_bank_reset(struct pcr_bank *bank);
/* -EINVAL for an index out of range, -EPERM for a locked register. */
int pcr_bank_extend(struct pcr_bank *bank, unsigned index, const void *data, size_t len);
int pcr_bank_lock(struct pcr_bank *bank, unsigned index);
/* Lock registers [0, count). */
int pcr_bank_lock_range(struct pcr_bank *bank, unsigned count);
int pcr_bank_get(const struct pcr_bank *bank, unsigned index, uint8_t out[PCR_DIGEST_LEN],
		 bool *locked);
