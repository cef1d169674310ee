/*
 * acl_match.c: the decisions. For one identity the rules are consulted in a
 * fixed order, the user section (if the file has one for the token's sub)
 * then the section of the token's role, each in file order; the first rule
 * that decides wins, and nothing deciding means deny.
 *
 * For a filter F (a subscription, or a concrete topic which is a filter
 * matching itself) a read rule decides when:
 *   - it is an allow whose pattern contains F (every topic of F matches it), or
 *   - it is a deny whose pattern overlaps F (some topic of F matches it).
 * So an allow only grants F if no earlier deny could refuse any topic of F.
 * A subscription that only a union of several allows would cover is refused:
 * sound, and simple to explain.
 *
 * Concrete topics are outlined once per check (their first levels located) so
 * that a rule whose key literal level differs is skipped without a walk.
 *
 * A rule with %r stands for one rule per restaurant of the identity. A value
 * that could change the shape of a topic ('+', '#', '/', empty, leading '$',
 * or a restaurant called "platform") never matches.
 */
#include "acl_internal.h"

#include <string.h>

static const struct fyn_acl_decision default_deny = { .allowed = false, .line = 0 };

static bool value_is_safe(const char *value)
{
	return value != NULL && value[0] != '\0' && value[0] != '$'
		&& strpbrk(value, "+#/") == NULL;
}

static const char *safe_or_null(const char *value)
{
	return value_is_safe(value) ? value : NULL;
}

static const char *safe_restaurant_or_null(const char *rid)
{
	return value_is_safe(rid) && strcmp(rid, "platform") != 0 ? rid : NULL;
}

/* Where the first levels of a concrete topic are; NULL for wildcard filters.
 * Rule keys lie within FYN_ACL_OUTLINE_DEPTH, so deeper levels never matter. */
struct outline {
	const char *text[FYN_ACL_OUTLINE_DEPTH];
	size_t len[FYN_ACL_OUTLINE_DEPTH];
	size_t count;
};

static void outline_topic(const char *topic, struct outline *out)
{
	const char *start = topic;
	out->count = 0;
	while (start != NULL && out->count < FYN_ACL_OUTLINE_DEPTH) {
		const char *slash = strchr(start, '/');
		out->text[out->count] = start;
		out->len[out->count] = slash != NULL ? (size_t)(slash - start) : strlen(start);
		out->count++;
		start = slash != NULL ? slash + 1 : NULL;
	}
}

/* True when the topic certainly does not match pattern: it has no level at
 * the pattern's key depth, or a different one. */
static bool outline_rules_out(const struct outline *topic, const struct fyn_pattern *pattern)
{
	if (topic == NULL || !pattern->has_key)
		return false;
	size_t depth = pattern->key_depth;
	if (depth >= topic->count)
		return true;
	const struct fyn_level *key = &pattern->levels[depth];
	return key->len != topic->len[depth] || memcmp(key->text, topic->text[depth], key->len) != 0;
}

static bool rule_decides_for(const struct fyn_rule *rule, const struct fyn_binding *binding,
		const char *filter)
{
	if (rule->allow)
		return fyn_pattern_contains(&rule->pattern, binding, filter);
	return fyn_pattern_overlaps(&rule->pattern, binding, filter);
}

/* A %r rule decides when it decides for any one of the identity's restaurants. */
static bool rule_decides(const struct fyn_rule *rule, const struct fyn_acl_identity *who,
		struct fyn_binding binding, const char *filter)
{
	if (!rule->pattern.uses_restaurant)
		return rule_decides_for(rule, &binding, filter);
	for (size_t i = 0; who->restaurants != NULL && i < who->restaurant_count; i++) {
		binding.restaurant = safe_restaurant_or_null(who->restaurants[i]);
		if (binding.restaurant != NULL && rule_decides_for(rule, &binding, filter))
			return true;
	}
	return false;
}

/* What is being decided: a filter, and its outline when it is a concrete topic. */
struct question {
	const char *filter;
	const struct outline *topic;
	unsigned access;
};

static const struct fyn_rule *first_deciding_rule(const struct fyn_section *section,
		const struct fyn_acl_identity *who, const struct fyn_binding *binding,
		const struct question *q)
{
	for (size_t i = 0; section != NULL && i < section->rule_count; i++) {
		const struct fyn_rule *rule = &section->rules[i];
		if ((rule->access & q->access) == 0 || outline_rules_out(q->topic, &rule->pattern))
			continue;
		if (rule_decides(rule, who, *binding, q->filter))
			return rule;
	}
	return NULL;
}

static const struct fyn_section *role_section(const struct fyn_acl *acl, const char *role)
{
	int index = fyn_acl_role_index(role);
	return index >= 0 ? &acl->roles[index] : NULL;
}

static struct fyn_acl_decision decide(const struct fyn_acl *acl,
		const struct fyn_acl_identity *who, const struct question *q)
{
	const struct fyn_binding binding = {
		.sub = safe_or_null(who->sub),
		.client = safe_or_null(who->client_id),
	};
	const struct fyn_section *order[] = {
		fyn_acl_find_user(acl, who->sub), role_section(acl, who->role),
	};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct fyn_rule *rule = first_deciding_rule(order[i], who, &binding, q);
		if (rule != NULL)
			return (struct fyn_acl_decision){ .allowed = rule->allow, .line = rule->line };
	}
	return default_deny;
}

struct fyn_acl_decision fyn_acl_check_topic(const struct fyn_acl *acl,
		const struct fyn_acl_identity *who, const char *topic, enum fyn_access access)
{
	if (acl == NULL || who == NULL || topic == NULL || *topic == '\0')
		return default_deny;
	if (strpbrk(topic, "+#") != NULL)
		return default_deny;
	struct outline outline;
	outline_topic(topic, &outline);
	const struct question q = { .filter = topic, .topic = &outline, .access = (unsigned)access };
	return decide(acl, who, &q);
}

/* "$share/group/filter" -> "filter"; NULL when the share prefix is malformed. */
static const char *strip_shared_prefix(const char *filter)
{
	static const char prefix[] = "$share/";
	if (strncmp(filter, prefix, sizeof(prefix) - 1) != 0)
		return filter;
	const char *group = filter + sizeof(prefix) - 1;
	const char *slash = strchr(group, '/');
	if (slash == NULL || slash == group)
		return NULL;
	for (const char *c = group; c < slash; c++) {
		if (*c == '+' || *c == '#')
			return NULL;
	}
	return slash + 1;
}

struct fyn_acl_decision fyn_acl_check_subscription(const struct fyn_acl *acl,
		const struct fyn_acl_identity *who, const char *filter)
{
	if (acl == NULL || who == NULL || filter == NULL)
		return default_deny;
	const char *inner = strip_shared_prefix(filter);
	if (!fyn_filter_is_valid(inner))
		return default_deny;
	const struct question q = { .filter = inner, .topic = NULL, .access = FYN_ACCESS_READ };
	return decide(acl, who, &q);
}

int fyn_acl_view_for(const struct fyn_acl *acl, const struct fyn_acl_identity *who)
{
	if (acl == NULL || who == NULL)
		return -1;
	const struct fyn_section *user = fyn_acl_find_user(acl, who->sub);
	if (user != NULL && user->view >= 0)
		return user->view;
	const struct fyn_section *role = role_section(acl, who->role);
	return role != NULL ? role->view : -1;
}
