/*
 * views.h: the set of views confirmed events are published in.
 *
 * Built from the ACL file on load and reload. Shared between the broker
 * thread and the writer thread, so it is immutable and reference counted:
 * a reload swaps in a new set while batches in flight finish with the old.
 */
#ifndef FYNSYNC_VIEWS_H
#define FYNSYNC_VIEWS_H

#include <stdatomic.h>
#include <stddef.h>

struct fyn_acl;

struct fyn_view {
	char *name;
	char **removed_keys;
	size_t removed_count;
};

struct fyn_views {
	atomic_int refs;
	size_t count;
	struct fyn_view *items;
};

/* The views an ACL file defines. NULL on OOM. Starts with one reference. */
struct fyn_views *fyn_views_from_acl(const struct fyn_acl *acl);
struct fyn_views *fyn_views_ref(struct fyn_views *views);
void fyn_views_unref(struct fyn_views *views);

#endif
