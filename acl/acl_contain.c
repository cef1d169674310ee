/*
 * acl_contain.c: topic-set reasoning between one rule pattern and one topic
 * filter, the core of every decision. A concrete topic is a filter that
 * matches only itself, so the same two questions answer publish checks too:
 *
 *   contains: does every topic the filter matches also match the pattern?
 *   overlaps: does at least one topic match both?
 *
 * MQTT semantics throughout: '+' is one level, '#' is zero or more trailing
 * levels (so "a/#" matches "a"), and a wildcard in the first level never
 * matches a topic starting with '$'. Walks strings in place: no allocation.
 */
#include "acl_internal.h"

#include <string.h>

/* One level after placeholders are replaced by their values. */
enum term_kind { TERM_TEXT, TERM_ANY_ONE, TERM_ANY_REST };

struct term {
	enum term_kind kind;
	const char *text;
	size_t len;
};

/* Splits the next level off *rest into term; *rest becomes NULL after the
 * last level. Returns false once nothing is left. */
static bool take_filter_term(const char **rest, struct term *term)
{
	if (*rest == NULL)
		return false;
	const char *slash = strchr(*rest, '/');
	term->text = *rest;
	term->len = slash != NULL ? (size_t)(slash - *rest) : strlen(*rest);
	*rest = slash != NULL ? slash + 1 : NULL;
	bool single = term->len == 1;
	if (single && term->text[0] == '+')
		term->kind = TERM_ANY_ONE;
	else if (single && term->text[0] == '#')
		term->kind = TERM_ANY_REST;
	else
		term->kind = TERM_TEXT;
	return true;
}

static const char *placeholder_value(enum fyn_level_kind kind, const struct fyn_binding *binding)
{
	switch (kind) {
	case FYN_LEVEL_RESTAURANT:
		return binding->restaurant;
	case FYN_LEVEL_SUB:
		return binding->sub;
	case FYN_LEVEL_CLIENT:
		return binding->client;
	default:
		return NULL;
	}
}

/* Callers have checked that every placeholder the pattern uses is bound. */
static struct term resolve_level(const struct fyn_level *level, const struct fyn_binding *binding)
{
	switch (level->kind) {
	case FYN_LEVEL_ANY_ONE:
		return (struct term){ .kind = TERM_ANY_ONE };
	case FYN_LEVEL_ANY_REST:
		return (struct term){ .kind = TERM_ANY_REST };
	case FYN_LEVEL_LITERAL:
		return (struct term){ .kind = TERM_TEXT, .text = level->text, .len = level->len };
	default: {
		const char *value = placeholder_value(level->kind, binding);
		return (struct term){ .kind = TERM_TEXT, .text = value, .len = strlen(value) };
	}
	}
}

static bool pattern_is_bound(const struct fyn_pattern *pattern, const struct fyn_binding *binding)
{
	return (!pattern->uses_restaurant || binding->restaurant != NULL)
		&& (!pattern->uses_sub || binding->sub != NULL)
		&& (!pattern->uses_client || binding->client != NULL);
}

static bool is_system_text(const struct term *term, size_t depth)
{
	return depth == 0 && term->kind == TERM_TEXT && term->len > 0 && term->text[0] == '$';
}

static bool same_text(const struct term *a, const struct term *b)
{
	return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

/* Does pattern level p match every value filter level f can take? */
static bool term_covers(const struct term *p, const struct term *f, size_t depth)
{
	if (p->kind == TERM_ANY_ONE)
		return f->kind == TERM_ANY_ONE || !is_system_text(f, depth);
	return f->kind == TERM_TEXT && same_text(p, f);
}

/* Can pattern level p and filter level f match the same value? */
static bool terms_meet(const struct term *p, const struct term *f, size_t depth)
{
	if (p->kind == TERM_TEXT && f->kind == TERM_TEXT)
		return same_text(p, f);
	return !is_system_text(p, depth) && !is_system_text(f, depth);
}

/* The first level of filter, for the '$' rule when a pattern starts with '#'. */
static struct term first_filter_term(const char *filter)
{
	struct term first = { 0 };
	const char *rest = filter;
	take_filter_term(&rest, &first);
	return first;
}

/* The two questions walk the same way and differ in three places: how one
 * pair of levels must relate, whether a '#' in the filter may meet a pattern
 * level, and what may follow once the pattern is used up. */
enum relation { CONTAINS, OVERLAPS };

static bool levels_relate(enum relation relation, const struct term *p,
		const struct term *f, size_t depth)
{
	if (f->kind == TERM_ANY_REST)
		return relation == OVERLAPS && !is_system_text(p, depth);
	return relation == CONTAINS ? term_covers(p, f, depth) : terms_meet(p, f, depth);
}

static bool pattern_relates(enum relation relation, const struct fyn_pattern *pattern,
		const struct fyn_binding *binding, const char *filter)
{
	if (!pattern_is_bound(pattern, binding))
		return false;
	const char *rest = filter;
	for (size_t depth = 0; depth < pattern->count; depth++) {
		struct term p = resolve_level(&pattern->levels[depth], binding);
		if (p.kind == TERM_ANY_REST) {
			struct term first = first_filter_term(filter);
			return depth > 0 || !is_system_text(&first, 0);
		}
		struct term f;
		if (!take_filter_term(&rest, &f))
			return false;
		bool relates = levels_relate(relation, &p, &f, depth);
		/* A filter's '#' is its last level, so it decides the answer. */
		if (f.kind == TERM_ANY_REST || !relates)
			return relates;
	}
	if (relation == CONTAINS)
		return rest == NULL;
	struct term after;
	return !take_filter_term(&rest, &after) || after.kind == TERM_ANY_REST;
}

bool fyn_pattern_contains(const struct fyn_pattern *pattern,
		const struct fyn_binding *binding, const char *filter)
{
	return pattern_relates(CONTAINS, pattern, binding, filter);
}

bool fyn_pattern_overlaps(const struct fyn_pattern *pattern,
		const struct fyn_binding *binding, const char *filter)
{
	return pattern_relates(OVERLAPS, pattern, binding, filter);
}

bool fyn_filter_is_valid(const char *filter)
{
	if (filter == NULL || *filter == '\0')
		return false;
	const char *rest = filter;
	struct term level;
	while (take_filter_term(&rest, &level)) {
		if (level.kind == TERM_ANY_REST && rest != NULL)
			return false;
		bool has_wildcard = memchr(level.text, '+', level.len) != NULL
			|| memchr(level.text, '#', level.len) != NULL;
		if (level.kind == TERM_TEXT && has_wildcard)
			return false;
	}
	return true;
}
