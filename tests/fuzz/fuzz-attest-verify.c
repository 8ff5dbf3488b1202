// clang-format off
// fuzz-sources: attest/verify.c attest/acbor.c attest/cose.c common/util.c common/log.c
// fuzz-pkgs: libcrypto libcbor libsystemd
// clang-format on
/* The attestation verifier over hostile documents: COSE, the strict payload parser, DER
 * certificates, chain building and the signature check. The seed document (corpus/doc) was
 * signed under the root below at 2026-01-01, so mutations that keep it intact reach the chain
 * and signature code; "payload" seeds the bare payload parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "attest/verify.h"

static const char root_pem[] = "-----BEGIN CERTIFICATE-----\n"
			       "MIICGDCCAZ2gAwIBAgIQS2AZMoAaBQ05mCS7xFFcljAKBggqhkjOPQQDAzA6MREw\n"
			       "DwYDVQQKDAhlbmNsYXZlZDElMCMGA1UEAwwcZW5jbGF2ZWQgYXR0ZXN0YXRpb24g\n"
			       "cm9vdCBDQTAgFw0yNjAxMDEwMDAwMDBaGA8yMDU1MTIyNTAwMDAwMFowOjERMA8G\n"
			       "A1UECgwIZW5jbGF2ZWQxJTAjBgNVBAMMHGVuY2xhdmVkIGF0dGVzdGF0aW9uIHJv\n"
			       "b3QgQ0EwdjAQBgcqhkjOPQIBBgUrgQQAIgNiAAR1KzChU3UefTmfAyVrXgL4Swgs\n"
			       "/gxk2CcGX+5KJCkIbiLVpbcpGhtJuHjDw3APkY7n4N/w4o00BuSnZxYx4329ChuP\n"
			       "9NAC7ktMfANr8/URNaIBxWo3uq9g5P5JhOvxoAejZjBkMBIGA1UdEwEB/wQIMAYB\n"
			       "Af8CAQEwDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBRYkYxhTAiRtRD4RRLDszaU\n"
			       "msD57TAfBgNVHSMEGDAWgBRYkYxhTAiRtRD4RRLDszaUmsD57TAKBggqhkjOPQQD\n"
			       "AwNpADBmAjEAjgWT2cEpz8akK1964EoQPJKxGCapt5DVIS/VSGxReYolZsIYG6c0\n"
			       "YJxeh49Ze6ERAjEA088B4PESL4LyqOmBQZpIbEXcKteZ/wHySUh+K4OgEzQN+LW3\n"
			       "P5BhbgVIWaxcv+ek\n"
			       "-----END CERTIFICATE-----\n";

#define SEED_VALID_AT 1767225660 /* a minute after the seed CA and leaf were issued */

static X509 *root;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verify_options opt;
	struct verify_result res;

	if (!root) {
		BIO *bio = BIO_new_mem_buf(root_pem, -1);

		root = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (!root)
			abort();
	}
	memset(&opt, 0, sizeof(opt));
	opt.root = root;
	opt.now = SEED_VALID_AT;
	opt.check_nonce = true;
	opt.nonce = (const uint8_t *)"nonce";
	opt.nonce_len = 5;
	opt.pcr_count = 1;
	opt.pcrs[0].index = 0;
	opt.pcrs[0].len = 48;
	memset(opt.pcrs[0].value, 0x42, 48);
	int ret = verify_attestation_doc(data, size, &opt, &res);
	/* A verdict is always explained. */
	if ((ret == 0) != (res.error == VERIFY_OK) || (ret != 0 && !res.message[0]))
		abort();
	verify_result_clear(&res);

	ret = verify_parse_payload(data, size, &res);
	if ((ret == 0) != res.payload_ok)
		abort();
	verify_result_clear(&res);
	return 0;
}
