#include "config.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "attest/acbor.h"
#include "attest/attest.h"
#include "common/log.h"
#include "common/util.h"

/* File layout: one CBOR map, keys in this order:
 *   version 1, module_id tstr, debug bool, locked uint, pcrs [32 x bstr48],
 *   key bstr (DER private key), certificate bstr (DER), cabundle [bstr DER...] */
#define STATE_VERSION 1

int attest_enclave_save(const struct attest_enclave *ae, const char *path)
{
	_cleanup_free_ uint8_t *buf = malloc(ATTEST_STATE_FILE_MAX);
	uint8_t *key = NULL;
	struct acbor_writer w;
	int key_len, ret;

	if (!buf)
		return -ENOMEM;
	key_len = i2d_PrivateKey(ae->leaf.key, &key);
	if (key_len <= 0) {
		ERR_clear_error();
		log_error("attest: cannot encode the leaf key of %s", ae->nsm.module_id);
		return -EIO;
	}
	acbor_writer_init(&w, buf, ATTEST_STATE_FILE_MAX);
	acbor_put_map(&w, 8);
	acbor_put_tstr(&w, "version");
	acbor_put_uint(&w, STATE_VERSION);
	acbor_put_tstr(&w, "module_id");
	acbor_put_tstr(&w, ae->nsm.module_id);
	acbor_put_tstr(&w, "debug");
	acbor_put_bool(&w, ae->nsm.debug);
	acbor_put_tstr(&w, "locked");
	acbor_put_uint(&w, ae->nsm.locked);
	acbor_put_tstr(&w, "pcrs");
	acbor_put_array(&w, NSM_MAX_PCRS);
	for (unsigned i = 0; i < NSM_MAX_PCRS; i++)
		acbor_put_bstr(&w, ae->nsm.pcrs[i], NSM_PCR_LEN);
	acbor_put_tstr(&w, "key");
	acbor_put_bstr(&w, key, (size_t)key_len);
	acbor_put_tstr(&w, "certificate");
	acbor_put_bstr(&w, ae->leaf.cert_der.der, ae->leaf.cert_der.len);
	acbor_put_tstr(&w, "cabundle");
	acbor_put_array(&w, ae->leaf.cabundle_count);
	for (size_t i = 0; i < ae->leaf.cabundle_count; i++)
		acbor_put_bstr(&w, ae->leaf.cabundle[i].der, ae->leaf.cabundle[i].len);
	OPENSSL_clear_free(key, (size_t)key_len);
	ret = acbor_writer_finish(&w);
	if (ret < 0) {
		log_error("attest: state of %s exceeds %d bytes", ae->nsm.module_id,
			  ATTEST_STATE_FILE_MAX);
		return ret;
	}
	ret = util_write_file_atomic(path, buf, w.len, 0600);
	OPENSSL_cleanse(buf, w.len);
	if (ret < 0)
		log_error("attest: cannot write %s: %s", path, strerror(-ret));
	return ret;
}

static int bad(const char *path, const char *what, size_t off)
{
	log_error("attest: %s: %s (offset %zu)", path, what, off);
	return -EBADMSG;
}

static int key_is(struct acbor_reader *r, const char *key)
{
	const char *s;
	size_t n;

	return acbor_read_tstr(r, &s, &n) == 0 && acbor_str_eq(s, n, key);
}

static int copy_der(const uint8_t *p, size_t n, struct pki_der *out)
{
	out->der = OPENSSL_malloc(n ? n : 1);
	if (!out->der)
		return -ENOMEM;
	memcpy(out->der, p, n);
	out->len = n;
	return 0;
}

