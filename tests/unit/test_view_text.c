/*
 * test_view_text.c: the view texts copied from a stored event's text
 * (core/view_text.c) are byte for byte what the jansson path published
 * (tests/unit/jansson_view.h): hand-written events as PostgreSQL's jsonb
 * prints them, every submission and control request of tests/corpus as a
 * payload and as an event, and generated events, each through a full, a
 * redacting and an empty view, live and replayed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jansson_view.h"
#include "view_text.h"

static const char *const redacted_keys[] = { "cost", "profit_margin" };
static const char *const odd_keys[] = { "é", "a\"b", "", "items" };

/* The copier's view text, or NULL. */
static char *copier_view_text(const char *text, size_t len, const char *const *keys, size_t count,
		bool replay)
{
	struct fyn_event_text ev;
	char *out = fyn_event_text_scan(&ev, text, len) == 0 ? fyn_event_view_text(&ev, keys, count, replay)
		: NULL;
	fyn_event_text_release(&ev);
	return out;
}

/* Both paths through one view; equal whenever jansson takes the text.
 * Returns whether jansson took it. */
static bool same_view(const char *text, size_t len, const char *const *keys, size_t count, bool replay)
{
	char *want = jansson_view_text(text, len, keys, count, replay);
	char *got = copier_view_text(text, len, keys, count, replay);
	bool taken = want != NULL;

	if (want && (!got || strcmp(want, got) != 0)) {
		fprintf(stderr, "input:  %.*s\njansson: %s\ncopier:  %s\n", (int)len, text, want, got ? got : "(null)");
		fail();
	}
	free(want);
	free(got);
	return taken;
}

static bool same_views(const char *text, size_t len)
{
	bool taken = false;
	for (int replay = 0; replay < 2; replay++) {
		taken |= same_view(text, len, NULL, 0, replay);
		taken |= same_view(text, len, redacted_keys, 2, replay);
		taken |= same_view(text, len, odd_keys, 4, replay);
	}
	return taken;
}

/* As PostgreSQL returns an event: jsonb's key order (shorter first) and
 * its ", " and ": ". */
static const char *const pg_events[] = {
	"{\"id\": \"7d0c5a1e-0000-4000-8000-000000000001\", \"seq\": 7, \"payload\": {\"cost\": 410, "
	"\"items\": [{\"qty\": 2, \"cost\": 105, \"name\": \"Jollof\", \"profit_margin\": 30}], \"total\": 1250, "
	"\"order_id\": \"o-1\"}, \"metadata\": {\"till\": \"t1\"}, \"created_at\": \"2026-12-02T18:00:00.123Z\", "
	"\"created_by\": \"alice\", \"event_type\": \"order.created\", \"restaurant\": \"r1\", "
	"\"recorded_at\": \"2026-12-02T18:00:00.125Z\", \"aggregate_id\": \"o-1\", \"correlation_id\": null}",
	/* redacted keys at every depth, inside arrays of arrays */
	"{\"seq\": 1, \"payload\": {\"a\": [[{\"cost\": {\"cost\": 1}}, {\"x\": [{\"profit_margin\": [1, 2]}]}]], "
	"\"cost\": {\"nested\": {\"cost\": 2}}, \"z\": {\"profit_margin\": null, \"keep\": true}}}",
	/* every key of an object removed, first and last members removed */
	"{\"seq\": 2, \"payload\": {\"cost\": 1, \"profit_margin\": 2}}",
	"{\"seq\": 3, \"payload\": {\"cost\": 1, \"b\": 2, \"profit_margin\": 3}}",
	"{\"seq\": 3, \"payload\": {\"b\": {\"cost\": 1}, \"c\": [{}, [], {\"cost\": []}]}}",
	/* strings holding quotes, braces, escapes and the removed keys' names */
	"{\"seq\": 4, \"payload\": {\"note\": \"\\\"cost\\\": 5, {profit_margin} [\\\\]\", \"cost\": \"}\\\"{\", "
	"\"k\": \"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\\/\"}}",
	/* unicode: raw UTF-8, escaped BMP, surrogate pairs, an escaped removed key */
	"{\"seq\": 5, \"payload\": {\"name\": \"Caf\\u00e9 ñ 😀 \\ud83d\\ude00 \\u20AC\", \"co\\u0073t\": 9, "
	"\"\\u00e9\": 1, \"\\u00e8\": \"é\"}}",
	/* numbers: reals as jansson prints them, -0, the int64 limits */
	"{\"seq\": 6, \"payload\": {\"a\": 12.50, \"b\": 0.1, \"c\": 1e2, \"d\": 1E-7, \"e\": -0, \"f\": -0.0, "
	"\"g\": 9223372036854775807, \"h\": -9223372036854775808, \"i\": 1.5e300, \"j\": 123456789012345678.5, "
	"\"k\": 0.000123, \"l\": 1e-400, \"m\": 100000000000000000000000.0, \"n\": 1234567890123456789}}",
	/* seq last, no seq, seq not a number, payload not an object */
	"{\"id\": \"x\", \"payload\": {\"cost\": 1}, \"seq\": 99}",
	"{\"id\": \"x\", \"payload\": {\"cost\": 1}}",
	"{\"seq\": \"12\", \"payload\": [{\"cost\": 1}, 2, \"cost\"]}",
	"{\"seq\": 8, \"payload\": \"cost\"}",
	"{\"seq\": 8, \"payload\": null, \"replay\": false}",
	"{}",
	"{\"seq\": 9}",
	/* whitespace everywhere JSON allows it */
	" \t\r\n{ \"seq\" : 10 ,\n\"payload\"\t:\r{ \"cost\" : [ 1 , 2 ] , \"x\" : { } , \"y\" : [ ] } } \n",
	"{\"seq\": 11, \"replay\": 1, \"payload\": {\"replay\": 2}}",
};

