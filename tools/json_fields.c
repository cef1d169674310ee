/*
 * json_fields.c: top-level fields of a JSON object's text by a scan (see
 * json_fields.h).
 */
#include "json_fields.h"

#include <limits.h>
#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Index of the closing quote of the string whose opening quote is at
 * s[open], or len when it does not end. */
static size_t string_end(const char *s, size_t len, size_t open)
{
	size_t i = open + 1;
	while (i < len && s[i] != '"') {
		i += s[i] == '\\' ? 2 : 1;
	}
	return i < len ? i : len;
}

/* Where the value follows the key whose closing quote is at s[close]: past
 * the colon and white space; NULL when no colon follows (the string was a
 * value, not a key). */
static const char *value_after_key(const char *s, size_t len, size_t close)
{
	size_t j = close + 1;
	while (j < len && is_space(s[j])) {
		j++;
	}
	if (j >= len || s[j] != ':') {
		return NULL;
	}
	for (j++; j < len && is_space(s[j]); j++) {
	}
	return j < len ? s + j : NULL;
}

/* Where key's value starts at the top level of the object s, or NULL. */
static const char *top_level_value(const char *s, size_t len, const char *key)
{
	size_t klen = strlen(key);
	int depth = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"') {
			size_t close = string_end(s, len, i);
			if (close >= len) {
				return NULL;
			}
			if (depth == 1 && close - i - 1 == klen && memcmp(s + i + 1, key, klen) == 0) {
				const char *v = value_after_key(s, len, close);
				if (v) {
					return v;
				}
			}
			i = close;
		} else if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if (s[i] == '}' || s[i] == ']') {
			depth--;
		}
	}
	return NULL;
}

bool json_string_field(const char *s, size_t len, const char *key, char *out, size_t size)
{
	const char *v = top_level_value(s, len, key), *end = s + len;
	size_t n = 0;
	if (!v || *v != '"' || size == 0) {
		return false;
	}
	for (v++; v < end && *v != '"' && *v != '\\'; v++) {
		if (n + 1 >= size) {
			return false;
		}
		out[n++] = *v;
	}
	if (v >= end || *v != '"') {
		return false;
	}
	out[n] = '\0';
	return true;
}

long long json_int_field(const char *s, size_t len, const char *key)
{
	const char *v = top_level_value(s, len, key), *end = s + len;
	long long n = 0;
	if (!v || *v < '0' || *v > '9') {
		return -1;
	}
	for (; v < end && *v >= '0' && *v <= '9'; v++) {
		if (n > (LLONG_MAX - 9) / 10) {
			return -1;
		}
		n = n * 10 + (*v - '0');
	}
	if (v < end && (*v == '.' || *v == 'e' || *v == 'E')) {
		return -1;   /* a real, not an integer */
	}
	return n;
}

bool json_true_field(const char *s, size_t len, const char *key)
{
	const char *v = top_level_value(s, len, key);
	return v && len - (size_t)(v - s) >= 4 && memcmp(v, "true", 4) == 0;
}
