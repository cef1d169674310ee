/*
 * redact.c: removing keys at every depth (see redact.h).
 *
 * Recursion depth is bounded by jansson's parse depth limit, so hostile
 * nesting cannot exhaust the stack here.
 */
#include "redact.h"

#include <string.h>

static void remove_listed_keys(json_t *object, const char *const *keys, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		json_object_del(object, keys[i]);
	}
}

void fyn_redact_keys(json_t *value, const char *const *keys, size_t count)
{
	json_t *child;

	if (json_is_object(value)) {
		const char *key;
		remove_listed_keys(value, keys, count);
		json_object_foreach(value, key, child) {
			fyn_redact_keys(child, keys, count);
		}
	} else if (json_is_array(value)) {
		size_t index;
		json_array_foreach(value, index, child) {
			fyn_redact_keys(child, keys, count);
		}
	}
}

char *fyn_redacted_event_text(const json_t *event, const char *const *keys, size_t count)
{
	json_t *copy;
	char *text;

	if (count == 0) {
		return json_dumps(event, JSON_COMPACT);
	}
	copy = json_deep_copy(event);
	if (!copy) {
		return NULL;
	}
	fyn_redact_keys(json_object_get(copy, "payload"), keys, count);
	text = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	return text;
}
