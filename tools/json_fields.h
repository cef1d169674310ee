/*
 * json_fields.h: a few top-level fields of a JSON object, read with jsmn's
 * tokenizer (Debian's libjsmn-dev) instead of a jansson tree, for the load
 * generators.
 *
 * fynsync-bench reads two to four fields of every ack and every delivery
 * (20,000 deliveries/s in the fanout scenario), and fynsync-replay-bench of
 * every replayed event, on the same two cores as the hub they measure.
 * Building a jansson tree for each was a fifth of fynsync-bench's CPU and a
 * third of the replay client's (perf, docs/benchmarks.md); tokenizing in
 * place allocates nothing. A reader checks that the text is one JSON object
 * and nothing after it, with JSON's own tokens (jsmn's strict mode; jsmn is
 * no full validator: it lets a stray comma through, and the hub's JSON is
 * checked by the unit, corpus and fuzz tests), then finds keys among the
 * object's own members only, never inside a nested value or a string.
 * Keys are matched as written: the hub never escapes a key.
 *
 * Ownership: a reader is one tool's, single-threaded; it keeps a token
 * array that grows as needed, and points into the text it last read, which
 * the caller keeps alive while it asks for fields.
 */
#ifndef FYNSYNC_JSON_FIELDS_H
#define FYNSYNC_JSON_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

struct json_fields;

/* NULL when out of memory. */
struct json_fields *json_fields_new(void);
void json_fields_free(struct json_fields *f);

/* Reads s[0..len): true when it is exactly one JSON object; the lookups
 * below then answer for it (and answer "absent" after a false). */
bool json_fields_read(struct json_fields *f, const char *s, size_t len);
/* key's value copied into out (NUL-terminated) when it is a string without
 * escapes that fits in size (every id, status, code, restaurant and
 * timestamp the hub sends); false otherwise. */
bool json_fields_string(const struct json_fields *f, const char *key, char *out, size_t size);
/* key's value when it is an integer as JSON writes one (no fraction, no
 * exponent, no leading zero) that fits a long long. */
bool json_fields_int(const struct json_fields *f, const char *key, long long *out);
/* Whether key's value is the literal true. */
bool json_fields_true(const struct json_fields *f, const char *key);

#endif
