// clang-format off
// fuzz-sources: attest/nsm.c attest/acbor.c attest/document.c attest/pki.c attest/verify.c attest/pcr.c attest/cose.c common/util.c common/log.c
// fuzz-pkgs: libcrypto libcbor libsystemd
// clang-format on
/* The NSM request handler over hostile guest bytes, with a real signer so that Attestation
 * requests sign real documents. Every input starts from the same freshly booted state, and
 * every answer must be one well-formed CBOR item within the device's response size, and every
 * document handed out must verify against the CA's root. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/acbor.h"
#include "attest/document.h"
#include "attest/nsm.h"
#include "attest/pki.h"
#include "attest/verify.h"
#include "common/log.h"

static struct nsm_state pristine;
static struct pki ca;
static struct pki_leaf leaf;
static struct doc_signer signer;

static void init_once(void)
{
	uint8_t pcr[NSM_PCR_LEN];

	log_setup("fuzz-nsm", LOG_LEVEL_ERROR);
	memset(pcr, 0x42, sizeof(pcr));
	if (pki_create(&ca, 0) < 0 || pki_issue_leaf(&ca, "enc-fuzz", 0, 3600, &leaf) < 0 ||
	    nsm_state_init(&pristine, "i-fuzz-enc", pcr, pcr, pcr, pcr, "uid=0 name=root",
			   "machine-id", false) < 0)
		abort();
	signer.leaf = &leaf;
	nsm_state_set_signer(&pristine, doc_nsm_attest, &signer);
}

/* A successful Attestation answer carries a document our verifier accepts. */
static void check_document(const uint8_t *resp, size_t len)
{
	struct acbor_reader r;
	struct verify_options opt = {.root = ca.root};
	struct verify_result res;
	uint64_t n;
	const char *s;
	size_t slen, doc_len;
	const uint8_t *doc;

	acbor_reader_init(&r, resp, len);
	if (acbor_read_map(&r, &n) < 0 || acbor_read_tstr(&r, &s, &slen) < 0 ||
	    !acbor_str_eq(s, slen, "Attestation"))
		return;
	if (acbor_read_map(&r, &n) < 0 || acbor_read_tstr(&r, &s, &slen) < 0 ||
	    acbor_read_bstr(&r, &doc, &doc_len) < 0)
		abort();
	if (verify_attestation_doc(doc, doc_len, &opt, &res) < 0)
		abort();
	verify_result_clear(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t resp[NSM_RESPONSE_MAX];
	struct nsm_state st;
	struct acbor_reader r;
	size_t len = 0;

	if (!signer.leaf)
		init_once();
	st = pristine;
	if (nsm_handle_request(&st, data, size, resp, sizeof(resp), &len) < 0)
		abort(); /* a full-size buffer always holds at least an error */
	if (len == 0 || len > sizeof(resp))
		abort();
	acbor_reader_init(&r, resp, len);
	if (acbor_skip(&r) < 0 || !acbor_at_end(&r))
		abort();
	check_document(resp, len);
	/* PCRs 0-15 stay locked whatever the guest sends. */
	if ((st.locked & 0xffffu) != 0xffffu || memcmp(st.pcrs[0], pristine.pcrs[0], NSM_PCR_LEN))
		abort();
	return 0;
}
