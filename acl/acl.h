/*
 * acl.h: the admin-edited access control file, parsed and matched.
 *
 * The lowest layer: pure C, no mosquitto, no libpq, no threads. A parsed file is immutable, so the plugin
 * can swap a new one in atomically on reload and keep the old one when the
 * new file is broken. Decisions carry the line that made them so that
 * `fynsync acl explain` can show an admin why.
 */
#ifndef FYNSYNC_ACL_H
#define FYNSYNC_ACL_H

#include <stdbool.h>
#include <stddef.h>

enum fyn_access { FYN_ACCESS_READ = 1, FYN_ACCESS_WRITE = 2 };

/* The contract's roles (roles.c holds their names, the only copy). */
enum fyn_role {
	FYN_ROLE_PLATFORM_OWNER,
	FYN_ROLE_RESTAURANT_OWNER,
	FYN_ROLE_MANAGER,
	FYN_ROLE_STAFF,
	FYN_ROLE_KITCHEN,
	FYN_ROLE_COUNT
};

const char *fyn_role_name(enum fyn_role role);            /* "unknown" for an invalid value */
int fyn_role_parse(const char *name, enum fyn_role *out);  /* 0, or -1 for an unknown role; out may be NULL */
/* "platform_owner, restaurant_owner, ..." for messages, into out. */
void fyn_role_list(char *out, size_t outlen);

/* Who is asking: taken from the verified token and the connection. */
struct fyn_acl_identity {
	const char *sub;
	const char *role;        /* platform_owner, restaurant_owner, manager, staff, kitchen */
	const char *client_id;
	const char *const *restaurants;
	size_t restaurant_count;
};

struct fyn_acl;   /* opaque, immutable once loaded */

struct fyn_acl_decision {
	bool allowed;
	int line;          /* line of the deciding rule; 0 when nothing matched (default deny) */
};

/* Parses path. On failure returns NULL and writes "path:line: problem" to err. */
struct fyn_acl *fyn_acl_load_file(const char *path, char *err, size_t errlen);
/* Same, from a string (for tests); name is used in error messages. */
struct fyn_acl *fyn_acl_load_string(const char *text, const char *name, char *err, size_t errlen);
void fyn_acl_free(struct fyn_acl *acl);

/* May identity read or write this concrete topic (no wildcards)? */
struct fyn_acl_decision fyn_acl_check_topic(const struct fyn_acl *acl,
		const struct fyn_acl_identity *who, const char *topic, enum fyn_access access);

/* May identity subscribe to filter? Granted only when every topic the filter
 * could match is readable. Handles '+' and '#'. */
struct fyn_acl_decision fyn_acl_check_subscription(const struct fyn_acl *acl,
		const struct fyn_acl_identity *who, const char *filter);

/* The filters identity may subscribe to, for telling a client what to
 * subscribe to: each allow read rule of its sections in order with %r, %u
 * and %c bound (one filter per restaurant for %r), kept when
 * fyn_acl_check_subscription grants it. emit gets each filter (valid during
 * the call) and returns 0 to go on. A rule whose placeholder has no value
 * is left out. Returns 0, or -1 when emit failed or out of memory. */
typedef int (*fyn_acl_filter_fn)(const char *filter, void *ctx);
int fyn_acl_read_filters(const struct fyn_acl *acl, const struct fyn_acl_identity *who,
		fyn_acl_filter_fn emit, void *ctx);

/* Views: named lists of payload keys removed at any depth. */
size_t fyn_acl_view_count(const struct fyn_acl *acl);
const char *fyn_acl_view_name(const struct fyn_acl *acl, size_t index);
/* Keys removed by view index; *count receives their number. */
const char *const *fyn_acl_view_removed_keys(const struct fyn_acl *acl, size_t index, size_t *count);
/* Index of the view this identity receives, or -1 if the file gives it none. */
int fyn_acl_view_for(const struct fyn_acl *acl, const struct fyn_acl_identity *who);

/* For `fynsync-acl check` and `explain`. */
/* Number of allow/deny rules in the file, all sections together. */
size_t fyn_acl_rule_count(const struct fyn_acl *acl);
/* The rule on line as "allow read PATTERN" (single spaces), or NULL when no
 * rule is on that line. Owned by acl. */
const char *fyn_acl_rule_text(const struct fyn_acl *acl, int line);

#endif
