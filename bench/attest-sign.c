/* Attestation documents signed per second through the library (a full NSM Attestation
 * request: parse, payload, ES384 COSE_Sign1, response) and verified per second, each against
 * `openssl speed -seconds 3 ecdsap384` sign/s and verify/s measured in the same run.
 *
 * Usage: bench/attest-sign [--seconds N] [--results bench/RESULTS.md] */
#include "config.h"

#include "bench/results.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/acbor.h"
#include "attest/document.h"
#include "attest/nsm.h"
#include "attest/pki.h"
#include "attest/verify.h"
#include "common/log.h"
#include "common/util.h"

#define SIGN_LABEL   "| attestation documents signed/s (library) |"
#define VERIFY_LABEL "| attestation documents verified/s (library) |"
#define COMMAND                                                                                    \
	"`scripts/dev-make build/h-attest bench/attest-sign && "                                   \
	"build/h-attest/bench/attest-sign --results bench/RESULTS.md`"

/* openssl speed counts operations per second of user CPU time (unless -elapsed), so under a
 * shared machine's load ours is counted the same way: process CPU time, not the wall clock. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* openssl speed prints " 384 bits ecdsa (nistp384)   0.0010s   0.0008s   1000.0   1250.0". */
static int openssl_speed(double *sign_s, double *verify_s)
{
	FILE *p = popen("openssl speed -seconds 3 ecdsap384 2>/dev/null", "r");
	char line[512];
	int ret = -ENOENT;

	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p)) {
		char *at = strstr(line, "ecdsa (nistp384)");
		double t1, t2;

		if (at && sscanf(at, "ecdsa (nistp384) %lfs %lfs %lf %lf", &t1, &t2, sign_s,
				 verify_s) == 4)
			ret = 0;
	}
	if (pclose(p) != 0 && ret == 0)
		ret = -EIO;
	return ret;
}

static void attest_request(uint8_t *buf, size_t cap, size_t *len)
{
	struct acbor_writer w;
	uint8_t nonce[32];

	memset(nonce, 0x6e, sizeof(nonce));
	acbor_writer_init(&w, buf, cap);
	acbor_put_map(&w, 1);
	acbor_put_tstr(&w, "Attestation");
	acbor_put_map(&w, 3);
	acbor_put_tstr(&w, "user_data");
	acbor_put_bstr(&w, "bench", 5);
	acbor_put_tstr(&w, "nonce");
	acbor_put_bstr(&w, nonce, sizeof(nonce));
	acbor_put_tstr(&w, "public_key");
	acbor_put_null(&w);
	*len = w.len;
}

