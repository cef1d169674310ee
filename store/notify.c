/*
 * notify.c: the store's side of cross-node fan-out (workers/fanout.c):
 * listening on the fynsync_events channel (store/migrations/011), reading
 * the notifications that arrived, and every stream's head. Used by the
 * fan-out thread on its own connection; the writer only tags its sessions
 * (fyn_store_set_node in store.c).
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

enum fyn_store_status fyn_store_listen(struct fyn_store *store, int idle_timeout_s, char *err, size_t errlen)
{
	char sql[128], *none = NULL;
	enum fyn_store_status status;

	/* A node that hangs with this session open would hold back the
	 * server's notification queue for everyone; a healthy node never
	 * stays idle this long (it checks the heads every few seconds). */
	snprintf(sql, sizeof(sql), "SET idle_session_timeout = '%ds'", idle_timeout_s);
	status = fyn_store_query_text(store, sql, 0, NULL, &none, err, errlen);
	free(none);
	if (status == FYN_STORE_OK) {
		status = fyn_store_query_text(store, "LISTEN fynsync_events", 0, NULL, &none, err, errlen);
		free(none);
	}
	return status;
}

int fyn_store_socket(struct fyn_store *store)
{
	return fyn_store_is_connected(store) ? PQsocket(fyn_store_connection(store)) : -1;
}

enum fyn_store_status fyn_store_notifications(struct fyn_store *store,
		void (*each)(const char *payload, void *arg), void *arg, char *err, size_t errlen)
{
	PGconn *conn = fyn_store_connection(store);
	PGnotify *n;

	if (!fyn_store_is_connected(store) || PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", conn ? PQerrorMessage(conn) : "not connected");
		return FYN_STORE_DOWN;
	}
	while ((n = PQnotifies(conn)) != NULL) {
		each(n->extra, arg);
		PQfreemem(n);
	}
	return FYN_STORE_OK;
}

enum fyn_store_status fyn_store_heads(struct fyn_store *store, long long started_ms_ago,
		void (*each)(const char *stream, long long head, long long live_from, void *arg), void *arg,
		char *err, size_t errlen)
{
	char ago[32];
	const char *params[] = { started_ms_ago >= 0 ? ago : NULL };
	PGresult *res;

	if (!fyn_store_is_connected(store)) {
		snprintf(err, errlen, "not connected");
		return FYN_STORE_DOWN;
	}
	/* The start on the database's own clock, which also set recorded_at. */
	snprintf(ago, sizeof(ago), "%lld", started_ms_ago);
	res = PQexecParams(fyn_store_connection(store),
			"SELECT stream, head, live_from FROM fynsync_heads(clock_timestamp() - $1::bigint * interval '1 millisecond')",
			1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		return failed(store, res, err, errlen);
	}
	for (int i = 0; i < PQntuples(res); i++) {
		long long head = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		each(PQgetvalue(res, i, 0), head,
				PQgetisnull(res, i, 2) ? head : strtoll(PQgetvalue(res, i, 2), NULL, 10), arg);
	}
	PQclear(res);
	return FYN_STORE_OK;
}
