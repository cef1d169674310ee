/*
 * acl_internal.h: the in-memory form of a parsed ACL file, shared by the
 * files that build it (acl_parse.c, acl_model.c) and those that read it
 * (acl_match.c, acl_contain.c). Not part of the public API.
 *
 * Ownership: struct fyn_acl owns every section, rule, view and string below;
 * fyn_acl_free releases them all. Level text points into the owning rule's
 * text and is not NUL-terminated (use len).
 */
#ifndef FYNSYNC_ACL_INTERNAL_H
#define FYNSYNC_ACL_INTERNAL_H

#include "acl.h"

#include <stdarg.h>

#define FYN_ACL_MAX_LINE 1024
#define FYN_ACL_ROLE_COUNT FYN_ROLE_COUNT
/* Topics are outlined this deep for the quick rejection of rules (acl_match.c). */
#define FYN_ACL_OUTLINE_DEPTH 16

/* One level of a rule pattern as written. */
enum fyn_level_kind {
	FYN_LEVEL_LITERAL,
	FYN_LEVEL_ANY_ONE,     /* '+' */
	FYN_LEVEL_ANY_REST,    /* '#', always the last level */
	FYN_LEVEL_RESTAURANT,  /* %r: each restaurant of the identity in turn */
	FYN_LEVEL_SUB,         /* %u */
	FYN_LEVEL_CLIENT,      /* %c */
};

struct fyn_level {
	enum fyn_level_kind kind;
	const char *text;
	size_t len;
};

struct fyn_pattern {
	struct fyn_level *levels;
	size_t count;
	bool uses_restaurant;
	bool uses_sub;
	bool uses_client;
	/* The deepest literal level within the first FYN_ACL_OUTLINE_DEPTH
	 * levels: a topic without that exact level there cannot match. */
	bool has_key;
	size_t key_depth;
};

struct fyn_rule {
	bool allow;
	unsigned access;       /* FYN_ACCESS_READ | FYN_ACCESS_WRITE bits */
	int line;
	char *text;            /* "allow read a/b/#": the pattern's levels point in here */
	struct fyn_pattern pattern;
};

struct fyn_section {
	char *name;            /* role name or user sub */
	int line;              /* 0 while the section is not in the file */
	int view;              /* index into views, -1 when the section names none */
	struct fyn_rule *rules;
	size_t rule_count;
	size_t rule_capacity;
};

struct fyn_view {
	char *name;
	int line;
	char **removed;
	size_t removed_count;
};

struct fyn_acl {
	struct fyn_section roles[FYN_ACL_ROLE_COUNT];  /* indexed by fyn_acl_role_index */
	struct fyn_section *users;                     /* sorted by name once loaded */
	size_t user_count;
	size_t user_capacity;
	struct fyn_view *views;
	size_t view_count;
	size_t view_capacity;
	size_t rule_count;
};

/* acl_model.c: construction helpers. Each returns NULL/-1 only when out of memory. */
struct fyn_acl *fyn_acl_new(void);
int fyn_acl_role_index(const char *role);               /* 0..4, or -1 */
struct fyn_section *fyn_acl_add_user(struct fyn_acl *acl, const char *sub, int line);
struct fyn_section *fyn_acl_find_user(const struct fyn_acl *acl, const char *sub);
void fyn_acl_sort_users(struct fyn_acl *acl);
struct fyn_rule *fyn_section_add_rule(struct fyn_section *section);
struct fyn_view *fyn_acl_add_view(struct fyn_acl *acl, const char *name, int line);
int fyn_acl_find_view(const struct fyn_acl *acl, const char *name);  /* index or -1 */
int fyn_view_add_removed_key(struct fyn_view *view, const char *key);
void fyn_rule_clear(struct fyn_rule *rule);

/* acl_pattern.c: compiles a rule pattern (text stays owned by the caller and
 * must outlive out). Returns 0, or -1 with a problem (no file:line) in problem. */
int fyn_pattern_compile(struct fyn_pattern *out, const char *text,
		char *problem, size_t problemlen);

/* acl_contain.c: the values placeholders stand for, each NULL when unusable. */
struct fyn_binding {
	const char *restaurant;
	const char *sub;
	const char *client;
};

/* Does every topic filter could match also match pattern? */
bool fyn_pattern_contains(const struct fyn_pattern *pattern,
		const struct fyn_binding *binding, const char *filter);
/* Is there one topic that both pattern and filter match? */
bool fyn_pattern_overlaps(const struct fyn_pattern *pattern,
		const struct fyn_binding *binding, const char *filter);
/* Is filter a well-formed MQTT topic filter ('+' and '#' only as whole levels,
 * '#' only last)? */
bool fyn_filter_is_valid(const char *filter);

#endif