static int load_state(struct attest_enclave *ae, const char *path, const uint8_t *buf, size_t len)
{
	struct acbor_reader r;
	uint64_t n, version, locked;
	const char *module_id;
	size_t id_len;
	char id[NSM_MODULE_ID_MAX + 1];
	bool debug;
	const uint8_t *p;
	size_t plen;
	int ret;

	acbor_reader_init(&r, buf, len);
	if (acbor_read_map(&r, &n) < 0 || n != 8)
		return bad(path, "not a map of 8 entries", r.off);
	if (!key_is(&r, "version") || acbor_read_uint(&r, &version) < 0 || version != STATE_VERSION)
		return bad(path, "unknown version", r.off);
	if (!key_is(&r, "module_id") || acbor_read_tstr(&r, &module_id, &id_len) < 0 ||
	    id_len == 0 || id_len > NSM_MODULE_ID_MAX || memchr(module_id, 0, id_len))
		return bad(path, "bad module_id", r.off);
	memcpy(id, module_id, id_len);
	id[id_len] = '\0';
	if (!key_is(&r, "debug") || acbor_read_bool(&r, &debug) < 0)
		return bad(path, "bad debug flag", r.off);
	/* Validates module_id the same way a launch does. */
	ret = nsm_state_init(&ae->nsm, id, NULL, NULL, NULL, NULL, NULL, NULL, debug);
	if (ret < 0)
		return bad(path, "bad module_id", r.off);
	if (!key_is(&r, "locked") || acbor_read_uint(&r, &locked) < 0 || locked > UINT32_MAX ||
	    (locked & 0xffffu) != 0xffffu)
		return bad(path, "bad lock bits (0-15 must be locked)", r.off);
	ae->nsm.locked = (uint32_t)locked;
	if (!key_is(&r, "pcrs") || acbor_read_array(&r, &n) < 0 || n != NSM_MAX_PCRS)
		return bad(path, "pcrs is not an array of 32", r.off);
	for (unsigned i = 0; i < NSM_MAX_PCRS; i++) {
		if (acbor_read_bstr(&r, &p, &plen) < 0 || plen != NSM_PCR_LEN)
			return bad(path, "a PCR is not 48 bytes", r.off);
		memcpy(ae->nsm.pcrs[i], p, NSM_PCR_LEN);
	}
	if (!key_is(&r, "key") || acbor_read_bstr(&r, &p, &plen) < 0 || plen == 0)
		return bad(path, "bad key", r.off);
	ae->leaf.key = d2i_AutoPrivateKey(NULL, &p, (long)plen);
	if (!ae->leaf.key)
		return bad(path, "the key does not parse", r.off);
	if (!key_is(&r, "certificate") || acbor_read_bstr(&r, &p, &plen) < 0 || plen == 0)
		return bad(path, "bad certificate", r.off);
	if ((ret = copy_der(p, plen, &ae->leaf.cert_der)) < 0)
		return ret;
	ae->leaf.cert = d2i_X509(NULL, &p, (long)plen);
	if (!ae->leaf.cert || X509_check_private_key(ae->leaf.cert, ae->leaf.key) != 1)
		return bad(path, "the certificate does not parse or match the key", r.off);
	if (!key_is(&r, "cabundle") || acbor_read_array(&r, &n) < 0 || n == 0 ||
	    n > UTIL_ARRAY_SIZE(ae->leaf.cabundle))
		return bad(path, "bad cabundle", r.off);
	for (size_t i = 0; i < n; i++) {
		if (acbor_read_bstr(&r, &p, &plen) < 0 || plen == 0)
			return bad(path, "bad cabundle entry", r.off);
		if ((ret = copy_der(p, plen, &ae->leaf.cabundle[i])) < 0)
			return ret;
		ae->leaf.cabundle_count = i + 1;
	}
	if (!acbor_at_end(&r))
		return bad(path, "trailing bytes", r.off);
	return 0;
}

int attest_enclave_load(struct attest_enclave *ae, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int ret;

	memset(ae, 0, sizeof(*ae));
	ret = util_read_file(path, ATTEST_STATE_FILE_MAX, &buf, &len);
	if (ret < 0) {
		log_error("attest: cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = load_state(ae, path, (const uint8_t *)buf, len);
	OPENSSL_cleanse(buf, len);
	ERR_clear_error();
	if (ret < 0) {
		attest_enclave_clear(ae);
		return ret;
	}
	ae->signer.leaf = &ae->leaf;
	nsm_state_set_signer(&ae->nsm, doc_nsm_attest, &ae->signer);
	return 0;
}