static void postgres_events_are_copied_as_jansson_printed_them(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pg_events) / sizeof(pg_events[0]); i++) {
		assert_true(same_views(pg_events[i], strlen(pg_events[i])));
	}
}

/* The live view of the first event, as the hub has always published it. */
static void the_known_event_gives_the_known_bytes(void **state)
{
	char *full = copier_view_text(pg_events[0], strlen(pg_events[0]), NULL, 0, false);
	char *redacted = copier_view_text(pg_events[0], strlen(pg_events[0]), redacted_keys, 2, true);
	(void)state;
	assert_string_equal(full, "{\"seq\":7,\"id\":\"7d0c5a1e-0000-4000-8000-000000000001\",\"payload\":{\"cost\":410,"
		"\"items\":[{\"qty\":2,\"cost\":105,\"name\":\"Jollof\",\"profit_margin\":30}],\"total\":1250,"
		"\"order_id\":\"o-1\"},\"metadata\":{\"till\":\"t1\"},\"created_at\":\"2026-12-02T18:00:00.123Z\","
		"\"created_by\":\"alice\",\"event_type\":\"order.created\",\"restaurant\":\"r1\","
		"\"recorded_at\":\"2026-12-02T18:00:00.125Z\",\"aggregate_id\":\"o-1\",\"correlation_id\":null}");
	assert_string_equal(redacted, "{\"seq\":7,\"id\":\"7d0c5a1e-0000-4000-8000-000000000001\",\"payload\":{"
		"\"items\":[{\"qty\":2,\"name\":\"Jollof\"}],\"total\":1250,"
		"\"order_id\":\"o-1\"},\"metadata\":{\"till\":\"t1\"},\"created_at\":\"2026-12-02T18:00:00.123Z\","
		"\"created_by\":\"alice\",\"event_type\":\"order.created\",\"restaurant\":\"r1\","
		"\"recorded_at\":\"2026-12-02T18:00:00.125Z\",\"aggregate_id\":\"o-1\",\"correlation_id\":null,"
		"\"replay\":true}");
	free(full);
	free(redacted);
}

static void routing_fields_are_decoded(void **state)
{
	struct fyn_event_text ev;
	static const char escaped[] = "{\"restaurant\": \"r\\u0031\", \"event_type\": 5, \"created_at\": \"t\"}";
	(void)state;
	assert_int_equal(fyn_event_text_scan(&ev, pg_events[0], strlen(pg_events[0])), 0);
	assert_string_equal(ev.restaurant, "r1");
	assert_string_equal(ev.event_type, "order.created");
	assert_string_equal(ev.created_at, "2026-12-02T18:00:00.123Z");
	fyn_event_text_release(&ev);
	assert_int_equal(fyn_event_text_scan(&ev, escaped, strlen(escaped)), 0);
	assert_string_equal(ev.restaurant, "r1");
	assert_string_equal(ev.event_type, "");
	fyn_event_text_release(&ev);
}

/* What jansson refuses, the copier refuses: no view text rather than a
 * different one. */
