/* The VMM's single event thread (epoll). Every device runs here and only here: fd callbacks,
 * queue notifications, virtio-mmio register accesses (forwarded from the vCPU threads with
 * vmm_event_run_sync) and the daemon channel. Device code therefore needs no locks.
 *
 * All functions except vmm_event_run_sync and vmm_event_stop must be called on the event
 * thread, or before vmm_event_run starts it. */
#pragma once

#include <stdint.h>
#include <sys/epoll.h>

struct vmm_event_loop;

/* events: the EPOLL* bits that fired (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR). */
typedef void (*vmm_event_fd_fn)(int fd, uint32_t events, void *opaque);
typedef void (*vmm_event_call_fn)(void *opaque);

int vmm_event_loop_new(struct vmm_event_loop **out);
void vmm_event_loop_free(struct vmm_event_loop *loop);

/* Watch fd for events (EPOLLIN and/or EPOLLOUT; level-triggered). The loop does not own fd:
 * call vmm_event_del_fd before closing it. -EEXIST if fd is already watched. */
int vmm_event_add_fd(struct vmm_event_loop *loop, int fd, uint32_t events, vmm_event_fd_fn fn,
		     void *opaque);
/* Change the watched events of fd (e.g. add EPOLLOUT while output is queued). */
int vmm_event_mod_fd(struct vmm_event_loop *loop, int fd, uint32_t events);
/* Stop watching fd. Safe to call from inside any callback, including fd's own. */
int vmm_event_del_fd(struct vmm_event_loop *loop, int fd);

/* A timer on the event thread: fn runs once after delay_ns, then every interval_ns if non-zero.
 * Returns a timer id > 0, or a negative errno. */
int vmm_event_add_timer(struct vmm_event_loop *loop, uint64_t delay_ns, uint64_t interval_ns,
			vmm_event_call_fn fn, void *opaque);
int vmm_event_del_timer(struct vmm_event_loop *loop, int timer_id);

/* Run the loop on the calling thread until vmm_event_stop. Returns 0 or a negative errno. */
int vmm_event_run(struct vmm_event_loop *loop);

/* From any thread: ask the loop to return. Idempotent. */
void vmm_event_stop(struct vmm_event_loop *loop);

/* From any other thread: run fn(opaque) on the event thread and wait for it to finish.
 * -ECANCELED if the loop stopped before running it. */
int vmm_event_run_sync(struct vmm_event_loop *loop, vmm_event_call_fn fn, void *opaque);
