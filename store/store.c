/*
 * store.c: one libpq connection and the calls the hub makes on it.
 *
 * Every call is a single round trip. The append is one statement, so it is
 * its own transaction: the batch commits or nothing does.
 */
#include "store_internal.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fyn_store {
	char *conninfo;
	char *node;     /* fynsync.node of every session, or NULL */
	PGconn *conn;
};

/* Defaults a deployment rarely wants to change; the conninfo overrides them
 * because it is expanded after them. statement_timeout and tcp_user_timeout
 * bound how long a hung server can hold the writer thread. */
static const char *const connect_keywords[] = {
	"connect_timeout", "application_name", "tcp_user_timeout", "keepalives_idle",
	"options", "dbname", NULL };

struct fyn_store *fyn_store_new(const char *conninfo)
{
	struct fyn_store *store = calloc(1, sizeof(*store));
	if (!store) {
		return NULL;
	}
	store->conninfo = strdup(conninfo);
	if (!store->conninfo) {
		free(store);
		return NULL;
	}
	return store;
}

static void disconnect(struct fyn_store *store)
{
	PQfinish(store->conn);
	store->conn = NULL;
}

void fyn_store_free(struct fyn_store *store)
{
	if (store) {
		disconnect(store);
		free(store->conninfo);
		free(store->node);
		free(store);
	}
}

bool fyn_store_is_connected(const struct fyn_store *store)
{
	return store->conn && PQstatus(store->conn) == CONNECTION_OK;
}

/* A connection the server has closed (a restart, a terminated backend)
 * reads CONNECTION_OK until libpq next reads from it, so the first statement
 * on it would fail. Reading what is pending now (libpq's socket never
 * blocks) notices the close: the server's last message, then the end of the
 * stream, hence up to two reads. An idle healthy connection has nothing to
 * read and stays. */
static bool still_open(struct fyn_store *store)
{
	for (int read = 0; read < 2 && fyn_store_is_connected(store); read++) {
		if (PQconsumeInput(store->conn) != 1) {
			return false;
		}
	}
	return fyn_store_is_connected(store);
}

/* libpq's message on one line (it adds DETAIL, CONTEXT and the statement on
 * lines of their own), for the broker log; never for a client. */
static void copy_error(const char *message, char *err, size_t errlen)
{
	size_t len;
	snprintf(err, errlen, "%s", message ? message : "unknown error");
	len = strlen(err);
	while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' ')) {
		err[--len] = '\0';
	}
	for (char *c = err; *c; c++) {
		if (*c == '\n' || *c == '\r' || *c == '\t') {
			*c = ' ';
		}
	}
}

int fyn_store_set_node(struct fyn_store *store, const char *node)
{
	char *copy = strdup(node);
	if (!copy) {
		return -1;
	}
	free(store->node);
	store->node = copy;
	return 0;
}

/* The session's fynsync.node, for the notifications of its commits. */
static enum fyn_store_status tag_session(struct fyn_store *store, char *err, size_t errlen)
{
	char *none = NULL;
	enum fyn_store_status status = FYN_STORE_OK;

	if (store->node) {
		const char *params[] = { store->node };
		status = fyn_store_query_text(store, "SELECT set_config('fynsync.node', $1, false)",
				1, params, &none, err, errlen);
		free(none);
	}
	return status;
}

enum fyn_store_status fyn_store_connect(struct fyn_store *store, char *err, size_t errlen)
{
	const char *values[] = { "3", "fynsync", "5000", "10",
		"-c statement_timeout=10000 -c client_min_messages=warning", store->conninfo, NULL };
	enum fyn_store_status status;

	if (still_open(store)) {
		return FYN_STORE_OK;
	}
	disconnect(store);
	store->conn = PQconnectdbParams(connect_keywords, values, 1);
	if (PQstatus(store->conn) != CONNECTION_OK) {
		copy_error(PQerrorMessage(store->conn), err, errlen);
		disconnect(store);
		return FYN_STORE_DOWN;
	}
	status = fyn_migrate_connection(store->conn, err, errlen);
	if (status == FYN_STORE_OK) {
		status = tag_session(store, err, errlen);
	}
	if (status != FYN_STORE_OK) {
		disconnect(store);
	}
	return status;
}

