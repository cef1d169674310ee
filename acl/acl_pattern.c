/*
 * acl_pattern.c: turns the topic pattern of an allow/deny rule into levels
 * once, at load time, so that checks never split or allocate. Rejects what
 * MQTT rejects ('#' not last, wildcards inside a level) and placeholders the
 * file format does not know or that do not fill a whole level.
 */
#include "acl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t count_levels(const char *text)
{
	size_t count = 1;
	for (const char *c = text; *c != '\0'; c++)
		count += *c == '/';
	return count;
}

static bool level_is(const struct fyn_level *level, const char *word)
{
	return level->len == strlen(word) && memcmp(level->text, word, level->len) == 0;
}

static int classify_placeholder(struct fyn_level *level, const char *percent,
		char *problem, size_t problemlen)
{
	static const struct { char letter; enum fyn_level_kind kind; } known[] = {
		{ 'r', FYN_LEVEL_RESTAURANT }, { 'u', FYN_LEVEL_SUB }, { 'c', FYN_LEVEL_CLIENT },
	};
	bool has_letter = percent + 1 < level->text + level->len;
	char letter = '%';
	if (has_letter)
		letter = percent[1];
	for (size_t i = 0; has_letter && i < sizeof(known) / sizeof(known[0]); i++) {
		if (letter != known[i].letter)
			continue;
		if (level->len != 2) {
			snprintf(problem, problemlen,
				"placeholder '%%%c' must fill a whole topic level", letter);
			return -1;
		}
		level->kind = known[i].kind;
		return 0;
	}
	if (!has_letter)
		snprintf(problem, problemlen, "unknown placeholder '%%' (use %%r, %%u or %%c)");
	else
		snprintf(problem, problemlen, "unknown placeholder '%%%c' (use %%r, %%u or %%c)", letter);
	return -1;
}

/* Sets level->kind from its text. */
static int classify_level(struct fyn_level *level, bool is_last,
		char *problem, size_t problemlen)
{
	if (level_is(level, "#")) {
		if (!is_last) {
			snprintf(problem, problemlen, "'#' must be the last level of a pattern");
			return -1;
		}
		level->kind = FYN_LEVEL_ANY_REST;
		return 0;
	}
	if (level_is(level, "+")) {
		level->kind = FYN_LEVEL_ANY_ONE;
		return 0;
	}
	if (memchr(level->text, '+', level->len) != NULL || memchr(level->text, '#', level->len) != NULL) {
		snprintf(problem, problemlen, "wildcards '+' and '#' must fill a whole topic level");
		return -1;
	}
	const char *percent = memchr(level->text, '%', level->len);
	if (percent != NULL)
		return classify_placeholder(level, percent, problem, problemlen);
	level->kind = FYN_LEVEL_LITERAL;
	return 0;
}

static void note_level(struct fyn_pattern *pattern, enum fyn_level_kind kind, size_t depth)
{
	if (kind == FYN_LEVEL_LITERAL && depth < FYN_ACL_OUTLINE_DEPTH) {
		pattern->has_key = true;
		pattern->key_depth = depth;
	}
	pattern->uses_restaurant |= kind == FYN_LEVEL_RESTAURANT;
	pattern->uses_sub |= kind == FYN_LEVEL_SUB;
	pattern->uses_client |= kind == FYN_LEVEL_CLIENT;
}

int fyn_pattern_compile(struct fyn_pattern *out, const char *text,
		char *problem, size_t problemlen)
{
	*out = (struct fyn_pattern){ 0 };
	if (*text == '\0') {
		snprintf(problem, problemlen, "empty topic pattern");
		return -1;
	}
	size_t count = count_levels(text);
	struct fyn_level *levels = calloc(count, sizeof(*levels));
	if (levels == NULL) {
		snprintf(problem, problemlen, "out of memory");
		return -1;
	}
	const char *start = text;
	for (size_t i = 0; i < count; i++) {
		const char *slash = strchr(start, '/');
		levels[i].text = start;
		levels[i].len = slash != NULL ? (size_t)(slash - start) : strlen(start);
		if (classify_level(&levels[i], i + 1 == count, problem, problemlen) != 0) {
			free(levels);
			return -1;
		}
		note_level(out, levels[i].kind, i);
		start = slash != NULL ? slash + 1 : start;
	}
	out->levels = levels;
	out->count = count;
	return 0;
}
