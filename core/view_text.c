/*
 * view_text.c: copying a view's text out of a stored event's text (see
 * view_text.h).
 *
 * One recursive scanner validates and copies at once; a redacted member is
 * scanned with no output. Recursion is bounded by jansson's own parse depth
 * limit (a value nested deeper than 2,048 is refused, as jansson refuses
 * it), so hostile nesting cannot exhaust a thread's stack.
 */
#include "view_text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 2048   /* jansson's JSON_PARSER_MAX_DEPTH */

/* Where the copy goes; NULL when a value is only scanned (a removed key's). */
struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

struct scan {
	const char *p, *end;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (!o || o->failed) {
		return;
	}
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *grown = realloc(o->buf, cap);
		if (!grown) {
			o->failed = true;
			return;
		}
		o->buf = grown;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_char(struct out *o, char c)
{
	put(o, &c, 1);
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
		s->p++;
	}
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9') {
			v |= (unsigned)(c - '0');
		} else if (c >= 'a' && c <= 'f') {
			v |= (unsigned)(c - 'a' + 10);
		} else if (c >= 'A' && c <= 'F') {
			v |= (unsigned)(c - 'A' + 10);
		} else {
			return -1;
		}
	}
	*out = v;
	return 0;
}

/* Reads the escape at s->p (a backslash) as one code point, a surrogate
 * pair combined. -1 where jansson refuses: unknown escapes, unpaired
 * surrogates, \u0000. */
static int read_escape(struct scan *s, unsigned *cp)
{
	static const char simple[] = "\"\\/bfnrt";
	static const unsigned meaning[] = { '"', '\\', '/', '\b', '\f', '\n', '\r', '\t' };
	unsigned lo;

	if (s->end - s->p < 2) {
		return -1;
	}
	if (s->p[1] != 'u') {
		const char *which = s->p[1] ? strchr(simple, s->p[1]) : NULL;
		if (!which) {
			return -1;
		}
		*cp = meaning[which - simple];
		s->p += 2;
		return 0;
	}
	if (s->end - s->p < 6 || hex4(s->p + 2, cp) != 0 || (*cp >= 0xDC00 && *cp <= 0xDFFF) || *cp == 0) {
		return -1;
	}
	s->p += 6;
	if (*cp >= 0xD800 && *cp <= 0xDBFF) {
		if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || hex4(s->p + 2, &lo) != 0
				|| lo < 0xDC00 || lo > 0xDFFF) {
			return -1;
		}
		*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
		s->p += 6;
	}
	return 0;
}

