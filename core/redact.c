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

#define SEQ_PREFIX "{\"seq\":"

long long fyn_event_text_seq(const void *text, size_t len)
{
	const size_t prefix = sizeof(SEQ_PREFIX) - 1;
	const char *bytes = text;
	long long seq = 0;
	json_t *doc;

	if (len > prefix && memcmp(bytes, SEQ_PREFIX, prefix) == 0) {
		size_t i;
		for (i = prefix; i < len && i < prefix + 19 && bytes[i] >= '0' && bytes[i] <= '9'; i++) {
			seq = seq * 10 + (bytes[i] - '0');
		}
		if (i > prefix && i < len && (bytes[i] == ',' || bytes[i] == '}')) {
			return seq;
		}
	}
	/* Not the hub's layout: read it the slow, certain way. */
	doc = json_loadb(text, len, 0, NULL);
	seq = json_integer_value(json_object_get(doc, "seq"));
	json_decref(doc);
	return seq > 0 ? seq : 0;
}
