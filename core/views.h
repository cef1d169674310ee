/*
 * views.h: the set of views confirmed events are published in.
 *
 * Built from the ACL file on load and reload, and owning that parsed file,
 * so one reference is a consistent snapshot of the policy. Shared between
 * the broker thread and the writer and reader threads, so it is immutable
 * and reference counted: a reload swaps in a new set while work in flight
 * finishes with the old one.
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
	struct fyn_acl *acl;      /* owned: the rules the views came from */
	size_t count;
	struct fyn_view *items;
};

/* The views an ACL file defines; takes ownership of acl on success. NULL on
 * OOM (acl is then still the caller's). Starts with one reference. */
struct fyn_views *fyn_views_from_acl(struct fyn_acl *acl);
struct fyn_views *fyn_views_ref(struct fyn_views *views);
void fyn_views_unref(struct fyn_views *views);

#endif