static size_t utf8(unsigned cp, char *b)
{
	if (cp < 0x80) {
		b[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	b[0] = (char)(0xF0 | (cp >> 18));
	b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	b[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* A decoded code point as jansson's dump writes it. */
static void put_codepoint(struct out *o, unsigned cp)
{
	char b[8];

	switch (cp) {
	case '"': put(o, "\\\"", 2); return;
	case '\\': put(o, "\\\\", 2); return;
	case '\b': put(o, "\\b", 2); return;
	case '\f': put(o, "\\f", 2); return;
	case '\n': put(o, "\\n", 2); return;
	case '\r': put(o, "\\r", 2); return;
	case '\t': put(o, "\\t", 2); return;
	default: break;
	}
	if (cp < 0x20) {
		int n = snprintf(b, sizeof(b), "\\u%04X", cp);
		put(o, b, (size_t)n);
	} else {
		put(o, b, utf8(cp, b));
	}
}

/* The string at s->p (its opening quote), copied with its escapes
 * rewritten; unescaped runs are copied as they are. */
static int copy_string(struct scan *s, struct out *o)
{
	const char *run = ++s->p;

	put_char(o, '"');
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;
		unsigned cp;
		if (c == '"') {
			put(o, run, (size_t)(s->p - run));
			put_char(o, '"');
			s->p++;
			return 0;
		}
		if (c < 0x20) {
			return -1;
		}
		if (c != '\\') {
			s->p++;
			continue;
		}
		put(o, run, (size_t)(s->p - run));
		if (read_escape(s, &cp) != 0) {
			return -1;
		}
		put_codepoint(o, cp);
		run = s->p;
	}
	return -1;
}

/* Decodes the string token tok[0..len) (quotes included) into buf; false
 * when it does not fit in cap - 1 bytes. */
static bool decode_string(const char *tok, size_t len, char *buf, size_t cap)
{
	struct scan s = { tok + 1, tok + len - 1 };
	size_t used = 0;

	while (s.p < s.end) {
		char b[4];
		size_t n = 1;
		unsigned cp;
		if (*s.p == '\\') {
			if (read_escape(&s, &cp) != 0) {
				return false;
			}
			n = utf8(cp, b);
		} else {
			b[0] = *s.p++;
		}
		if (used + n >= cap) {
			return false;
		}
		memcpy(buf + used, b, n);
		used += n;
	}
	buf[used] = '\0';
	return true;
}

/* Whether the key token (quotes included, a string the scanner accepted)
 * decodes to want. */
static bool key_is(const char *key, size_t key_len, const char *want)
{
	const char *raw = key + 1;
	size_t raw_len = key_len - 2, want_len = strlen(want);
	char decoded[256];

	if (!memchr(raw, '\\', raw_len)) {
		return raw_len == want_len && memcmp(raw, want, want_len) == 0;
	}
	/* An escaped key decodes to fewer bytes than it has; one longer than
	 * the buffer is longer than any key compared here. */
	return want_len < sizeof(decoded) && decode_string(key, key_len, decoded, sizeof(decoded))
		&& strcmp(decoded, want) == 0;
}

static bool key_listed(const char *key, size_t key_len, const char *const *keys, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (key_is(key, key_len, keys[i])) {
			return true;
		}
	}
	return false;
}

static bool is_digit(const struct scan *s)
{
	return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static int skip_digits(struct scan *s)
{
	if (!is_digit(s)) {
		return -1;
	}
	while (is_digit(s)) {
		s->p++;
	}
	return 0;
}

/* A real as jansson 2.14 writes it: "%.17g", ".0" added when it would read
 * back as an integer, the exponent without '+' or leading zeros. */
static void put_real(struct out *o, double value)
{
	char b[40];
	int n = snprintf(b, sizeof(b), "%.17g", value);
	size_t len = n > 0 ? (size_t)n : 0;
	char *start;

	if (!strchr(b, '.') && !strchr(b, 'e')) {
		memcpy(b + len, ".0", 3);
		len += 2;
	}
	start = strchr(b, 'e');
	if (start) {
		char *end = start + 2;
		start++;
		if (*start == '-') {
			start++;
		}
		while (*end == '0') {
			end++;
		}
		if (end != start) {
			memmove(start, end, len - (size_t)(end - b) + 1);
			len -= (size_t)(end - start);
		}
	}
	put(o, b, len);
}

/* Parses the number token tok[0..len) as jansson does: strtoll for an
 * integer, strtod for a real; -1 where jansson refuses (out of range). */
static int read_number(const char *tok, size_t len, bool real, long long *integer, double *value)
{
	char small[64];
	char *copy = len < sizeof(small) ? small : malloc(len + 1);
	int rc = 0;

	if (!copy) {
		return -1;
	}
	memcpy(copy, tok, len);
	copy[len] = '\0';
	errno = 0;
	if (real) {
		*value = strtod(copy, NULL);
		rc = (*value == HUGE_VAL || *value == -HUGE_VAL) && errno == ERANGE ? -1 : 0;
	} else {
		*integer = strtoll(copy, NULL, 10);
		rc = errno == ERANGE ? -1 : 0;
	}
	if (copy != small) {
		free(copy);
	}
	return rc;
}

static int copy_number(struct scan *s, struct out *o)
{
	const char *tok = s->p;
	bool real = false;
	size_t len, digits;
	long long integer = 0;
	double value = 0;

	if (s->p < s->end && *s->p == '-') {
		s->p++;
	}
	if (s->p < s->end && *s->p == '0') {
		s->p++;
	} else if (skip_digits(s) != 0) {
		return -1;
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		real = true;
		if (skip_digits(s) != 0) {
			return -1;
		}
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		real = true;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
			s->p++;
		}
		if (skip_digits(s) != 0) {
			return -1;
		}
	}
	len = (size_t)(s->p - tok);
	digits = len - (tok[0] == '-');
	if (!real && digits < 19) {
		/* JSON has no leading zeros: the text is what jansson prints,
		 * but for -0, an integer 0. */
		if (len == 2 && tok[0] == '-' && tok[1] == '0') {
			put(o, "0", 1);
		} else {
			put(o, tok, len);
		}
		return 0;
	}
	if (read_number(tok, len, real, &integer, &value) != 0) {
		return -1;
	}
	if (real) {
		if (o) {
			put_real(o, value);
		}
	} else {
		put(o, tok, len);
	}
	return 0;
}

static int copy_literal(struct scan *s, struct out *o, const char *word, size_t len)
{
	if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len) != 0) {
		return -1;
	}
	s->p += len;
	put(o, word, len);
	return 0;
}

