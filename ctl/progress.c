/* Progress lines on a terminal's stderr. Drawn with write(2) on fd 2, a line at a time
 * ("\r" + text + erase-to-end-of-line), so that a timer thread never interleaves with stdio
 * buffers; the main thread prints nothing on stderr while a timer runs. */
#include "config.h"

#include "ctl/progress.h"
#include "common/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS     (100 * 1000 * 1000ULL) /* at most 10 redraws a second */
#define TIMER_TICK_MS 100
#define MIB	      (1024.0 * 1024.0)
#define ERASE_EOL     "\033[K"

static bool quiet;

void ctl_progress_set_quiet(bool q)
{
	quiet = q;
}

bool ctl_progress_enabled(void)
{
	const char *env = getenv("ENCLAVECTL_QUIET");

	if (quiet || (env && env[0] && strcmp(env, "0") != 0))
		return false;
	return isatty(STDERR_FILENO) == 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Held while a line is drawn or erased, and by ctl_progress_hold around other stderr output,
 * so that a timer thread's redraw never lands in the middle of an error message. */
static pthread_mutex_t draw_lock = PTHREAD_MUTEX_INITIALIZER;
static bool line_shown; /* a progress line is on the terminal now; under draw_lock */

/* Best effort: a terminal that stops taking our progress must not fail the command. Called
 * with draw_lock held; an empty text erases the line. */
static void put_line_locked(const char *text)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "\r%s" ERASE_EOL, text);
	size_t len = n < 0 ? 0 : UTIL_MIN((size_t)n, sizeof(line) - 1);
	const char *p = line;

	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
	line_shown = text[0] != '\0';
}

static void put_line(const char *text)
{
	pthread_mutex_lock(&draw_lock);
	put_line_locked(text);
	pthread_mutex_unlock(&draw_lock);
}

void ctl_progress_hold(void)
{
	pthread_mutex_lock(&draw_lock);
	if (line_shown)
		put_line_locked("");
}

void ctl_progress_release(void)
{
	pthread_mutex_unlock(&draw_lock);
}

void ctl_progress_begin(struct ctl_progress *p, const char *label)
{
	*p = (struct ctl_progress){.label = label, .enabled = ctl_progress_enabled()};
	if (p->enabled)
		p->start_ns = now_ns();
}

void ctl_progress_bytes(void *opaque, uint64_t done, uint64_t total)
{
	struct ctl_progress *p = opaque;
	char text[200];
	uint64_t now;
	double secs;

	if (!p || !p->enabled)
		return;
	now = now_ns();
	if (p->drawn && now - p->last_draw_ns < REDRAW_NS)
		return;
	p->last_draw_ns = now;
	p->drawn = true;
	secs = (double)(now - p->start_ns) / 1e9;
	snprintf(text, sizeof(text), "%s  %.1f/%.1f MiB  %3u%%  %.1f MiB/s", p->label,
		 (double)done / MIB, (double)total / MIB,
		 total ? (unsigned)(done * 100.0 / (double)total) : 100U,
		 secs > 0.001 ? (double)done / MIB / secs : 0.0);
	put_line(text);
}

void ctl_progress_end(struct ctl_progress *p)
{
	if (p && p->enabled && p->drawn)
		put_line("");
	if (p)
		p->drawn = false;
}

struct ctl_progress_timer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	char label[128];
};

static void *timer_main(void *arg)
{
	struct ctl_progress_timer *t = arg;
	uint64_t start = now_ns();
	long shown = -1;
	char text[200];

	pthread_mutex_lock(&t->lock);
	/* Draw at least once, even when the operation ends before the thread first runs: the line
	 * is erased at once then, and the user saw the operation happen. */
	do {
		struct timespec until;
		long secs = (long)((now_ns() - start) / 1000000000ULL);

		if (secs != shown) {
			snprintf(text, sizeof(text), "%s... %ld s", t->label, secs);
			put_line(text);
			shown = secs;
		}
		if (t->stop)
			break;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += TIMER_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		/* a timeout or a spurious wakeup: either way the loop re-checks stop */
		(void)pthread_cond_timedwait(&t->cond, &t->lock, &until);
	} while (!t->stop);
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_lock(&draw_lock);
	if (line_shown)
		put_line_locked("");
	pthread_mutex_unlock(&draw_lock);
	return NULL;
}

struct ctl_progress_timer *ctl_progress_timer_start(const char *label)
{
	struct ctl_progress_timer *t;
	pthread_condattr_t ca;
	int r;

	if (!ctl_progress_enabled())
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->label, sizeof(t->label), "%s", label);
	r = pthread_condattr_init(&ca);
	if (r == 0) {
		r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (r == 0)
			r = pthread_cond_init(&t->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (r != 0) {
		free(t);
		return NULL;
	}
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		pthread_cond_destroy(&t->cond);
		free(t);
		return NULL;
	}
	if (pthread_create(&t->thread, NULL, timer_main, t) != 0) {
		pthread_mutex_destroy(&t->lock);
		pthread_cond_destroy(&t->cond);
		free(t);
		return NULL;
	}
	return t;
}

void ctl_progress_timer_stop(struct ctl_progress_timer *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	(void)pthread_join(t->thread, NULL);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}