/* Turns a failed result into a status: DOWN when the connection is gone. */
static enum fyn_store_status classify_failure(struct fyn_store *store, PGresult *res,
		char sqlstate[6], char *err, size_t errlen)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	copy_error(res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
			: PQerrorMessage(store->conn), err, errlen);
	if (sqlstate) {
		snprintf(sqlstate, 6, "%s", state ? state : "");
	}
	if (PQstatus(store->conn) != CONNECTION_OK) {
		disconnect(store);
		return FYN_STORE_DOWN;
	}
	return FYN_STORE_REFUSED;
}

static char *copy_value(const PGresult *res, int row, int column)
{
	return PQgetisnull(res, row, column) ? NULL : strdup(PQgetvalue(res, row, column));
}

static bool copy_row(const PGresult *res, int row, struct fyn_append_row *out)
{
	out->idx = PQgetisnull(res, row, 0) ? -1 : (int)strtol(PQgetvalue(res, row, 0), NULL, 10);
	out->status = copy_value(res, row, 1);
	out->code = copy_value(res, row, 2);
	out->reason = copy_value(res, row, 3);
	out->seq = PQgetisnull(res, row, 4) ? 0 : strtoll(PQgetvalue(res, row, 4), NULL, 10);
	out->event = copy_value(res, row, 5);
	return out->status != NULL
		&& (PQgetisnull(res, row, 2) || out->code)
		&& (PQgetisnull(res, row, 3) || out->reason)
		&& (PQgetisnull(res, row, 5) || out->event);
}

static bool copy_rows(const PGresult *res, struct fyn_append_result *result)
{
	int count = PQntuples(res);
	result->rows = calloc(count > 0 ? (size_t)count : 1, sizeof(*result->rows));
	if (!result->rows) {
		return false;
	}
	for (int row = 0; row < count; row++) {
		result->count++;
		if (!copy_row(res, row, &result->rows[row])) {
			return false;
		}
	}
	return true;
}

enum fyn_store_status fyn_store_append(struct fyn_store *store, const char *batch_json,
		struct fyn_append_result *result, char sqlstate[6], char *err, size_t errlen)
{
	static const char sql[] = "SELECT idx, status, code, reason, seq, event::text "
		"FROM fynsync_append_json($1::jsonb)";
	const char *params[] = { batch_json };
	PGresult *res;
	enum fyn_store_status status = FYN_STORE_OK;

	memset(result, 0, sizeof(*result));
	if (!fyn_store_is_connected(store)) {
		copy_error("not connected", err, errlen);
		return FYN_STORE_DOWN;
	}
	res = PQexecParams(store->conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		status = classify_failure(store, res, sqlstate, err, errlen);
	} else if (!copy_rows(res, result)) {
		fyn_append_result_clear(result);
		copy_error("out of memory reading the store's answer", err, errlen);
		status = FYN_STORE_REFUSED;
	}
	PQclear(res);
	return status;
}

enum fyn_store_status fyn_store_query_text(struct fyn_store *store, const char *sql,
		int nparams, const char *const *params, char **out, char *err, size_t errlen)
{
	PGresult *res;
	enum fyn_store_status status = FYN_STORE_OK;

	*out = NULL;
	if (!fyn_store_is_connected(store)) {
		copy_error("not connected", err, errlen);
		return FYN_STORE_DOWN;
	}
	res = PQexecParams(store->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
		status = classify_failure(store, res, NULL, err, errlen);
	} else if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0)) {
		*out = strdup(PQgetvalue(res, 0, 0));
		if (!*out) {
			copy_error("out of memory", err, errlen);
			status = FYN_STORE_REFUSED;
		}
	}
	PQclear(res);
	return status;
}

/* The raw connection, for migrate.c. */
PGconn *fyn_store_connection(struct fyn_store *store)
{
	return store->conn;
}
