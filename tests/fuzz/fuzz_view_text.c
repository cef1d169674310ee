/*
 * fuzz_view_text.c: libFuzzer target for the view text copier
 * (core/view_text.c), differential against jansson.
 *
 * The input is a stored event's text, copied through three views (none,
 * the default ACL file's cost and profit_margin, and keys with escapes and
 * an empty one), live and replayed. Whenever jansson takes the text
 * (tests/unit/jansson_view.h: parse, redact, dump compact), the copier must
 * give the same bytes; otherwise it must not crash. The same input is also
 * tried as the payload of an event. Seeded from tests/corpus/envelope.
 *
 * Not compared: texts with a NUL byte. jansson takes a NUL right after a
 * number or a literal as the token's end and reads on ("[true\0\t]" loads
 * as [true]); JSON allows no NUL outside a string, the copier refuses it,
 * and the texts it copies come from PostgreSQL, which never holds one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/jansson_view.h"
#include "view_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const redacted[] = { "cost", "profit_margin" };
static const char *const odd[] = { "é", "a\"b", "", "items" };

static void compare(const char *text, size_t len, const char *const *keys, size_t count, bool replay)
{
	struct fyn_event_text ev;
	char *want = memchr(text, '\0', len) ? NULL : jansson_view_text(text, len, keys, count, replay);
	char *got = fyn_event_text_scan(&ev, text, len) == 0 ? fyn_event_view_text(&ev, keys, count, replay) : NULL;

	fyn_event_text_release(&ev);
	if (want && (!got || strcmp(want, got) != 0)) {
		fprintf(stderr, "jansson: %s\ncopier:  %s\n", want, got ? got : "(null)");
		abort();
	}
	free(want);
	free(got);
}

static void compare_views(const char *text, size_t len)
{
	for (int replay = 0; replay < 2; replay++) {
		compare(text, len, NULL, 0, replay);
		compare(text, len, redacted, 2, replay);
		compare(text, len, odd, 4, replay);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "{\"id\": \"e\", \"seq\": 3, \"payload\": ";
	static const char tail[] = ", \"restaurant\": \"r1\"}";
	char *event = malloc(sizeof(head) + size + sizeof(tail));

	compare_views((const char *)data, size);
	if (event) {
		memcpy(event, head, sizeof(head) - 1);
		memcpy(event + sizeof(head) - 1, data, size);
		memcpy(event + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
		compare_views(event, sizeof(head) - 1 + size + sizeof(tail) - 1);
		free(event);
	}
	return 0;
}
