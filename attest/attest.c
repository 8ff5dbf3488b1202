#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "attest/attest.h"
#include "common/log.h"
#include "common/util.h"

int attest_principal(uid_t uid, const char *user_name, char *buf, size_t size)
{
	int n;

	if (!user_name)
		user_name = "";
	for (const char *c = user_name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			log_error("attest: user name has a control character at byte %td",
				  c - user_name);
			return -EINVAL;
		}
	n = snprintf(buf, size, "uid=%u name=%s", (unsigned)uid, user_name);
	if (n < 0 || (size_t)n >= size) {
		log_error("attest: principal for uid %u does not fit %zu bytes", (unsigned)uid,
			  size);
		return -EINVAL;
	}
	return 0;
}

int attest_read_machine_id(const char *path, char out[ATTEST_MACHINE_ID_LEN + 1])
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int ret = util_read_file(path, 64, &buf, &len);

	if (ret < 0) {
		log_error("attest: cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	if (len == ATTEST_MACHINE_ID_LEN + 1 && buf[ATTEST_MACHINE_ID_LEN] == '\n')
		len--;
	if (len != ATTEST_MACHINE_ID_LEN) {
		log_error("attest: %s holds %zu bytes, not a %d-character machine id", path, len,
			  ATTEST_MACHINE_ID_LEN);
		return -EBADMSG;
	}
	for (size_t i = 0; i < len; i++)
		if (!((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f'))) {
			log_error("attest: %s byte %zu is not lowercase hex", path, i);
			return -EBADMSG;
		}
	memcpy(out, buf, ATTEST_MACHINE_ID_LEN);
	out[ATTEST_MACHINE_ID_LEN] = '\0';
	return 0;
}

int attest_enclave_init(struct attest_enclave *ae, const struct pki *ca,
			const struct attest_launch *l)
{
	char principal[ATTEST_PRINCIPAL_MAX];
	int ret;

	memset(ae, 0, sizeof(*ae));
	if (l->machine_id && strlen(l->machine_id) != ATTEST_MACHINE_ID_LEN) {
		log_error("attest: machine id must be %d characters", ATTEST_MACHINE_ID_LEN);
		return -EINVAL;
	}
	ret = attest_principal(l->uid, l->user_name, principal, sizeof(principal));
	if (ret < 0)
		return ret;
	ret = nsm_state_init(&ae->nsm, l->module_id, l->pcr0, l->pcr1, l->pcr2, l->pcr8, principal,
			     l->machine_id, l->debug);
	if (ret < 0)
		return ret;
	ret = pki_issue_leaf(ca, l->enclave_id, 0, l->lifetime_s, &ae->leaf);
	if (ret < 0)
		return ret;
	ae->signer.leaf = &ae->leaf;
	nsm_state_set_signer(&ae->nsm, doc_nsm_attest, &ae->signer);
	return 0;
}

void attest_enclave_clear(struct attest_enclave *ae)
{
	pki_leaf_clear(&ae->leaf);
	OPENSSL_cleanse(ae, sizeof(*ae));
}

int attest_enclave_renew_leaf(struct attest_enclave *ae, const struct pki *ca, time_t now,
			      bool *renewed)
{
	const ASN1_TIME *not_before = X509_get0_notBefore(ae->leaf.cert);
	const ASN1_TIME *not_after = X509_get0_notAfter(ae->leaf.cert);
	ASN1_TIME *at = NULL;
	struct pki_leaf fresh;
	char cn[PKI_ENCLAVE_ID_MAX + 1];
	int days, secs, left_days, left_secs, ret = -EIO;
	int64_t validity, left;

	*renewed = false;
	if (!now)
		now = time(NULL);
	at = ASN1_TIME_set(NULL, now);
	if (!at || !ASN1_TIME_diff(&days, &secs, not_before, not_after) ||
	    !ASN1_TIME_diff(&left_days, &left_secs, at, not_after) ||
	    X509_NAME_get_text_by_NID(X509_get_subject_name(ae->leaf.cert), NID_commonName, cn,
				      sizeof(cn)) <= 0) {
		ERR_clear_error();
		log_error("attest: cannot read the validity of %s's leaf", ae->nsm.module_id);
		goto out;
	}
	validity = (int64_t)days * 86400 + secs;
	left = (int64_t)left_days * 86400 + left_secs;
	ret = 0;
	if (validity <= 0 || left * 3 > validity)
		goto out;
	ret = pki_issue_leaf(ca, cn, now, (uint64_t)validity, &fresh);
	if (ret < 0)
		goto out;
	/* The signer points at ae->leaf, which stays where it is. */
	pki_leaf_clear(&ae->leaf);
	ae->leaf = fresh;
	*renewed = true;
out:
	ASN1_TIME_free(at);
	return ret;
}

int attest_enclave_document(struct attest_enclave *ae, const struct nsm_attest_fields *fields,
			    uint8_t **doc, size_t *doc_len)
{
	_cleanup_free_ uint8_t *buf = malloc(NSM_RESPONSE_MAX);
	size_t len = 0;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = doc_nsm_attest(&ae->signer, &ae->nsm, fields, buf, NSM_RESPONSE_MAX, &len);
	if (ret < 0)
		return ret;
	*doc = util_steal_ptr(&buf);
	*doc_len = len;
	return 0;
}
