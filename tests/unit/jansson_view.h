/*
 * jansson_view.h: the view text as the hub built it with jansson before
 * core/view_text.c (parse the stored event, put "seq" first, deep-copy and
 * redact "payload", add "replay", json_dumps compact). The reference the
 * copier is compared against, byte for byte, by tests/unit/test_view_text.c
 * and tests/fuzz/fuzz_view_text.c. Header-only: each includer is one
 * program.
 */
#ifndef FYNSYNC_TESTS_JANSSON_VIEW_H
#define FYNSYNC_TESTS_JANSSON_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "redact.h"

/* NULL when jansson refuses the text (or it is no object). Duplicate keys
 * are refused too: jsonb never has them, and the copier keeps the first
 * position where jansson keeps the last value. */
static inline char *jansson_view_text(const char *text, size_t len, const char *const *keys, size_t count,
		bool replay)
{
	json_t *event = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *view = json_object();
	json_t *seq, *payload;
	char *out = NULL;

	if (!json_is_object(event) || !view) {
		goto done;
	}
	if (replay && json_object_set_new(event, "replay", json_true()) != 0) {
		goto done;
	}
	seq = json_object_get(event, "seq");
	if ((seq && json_object_set(view, "seq", seq) != 0) || json_object_update(view, event) != 0) {
		goto done;
	}
	if (count > 0 && (payload = json_object_get(event, "payload"))) {
		json_t *copy = json_deep_copy(payload);
		fyn_redact_keys(copy, keys, count);
		if (!copy || json_object_set_new(view, "payload", copy) != 0) {
			goto done;
		}
	}
	out = json_dumps(view, JSON_COMPACT);
done:
	json_decref(view);
	json_decref(event);
	return out;
}

#endif
