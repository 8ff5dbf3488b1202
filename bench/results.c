#include "config.h"

#include "bench/results.h"

#include "common/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool row_matches(const char *line, size_t line_len, const char *label)
{
	size_t n = strlen(label);

	if (line_len < n || strncmp(line, label, n) != 0)
		return false;
	return line_len == n || label[n - 1] == '|' || line[n] == ' ' || line[n] == '|' ||
	       line[n] == '(';
}

int bench_results_update(const char *path, const char *label, const char *row)
{
	_cleanup_free_ char *old = NULL;
	_cleanup_free_ char *out = NULL;
	size_t len = 0, out_len = 0;
	bool replaced = false;
	FILE *f;
	int r;

	r = util_read_file(path, 1 << 20, &old, &len);
	if (r < 0)
		return r;
	f = open_memstream(&out, &out_len);
	if (!f)
		return -errno;
	for (char *line = old; line < old + len;) {
		char *nl = memchr(line, '\n', (size_t)(old + len - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(old + len - line);

		if (row_matches(line, n, label)) {
			if (!replaced)
				fprintf(f, "%s\n", row);
			replaced = true;
		} else {
			fprintf(f, "%.*s\n", (int)n, line);
		}
		line += n + 1;
	}
	if (!replaced)
		fprintf(f, "%s\n", row);
	if (fclose(f) != 0)
		return -EIO;
	return util_write_file_atomic(path, out, out_len, 0644);
}
