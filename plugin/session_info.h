/*
 * session_info.h: what a client is told about itself, and the read scopes
 * that telling and the control verbs share.
 *
 * At connect, on a token refresh and after an ACL reload the hub publishes,
 * retained, on fynlo/v1/client/{cid}/session: the client's sub, role,
 * restaurants, view, the filters it may subscribe to, how much of each
 * stream it reads, and its token's expiry (docs/protocol.md, "Session
 * info"). Only that client id may read it (%c in the ACL); it is cleared
 * when the connection leaves. Broker thread only.
 */
#ifndef FYNSYNC_SESSION_INFO_H
#define FYNSYNC_SESSION_INFO_H

#include <stdbool.h>

#include "hub.h"

/* How much of a stream's events, in its view, a client may read. */
enum fyn_read_scope {
	FYN_SCOPE_NONE,
	FYN_SCOPE_WHOLE,   /* ev/{stream}/{view}/#: it can tell a gap in seq */
	FYN_SCOPE_SOME,    /* some topics only (a kitchen reads order/#), of a stream its token names */
};

/* The scope of stream for session in the view named view_name. */
enum fyn_read_scope fyn_read_scope(const struct fyn_hub *hub, const struct fyn_session *session,
		const char *stream, const char *view_name);
/* May session subscribe to ev/{stream}/{view_name}/{rest}? */
bool fyn_may_subscribe_events(const struct fyn_hub *hub, const struct fyn_session *session,
		const char *stream, const char *view_name, const char *rest);

void fyn_session_info_publish(const struct fyn_hub *hub, const struct fyn_session *session);
void fyn_session_info_clear(const struct fyn_session *session);
/* Publishes every connected client's info again (after a reload). */
void fyn_session_info_publish_all(struct fyn_hub *hub);

#endif
