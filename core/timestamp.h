/*
 * timestamp.h: the hub's one timestamp text, UTC with milliseconds
 * ("2026-11-28T12:00:00.123Z"), as confirmed events and presence carry it,
 * and reading one back (event latency, core/metrics.h).
 *
 * Pure C, no state: any thread may call it.
 */
#ifndef FYNSYNC_TIMESTAMP_H
#define FYNSYNC_TIMESTAMP_H

#include <stddef.h>

/* Big enough for the text and its NUL, with room to spare. */
#define FYN_TIMESTAMP_MAX 40

/* Writes the current wall-clock time; out holds FYN_TIMESTAMP_MAX bytes. */
void fyn_timestamp_now(char out[FYN_TIMESTAMP_MAX]);

/* Reads an RFC 3339 timestamp ("2026-11-28T12:00:00.123Z", any fraction,
 * "Z" or an offset) as unix milliseconds. Returns 0, or -1 when text is
 * not one. */
int fyn_timestamp_parse_ms(const char *text, long long *ms);

#endif
