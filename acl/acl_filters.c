/*
 * acl_filters.c: the subscriptions an identity may make, listed from the
 * ACL file itself, so that a client is told what to subscribe to instead of
 * guessing from its role (plugin/session_info.c sends the list at connect).
 *
 * Every allow read rule of the identity's sections (its user section, then
 * its role's, in file order) becomes one filter per binding: %r once per
 * restaurant of the token, %u its sub, %c its client id. A filter is listed
 * when fyn_acl_check_subscription grants it, so an earlier deny that
 * overlaps the rule leaves it out, exactly as a SUBSCRIBE would be refused.
 * Pure; reads a loaded file only.
 */
#include "acl_internal.h"

#include <stdlib.h>
#include <string.h>

/* The text of one level with placeholders bound; NULL when unbound. */
static const char *level_text(const struct fyn_level *level, const struct fyn_acl_identity *who,
		const char *restaurant, size_t *len)
{
	const char *value = NULL;
	switch (level->kind) {
	case FYN_LEVEL_LITERAL:
		*len = level->len;
		return level->text;
	case FYN_LEVEL_ANY_ONE:
		*len = 1;
		return "+";
	case FYN_LEVEL_ANY_REST:
		*len = 1;
		return "#";
	case FYN_LEVEL_RESTAURANT: value = restaurant; break;
	case FYN_LEVEL_SUB: value = who->sub; break;
	case FYN_LEVEL_CLIENT: value = who->client_id; break;
	}
	if (value == NULL)
		return NULL;
	*len = strlen(value);
	return value;
}

/* The rule's pattern as a filter, with %r bound to restaurant (unused when
 * the rule has none). *out is malloc'd, or NULL when a placeholder has no
 * value. Returns 0, or -1 when out of memory. */
static int bind_pattern(const struct fyn_pattern *pattern, const struct fyn_acl_identity *who,
		const char *restaurant, char **out)
{
	size_t total = 1;
	*out = NULL;
	for (size_t i = 0; i < pattern->count; i++) {
		size_t len;
		if (level_text(&pattern->levels[i], who, restaurant, &len) == NULL)
			return 0;
		total += len + 1;
	}
	char *filter = malloc(total);
	if (filter == NULL)
		return -1;
	char *at = filter;
	for (size_t i = 0; i < pattern->count; i++) {
		size_t len;
		const char *text = level_text(&pattern->levels[i], who, restaurant, &len);
		if (i > 0)
			*at++ = '/';
		memcpy(at, text, len);
		at += len;
	}
	*at = '\0';
	*out = filter;
	return 0;
}

/* Emits the rule's filter for restaurant when the identity may subscribe
 * to it. Returns 0, or -1 when out of memory or emit failed. */
static int offer(const struct fyn_acl *acl, const struct fyn_acl_identity *who,
		const struct fyn_rule *rule, const char *restaurant, fyn_acl_filter_fn emit, void *ctx)
{
	char *filter;
	int rc = 0;
	if (bind_pattern(&rule->pattern, who, restaurant, &filter) != 0)
		return -1;
	if (filter != NULL && fyn_acl_check_subscription(acl, who, filter).allowed)
		rc = emit(filter, ctx);
	free(filter);
	return rc;
}

static int section_filters(const struct fyn_acl *acl, const struct fyn_section *section,
		const struct fyn_acl_identity *who, fyn_acl_filter_fn emit, void *ctx)
{
	for (size_t i = 0; section != NULL && i < section->rule_count; i++) {
		const struct fyn_rule *rule = &section->rules[i];
		if (!rule->allow || (rule->access & FYN_ACCESS_READ) == 0)
			continue;
		if (!rule->pattern.uses_restaurant) {
			if (offer(acl, who, rule, NULL, emit, ctx) != 0)
				return -1;
			continue;
		}
		for (size_t r = 0; who->restaurants != NULL && r < who->restaurant_count; r++) {
			if (offer(acl, who, rule, who->restaurants[r], emit, ctx) != 0)
				return -1;
		}
	}
	return 0;
}

int fyn_acl_read_filters(const struct fyn_acl *acl, const struct fyn_acl_identity *who,
		fyn_acl_filter_fn emit, void *ctx)
{
	if (acl == NULL || who == NULL || emit == NULL)
		return -1;
	int role = fyn_acl_role_index(who->role);
	if (section_filters(acl, fyn_acl_find_user(acl, who->sub), who, emit, ctx) != 0)
		return -1;
	return role >= 0 ? section_filters(acl, &acl->roles[role], who, emit, ctx) : 0;
}