static void what_jansson_refuses_is_refused(void **state)
{
	static const char *const refused[] = {
		"{\"seq\": 1, \"payload\": {\"a\": 9223372036854775808}}",
		"{\"seq\": 1, \"payload\": {\"a\": -9223372036854775809}}",
		"{\"seq\": 1, \"payload\": {\"a\": 1e400}}",
		"{\"seq\": 1, \"payload\": {\"a\": \"\\u0000\"}}",
		"{\"seq\": 1, \"payload\": {\"a\": \"\\ud800\"}}",
		"{\"seq\": 1, \"payload\": {\"a\": \"\\udc00\\ud800\"}}",
		"{\"seq\": 1, \"payload\": {\"cost\": 01}}",
		"{\"seq\": 1, \"payload\": {\"cost\": [1,]}}",
		"{\"seq\": 1, \"payload\": {\"a\": \"tab\there\"}}",
		"{\"seq\": 1} x",
		"[1]",
		"{\"seq\": 1, \"payload\": {\"a\": tru}}",
		"{\"seq\": 1, \"payload\": {\"a\": \"\\x\"}}",
		"{\"seq\": 1, \"payload\": {\"a\": 1.}}",
		"{\"seq\": 1, \"payload\": {\"a\": -}}",
		"{\"seq\": 1,}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *want = jansson_view_text(refused[i], strlen(refused[i]), redacted_keys, 2, false);
		char *got = copier_view_text(refused[i], strlen(refused[i]), redacted_keys, 2, false);
		if (want || got) {
			fprintf(stderr, "input %s: jansson %s, copier %s\n", refused[i], want ? want : "(null)",
					got ? got : "(null)");
		}
		assert_null(want);
		assert_null(got);
	}
}

/* Nesting around jansson's depth limit: both refuse the same depths. */
static void depth_is_limited_as_jansson_limits_it(void **state)
{
	(void)state;
	for (size_t depth = 2044; depth <= 2050; depth++) {
		size_t len = 0;
		char *text = malloc(2 * depth + 64);
		char *want, *got;
		assert_non_null(text);
		len += (size_t)sprintf(text, "{\"seq\": 1, \"payload\": ");
		for (size_t i = 0; i < depth; i++) {
			text[len++] = '[';
		}
		for (size_t i = 0; i < depth; i++) {
			text[len++] = ']';
		}
		text[len++] = '}';
		want = jansson_view_text(text, len, redacted_keys, 2, false);
		got = copier_view_text(text, len, redacted_keys, 2, false);
		assert_int_equal(want == NULL, got == NULL);
		if (want) {
			assert_string_equal(want, got);
		}
		free(want);
		free(got);
		free(text);
	}
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0
			&& (buf = malloc((size_t)size + 1)) && fread(buf, 1, (size_t)size, f) == (size_t)size) {
		buf[size] = '\0';
		*len = (size_t)size;
	} else {
		free(buf);
		buf = NULL;
	}
	if (f) {
		fclose(f);
	}
	return buf;
}

/* Every file of a corpus folder, as an event and as the payload of one. */
static size_t compare_corpus_folder(const char *folder)
{
	const char *root = getenv("FYNSYNC_SOURCE_DIR");
	char path[4096];
	DIR *dir;
	struct dirent *entry;
	size_t taken = 0;

	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/tests/corpus/%s", root, folder);
	dir = opendir(path);
	assert_non_null(dir);
	while ((entry = readdir(dir))) {
		size_t len = 0;
		char *text, *event;
		if (entry->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "%s/tests/corpus/%s/%s", root, folder, entry->d_name);
		text = read_file(path, &len);
		if (!text) {
			continue;
		}
		taken += same_views(text, len);
		event = malloc(len + 128);
		assert_non_null(event);
		len = (size_t)sprintf(event, "{\"id\": \"e\", \"seq\": 3, \"payload\": %s, \"restaurant\": \"r1\"}", text);
		taken += same_views(event, len);
		free(event);
		free(text);
	}
	closedir(dir);
	return taken;
}

static void the_corpus_is_copied_as_jansson_printed_it(void **state)
{
	(void)state;
	assert_true(compare_corpus_folder("envelope") > 40);
	assert_true(compare_corpus_folder("control") > 20);
	compare_corpus_folder("fuzz/acl_match");
}

/* A small deterministic generator of events in jsonb's or any spacing. */
struct gen {
	char *buf;
	size_t len, cap;
	unsigned long long state;
};

static unsigned roll(struct gen *g, unsigned n)
{
	g->state = g->state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((g->state >> 33) % n);
}

