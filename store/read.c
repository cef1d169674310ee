/*
 * read.c: the store's read path: stream heads, replay pages and snapshots.
 * Used by the reader thread, on its own connection, so a long replay never
 * delays a commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static enum fyn_store_status failed(struct fyn_store *store, PGresult *res, char *err, size_t errlen)
{
	PGconn *conn = fyn_store_connection(store);
	snprintf(err, errlen, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
	PQclear(res);
	return PQstatus(conn) == CONNECTION_OK ? FYN_STORE_REFUSED : FYN_STORE_DOWN;
}

enum fyn_store_status fyn_store_head(struct fyn_store *store, const char *stream,
		long long *head, char *err, size_t errlen)
{
	char *text = NULL;
	const char *params[] = { stream };
	enum fyn_store_status status = fyn_store_query_text(store,
			"SELECT coalesce((SELECT head FROM restaurants WHERE id = $1), 0)", 1, params,
			&text, err, errlen);
	*head = text ? strtoll(text, NULL, 10) : 0;
	free(text);
	return status;
}

/* How long a page read waits for the synchronous standby (migration 013)
 * before it counts as the store being down: about a standby's detection
 * time in pg_auto_failover, after which the primary stops waiting for it. */
#define REPLICATED_WAIT_MS 2000

/* Holds back page (cleared on failure) until the synchronous standby has
 * every commit it holds, so that no client is given an event a failover
 * could lose (migration 013 says why). */
static enum fyn_store_status wait_replicated(struct fyn_store *store, struct fyn_replay_page *page,
		char *err, size_t errlen)
{
	char timeout_text[16];
	const char *params[] = { timeout_text };
	PGresult *res;
	bool replicated;

	snprintf(timeout_text, sizeof(timeout_text), "%d", REPLICATED_WAIT_MS);
	res = PQexecParams(fyn_store_connection(store), "SELECT fynsync_wait_replicated($1::int)",
			1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fyn_replay_page_clear(page);
		return failed(store, res, err, errlen);
	}
	replicated = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!replicated) {
		fyn_replay_page_clear(page);
		snprintf(err, errlen, "the synchronous standby did not confirm the events read within %d ms",
				REPLICATED_WAIT_MS);
		return FYN_STORE_DOWN;
	}
	return FYN_STORE_OK;
}

enum fyn_store_status fyn_store_events_after(struct fyn_store *store, const char *stream,
		long long after_seq, int max_rows, struct fyn_replay_page *page, char *err, size_t errlen)
{
	char after_text[32], max_text[16];
	const char *params[] = { stream, after_text, max_text };
	PGresult *res;
	int count;

	memset(page, 0, sizeof(*page));
	snprintf(after_text, sizeof(after_text), "%lld", after_seq);
	snprintf(max_text, sizeof(max_text), "%d", max_rows);
	if (!fyn_store_is_connected(store)) {
		snprintf(err, errlen, "not connected");
		return FYN_STORE_DOWN;
	}
	res = PQexecParams(fyn_store_connection(store),
			"SELECT seq, event::text FROM fynsync_replay_page($1, $2::bigint, $3::int)",
			3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		return failed(store, res, err, errlen);
	}
	count = PQntuples(res);
	page->rows = calloc(count > 0 ? (size_t)count : 1, sizeof(*page->rows));
	for (int i = 0; page->rows && i < count; i++) {
		page->rows[i].seq = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		page->rows[i].event = strdup(PQgetvalue(res, i, 1));
		page->count++;
		if (!page->rows[i].event) {
			break;
		}
	}
	PQclear(res);
	if (!page->rows || page->count != (size_t)count || (count > 0 && !page->rows[count - 1].event)) {
		fyn_replay_page_clear(page);
		snprintf(err, errlen, "out of memory reading a replay page");
		return FYN_STORE_REFUSED;
	}
	return count > 0 ? wait_replicated(store, page, err, errlen) : FYN_STORE_OK;
}

void fyn_replay_page_clear(struct fyn_replay_page *page)
{
	for (size_t i = 0; page->rows && i < page->count; i++) {
		free(page->rows[i].event);
	}
	free(page->rows);
	memset(page, 0, sizeof(*page));
}

enum fyn_store_status fyn_store_snapshot(struct fyn_store *store, const char *stream,
		char **json, char *err, size_t errlen)
{
	const char *params[] = { stream };
	char ignored[64];
	enum fyn_store_status status;

	*json = NULL;
	status = fyn_store_query_text(store, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
			0, NULL, json, err, errlen);
	if (status != FYN_STORE_OK) {
		return status;
	}
	status = fyn_store_query_text(store, "SELECT fynsync_snapshot($1)::text", 1, params, json, err, errlen);
	if (status == FYN_STORE_OK) {
		char *none = NULL;
		status = fyn_store_query_text(store, "COMMIT", 0, NULL, &none, err, errlen);
		free(none);
	} else if (fyn_store_is_connected(store)) {
		char *none = NULL;
		fyn_store_query_text(store, "ROLLBACK", 0, NULL, &none, ignored, sizeof(ignored));
		free(none);
	}
	return status;
}
