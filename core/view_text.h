/*
 * view_text.h: a view's text of a stored event, copied from the event's
 * text without building a JSON tree.
 *
 * PostgreSQL hands every stored event to the hub as jsonb text (the append's
 * answer, replay and follower pages). Each view of it is that text with the
 * view's keys removed at every depth of "payload", "seq" moved first and,
 * for replay, "replay": true added, written compactly as jansson writes it
 * (json_dumps with JSON_COMPACT): clients, the bench and durable.c's
 * seq-prefix check see exactly the bytes the hub always published. Parsing
 * and rebuilding that as a jansson tree per event was most of the broker's
 * CPU per event (docs/benchmarks.md, "View texts without jansson").
 *
 * The copy normalises what jansson would: no whitespace, escapes rewritten
 * (raw UTF-8 but for '"', '\\' and control characters, which get \b \f \n
 * \r \t or \u00XX), integers as they are ("-0" as "0"), reals through
 * strtod and "%.17g" as jansson 2.14 prints them. It assumes an object
 * without duplicate keys (jsonb has none); input jansson would refuse
 * (integers beyond 64 bits, lone surrogates, \u0000, depth beyond 2048) is
 * refused. Pure, no state: any thread may call it.
 */
#ifndef FYNSYNC_VIEW_TEXT_H
#define FYNSYNC_VIEW_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "topics.h"

/* One top-level member of the event: spans into the event's text. */
struct fyn_event_member {
	const char *key;      /* the key's token, quotes included */
	size_t key_len;
	const char *value;    /* the value's token */
	size_t value_len;
};

#define FYN_EVENT_INLINE_MEMBERS 16
#define FYN_EVENT_TYPE_MAX 255
#define FYN_EVENT_TIME_MAX 63

/* A stored event's text, scanned once; the views are then copied from it. */
struct fyn_event_text {
	const char *text;
	size_t len;
	struct fyn_event_member *members;   /* the inline ones, or malloc'd beyond them */
	size_t count, capacity;
	struct fyn_event_member inline_members[FYN_EVENT_INLINE_MEMBERS];
	long seq, payload, replay;          /* member indexes, -1 when absent */
	/* Routing fields, decoded; "" when absent, not a string or too long. */
	char restaurant[FYN_STREAM_MAX + 1];
	char event_type[FYN_EVENT_TYPE_MAX + 1];
	char created_at[FYN_EVENT_TIME_MAX + 1];
};

/* Scans text[0..len), which must be a JSON object. 0, or -1 when it is not
 * one (or on OOM); release it either way. text must outlive ev. */
int fyn_event_text_scan(struct fyn_event_text *ev, const char *text, size_t len);
void fyn_event_text_release(struct fyn_event_text *ev);

/* The event in a view: keys[0..count) removed at every depth of "payload",
 * "seq" first, and "replay": true when replay. malloc'd and NUL-terminated;
 * NULL on OOM or when a value is one jansson would refuse. */
char *fyn_event_view_text(const struct fyn_event_text *ev, const char *const *keys, size_t count,
		bool replay);

#endif
