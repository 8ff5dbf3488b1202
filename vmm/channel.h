/* The channel to enclaved: a SOCK_SEQPACKET socketpair, one vmm.proto message (VmmMessage /
 * DaemonMessage) per packet, at most VMM_CHANNEL_MAX_PACKET bytes, fds by SCM_RIGHTS.
 * Runs on the event thread. Absent (vmm->channel == NULL) in standalone mode. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VMM_CHANNEL_MAX_PACKET (256u * 1024u)
/* NSM requests and responses are bounded by the NSM API's own limits. */
#define VMM_CHANNEL_MAX_NSM (64u * 1024u)
/* Console bytes (debug mode) the VMM keeps for a re-adopting daemon and the exit record. */
#define VMM_CHANNEL_CONSOLE_TAIL (16u * 1024u)

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

/* ---- used by the rest of the VMM ---- */

struct vmm_config;

enum vmm_event_state {
	VMM_EVENT_STARTED = 1,
	VMM_EVENT_GUEST_ENTERED = 2,
	VMM_EVENT_HEARTBEAT = 3,
	VMM_EVENT_EXITED = 4,
};

/* Block until the daemon's Config arrives on fd (before the event loop runs). Fills cfg and
 * hands out the memfd and, when passed, the EIF fd (else *eif_fd = -1 and eif_path is set). */
int vmm_channel_recv_config(int fd, struct vmm_config *cfg, int *mem_fd, int *eif_fd,
			    char *eif_path, size_t eif_path_size);

/* Take over fd and serve it on the event loop (Ping, Terminate, NsmResponse). */
int vmm_channel_new(struct vmm *vmm, int fd);
void vmm_channel_free(struct vmm *vmm);

/* Listen on <runtime_dir>/control.sock (0600, root peers only) for a daemon that re-adopts
 * the enclave after enclaved restarted, and open <runtime_dir>/vmm-exit for an exit while no
 * daemon is attached. Call before the sandbox (the fds stay; the paths need root). 0 and a
 * warning when the path does not fit a socket address. */
int vmm_channel_listen(struct vmm *vmm);

/* Send an Event (no-op without a channel). Any thread that owns no lock; sends are atomic
 * per packet. */
int vmm_channel_send_event(struct vmm *vmm, enum vmm_event_state state, const char *reason,
			   int exit_code);

/* virtio-mem's plugged and requested bytes changed (no-op without a channel). */
int vmm_channel_send_memory_state(struct vmm *vmm, uint64_t plugged, uint64_t requested);

/* Forward console bytes (debug mode only; dropped if the daemon is not reading). */
void vmm_channel_send_console(struct vmm *vmm, const uint8_t *data, size_t len);
