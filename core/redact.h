/*
 * redact.h: removing a view's keys from a JSON tree (snapshots), and
 * reading the seq of a published event text.
 *
 * A view is a named list of payload keys that are removed at every depth of
 * `payload` (objects inside arrays inside objects too). Published events
 * are copied as text instead (core/view_text.h). Pure C on jansson, no
 * state: any thread may call it.
 */
#ifndef FYNSYNC_REDACT_H
#define FYNSYNC_REDACT_H

#include <jansson.h>
#include <stddef.h>

/* Removes every key named in keys[0..count) from value and everything below
 * it, in place. */
void fyn_redact_keys(json_t *value, const char *const *keys, size_t count);

/* The seq of an event text the hub publishes (core/view_text.h): read from
 * the leading {"seq":N; any other text is parsed in full. 0 when it has
 * none.
 *
 * The broker thread learns which seq a persistent client was routed from
 * nothing but the delivered bytes (durable.c): with seq first that costs a
 * prefix check, not a JSON parse per delivery. */
long long fyn_event_text_seq(const void *text, size_t len);

#endif
