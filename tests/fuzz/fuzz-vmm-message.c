// clang-format off
// fuzz-sources: proto/vmm.pb-c.c common/util.c common/log.c
// fuzz-pkgs: libprotobuf-c libevent libsystemd
// clang-format on
/* The daemon's decoding of what a VMM sends (vmm.proto VmmMessage on the channel): the real
 * on_channel of enclaved/vmm_process.c, fed one packet through a SOCK_SEQPACKET socketpair as
 * a (compromised) VMM would send it. The enclave's registry, console, NSM and memory
 * accounting are stand-ins that check the bounds of what reaches them. */
#ifndef LIBEXECDIR /* set by the Makefile for the daemon */
#define LIBEXECDIR "/nonexistent"
#endif
#include "enclaved/vmm_process.c"

#include <stdlib.h>

/* Stand-ins for the rest of the daemon (weak: a build that links the real ones wins). */
__attribute__((weak)) void enclave_console_append(struct enclave *e, const uint8_t *data,
						  size_t len)
{
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < len; i++)
		sink ^= data[i]; /* every byte must be readable */
	(void)e;
}
__attribute__((weak)) void enclave_on_heartbeat(struct enclave *e)
{
	(void)e;
}
__attribute__((weak)) void enclave_on_memory_state(struct enclave *e, uint64_t plugged,
						   uint64_t requested)
{
	(void)e, (void)plugged, (void)requested;
}
__attribute__((weak)) void enclave_request_terminate(struct enclave *e, const char *why)
{
	if (strlen(why) > 4096)
		abort();
	(void)e;
}
__attribute__((weak)) void nsm_forward_answer(struct enclave *e, uint64_t request_id,
					      const uint8_t *req, size_t len)
{
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < len; i++)
		sink ^= req[i];
	(void)e, (void)request_id;
}
__attribute__((weak)) int pool_lease_memfd(const struct pool_lease *lease)
{
	(void)lease;
	return -1;
}
__attribute__((weak)) int pool_lease_attach(const struct pool_lease *lease, pid_t pid)
{
	(void)lease, (void)pid;
	return 0;
}

__attribute__((weak)) void enclave_on_pong(struct enclave *e, uint64_t nonce)
{
	(void)e, (void)nonce;
}
/* Persisted state is not under test here. */
__attribute__((weak)) int state_record_save(const struct enclave *e)
{
	(void)e;
	return 0;
}
__attribute__((weak)) int state_pid_start(pid_t pid, uint64_t *out)
{
	(void)pid;
	*out = 0;
	return 0;
}
__attribute__((weak)) int state_attestation_sync(struct enclave *e)
{
	(void)e;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct enclave *e;
	int sv[2];

	if (size > CHANNEL_MAX_PACKET)
		return 0;
	if (!e) {
		log_set_level(LOG_LEVEL_ERROR);
		e = calloc(1, sizeof(*e));
		if (!e)
			abort();
		snprintf(e->id, sizeof(e->id), "i-0000000000000000-enc0000000000000001");
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	/* The generation and debug flag come from the input too, so that events pass the
	 * generation check and console data is taken. */
	e->generation = size ? data[0] & 3 : 0;
	e->debug = size > 1 && (data[1] & 1);
	e->channel_fd = sv[0];
	if (send(sv[1], data, size, 0) != (ssize_t)size)
		abort();
	on_channel(sv[0], EV_READ, e);
	close(sv[1]);
	on_channel(sv[0], EV_READ, e); /* EOF: the channel closes, the enclave is told */
	if (e->channel_fd >= 0)
		close(e->channel_fd);
	e->channel_fd = -1;
	return 0;
}
