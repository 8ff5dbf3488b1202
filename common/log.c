#include "config.h"

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

static const char *log_ident = "enclaved";
static enum log_level log_max = LOG_LEVEL_INFO;
static int log_to_journal;

void log_setup(const char *ident, enum log_level max_level)
{
	log_ident = ident;
	log_max = max_level;
	/* systemd sets JOURNAL_STREAM when stderr is connected to the journal. */
	log_to_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(enum log_level max_level)
{
	log_max = max_level;
}

void log_vprintf(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = {[LOG_LEVEL_ERROR] = "error",
					    [LOG_LEVEL_WARNING] = "warning",
					    [LOG_LEVEL_INFO] = "info",
					    [LOG_LEVEL_DEBUG] = "debug"};
	char msg[2048];

	if (level > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_journal) {
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", (int)level,
				"SYSLOG_IDENTIFIER=%s", log_ident, NULL);
		return;
	}
	fprintf(stderr, "%s: %s: %s\n", log_ident, names[level] ? names[level] : "log", msg);
}

void log_printf(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprintf(level, fmt, ap);
	va_end(ap);
}
