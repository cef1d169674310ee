/*
 * views.c: building and sharing the immutable view set (see views.h).
 */
#include "views.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"

static void free_view(struct fyn_view *view)
{
	for (size_t i = 0; i < view->removed_count; i++) {
		free(view->removed_keys[i]);
	}
	free(view->removed_keys);
	free(view->name);
}

static void free_views(struct fyn_views *views)
{
	for (size_t i = 0; i < views->count; i++) {
		free_view(&views->items[i]);
	}
	free(views->items);
	fyn_acl_free(views->acl);
	free(views);
}

static int copy_view(const struct fyn_acl *acl, size_t index, struct fyn_view *out)
{
	size_t count = 0;
	const char *const *keys = fyn_acl_view_removed_keys(acl, index, &count);

	out->name = strdup(fyn_acl_view_name(acl, index));
	out->removed_keys = calloc(count ? count : 1, sizeof(char *));
	if (!out->name || !out->removed_keys) {
		return -1;
	}
	for (; out->removed_count < count; out->removed_count++) {
		out->removed_keys[out->removed_count] = strdup(keys[out->removed_count]);
		if (!out->removed_keys[out->removed_count]) {
			return -1;
		}
	}
	return 0;
}

struct fyn_views *fyn_views_from_acl(struct fyn_acl *acl)
{
	size_t count = fyn_acl_view_count(acl);
	struct fyn_views *views = calloc(1, sizeof(*views));

	if (!views) {
		return NULL;
	}
	atomic_init(&views->refs, 1);
	views->items = calloc(count ? count : 1, sizeof(*views->items));
	if (!views->items) {
		free(views);
		return NULL;
	}
	for (; views->count < count; views->count++) {
		if (copy_view(acl, views->count, &views->items[views->count]) != 0) {
			views->count++;
			free_views(views);
			return NULL;
		}
	}
	views->acl = acl;
	return views;
}

struct fyn_views *fyn_views_ref(struct fyn_views *views)
{
	atomic_fetch_add(&views->refs, 1);
	return views;
}

void fyn_views_unref(struct fyn_views *views)
{
	if (views && atomic_fetch_sub(&views->refs, 1) == 1) {
		free_views(views);
	}
}
