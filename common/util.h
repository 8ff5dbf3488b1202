/* Small helpers shared by every component: cleanup attributes, full reads and writes,
 * atomic file replacement, number parsing and hex. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define UTIL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UTIL_MIN(a, b)	   ((a) < (b) ? (a) : (b))
#define UTIL_MAX(a, b)	   ((a) > (b) ? (a) : (b))

static inline void util_freep(void *p)
{
	free(*(void **)p);
}

static inline void util_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void util_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_	 __attribute__((cleanup(util_freep)))
#define _cleanup_close_	 __attribute__((cleanup(util_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(util_fclosep)))

/* Hand ownership out of a cleanup variable. */
static inline void *util_steal_ptr(void *pp)
{
	void **p = pp;
	void *v = *p;
	*p = NULL;
	return v;
}

static inline int util_steal_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

/* Read or write exactly len bytes, retrying on EINTR and short transfers.
 * util_read_full returns -EPIPE on a premature EOF. */
int util_read_full(int fd, void *buf, size_t len);
int util_write_full(int fd, const void *buf, size_t len);

/* Read a whole file of at most max bytes into a NUL-terminated buffer. -EFBIG when larger. */
int util_read_file(const char *path, size_t max, char **out, size_t *out_len);

/* Write a file by writing a temporary beside it, fsync, then rename over the target. */
int util_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/* Strict decimal parsing: the whole string, no sign, no overflow past max. */
int util_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Lowercase hex; out must hold 2*len+1 bytes. */
void util_hex_encode(const uint8_t *in, size_t len, char *out);
/* Exact-length decode of an even-length hex string. */
int util_hex_decode(const char *in, uint8_t *out, size_t out_max, size_t *out_len);

/* CLOCK_MONOTONIC / CLOCK_REALTIME in nanoseconds. */
uint64_t util_now_monotonic_ns(void);
uint64_t util_now_realtime_ns(void);