static int copy_value(struct scan *s, struct out *o, const char *const *keys, size_t count, int depth);

/* An object's members, those whose key is listed left out. */
static int copy_object(struct scan *s, struct out *o, const char *const *keys, size_t count, int depth)
{
	bool first = true;

	s->p++;
	put_char(o, '{');
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		put_char(o, '}');
		return 0;
	}
	for (;;) {
		size_t mark = o ? o->len : 0;
		const char *key;
		bool removed;

		skip_ws(s);
		if (s->p >= s->end || *s->p != '"') {
			return -1;
		}
		if (!first) {
			put_char(o, ',');
		}
		key = s->p;
		if (copy_string(s, o) != 0) {
			return -1;
		}
		removed = count > 0 && key_listed(key, (size_t)(s->p - key), keys, count);
		if (removed && o && !o->failed) {
			o->len = mark;
		}
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':') {
			return -1;
		}
		s->p++;
		put_char(removed ? NULL : o, ':');
		if (copy_value(s, removed ? NULL : o, keys, count, depth + 1) != 0) {
			return -1;
		}
		first = first && removed;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
		} else if (s->p < s->end && *s->p == '}') {
			s->p++;
			put_char(o, '}');
			return 0;
		} else {
			return -1;
		}
	}
}

static int copy_array(struct scan *s, struct out *o, const char *const *keys, size_t count, int depth)
{
	s->p++;
	put_char(o, '[');
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		put_char(o, ']');
		return 0;
	}
	for (;;) {
		if (copy_value(s, o, keys, count, depth + 1) != 0) {
			return -1;
		}
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			put_char(o, ',');
		} else if (s->p < s->end && *s->p == ']') {
			s->p++;
			put_char(o, ']');
			return 0;
		} else {
			return -1;
		}
	}
}

/* One value, depth counted as jansson counts it (every value, scalars too). */
static int copy_value(struct scan *s, struct out *o, const char *const *keys, size_t count, int depth)
{
	if (depth > MAX_DEPTH) {
		return -1;
	}
	skip_ws(s);
	if (s->p >= s->end) {
		return -1;
	}
	switch (*s->p) {
	case '{': return copy_object(s, o, keys, count, depth);
	case '[': return copy_array(s, o, keys, count, depth);
	case '"': return copy_string(s, o);
	case 't': return copy_literal(s, o, "true", 4);
	case 'f': return copy_literal(s, o, "false", 5);
	case 'n': return copy_literal(s, o, "null", 4);
	default: return copy_number(s, o);
	}
}

static struct fyn_event_member *add_member(struct fyn_event_text *ev)
{
	if (ev->count == ev->capacity) {
		bool inline_ones = ev->members == ev->inline_members;
		size_t capacity = 2 * ev->capacity;
		struct fyn_event_member *grown = inline_ones ? malloc(capacity * sizeof(*grown))
			: realloc(ev->members, capacity * sizeof(*grown));
		if (!grown) {
			return NULL;
		}
		if (inline_ones) {
			memcpy(grown, ev->inline_members, sizeof(ev->inline_members));
		}
		ev->members = grown;
		ev->capacity = capacity;
	}
	return &ev->members[ev->count++];
}

/* Notes what the fan-out needs of one top-level member. */
static void note_member(struct fyn_event_text *ev, const struct fyn_event_member *m, long index)
{
	static const struct {
		const char *key;
		size_t offset, size;
	} fields[] = {
		{ "restaurant", offsetof(struct fyn_event_text, restaurant), sizeof(((struct fyn_event_text *)0)->restaurant) },
		{ "event_type", offsetof(struct fyn_event_text, event_type), sizeof(((struct fyn_event_text *)0)->event_type) },
		{ "created_at", offsetof(struct fyn_event_text, created_at), sizeof(((struct fyn_event_text *)0)->created_at) },
	};

	if (key_is(m->key, m->key_len, "seq")) {
		ev->seq = index;
	} else if (key_is(m->key, m->key_len, "payload")) {
		ev->payload = index;
	} else if (key_is(m->key, m->key_len, "replay")) {
		ev->replay = index;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char *buf = (char *)ev + fields[i].offset;
		if (m->value[0] == '"' && key_is(m->key, m->key_len, fields[i].key)
				&& !decode_string(m->value, m->value_len, buf, fields[i].size)) {
			buf[0] = '\0';
		}
	}
}

