/*
 * json_fields.c: top-level fields of a JSON object through jsmn's tokens
 * (see json_fields.h).
 */
#include "json_fields.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* jsmn is header only; static, so each tool's copy is its own. Strict:
 * only JSON's own token syntax is accepted. */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#define FIRST_TOKENS 256        /* an event's tokens, as the hub sends them */
#define MAX_TOKENS (1u << 20)   /* beyond this a text is refused, not grown for */

struct json_fields {
	const char *text;
	jsmntok_t *tokens;
	unsigned cap;
	int count;                  /* tokens of the text last read; 0 after a refusal */
};

struct json_fields *json_fields_new(void)
{
	struct json_fields *f = calloc(1, sizeof(*f));
	if (f && (f->tokens = malloc(FIRST_TOKENS * sizeof(*f->tokens))) == NULL) {
		free(f);
		return NULL;
	}
	if (f) {
		f->cap = FIRST_TOKENS;
	}
	return f;
}

void json_fields_free(struct json_fields *f)
{
	if (f) {
		free(f->tokens);
		free(f);
	}
}

/* jsmn's token count for s, the token array grown while jsmn needs more;
 * negative when s is not JSON or too large. */
static int tokenize(struct json_fields *f, const char *s, size_t len)
{
	for (;;) {
		jsmn_parser parser;
		int count;
		jsmntok_t *grown;
		jsmn_init(&parser);
		count = jsmn_parse(&parser, s, len, f->tokens, f->cap);
		if (count != JSMN_ERROR_NOMEM || f->cap >= MAX_TOKENS) {
			return count;
		}
		if ((grown = realloc(f->tokens, sizeof(*grown) * f->cap * 2)) == NULL) {
			return JSMN_ERROR_NOMEM;
		}
		f->tokens = grown;
		f->cap *= 2;
	}
}

/* The index of the token after token i and everything inside it: tokens
 * come in text order, and whatever is inside i starts before i ends. */
static int next_sibling(const struct json_fields *f, int i)
{
	int j = i + 1;
	while (j < f->count && f->tokens[j].start < f->tokens[i].end) {
		j++;
	}
	return j;
}

bool json_fields_read(struct json_fields *f, const char *s, size_t len)
{
	int count = tokenize(f, s, len);
	f->text = s;
	f->count = count > 0 ? count : 0;
	if (f->count == 0 || f->tokens[0].type != JSMN_OBJECT || next_sibling(f, 0) != f->count) {
		f->count = 0;   /* not one object: every field absent */
		return false;
	}
	return true;
}

static bool token_is(const struct json_fields *f, const jsmntok_t *t, const char *literal)
{
	size_t len = strlen(literal);
	return (size_t)(t->end - t->start) == len && memcmp(f->text + t->start, literal, len) == 0;
}

/* The value token of the object's member key, or NULL. */
static const jsmntok_t *value_of(const struct json_fields *f, const char *key)
{
	for (int i = 1; i + 1 < f->count; i = next_sibling(f, i + 1)) {
		if (f->tokens[i].type == JSMN_STRING && token_is(f, &f->tokens[i], key)) {
			return &f->tokens[i + 1];
		}
	}
	return NULL;
}

bool json_fields_string(const struct json_fields *f, const char *key, char *out, size_t size)
{
	const jsmntok_t *t = value_of(f, key);
	size_t len;
	if (!t || t->type != JSMN_STRING) {
		return false;
	}
	len = (size_t)(t->end - t->start);
	if (len >= size || memchr(f->text + t->start, '\\', len)) {
		return false;
	}
	memcpy(out, f->text + t->start, len);
	out[len] = '\0';
	return true;
}

bool json_fields_int(const struct json_fields *f, const char *key, long long *out)
{
	const jsmntok_t *t = value_of(f, key);
	char digits[24], *end;
	const char *number = digits;
	size_t len;
	if (!t || t->type != JSMN_PRIMITIVE || (len = (size_t)(t->end - t->start)) >= sizeof(digits)) {
		return false;
	}
	memcpy(digits, f->text + t->start, len);
	digits[len] = '\0';
	number += digits[0] == '-';
	len = strlen(number);
	if (len == 0 || strspn(number, "0123456789") != len || (number[0] == '0' && len > 1)) {
		return false;
	}
	errno = 0;
	*out = strtoll(digits, &end, 10);
	return errno == 0 && *end == '\0';
}

bool json_fields_true(const struct json_fields *f, const char *key)
{
	const jsmntok_t *t = value_of(f, key);
	return t && t->type == JSMN_PRIMITIVE && token_is(f, t, "true");
}
