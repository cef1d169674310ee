/*
 * store.h: the hub's access to PostgreSQL through libpq.
 *
 * One fyn_store is one connection, used by one thread only (the writer
 * thread, or a reader thread). Nothing here knows about mosquitto. Errors are
 * classified so the caller can decide: a lost connection is retried after a
 * reconnect, a statement the database refused is retried element by element.
 */
#ifndef FYNSYNC_STORE_H
#define FYNSYNC_STORE_H

#include <stdbool.h>
#include <stddef.h>

enum fyn_store_status {
	FYN_STORE_OK = 0,
	FYN_STORE_DOWN,       /* no connection or it broke: reconnect and retry */
	FYN_STORE_REFUSED,    /* the statement failed; the connection is fine */
};

struct fyn_store;

/* Creates a store for conninfo; does not connect yet. NULL on OOM. */
struct fyn_store *fyn_store_new(const char *conninfo);
void fyn_store_free(struct fyn_store *store);

/* Connects when not connected and applies pending migrations (once per
 * connection, under an advisory lock so several brokers can start together).
 * On failure err holds what happened and what to check. */
enum fyn_store_status fyn_store_connect(struct fyn_store *store, char *err, size_t errlen);
bool fyn_store_is_connected(const struct fyn_store *store);

/* One row of fynsync_append's answer. Strings are owned by the row. */
struct fyn_append_row {
	int idx;               /* element index in the batch; -1 for hub-generated events */
	char *status;          /* accepted, rejected, generated */
	char *code;            /* rejection code or NULL */
	char *reason;          /* rejection reason or NULL */
	char *restaurant;      /* stream, or NULL */
	long long seq;         /* 0 when none */
	char *event;           /* stored event JSON to fan out, or NULL */
};

struct fyn_append_result {
	struct fyn_append_row *rows;
	size_t count;
};

/* Appends a batch (JSON array text, see docs/store.md) in one transaction.
 * On FYN_STORE_OK result holds one row per element plus generated events. On
 * FYN_STORE_REFUSED, sqlstate (6 chars + NUL) says why. */
enum fyn_store_status fyn_store_append(struct fyn_store *store, const char *batch_json,
		struct fyn_append_result *result, char sqlstate[6], char *err, size_t errlen);
void fyn_append_result_clear(struct fyn_append_result *result);

/* Applies every pending migration; used by the connection and the CLI. */
enum fyn_store_status fyn_store_migrate(struct fyn_store *store, char *err, size_t errlen);

/* Runs one SQL statement with text parameters and returns its first column
 * of its first row as a malloc'd string (NULL value -> *out NULL). */
enum fyn_store_status fyn_store_query_text(struct fyn_store *store, const char *sql,
		int nparams, const char *const *params, char **out, char *err, size_t errlen);


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

#endif
