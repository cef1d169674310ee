/*
 * redact.h: producing a view of a stored event.
 *
 * A view is a named list of payload keys that are removed at every depth of
 * `payload` (objects inside arrays inside objects too). Pure C on jansson.
 */
#ifndef FYNSYNC_REDACT_H
#define FYNSYNC_REDACT_H

#include <jansson.h>
#include <stddef.h>

/* Removes every key named in keys[0..count) from value and everything below
 * it, in place. */
void fyn_redact_keys(json_t *value, const char *const *keys, size_t count);

/* Serialises event as seen through a view: a deep copy of event whose
 * "payload" has keys removed. Returns a malloc'd compact JSON string, or NULL
 * on OOM. event itself is untouched. */
char *fyn_redacted_event_text(const json_t *event, const char *const *keys, size_t count);

#endif
