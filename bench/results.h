/* The one rule every benchmark program uses for bench/RESULTS.md: its row replaces the line
 * that starts with its label, or is appended; the file is rewritten atomically. */
#pragma once

/* label is the row's leading text ("| ttrpc unary round trip"); a line matches when the label
 * is followed by a space, '|', '(' or the end of the line, so one label never claims another
 * that merely starts with it. Returns 0 or a negative errno. */
int bench_results_update(const char *path, const char *label, const char *row);
