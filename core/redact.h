/*
 * redact.h: producing a view of a stored event.
 *
 * A view is a named list of payload keys that are removed at every depth of
 * `payload` (objects inside arrays inside objects too). Pure C on jansson,
 * no state: any thread may call it.
 */
#ifndef FYNSYNC_REDACT_H
#define FYNSYNC_REDACT_H

#include <jansson.h>
#include <stddef.h>

/* Removes every key named in keys[0..count) from value and everything below
 * it, in place. */
void fyn_redact_keys(json_t *value, const char *const *keys, size_t count);

/* Serialises event as seen through a view: event with keys removed from its
 * "payload", and "seq" always its first key. Returns a malloc'd compact
 * JSON string, or NULL on OOM. event itself is untouched.
 *
 * The broker thread learns which seq a persistent client was routed from
 * nothing but the delivered bytes (durable.c): with seq first that costs a
 * prefix check, not a JSON parse per delivery. */
char *fyn_redacted_event_text(const json_t *event, const char *const *keys, size_t count);

/* The seq of an event text made by fyn_redacted_event_text: read from the
 * leading {"seq":N; any other text is parsed in full. 0 when it has none. */
long long fyn_event_text_seq(const void *text, size_t len);

#endif
