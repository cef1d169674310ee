/*
 * store.h: the hub's access to PostgreSQL through libpq.
 *
 * The store layer: every SQL statement the hub sends lives in store/ (the
 * migrations and these files). One fyn_store is one connection, used by one
 * thread only (the writer thread, or a reader thread). Nothing here knows
 * about mosquitto. Errors are
 * classified so the caller can decide: a lost connection is retried after a
 * reconnect, a statement the database refused is retried element by element.
 */
#ifndef FYNSYNC_STORE_H
#define FYNSYNC_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "batch.h"

enum fyn_store_status {
	FYN_STORE_OK = 0,
	FYN_STORE_DOWN,       /* no connection or it broke: reconnect and retry */
	FYN_STORE_REFUSED,    /* the statement failed; the connection is fine */
};

struct fyn_store;

/* Creates a store for conninfo; does not connect yet. NULL on OOM. */
struct fyn_store *fyn_store_new(const char *conninfo);
void fyn_store_free(struct fyn_store *store);

/* Connects when not connected, or when the server closed the connection
 * since the last call, and applies pending migrations (once per
 * connection, under an advisory lock so several brokers can start together).
 * On failure err holds what happened and what to check. */
enum fyn_store_status fyn_store_connect(struct fyn_store *store, char *err, size_t errlen);
bool fyn_store_is_connected(const struct fyn_store *store);

/* Tags every session of store, from its next connect on, with the hub node
 * node (the fynsync.node setting), so the notifications its commits send
 * name it (store/migrations/011). node is copied; -1 on OOM. */
int fyn_store_set_node(struct fyn_store *store, const char *node);

/* Appends a batch (JSON array text, see docs/store.md) in one transaction.
 * On FYN_STORE_OK result holds one row per element plus generated events. On
 * FYN_STORE_REFUSED, sqlstate (6 chars + NUL) says why. */
enum fyn_store_status fyn_store_append(struct fyn_store *store, const char *batch_json,
		struct fyn_append_result *result, char sqlstate[6], char *err, size_t errlen);

/* ---- the read path (store/read.c) ---- */

/* The last seq of stream (0 when it has none). */
enum fyn_store_status fyn_store_head(struct fyn_store *store, const char *stream,
		long long *head, char *err, size_t errlen);

/* One stored event of a replay page. */
struct fyn_replay_row {
	long long seq;
	char *event;   /* JSON text, owned */
};

struct fyn_replay_page {
	struct fyn_replay_row *rows;
	size_t count;
};

/* Events of stream with seq > after_seq, in seq order, at most max_rows. */
enum fyn_store_status fyn_store_events_after(struct fyn_store *store, const char *stream,
		long long after_seq, int max_rows, struct fyn_replay_page *page, char *err, size_t errlen);
void fyn_replay_page_clear(struct fyn_replay_page *page);

/* The projections of stream as JSON text (malloc'd), read in one
 * REPEATABLE READ transaction so they agree with each other and the head. */
enum fyn_store_status fyn_store_snapshot(struct fyn_store *store, const char *stream,
		char **json, char *err, size_t errlen);

/* ---- persistent clients (store/client_state.c) ---- */

/* {"filters": [...], "cursors": {stream: seq}} of client_id, as JSON text
 * (malloc'd). */
enum fyn_store_status fyn_store_client_state(struct fyn_store *store, const char *client_id,
		char **json, char *err, size_t errlen);
/* Applies a JSON array of durable state operations (see durable.h) in one
 * statement. */
enum fyn_store_status fyn_store_save_client_state(struct fyn_store *store, const char *ops_json,
		char *err, size_t errlen);

/* ---- cross-node fan-out (store/notify.c) ---- */

/* LISTENs on fynsync_events; the session ends itself after idle_timeout_s
 * seconds without a statement (a hung node must not hold back the server's
 * notification queue). Again after every reconnect. */
enum fyn_store_status fyn_store_listen(struct fyn_store *store, int idle_timeout_s, char *err, size_t errlen);
/* The connection's socket, to poll for notifications; -1 when not connected. */
int fyn_store_socket(struct fyn_store *store);
/* Reads what arrived on the socket and calls each with the payload of every
 * notification received so far. FYN_STORE_DOWN when the connection broke. */
enum fyn_store_status fyn_store_notifications(struct fyn_store *store,
		void (*each)(const char *payload, void *arg), void *arg, char *err, size_t errlen);
/* Calls each with every stream, its head (its last seq) and, when
 * started_ms_ago >= 0, live_from: the last seq recorded before that many
 * milliseconds ago on the database's clock (else live_from is the head). */
enum fyn_store_status fyn_store_heads(struct fyn_store *store, long long started_ms_ago,
		void (*each)(const char *stream, long long head, long long live_from, void *arg), void *arg,
		char *err, size_t errlen);

/* ---- hub nodes (store/nodes.c) ---- */

/* Saves node's report (JSON texts: its metrics and alerts documents, its
 * presence as {topic: payload}) and returns in others_json (malloc'd) every
 * other node's last report: [{"node", "metrics", "alerts", "presence",
 * "live"}], live when reported within live_s seconds. */
enum fyn_store_status fyn_store_node_report(struct fyn_store *store, const char *node, const char *metrics_json,
		const char *alerts_json, const char *presence_json, int live_s, char **others_json,
		char *err, size_t errlen);

#endif
