#include "config.h"

#include "enclaved/nsm_forward.h"

#include "enclaved/attestation.h"
#include "enclaved/enclave.h"

#include "common/log.h"
#include "common/util.h"

#include <pwd.h>
#include <string.h>

/* NSM_RESPONSE_MAX of the NSM API; the channel carries at most 64 KiB anyway. */
#define NSM_FORWARD_RESP_MAX (16u * 1024u)

void nsm_forward_answer(struct enclave *e, uint64_t request_id, const uint8_t *req, size_t len)
{
	_cleanup_free_ uint8_t *resp = NULL;
	size_t resp_len = 0;
	int r = -ENOSYS;

	if (e->attestation) {
		resp = malloc(NSM_FORWARD_RESP_MAX);
		r = resp ? attestation_handle_nsm(e->attestation, req, len, resp,
						  NSM_FORWARD_RESP_MAX, &resp_len)
			 : -ENOMEM;
	}
	if (r < 0)
		log_debug("%s: NSM request %" PRIu64 " (%zu bytes) not answered: %s", e->id,
			  request_id, len, strerror(-r));
	r = nsm_forward_send(e, request_id, r < 0 ? NULL : resp, r < 0 ? 0 : resp_len,
			     r < 0 ? r : 0);
	if (r < 0)
		log_warn("%s: cannot send the NSM response: %s", e->id, strerror(-r));
}

int nsm_forward_enclave_new(struct enclave *e)
{
	struct passwd *pw;

	if (!e->daemon->attestation)
		return 0;
	pw = getpwuid(e->owner_uid);
	return attestation_enclave_new(e->daemon, e->id, &e->measurements, e->debug, e->owner_uid,
				       pw ? pw->pw_name : "", 0, &e->attestation);
}

void nsm_forward_enclave_free(struct enclave *e)
{
	if (e->attestation)
		attestation_enclave_free(e->attestation);
	e->attestation = NULL;
}