int fyn_event_text_scan(struct fyn_event_text *ev, const char *text, size_t len)
{
	struct scan s = { text, text + len };

	memset(ev, 0, offsetof(struct fyn_event_text, inline_members));
	ev->text = text;
	ev->len = len;
	ev->members = ev->inline_members;
	ev->capacity = FYN_EVENT_INLINE_MEMBERS;
	ev->seq = ev->payload = ev->replay = -1;
	ev->restaurant[0] = ev->event_type[0] = ev->created_at[0] = '\0';
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{') {
		return -1;
	}
	s.p++;
	skip_ws(&s);
	if (s.p < s.end && *s.p == '}') {
		s.p++;
	} else {
		for (;;) {
			struct fyn_event_member *m = add_member(ev);
			skip_ws(&s);
			if (!m || s.p >= s.end || *s.p != '"') {
				return -1;
			}
			m->key = s.p;
			if (copy_string(&s, NULL) != 0) {
				return -1;
			}
			m->key_len = (size_t)(s.p - m->key);
			skip_ws(&s);
			if (s.p >= s.end || *s.p != ':') {
				return -1;
			}
			s.p++;
			skip_ws(&s);
			m->value = s.p;
			if (copy_value(&s, NULL, NULL, 0, 2) != 0) {
				return -1;
			}
			m->value_len = (size_t)(s.p - m->value);
			note_member(ev, m, (long)ev->count - 1);
			skip_ws(&s);
			if (s.p < s.end && *s.p == ',') {
				s.p++;
			} else if (s.p < s.end && *s.p == '}') {
				s.p++;
				break;
			} else {
				return -1;
			}
		}
	}
	skip_ws(&s);
	return s.p == s.end ? 0 : -1;
}

void fyn_event_text_release(struct fyn_event_text *ev)
{
	if (ev->members != ev->inline_members) {
		free(ev->members);
	}
	ev->members = ev->inline_members;
	ev->capacity = FYN_EVENT_INLINE_MEMBERS;
	ev->count = 0;
}

static int copy_member_value(const struct fyn_event_member *m, struct out *o, const char *const *keys,
		size_t count)
{
	struct scan s = { m->value, m->value + m->value_len };
	return copy_value(&s, o, keys, count, 2);
}

char *fyn_event_view_text(const struct fyn_event_text *ev, const char *const *keys, size_t count,
		bool replay)
{
	struct out o = { malloc(ev->len + 32), 0, ev->len + 32, false };
	bool first = true;
	int rc = 0;

	if (!o.buf) {
		return NULL;
	}
	put_char(&o, '{');
	if (ev->seq >= 0) {
		put(&o, "\"seq\":", 6);
		rc = copy_member_value(&ev->members[ev->seq], &o, NULL, 0);
		first = false;
	}
	for (size_t i = 0; rc == 0 && i < ev->count; i++) {
		const struct fyn_event_member *m = &ev->members[i];
		struct scan key = { m->key, m->key + m->key_len };
		if ((long)i == ev->seq) {
			continue;
		}
		if (!first) {
			put_char(&o, ',');
		}
		first = false;
		rc = copy_string(&key, &o);
		put_char(&o, ':');
		if (rc == 0 && replay && (long)i == ev->replay) {
			put(&o, "true", 4);
		} else if (rc == 0) {
			rc = (long)i == ev->payload ? copy_member_value(m, &o, keys, count)
				: copy_member_value(m, &o, NULL, 0);
		}
	}
	if (replay && ev->replay < 0) {
		put(&o, first ? "\"replay\":true" : ",\"replay\":true", first ? 13 : 14);
	}
	put_char(&o, '}');
	if (rc != 0 || o.failed) {
		free(o.buf);
		return NULL;
	}
	o.buf[o.len] = '\0';
	return o.buf;
}
