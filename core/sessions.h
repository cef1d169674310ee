/*
 * sessions.h: who each client is, from its verified token.
 *
 * Connected sessions are keyed by the mosquitto client pointer (unique while
 * connected) and also by client id (the newest connection with that id), so
 * that a session takeover does not clear the presence of the connection that
 * took over. Each caches read decisions for delivered topics; the cache is
 * dropped when the ACL generation changes.
 *
 * A client that disconnects keeps its identity, as an offline session keyed
 * by client id, for what mosquitto still does in its name: publish its will
 * (at once, or after an MQTT 5 will delay) and queue messages for its
 * persistent session. An offline session belongs to one mosquitto client
 * pointer, and a new connection with the same id ends it: mosquitto then
 * hands the session (its queue, or nothing if the connection starts clean)
 * to the new connection and asks nothing more for the old client. Offline
 * sessions cache nothing, so their reads follow the current ACL file.
 *
 * Owned by the broker thread alone (the hub's struct fyn_hub holds the
 * table); work for other threads gets copies (fyn_session_identity_json).
 * Callers use these functions, never the hash handles.
 */
#ifndef FYNSYNC_SESSIONS_H
#define FYNSYNC_SESSIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <uthash.h>

#include "acl.h"
#include "token.h"

struct fyn_read_cache_entry {
	UT_hash_handle hh;
	bool allowed;
	char topic[];
};

/* Per stream: the last seq the hub saw routed to a persistent client, and
 * the same value one and two flushes ago (see durable.c). */
struct fyn_stream_cursor {
	char stream[65];
	long long routed;
	long long previous;
	long long saved;
};

struct fyn_session {
	UT_hash_handle by_client;
	UT_hash_handle by_id;
	const void *client;          /* struct mosquitto *, used as a key only */
	char *client_id;
	struct fyn_claims claims;
	struct fyn_acl_identity identity;   /* views into claims, for the ACL */
	bool persistent;             /* clean session off: the hub keeps a durable cursor */
	struct fyn_stream_cursor *cursors;
	size_t cursor_count;
	struct fyn_read_cache_entry *read_cache;
	unsigned read_cache_size;
	unsigned read_cache_generation;
};

/* Offline sessions kept at most; beyond it the oldest is forgotten. A
 * stock mosquitto session costs more than this entry does. */
#define FYN_SESSIONS_MAX_OFFLINE 100000

struct fyn_sessions {
	struct fyn_session *by_client;
	struct fyn_session *by_id;
	struct fyn_session *offline;   /* by client id (by_id handle), oldest first */
	struct fyn_session *closing;   /* not kept: by client id, until fyn_sessions_end_closing */
};

/* Creates or replaces the session of client; takes ownership of claims
 * (cleared on failure). Ends the offline session with client_id, if any.
 * NULL on OOM. */
struct fyn_session *fyn_sessions_put(struct fyn_sessions *s, const void *client,
		const char *client_id, struct fyn_claims *claims);
/* Swaps in a refreshed token's claims (ownership moves) and forgets cached reads. */
void fyn_session_replace_claims(struct fyn_session *session, struct fyn_claims *claims);
struct fyn_session *fyn_sessions_find(struct fyn_sessions *s, const void *client);
/* The newest connection using client_id, or NULL. */
struct fyn_session *fyn_sessions_find_by_id(struct fyn_sessions *s, const char *client_id);
/* Is session the newest connection using its client id? */
bool fyn_session_is_current(struct fyn_sessions *s, const struct fyn_session *session);
void fyn_sessions_remove(struct fyn_sessions *s, struct fyn_session *session);
/* Makes a connected session offline: kept (until a new connection with its
 * id ends it) when mosquitto may still act for it later, otherwise only
 * until fyn_sessions_end_closing. Forgets its cursors and cached reads.
 * Returns how many of the oldest offline sessions were forgotten to stay
 * within FYN_SESSIONS_MAX_OFFLINE (0 or 1). */
size_t fyn_sessions_park(struct fyn_sessions *s, struct fyn_session *session, bool keep);
/* The offline session of client, whose id is client_id; NULL if none. */
struct fyn_session *fyn_sessions_find_offline(struct fyn_sessions *s, const void *client,
		const char *client_id);
/* Forgets the offline sessions that were not kept. */
void fyn_sessions_end_closing(struct fyn_sessions *s);
void fyn_sessions_clear(struct fyn_sessions *s);
size_t fyn_sessions_count(const struct fyn_sessions *s);
/* Calls visit for every session; visit may remove the session it is given
 * (and only that one). */
void fyn_sessions_each(struct fyn_sessions *s, void (*visit)(struct fyn_session *session, void *arg), void *arg);

/* The identity as JSON {sub, role, client_id, restaurants}, for work on
 * another thread that must check the ACL for this client. NULL on OOM. */
json_t *fyn_session_identity_json(const struct fyn_session *session);

/* Cached read decision: returns -1 when unknown, else 0/1. */
int fyn_session_cached_read(struct fyn_session *session, const char *topic, unsigned generation);
void fyn_session_cache_read(struct fyn_session *session, const char *topic, bool allowed,
		unsigned generation);

#endif
