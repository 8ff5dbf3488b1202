/* The channel to enclaved: a SOCK_SEQPACKET socketpair, one vmm.proto message (VmmMessage /
 * DaemonMessage) per packet, at most VMM_CHANNEL_MAX_PACKET bytes, fds by SCM_RIGHTS.
 * Runs on the event thread. Absent (vmm->channel == NULL) in standalone mode. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VMM_CHANNEL_MAX_PACKET (256u * 1024u)
/* NSM requests and responses are bounded by the NSM API's own limits. */
#define VMM_CHANNEL_MAX_NSM (64u * 1024u)

struct vmm;
struct vmm_channel;

/* status: 0 with the response bytes, or a negative errno (channel closed, daemon refused,
 * response too large); the bytes are only valid during the call. Runs on the event thread. */
typedef void (*vmm_nsm_reply_fn)(void *opaque, int status, const uint8_t *resp, size_t len);

/* Forward one raw CBOR NSM request to enclaved; cb runs once with its answer. Event thread
 * only. Returns 0 when the request was sent (cb will run exactly once later, also with an
 * error if the channel closes first) or a negative errno, cb not called: -ENOTCONN without a
 * channel (standalone mode), -EMSGSIZE above VMM_CHANNEL_MAX_NSM. */
int vmm_channel_nsm_request(struct vmm *vmm, const uint8_t *req, size_t len, vmm_nsm_reply_fn cb,
			    void *opaque);
