#include "config.h"

#include "vmm/event.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#define EVENT_MAX_WATCHES 256

struct watch {
	bool used;
	bool is_timer;
	uint32_t gen;
	int fd;
	vmm_event_fd_fn fd_fn;
	vmm_event_call_fn call_fn;
	void *opaque;
};

struct sync_call {
	vmm_event_call_fn fn;
	void *opaque;
	bool running; /* taken off the list by the event thread: it will set done */
	bool done;
	struct sync_call *next;
};

struct vmm_event_loop {
	int epfd;
	int wake_fd; /* eventfd: a sync call is queued or stop was asked */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sync_call *calls; /* pending run_sync calls, guarded by lock */
	bool stopping;		 /* guarded by lock */
	struct watch watches[EVENT_MAX_WATCHES];
};

int vmm_event_loop_new(struct vmm_event_loop **out)
{
	struct vmm_event_loop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
	int r;

	if (!loop)
		return -ENOMEM;
	pthread_mutex_init(&loop->lock, NULL);
	pthread_cond_init(&loop->cond, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->epfd < 0 || loop->wake_fd < 0 ||
	    epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0) {
		r = -errno;
		log_error("event loop setup: %m");
		vmm_event_loop_free(loop);
		return r;
	}
	*out = loop;
	return 0;
}

void vmm_event_loop_free(struct vmm_event_loop *loop)
{
	if (!loop)
		return;
	for (unsigned i = 0; i < EVENT_MAX_WATCHES; i++)
		if (loop->watches[i].used && loop->watches[i].is_timer)
			close(loop->watches[i].fd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	pthread_mutex_destroy(&loop->lock);
	pthread_cond_destroy(&loop->cond);
	free(loop);
}

static struct watch *find_fd(struct vmm_event_loop *loop, int fd)
{
	for (unsigned i = 0; i < EVENT_MAX_WATCHES; i++)
		if (loop->watches[i].used && loop->watches[i].fd == fd)
			return &loop->watches[i];
	return NULL;
}

static int add_watch(struct vmm_event_loop *loop, int fd, uint32_t events, struct watch *tmpl)
{
	for (unsigned i = 0; i < EVENT_MAX_WATCHES; i++) {
		struct watch *w = &loop->watches[i];
		if (w->used)
			continue;
		uint32_t gen = w->gen + 1;
		struct epoll_event ev = {.events = events, .data.u64 = ((uint64_t)gen << 32) | i};
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		*w = *tmpl;
		w->used = true;
		w->gen = gen;
		w->fd = fd;
		return (int)i + 1;
	}
	log_error("event loop: more than %d watched fds", EVENT_MAX_WATCHES);
	return -EMFILE;
}

int vmm_event_add_fd(struct vmm_event_loop *loop, int fd, uint32_t events, vmm_event_fd_fn fn,
		     void *opaque)
{
	struct watch w = {.fd_fn = fn, .opaque = opaque};
	int r;

	if (fd < 0 || !fn)
		return -EINVAL;
	if (find_fd(loop, fd))
		return -EEXIST;
	r = add_watch(loop, fd, events, &w);
	return r < 0 ? r : 0;
}

int vmm_event_mod_fd(struct vmm_event_loop *loop, int fd, uint32_t events)
{
	struct watch *w = find_fd(loop, fd);
	if (!w)
		return -ENOENT;
	struct epoll_event ev = {
	    .events = events, .data.u64 = ((uint64_t)w->gen << 32) | (uint64_t)(w - loop->watches)};
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

static void drop_watch(struct vmm_event_loop *loop, struct watch *w)
{
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->is_timer)
		close(w->fd);
	w->used = false;
	w->fd = -1;
}

int vmm_event_del_fd(struct vmm_event_loop *loop, int fd)
{
	struct watch *w = find_fd(loop, fd);
	if (!w || w->is_timer)
		return -ENOENT;
	drop_watch(loop, w);
	return 0;
}

int vmm_event_add_timer(struct vmm_event_loop *loop, uint64_t delay_ns, uint64_t interval_ns,
			vmm_event_call_fn fn, void *opaque)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = delay_ns / 1000000000, .tv_nsec = delay_ns % 1000000000},
	    .it_interval = {.tv_sec = interval_ns / 1000000000,
			    .tv_nsec = interval_ns % 1000000000}};
	struct watch w = {.is_timer = true, .call_fn = fn, .opaque = opaque};
	int fd, r;

	if (!fn)
		return -EINVAL;
	if (delay_ns == 0)
		its.it_value.tv_nsec = 1; /* zero would disarm */
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = add_watch(loop, fd, EPOLLIN, &w);
	if (r < 0)
		close(fd);
	return r;
}

