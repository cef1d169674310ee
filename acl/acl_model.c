/*
 * acl_model.c: building, looking up and freeing the in-memory ACL, and the
 * read-only accessors of the public API. Every allocation is checked; the
 * struct fyn_acl owns everything it points to.
 */
#include "acl_internal.h"

#include <stdlib.h>
#include <string.h>

int fyn_acl_role_index(const char *role)
{
	enum fyn_role index;
	return fyn_role_parse(role, &index) == 0 ? (int)index : -1;
}

struct fyn_acl *fyn_acl_new(void)
{
	struct fyn_acl *acl = calloc(1, sizeof(*acl));
	if (acl == NULL)
		return NULL;
	for (int i = 0; i < FYN_ACL_ROLE_COUNT; i++)
		acl->roles[i].view = -1;
	return acl;
}

/* Makes room for one more element of size elem in *items. Returns 0 or -1. */
static int grow(void **items, size_t count, size_t *capacity, size_t elem)
{
	if (count < *capacity)
		return 0;
	size_t wanted = *capacity == 0 ? 8 : *capacity * 2;
	void *bigger = realloc(*items, wanted * elem);
	if (bigger == NULL)
		return -1;
	*items = bigger;
	*capacity = wanted;
	return 0;
}

struct fyn_section *fyn_acl_add_user(struct fyn_acl *acl, const char *sub, int line)
{
	if (grow((void **)&acl->users, acl->user_count, &acl->user_capacity,
			sizeof(*acl->users)) != 0)
		return NULL;
	char *name = strdup(sub);
	if (name == NULL)
		return NULL;
	struct fyn_section *section = &acl->users[acl->user_count++];
	*section = (struct fyn_section){ .name = name, .line = line, .view = -1 };
	return section;
}

static int compare_sections_by_name(const void *a, const void *b)
{
	const struct fyn_section *left = a;
	const struct fyn_section *right = b;
	return strcmp(left->name, right->name);
}

void fyn_acl_sort_users(struct fyn_acl *acl)
{
	if (acl->user_count > 1)
		qsort(acl->users, acl->user_count, sizeof(*acl->users), compare_sections_by_name);
}

/* Binary search: only valid once fyn_acl_sort_users has run. */
struct fyn_section *fyn_acl_find_user(const struct fyn_acl *acl, const char *sub)
{
	if (sub == NULL || acl->user_count == 0)
		return NULL;
	struct fyn_section key = { .name = (char *)sub };
	return bsearch(&key, acl->users, acl->user_count, sizeof(*acl->users),
			compare_sections_by_name);
}

struct fyn_rule *fyn_section_add_rule(struct fyn_section *section)
{
	if (grow((void **)&section->rules, section->rule_count, &section->rule_capacity,
			sizeof(*section->rules)) != 0)
		return NULL;
	struct fyn_rule *rule = &section->rules[section->rule_count++];
	*rule = (struct fyn_rule){ 0 };
	return rule;
}

struct fyn_view *fyn_acl_add_view(struct fyn_acl *acl, const char *name, int line)
{
	if (grow((void **)&acl->views, acl->view_count, &acl->view_capacity,
			sizeof(*acl->views)) != 0)
		return NULL;
	char *copy = strdup(name);
	if (copy == NULL)
		return NULL;
	struct fyn_view *view = &acl->views[acl->view_count++];
	*view = (struct fyn_view){ .name = copy, .line = line };
	return view;
}

int fyn_acl_find_view(const struct fyn_acl *acl, const char *name)
{
	for (size_t i = 0; i < acl->view_count; i++) {
		if (strcmp(acl->views[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

int fyn_view_add_removed_key(struct fyn_view *view, const char *key)
{
	char *copy = strdup(key);
	if (copy == NULL)
		return -1;
	char **bigger = realloc(view->removed, (view->removed_count + 1) * sizeof(*bigger));
	if (bigger == NULL) {
		free(copy);
		return -1;
	}
	view->removed = bigger;
	view->removed[view->removed_count++] = copy;
	return 0;
}

void fyn_rule_clear(struct fyn_rule *rule)
{
	free(rule->pattern.levels);
	free(rule->text);
	*rule = (struct fyn_rule){ 0 };
}

static void clear_section(struct fyn_section *section)
{
	for (size_t i = 0; i < section->rule_count; i++)
		fyn_rule_clear(&section->rules[i]);
	free(section->rules);
	free(section->name);
}

static void clear_view(struct fyn_view *view)
{
	for (size_t i = 0; i < view->removed_count; i++)
		free(view->removed[i]);
	free(view->removed);
	free(view->name);
}

void fyn_acl_free(struct fyn_acl *acl)
{
	if (acl == NULL)
		return;
	for (int i = 0; i < FYN_ACL_ROLE_COUNT; i++)
		clear_section(&acl->roles[i]);
	for (size_t i = 0; i < acl->user_count; i++)
		clear_section(&acl->users[i]);
	free(acl->users);
	for (size_t i = 0; i < acl->view_count; i++)
		clear_view(&acl->views[i]);
	free(acl->views);
	free(acl);
}

size_t fyn_acl_rule_count(const struct fyn_acl *acl)
{
	return acl == NULL ? 0 : acl->rule_count;
}

static const char *rule_text_in(const struct fyn_section *section, int line)
{
	for (size_t i = 0; i < section->rule_count; i++) {
		if (section->rules[i].line == line)
			return section->rules[i].text;
	}
	return NULL;
}

const char *fyn_acl_rule_text(const struct fyn_acl *acl, int line)
{
	if (acl == NULL || line <= 0)
		return NULL;
	const char *text = NULL;
	for (int i = 0; text == NULL && i < FYN_ACL_ROLE_COUNT; i++)
		text = rule_text_in(&acl->roles[i], line);
	for (size_t i = 0; text == NULL && i < acl->user_count; i++)
		text = rule_text_in(&acl->users[i], line);
	return text;
}

size_t fyn_acl_view_count(const struct fyn_acl *acl)
{
	return acl == NULL ? 0 : acl->view_count;
}

const char *fyn_acl_view_name(const struct fyn_acl *acl, size_t index)
{
	if (acl == NULL || index >= acl->view_count)
		return NULL;
	return acl->views[index].name;
}

const char *const *fyn_acl_view_removed_keys(const struct fyn_acl *acl, size_t index, size_t *count)
{
	if (acl == NULL || index >= acl->view_count) {
		if (count != NULL)
			*count = 0;
		return NULL;
	}
	if (count != NULL)
		*count = acl->views[index].removed_count;
	return (const char *const *)acl->views[index].removed;
}
