/*
 * json_fields.h: reading a few top-level fields of a JSON object's text
 * without parsing it, for the load generators.
 *
 * fynsync-bench reads two or three fields of every ack and every delivery:
 * 20,000 deliveries/s in the fanout scenario, on the same two cores as the
 * hub it measures. Parsing each with jansson was a fifth of the
 * generator's CPU (perf, docs/benchmarks.md); a scan for the fields is a
 * small fraction of that. The scan trusts that the text is one JSON object
 * (the hub's output; its JSON is checked by the unit, corpus and fuzz
 * tests) and finds a key only at the object's top level, never inside a
 * nested value or a string. Keys are matched as written: the hub never
 * escapes a key. Pure functions on the caller's buffer; nothing allocated.
 */
#ifndef FYNSYNC_JSON_FIELDS_H
#define FYNSYNC_JSON_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

/* The string value of key copied into out (NUL-terminated), when it is a
 * string without escapes that fits in size; false otherwise (missing, not
 * a string, escaped, too long). */
bool json_string_field(const char *s, size_t len, const char *key, char *out, size_t size);
/* The value of key when it is a non-negative integer, else -1. */
long long json_int_field(const char *s, size_t len, const char *key);
/* Whether key's value is true. */
bool json_true_field(const char *s, size_t len, const char *key);

#endif