int main(int argc, char **argv)
{
	const char *results = NULL;
	uint64_t seconds = 3;
	struct pki ca;
	struct pki_leaf leaf;
	struct nsm_state st;
	struct doc_signer signer;
	struct verify_options vo;
	static uint8_t req[256], resp[NSM_RESPONSE_MAX], doc[NSM_RESPONSE_MAX];
	size_t req_len = 0, resp_len = 0, doc_len = 0;
	uint64_t signed_n = 0, verified_n = 0, t0, t;
	double ref_sign = 0, ref_verify = 0, after_sign = 0, after_verify = 0, sign_rate,
	       verify_rate;
	char row[512];
	int ret;

	log_setup("attest-sign", LOG_LEVEL_WARNING);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc &&
		    util_parse_u64(argv[i + 1], 600, &seconds) == 0 && seconds > 0) {
			i++;
		} else if (!strcmp(argv[i], "--results") && i + 1 < argc) {
			results = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--seconds N] [--results FILE]\n", argv[0]);
			return 1;
		}
	}
	if (pki_create(&ca, 0) < 0 || pki_issue_leaf(&ca, "enc-bench", 0, 3600, &leaf) < 0 ||
	    nsm_state_init(&st, "i-bench-enc", NULL, NULL, NULL, NULL, "uid=0", "host", false) <
		0) {
		fprintf(stderr, "attest-sign: setup failed\n");
		return 1;
	}
	signer = (struct doc_signer){.leaf = &leaf};
	nsm_state_set_signer(&st, doc_nsm_attest, &signer);
	attest_request(req, sizeof(req), &req_len);

	ret = openssl_speed(&ref_sign, &ref_verify);
	if (ret < 0) {
		fprintf(stderr, "attest-sign: could not run `openssl speed ecdsap384`\n");
		return 1;
	}
	t0 = cpu_ns();
	do {
		enum nsm_error e;

		ret = nsm_handle_request_ex(&st, req, req_len, resp, sizeof(resp), &resp_len, &e);
		if (ret < 0 || e != NSM_E_SUCCESS) {
			fprintf(stderr, "attest-sign: Attestation failed: %s\n", nsm_error_name(e));
			return 1;
		}
		signed_n++;
		t = cpu_ns();
	} while (t - t0 < seconds * 1000000000ull);
	sign_rate = (double)signed_n / ((double)(t - t0) / 1e9);

	/* The document is the tail of the response: {"Attestation":{"document":bstr}}. */
	{
		struct acbor_reader r;
		uint64_t c;
		const char *s;
		size_t sl;
		const uint8_t *d;

		acbor_reader_init(&r, resp, resp_len);
		if (acbor_read_map(&r, &c) < 0 || acbor_read_tstr(&r, &s, &sl) < 0 ||
		    acbor_read_map(&r, &c) < 0 || acbor_read_tstr(&r, &s, &sl) < 0 ||
		    acbor_read_bstr(&r, &d, &doc_len) < 0)
			return 1;
		memcpy(doc, d, doc_len);
	}
	memset(&vo, 0, sizeof(vo));
	vo.root = ca.root;
	t0 = cpu_ns();
	do {
		struct verify_result res;

		ret = verify_attestation_doc(doc, doc_len, &vo, &res);
		if (ret < 0)
			fprintf(stderr, "attest-sign: verification failed: %s\n", res.message);
		verify_result_clear(&res);
		if (ret < 0)
			return 1;
		verified_n++;
		t = cpu_ns();
	} while (t - t0 < seconds * 1000000000ull);
	verify_rate = (double)verified_n / ((double)(t - t0) / 1e9);

	/* The machine is shared: the reference runs before and after, and the mean is used. */
	ret = openssl_speed(&after_sign, &after_verify);
	if (ret < 0 || ref_sign <= 0 || after_sign <= 0) {
		fprintf(stderr, "attest-sign: could not run `openssl speed ecdsap384`\n");
		return 1;
	}
	printf("openssl ecdsap384 sign/s before %.0f after %.0f; verify/s before %.0f after %.0f\n",
	       ref_sign, after_sign, ref_verify, after_verify);
	ref_sign = (ref_sign + after_sign) / 2;
	ref_verify = (ref_verify + after_verify) / 2;
	printf("documents signed:   %.0f/s (%zu-byte documents), openssl ecdsap384 sign %.0f/s, "
	       "ratio %.2f\n",
	       sign_rate, doc_len, ref_sign, sign_rate / ref_sign);
	printf("documents verified: %.0f/s (chain of 3 + ES384), openssl ecdsap384 verify %.0f/s, "
	       "ratio %.2f\n",
	       verify_rate, ref_verify, verify_rate / ref_verify);
	if (results) {
		snprintf(row, sizeof(row),
			 "%s %.0f docs/s = %.2f x `openssl speed -seconds 3 ecdsap384` sign "
			 "(%.0f/s, mean of runs before and after ours); per CPU-second as openssl "
			 "counts; %zu-byte ES384 documents via nsm_handle_request | %s |",
			 SIGN_LABEL, sign_rate, sign_rate / ref_sign, ref_sign, doc_len, COMMAND);
		if ((ret = bench_results_update(results, SIGN_LABEL, row)) < 0)
			return 1;
		snprintf(row, sizeof(row),
			 "%s %.0f docs/s = %.2f x openssl ecdsap384 verify (%.0f/s, same runs); "
			 "COSE + payload + 3-certificate chain + ES384 | %s |",
			 VERIFY_LABEL, verify_rate, verify_rate / ref_verify, ref_verify, COMMAND);
		if ((ret = bench_results_update(results, VERIFY_LABEL, row)) < 0)
			return 1;
	}
	pki_leaf_clear(&leaf);
	pki_clear(&ca);
	return 0;
}
