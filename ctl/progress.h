/* A one-line progress display on stderr for enclavectl's long operations (image builds and
 * measurement, waiting for an enclave's heartbeat, hugepage reservation). Shown only when
 * stderr is a terminal and neither --quiet nor $ENCLAVECTL_QUIET asks for silence; otherwise
 * every function here writes nothing, so scripts see byte-identical output. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* --quiet (main.c). */
void ctl_progress_set_quiet(bool quiet);
/* Whether progress is drawn: stderr is a tty, no --quiet, $ENCLAVECTL_QUIET unset/empty/"0". */
bool ctl_progress_enabled(void);

/* Byte progress with a known total: "label  12.0/64.0 MiB  18%  40.1 MiB/s". */
struct ctl_progress {
	const char *label;
	uint64_t start_ns, last_draw_ns;
	bool enabled, drawn;
};
void ctl_progress_begin(struct ctl_progress *p, const char *label);
/* An eif_progress_fn: opaque is the struct ctl_progress. Redraws at most 10 times a second.
 */
void ctl_progress_bytes(void *opaque, uint64_t done, uint64_t total);
/* Clear the line (if anything was drawn). */
void ctl_progress_end(struct ctl_progress *p);

/* Open-ended waits: "label... 3 s", redrawn by a thread while the caller blocks (an RPC).
 * start returns NULL when progress is disabled or the thread cannot start (no display, never
 * an error); stop(NULL) is a no-op. stop clears the line before returning, so the caller's
 * own output follows on a clean line. */
struct ctl_progress_timer;
struct ctl_progress_timer *ctl_progress_timer_start(const char *label);
void ctl_progress_timer_stop(struct ctl_progress_timer *t);

/* Around any other output on stderr while a timer may run (ctl_fail): hold erases a progress
 * line that is shown and keeps the timer from drawing until release, so the message starts on
 * a clean line; the timer redraws on the next line afterwards. */
void ctl_progress_hold(void);
void ctl_progress_release(void);