int vmm_event_del_timer(struct vmm_event_loop *loop, int timer_id)
{
	if (timer_id < 1 || timer_id > EVENT_MAX_WATCHES)
		return -EINVAL;
	struct watch *w = &loop->watches[timer_id - 1];
	if (!w->used || !w->is_timer)
		return -ENOENT;
	drop_watch(loop, w);
	return 0;
}

static void run_calls(struct vmm_event_loop *loop)
{
	uint64_t v;

	(void)!read(loop->wake_fd, &v, sizeof(v));
	pthread_mutex_lock(&loop->lock);
	while (loop->calls) {
		struct sync_call *c = loop->calls;
		loop->calls = c->next;
		c->running = true;
		pthread_mutex_unlock(&loop->lock);
		c->fn(c->opaque);
		pthread_mutex_lock(&loop->lock);
		c->done = true;
		pthread_cond_broadcast(&loop->cond);
	}
	pthread_mutex_unlock(&loop->lock);
}

static void dispatch(struct vmm_event_loop *loop, const struct epoll_event *ev)
{
	uint32_t i = (uint32_t)ev->data.u64, gen = (uint32_t)(ev->data.u64 >> 32);
	struct watch *w;

	if (i >= EVENT_MAX_WATCHES)
		return;
	w = &loop->watches[i];
	/* The watch may have been removed (or replaced) by an earlier callback of this batch. */
	if (!w->used || w->gen != gen)
		return;
	if (w->is_timer) {
		uint64_t expirations;
		if (read(w->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
			return;
		w->call_fn(w->opaque);
	} else {
		w->fd_fn(w->fd, ev->events, w->opaque);
	}
}

int vmm_event_run(struct vmm_event_loop *loop)
{
	struct epoll_event evs[32];
	bool stopping = false;
	int r = 0;

	while (!stopping) {
		int n = epoll_wait(loop->epfd, evs, (int)UTIL_ARRAY_SIZE(evs), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			log_error("epoll_wait: %m");
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == UINT64_MAX)
				run_calls(loop);
			else
				dispatch(loop, &evs[i]);
		}
		pthread_mutex_lock(&loop->lock);
		stopping = loop->stopping;
		pthread_mutex_unlock(&loop->lock);
	}
	/* Release every thread still waiting in run_sync. */
	pthread_mutex_lock(&loop->lock);
	loop->stopping = true;
	pthread_cond_broadcast(&loop->cond);
	pthread_mutex_unlock(&loop->lock);
	return r;
}

static void wake(struct vmm_event_loop *loop)
{
	uint64_t one = 1;
	(void)!write(loop->wake_fd, &one, sizeof(one));
}

void vmm_event_stop(struct vmm_event_loop *loop)
{
	pthread_mutex_lock(&loop->lock);
	loop->stopping = true;
	pthread_mutex_unlock(&loop->lock);
	wake(loop);
}

int vmm_event_run_sync(struct vmm_event_loop *loop, vmm_event_call_fn fn, void *opaque)
{
	struct sync_call call = {.fn = fn, .opaque = opaque};
	struct sync_call **tail;
	int r = 0;

	pthread_mutex_lock(&loop->lock);
	if (loop->stopping) {
		pthread_mutex_unlock(&loop->lock);
		return -ECANCELED;
	}
	for (tail = &loop->calls; *tail; tail = &(*tail)->next)
		;
	*tail = &call;
	pthread_mutex_unlock(&loop->lock);
	wake(loop);
	pthread_mutex_lock(&loop->lock);
	while (!call.done && (call.running || !loop->stopping))
		pthread_cond_wait(&loop->cond, &loop->lock);
	if (!call.done) {
		/* Unlink: the loop stopped without running it. */
		for (tail = &loop->calls; *tail; tail = &(*tail)->next)
			if (*tail == &call) {
				*tail = call.next;
				break;
			}
		r = -ECANCELED;
	}
	pthread_mutex_unlock(&loop->lock);
	return r;
}