static void emit(struct gen *g, const char *s)
{
	size_t n = strlen(s);
	if (g->len + n + 1 > g->cap) {
		g->cap = (g->len + n + 1) * 2;
		g->buf = realloc(g->buf, g->cap);
		assert_non_null(g->buf);
	}
	memcpy(g->buf + g->len, s, n + 1);
	g->len += n;
}

static void space(struct gen *g)
{
	static const char *const spaces[] = { "", "", "", " ", "\n  ", "\t" };
	emit(g, spaces[roll(g, 6)]);
}

static void gen_string(struct gen *g)
{
	static const char *const pieces[] = { "cost", "profit_margin", "\\\"", "\\\\", "{", "}", "[", "]", ":",
		",", "\\n", "\\u00e9", "é", "\\ud83d\\ude00", "\\u001F", "\\/", " ", "x", "\\u0063ost", "😀" };
	unsigned n = roll(g, 5);
	emit(g, "\"");
	for (unsigned i = 0; i < n; i++) {
		emit(g, pieces[roll(g, sizeof(pieces) / sizeof(pieces[0]))]);
	}
	emit(g, "\"");
}

static void gen_value(struct gen *g, int depth);

static void gen_object(struct gen *g, int depth)
{
	static const char *const keys[] = { "\"cost\"", "\"profit_margin\"", "\"total\"", "\"items\"", "\"co\\u0073t\"",
		"\"note\"", "\"é\"", "\"\\u00e9\"", "\"a\\\"b\"", "\"\"", "\"costs\"", "\"cos\"", "\"seq\"", "\"replay\"" };
	bool used[sizeof(keys) / sizeof(keys[0])] = { false };
	unsigned n = roll(g, 5);
	bool first = true;

	emit(g, "{");
	for (unsigned i = 0; i < n; i++) {
		unsigned k = roll(g, sizeof(keys) / sizeof(keys[0]));
		/* No duplicate keys (jsonb has none); "é" and its escape are one key. */
		if (used[k] || (k == 6 && used[7]) || (k == 7 && used[6]) || (k == 0 && used[4]) || (k == 4 && used[0])) {
			continue;
		}
		used[k] = true;
		emit(g, first ? "" : ",");
		first = false;
		space(g);
		emit(g, keys[k]);
		space(g);
		emit(g, ":");
		space(g);
		gen_value(g, depth + 1);
		space(g);
	}
	emit(g, "}");
}

static void gen_value(struct gen *g, int depth)
{
	static const char *const scalars[] = { "0", "-0", "7", "-12", "12.50", "0.1", "1e2", "-1.5E-3", "1e+17",
		"123456789012345678", "9223372036854775807", "true", "false", "null", "0.0", "3.14159265358979323846" };
	unsigned kind = roll(g, depth > 6 ? 2 : 5);

	if (kind == 0) {
		emit(g, scalars[roll(g, sizeof(scalars) / sizeof(scalars[0]))]);
	} else if (kind == 1) {
		gen_string(g);
	} else if (kind == 2 || kind == 3) {
		gen_object(g, depth);
	} else {
		unsigned n = roll(g, 4);
		emit(g, "[");
		for (unsigned i = 0; i < n; i++) {
			emit(g, i ? "," : "");
			space(g);
			gen_value(g, depth + 1);
		}
		emit(g, "]");
	}
}

static void generated_events_are_copied_as_jansson_printed_them(void **state)
{
	struct gen g = { NULL, 0, 0, 42 };
	size_t taken = 0;
	(void)state;
	for (int i = 0; i < 5000; i++) {
		char seq[32];
		g.len = 0;
		emit(&g, "{\"id\": \"e\", ");
		if (roll(&g, 4)) {
			snprintf(seq, sizeof(seq), "\"seq\": %d, ", i);
			emit(&g, seq);
		}
		emit(&g, "\"payload\": ");
		gen_object(&g, 2);
		emit(&g, roll(&g, 3) ? ", \"replay\": false}" : "}");
		taken += same_views(g.buf, g.len);
	}
	assert_int_equal(taken, 5000);
	free(g.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(postgres_events_are_copied_as_jansson_printed_them),
		cmocka_unit_test(the_known_event_gives_the_known_bytes),
		cmocka_unit_test(routing_fields_are_decoded),
		cmocka_unit_test(what_jansson_refuses_is_refused),
		cmocka_unit_test(depth_is_limited_as_jansson_limits_it),
		cmocka_unit_test(the_corpus_is_copied_as_jansson_printed_it),
		cmocka_unit_test(generated_events_are_copied_as_jansson_printed_them),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
