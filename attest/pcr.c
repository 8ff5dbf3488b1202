#include "config.h"

#include "attest/pcr.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

int pcr_hash_init(struct pcr_hash *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	h->ctx = NULL;
	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -EIO;
	}
	h->ctx = ctx;
	return 0;
}

int pcr_hash_update(struct pcr_hash *h, const void *data, size_t len)
{
	if (!h->ctx)
		return -EINVAL;
	if (len == 0)
		return 0;
	return EVP_DigestUpdate(h->ctx, data, len) == 1 ? 0 : -EIO;
}

/* Below this a hand-off costs more than it saves. */
#define PAIR_MIN_BYTES (64u * 1024u)

struct pcr_pair {
	bool threaded;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* the job: busy from begin until the thread has done it */
	struct pcr_hash *hash;
	const void *data;
	size_t len;
	int result;
	bool busy, stop;
};

static void *pair_thread(void *arg)
{
	struct pcr_pair *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->busy && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (!p->busy)
			break;
		pthread_mutex_unlock(&p->lock);
		int r = pcr_hash_update(p->hash, p->data, p->len);
		pthread_mutex_lock(&p->lock);
		p->result = r;
		p->busy = false;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int pcr_pair_new(struct pcr_pair **out)
{
	struct pcr_pair *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		return -ENOMEM;
	}
	if (pthread_cond_init(&p->cond, NULL) != 0) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -ENOMEM;
	}
	/* No thread (a process out of them): the same results, one after the other. */
	p->threaded = pthread_create(&p->thread, NULL, pair_thread, p) == 0;
	*out = p;
	return 0;
}

void pcr_pair_free(struct pcr_pair *p)
{
	if (!p)
		return;
	if (p->threaded) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int pcr_pair_begin(struct pcr_pair *p, struct pcr_hash *h, const void *data, size_t len)
{
	int r = pcr_pair_finish(p); /* one job at a time */

	if (r < 0)
		return r;
	if (!p->threaded || len < PAIR_MIN_BYTES) {
		r = pcr_hash_update(h, data, len);
		pthread_mutex_lock(&p->lock);
		p->result = r;
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	pthread_mutex_lock(&p->lock);
	p->hash = h;
	p->data = data;
	p->len = len;
	p->busy = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int pcr_pair_finish(struct pcr_pair *p)
{
	int r;

	pthread_mutex_lock(&p->lock);
	while (p->busy)
		pthread_cond_wait(&p->cond, &p->lock);
	r = p->result;
	p->result = 0;
	pthread_mutex_unlock(&p->lock);
	return r;
}

int pcr_hash_final(struct pcr_hash *h, uint8_t digest[PCR_DIGEST_LEN])
{
	unsigned int n = 0;

	if (!h->ctx)
		return -EINVAL;
	if (EVP_DigestFinal_ex(h->ctx, digest, &n) != 1 || n != PCR_DIGEST_LEN)
		return -EIO;
	return 0;
}

int pcr_hash_final_measure(struct pcr_hash *h, uint8_t pcr[PCR_DIGEST_LEN])
{
	uint8_t digest[PCR_DIGEST_LEN];
	int r = pcr_hash_final(h, digest);

	if (r < 0)
		return r;
	memset(pcr, 0, PCR_DIGEST_LEN);
	return pcr_extend(pcr, digest, sizeof(digest));
}

void pcr_hash_free(struct pcr_hash *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int pcr_sha384(const void *data, size_t len, uint8_t digest[PCR_DIGEST_LEN])
{
	unsigned int n = 0;

	if (!data && len > 0)
		return -EINVAL;
	if (EVP_Digest(len ? data : "", len, digest, &n, EVP_sha384(), NULL) != 1 ||
	    n != PCR_DIGEST_LEN)
		return -EIO;
	return 0;
}

int pcr_extend(uint8_t pcr[PCR_DIGEST_LEN], const void *data, size_t len)
{
	struct pcr_hash h;
	int r;

	if (!data && len > 0)
		return -EINVAL;
	r = pcr_hash_init(&h);
	if (r < 0)
		return r;
	r = pcr_hash_update(&h, pcr, PCR_DIGEST_LEN);
	if (r == 0)
		r = pcr_hash_update(&h, data, len);
	if (r == 0)
		r = pcr_hash_final(&h, pcr);
	pcr_hash_free(&h);
	return r;
}

int pcr_measure(const void *data, size_t len, uint8_t pcr[PCR_DIGEST_LEN])
{
	uint8_t digest[PCR_DIGEST_LEN];
	int r = pcr_sha384(data, len, digest);

	if (r < 0)
		return r;
	memset(pcr, 0, PCR_DIGEST_LEN);
	return pcr_extend(pcr, digest, sizeof(digest));
}

void pcr_bank_reset(struct pcr_bank *bank)
{
	memset(bank, 0, sizeof(*bank));
}

int pcr_bank_extend(struct pcr_bank *bank, unsigned index, const void *data, size_t len)
{
	if (index >= PCR_COUNT)
		return -EINVAL;
	if (bank->locked[index])
		return -EPERM;
	return pcr_extend(bank->value[index], data, len);
}

int pcr_bank_lock(struct pcr_bank *bank, unsigned index)
{
	if (index >= PCR_COUNT)
		return -EINVAL;
	bank->locked[index] = true;
	return 0;
}

int pcr_bank_lock_range(struct pcr_bank *bank, unsigned count)
{
	if (count > PCR_COUNT)
		return -EINVAL;
	for (unsigned i = 0; i < count; i++)
		bank->locked[i] = true;
	return 0;
}

int pcr_bank_get(const struct pcr_bank *bank, unsigned index, uint8_t out[PCR_DIGEST_LEN],
		 bool *locked)
{
	if (index >= PCR_COUNT)
		return -EINVAL;
	memcpy(out, bank->value[index], PCR_DIGEST_LEN);
	if (locked)
		*locked = bank->locked[index];
	return 0;
}
