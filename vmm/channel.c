#include "config.h"

#include "vmm/channel_internal.h"

#include "common/log.h"
#include "common/util.h"
#include "proto/vmm.pb-c.h"
#include "vmm/event.h"
#include "vmm/vmm.h"
#include "vmm/vsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

ssize_t vmm_channel_recv_packet(int fd, uint8_t *buf, size_t size, int *fds, unsigned *nfds,
				int flags)
{
	union {
		char b[CMSG_SPACE(CHANNEL_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b)};
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < CHANNEL_MAX_FDS)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (unsigned i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		log_error("channel: packet or its fds truncated (limit %u bytes)",
			  VMM_CHANNEL_MAX_PACKET);
		return -EMSGSIZE;
	}
	return n;
}

static int copy_str(char *dst, size_t size, const char *src, const char *field)
{
	if (!src || strlen(src) >= size) {
		log_error("channel: Config.%s longer than %zu bytes", field, size - 1);
		return -EINVAL;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int vmm_channel_recv_config(int fd, struct vmm_config *cfg, int *mem_fd, int *eif_fd,
			    char *eif_path, size_t eif_path_size)
{
	_cleanup_free_ uint8_t *buf = malloc(VMM_CHANNEL_MAX_PACKET);
	Enclaved__Vmm__DaemonMessage *m = NULL;
	const Enclaved__Vmm__Config *c;
	int fds[CHANNEL_MAX_FDS];
	unsigned nfds = 0, need;
	ssize_t n;
	int r;

	*mem_fd = *eif_fd = -1;
	if (!buf)
		return -ENOMEM;
	n = vmm_channel_recv_packet(fd, buf, VMM_CHANNEL_MAX_PACKET, fds, &nfds, 0);
	if (n <= 0) {
		log_error("channel: no Config from enclaved (%s)",
			  n == 0 ? "closed" : strerror((int)-n));
		return n == 0 ? -EPIPE : (int)n;
	}
	m = enclaved__vmm__daemon_message__unpack(NULL, (size_t)n, buf);
	if (!m || m->msg_case != ENCLAVED__VMM__DAEMON_MESSAGE__MSG_CONFIG) {
		log_error("channel: first message is not a Config");
		r = -EBADMSG;
		goto out;
	}
	c = m->config;
	need = 1 + (c->eif_fd_passed ? 1 : 0);
	if (nfds != need) {
		log_error("channel: Config came with %u fds, expected %u", nfds, need);
		r = -EBADMSG;
		goto out;
	}
	if (c->n_cpu_ids == 0 || c->n_cpu_ids > VMM_MAX_VCPUS) {
		log_error("channel: Config.cpu_ids has %zu entries (1..%u)", c->n_cpu_ids,
			  VMM_MAX_VCPUS);
		r = -EINVAL;
		goto out;
	}
	*cfg = (struct vmm_config){0};
	if ((r = copy_str(cfg->enclave_id, sizeof(cfg->enclave_id), c->enclave_id, "enclave_id")) <
		0 ||
	    (r = copy_str(cfg->enclave_name, sizeof(cfg->enclave_name), c->enclave_name,
			  "enclave_name")) < 0 ||
	    (r = copy_str(cfg->runtime_dir, sizeof(cfg->runtime_dir), c->runtime_dir,
			  "runtime_dir")) < 0 ||
	    (r = copy_str(eif_path, eif_path_size, c->eif_path, "eif_path")) < 0)
		goto out;
	cfg->cid = c->cid;
	cfg->memory_bytes = c->memory_bytes;
	cfg->max_memory_bytes = c->max_memory_bytes;
	cfg->nr_vcpus = (unsigned)c->n_cpu_ids;
	for (size_t i = 0; i < c->n_cpu_ids; i++)
		cfg->vcpu_cpus[i] = c->cpu_ids[i] < 4096 ? (int)c->cpu_ids[i] : -1;
	cfg->debug = c->debug;
	cfg->owner_uid = c->owner_uid;
	cfg->owner_gid = c->owner_gid;
	cfg->sandbox_uid = c->sandbox_uid;
	cfg->sandbox_gid = c->sandbox_gid;
	cfg->generation = c->generation;
	*mem_fd = fds[0];
	*eif_fd = c->eif_fd_passed ? fds[1] : -1;
	nfds = 0;
	r = 0;
out:
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (m)
		enclaved__vmm__daemon_message__free_unpacked(m, NULL);
	return r;
}

int vmm_channel_send_msg(struct vmm_channel *ch, const Enclaved__Vmm__VmmMessage *m, int flags)
{
	size_t len = enclaved__vmm__vmm_message__get_packed_size(m);
	_cleanup_free_ uint8_t *buf = NULL;
	ssize_t n;

	if (ch->fd < 0)
		return -ENOTCONN;
	if (len > VMM_CHANNEL_MAX_PACKET)
		return -EMSGSIZE;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	enclaved__vmm__vmm_message__pack(m, buf);
	do
		n = send(ch->fd, buf, len, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

static void tail_append(struct vmm_channel *ch, const uint8_t *data, size_t len)
{
	if (len > VMM_CHANNEL_CONSOLE_TAIL) {
		ch->tail_total += len - VMM_CHANNEL_CONSOLE_TAIL;
		data += len - VMM_CHANNEL_CONSOLE_TAIL;
		len = VMM_CHANNEL_CONSOLE_TAIL;
	}
	for (size_t i = 0; i < len; i++)
		ch->tail[(ch->tail_total + i) % VMM_CHANNEL_CONSOLE_TAIL] = data[i];
	ch->tail_total += len;
}

/* The kept console bytes in order, into buf (VMM_CHANNEL_CONSOLE_TAIL bytes). */
size_t vmm_channel_tail_copy(const struct vmm_channel *ch, uint8_t *buf)
{
	size_t n = ch->tail_total < VMM_CHANNEL_CONSOLE_TAIL ? (size_t)ch->tail_total
							     : VMM_CHANNEL_CONSOLE_TAIL;

	for (size_t i = 0; i < n; i++)
		buf[i] = ch->tail[(ch->tail_total - n + i) % VMM_CHANNEL_CONSOLE_TAIL];
	return n;
}

/* Nobody was attached when the enclave ended: leave the reason and the console tail for the
 * next daemon (format in vmm/README.md, "Re-adoption"). */
static void write_exit_record(struct vmm_channel *ch, const char *reason, int exit_code)
{
	_cleanup_free_ uint8_t *buf = malloc(VMM_CHANNEL_CONSOLE_TAIL + 512);
	int n;

	if (ch->exit_fd < 0 || !buf)
		return;
	n = snprintf((char *)buf, 512, "enclave-vmm exit 1\ncode %d\nreason %.300s\n\n", exit_code,
		     reason ? reason : "");
	if (n < 0 || n >= 512)
		return;
	if (ch->vmm->config.debug)
		n += (int)vmm_channel_tail_copy(ch, buf + n);
	if (util_write_full(ch->exit_fd, buf, (size_t)n) < 0)
		log_warn("channel: cannot write the exit record: %m");
}

int vmm_channel_send_event(struct vmm *vmm, enum vmm_event_state state, const char *reason,
			   int exit_code)
{
	Enclaved__Vmm__VmmMessage m = ENCLAVED__VMM__VMM_MESSAGE__INIT;
	Enclaved__Vmm__Event ev = ENCLAVED__VMM__EVENT__INIT;

	if (!vmm->channel)
		return 0;
	if (state == VMM_EVENT_HEARTBEAT)
		vmm->channel->heartbeat = true;
	if (state == VMM_EVENT_EXITED && vmm->channel->fd < 0) {
		write_exit_record(vmm->channel, reason, exit_code);
		return -ENOTCONN;
	}
	ev.state = (Enclaved__Vmm__Event__State)state;
	ev.reason = (char *)reason;
	ev.generation = vmm->config.generation;
	ev.exit_code = exit_code;
	m.msg_case = ENCLAVED__VMM__VMM_MESSAGE__MSG_EVENT;
	m.event = &ev;
	return vmm_channel_send_msg(vmm->channel, &m, 0);
}

int vmm_channel_send_memory_state(struct vmm *vmm, uint64_t plugged, uint64_t requested)
{
	Enclaved__Vmm__VmmMessage m = ENCLAVED__VMM__VMM_MESSAGE__INIT;
	Enclaved__Vmm__MemoryState ms = ENCLAVED__VMM__MEMORY_STATE__INIT;

	if (!vmm->channel)
		return 0;
	vmm->channel->plugged = plugged;
	vmm->channel->requested = requested;
	ms.plugged = plugged;
	ms.requested = requested;
	m.msg_case = ENCLAVED__VMM__VMM_MESSAGE__MSG_MEMORY_STATE;
	m.memory_state = &ms;
	return vmm_channel_send_msg(vmm->channel, &m, 0);
}

void vmm_channel_send_console(struct vmm *vmm, const uint8_t *data, size_t len)
{
	Enclaved__Vmm__VmmMessage m = ENCLAVED__VMM__VMM_MESSAGE__INIT;
	Enclaved__Vmm__ConsoleData cd = ENCLAVED__VMM__CONSOLE_DATA__INIT;

	if (!vmm->channel || !vmm->config.debug)
		return;
	tail_append(vmm->channel, data, len);
	if (vmm->channel->fd < 0)
		return;
	cd.data.data = (uint8_t *)data;
	cd.data.len = len;
	m.msg_case = ENCLAVED__VMM__VMM_MESSAGE__MSG_CONSOLE;
	m.console = &cd;
	/* Console output is best effort: never block the event thread for it. */
	(void)vmm_channel_send_msg(vmm->channel, &m, MSG_DONTWAIT);
}

int vmm_channel_nsm_request(struct vmm *vmm, const uint8_t *req, size_t len, vmm_nsm_reply_fn cb,
			    void *opaque)
{
	Enclaved__Vmm__VmmMessage m = ENCLAVED__VMM__VMM_MESSAGE__INIT;
	Enclaved__Vmm__NsmRequest nr = ENCLAVED__VMM__NSM_REQUEST__INIT;
	struct vmm_channel *ch = vmm->channel;
	struct nsm_pending *slot = NULL;
	int r;

	uint8_t *copy;

	/* Detached with no way back (no control socket): nobody will ever answer. */
	if (!ch || (ch->fd < 0 && ch->listen_fd < 0))
		return -ENOTCONN;
	if (len > VMM_CHANNEL_MAX_NSM)
		return -EMSGSIZE;
	for (unsigned i = 0; i < CHANNEL_MAX_PENDING && !slot; i++)
		if (ch->pending[i].id == 0)
			slot = &ch->pending[i];
	if (!slot)
		return -EBUSY;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, req, len);
	nr.request_id = ++ch->next_id;
	nr.cbor.data = copy;
	nr.cbor.len = len;
	m.msg_case = ENCLAVED__VMM__VMM_MESSAGE__MSG_NSM_REQUEST;
	m.nsm_request = &nr;
	/* While detached the request waits (the guest blocks in its NSM call) for a daemon. */
	r = ch->fd >= 0 ? vmm_channel_send_msg(ch, &m, 0) : 0;
	if (r < 0) {
		free(copy);
		return r;
	}
	*slot = (struct nsm_pending){.id = nr.request_id,
				     .cb = cb,
				     .opaque = opaque,
				     .req = copy,
				     .len = len,
				     .sent = ch->fd >= 0};
	return 0;
}

void vmm_channel_resend_pending(struct vmm_channel *ch)
{
	for (unsigned i = 0; i < CHANNEL_MAX_PENDING; i++) {
		Enclaved__Vmm__VmmMessage m = ENCLAVED__VMM__VMM_MESSAGE__INIT;
		Enclaved__Vmm__NsmRequest nr = ENCLAVED__VMM__NSM_REQUEST__INIT;
		struct nsm_pending *p = &ch->pending[i];
		if (!p->id)
			continue;
		nr.request_id = p->id;
		nr.cbor.data = p->req;
		nr.cbor.len = p->len;
		m.msg_case = ENCLAVED__VMM__VMM_MESSAGE__MSG_NSM_REQUEST;
		m.nsm_request = &nr;
		p->sent = vmm_channel_send_msg(ch, &m, 0) == 0;
	}
}

static void fail_pending(struct vmm_channel *ch, int err)
{
	for (unsigned i = 0; i < CHANNEL_MAX_PENDING; i++) {
		struct nsm_pending p = ch->pending[i];
		if (!p.id)
			continue;
		ch->pending[i].id = 0;
		free(p.req);
		ch->pending[i].req = NULL;
		p.cb(p.opaque, err, NULL, 0);
	}
}

/* The answer to a liveness Ping, with the vsock device's counters. */
static void send_pong(struct vmm_channel *ch, uint64_t nonce)
{
	Enclaved__Vmm__VmmMessage out = ENCLAVED__VMM__VMM_MESSAGE__INIT;
	Enclaved__Vmm__Pong pong = ENCLAVED__VMM__PONG__INIT;
	Enclaved__Vmm__VsockCounter counters[VSOCK_CNT__MAX], *list[VSOCK_CNT__MAX];
	struct vsock_stats stats;

	pong.nonce = nonce;
	if (vsock_device_stats(&stats) == 0) {
		pong.vsock_connections = stats.connections;
		for (unsigned i = 0; i < VSOCK_CNT__MAX; i++) {
			if (!stats.counters[i])
				continue;
			enclaved__vmm__vsock_counter__init(&counters[pong.n_vsock_counters]);
			counters[pong.n_vsock_counters].name = (char *)vsock_counter_name(i);
			counters[pong.n_vsock_counters].value = stats.counters[i];
			list[pong.n_vsock_counters] = &counters[pong.n_vsock_counters];
			pong.n_vsock_counters++;
		}
		pong.vsock_counters = list;
	}
	out.msg_case = ENCLAVED__VMM__VMM_MESSAGE__MSG_PONG;
	out.pong = &pong;
	(void)vmm_channel_send_msg(ch, &out, 0);
}

static void handle_nsm_response(struct vmm_channel *ch, const Enclaved__Vmm__NsmResponse *resp)
{
	for (unsigned i = 0; i < CHANNEL_MAX_PENDING; i++) {
		struct nsm_pending p = ch->pending[i];
		if (!p.id || p.id != resp->request_id)
			continue;
		ch->pending[i].id = 0;
		free(p.req);
		ch->pending[i].req = NULL;
		if (resp->error)
			p.cb(p.opaque, resp->error < 0 ? resp->error : -EIO, NULL, 0);
		else if (resp->cbor.len > VMM_CHANNEL_MAX_NSM)
			p.cb(p.opaque, -EMSGSIZE, NULL, 0);
		else
			p.cb(p.opaque, 0, resp->cbor.data, resp->cbor.len);
		return;
	}
	log_warn("channel: NsmResponse for unknown request %llu",
		 (unsigned long long)resp->request_id);
}

void vmm_channel_closed(struct vmm_channel *ch)
{
	/* The enclave keeps running: a restarted enclaved re-adopts it through control.sock.
	 * Unanswered NSM requests wait for it; without a control socket they fail now. */
	log_warn("channel: enclaved closed the channel; the enclave keeps running%s",
		 ch->listen_fd >= 0 ? " and waits for a daemon on control.sock" : "");
	(void)vmm_event_del_fd(ch->vmm->loop, ch->fd);
	close(ch->fd);
	ch->fd = -1;
	if (ch->listen_fd < 0)
		fail_pending(ch, -ENOTCONN);
	for (unsigned i = 0; i < CHANNEL_MAX_PENDING; i++)
		ch->pending[i].sent = false;
}

void vmm_channel_readable(int fd, uint32_t events, void *opaque)
{
	struct vmm_channel *ch = opaque;
	_cleanup_free_ uint8_t *buf = malloc(VMM_CHANNEL_MAX_PACKET);
	Enclaved__Vmm__DaemonMessage *m;
	int fds[CHANNEL_MAX_FDS];
	unsigned nfds;
	ssize_t n;

	if (!buf)
		return;
	n = vmm_channel_recv_packet(fd, buf, VMM_CHANNEL_MAX_PACKET, fds, &nfds, MSG_DONTWAIT);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]); /* no message after Config carries fds */
	if (n == -EAGAIN || n == -EMSGSIZE)
		return;
	if (n <= 0) {
		vmm_channel_closed(ch);
		return;
	}
	m = enclaved__vmm__daemon_message__unpack(NULL, (size_t)n, buf);
	if (!m) {
		log_warn("channel: undecodable message of %zd bytes ignored", n);
		return;
	}
	switch (m->msg_case) {
	case ENCLAVED__VMM__DAEMON_MESSAGE__MSG_PING:
		send_pong(ch, m->ping->nonce);
		break;
	case ENCLAVED__VMM__DAEMON_MESSAGE__MSG_TERMINATE:
		vmm_end(ch->vmm, VMM_EXIT_TERMINATED, "terminated by enclaved%s%s",
			m->terminate->reason[0] ? ": " : "", m->terminate->reason);
		break;
	case ENCLAVED__VMM__DAEMON_MESSAGE__MSG_NSM_RESPONSE:
		handle_nsm_response(ch, m->nsm_response);
		break;
	case ENCLAVED__VMM__DAEMON_MESSAGE__MSG_SET_REQUESTED_SIZE:
		if (!ch->vmm->mem_set_requested)
			log_warn("channel: SetRequestedSize without a virtio-mem device ignored");
		else
			(void)ch->vmm->mem_set_requested(ch->vmm, m->set_requested_size->bytes);
		break;
	default:
		log_warn("channel: unexpected message %d ignored", m->msg_case);
		break;
	}
	enclaved__vmm__daemon_message__free_unpacked(m, NULL);
}

int vmm_channel_new(struct vmm *vmm, int fd)
{
	struct vmm_channel *ch = calloc(1, sizeof(*ch));
	int r;

	if (!ch)
		return -ENOMEM;
	ch->vmm = vmm;
	ch->fd = fd;
	ch->listen_fd = ch->cand_fd = ch->exit_fd = -1;
	r = vmm_event_add_fd(vmm->loop, fd, EPOLLIN, vmm_channel_readable, ch);
	if (r < 0) {
		free(ch);
		return r;
	}
	vmm->channel = ch;
	return 0;
}

void vmm_channel_free(struct vmm *vmm)
{
	struct vmm_channel *ch = vmm->channel;

	if (!ch)
		return;
	fail_pending(ch, -ECANCELED);
	if (ch->fd >= 0) {
		(void)vmm_event_del_fd(vmm->loop, ch->fd);
		close(ch->fd);
	}
	vmm_channel_drop_candidate(ch);
	if (ch->listen_fd >= 0) {
		(void)vmm_event_del_fd(vmm->loop, ch->listen_fd);
		close(ch->listen_fd);
		(void)unlink(ch->control_path);
	}
	if (ch->exit_fd >= 0)
		close(ch->exit_fd);
	free(ch);
	vmm->channel = NULL;
}
