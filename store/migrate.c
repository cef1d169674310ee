/*
 * migrate.c: applies the embedded, numbered migrations exactly once.
 *
 * All pending migrations run in one transaction under an advisory lock, so
 * two brokers starting together neither race nor half-apply; re-running is a
 * no-op because applied versions are recorded in schema_migrations.
 */
#include "migrations.h"
#include "store_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Arbitrary but fixed: the advisory lock key that serialises migrations. */
#define MIGRATION_LOCK_KEY "7263554102"

static bool exec_ok(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
	}
	PQclear(res);
	return ok;
}

static bool is_applied(PGconn *conn, int version, bool *applied, char *err, size_t errlen)
{
	char text[16];
	const char *params[] = { text };
	PGresult *res;

	snprintf(text, sizeof(text), "%d", version);
	res = PQexecParams(conn, "SELECT 1 FROM schema_migrations WHERE version = $1::int",
			1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		PQclear(res);
		return false;
	}
	*applied = PQntuples(res) > 0;
	PQclear(res);
	return true;
}

static bool record_applied(PGconn *conn, const struct fyn_migration *m, char *err, size_t errlen)
{
	char text[16];
	const char *params[] = { text, m->name };
	PGresult *res;
	bool ok;

	snprintf(text, sizeof(text), "%d", m->version);
	res = PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)",
			2, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
	}
	PQclear(res);
	return ok;
}

static bool apply_pending(PGconn *conn, char *err, size_t errlen)
{
	for (size_t i = 0; i < fyn_migration_count; i++) {
		const struct fyn_migration *m = &fyn_migrations[i];
		char message[512];
		bool applied = false;
		if (!is_applied(conn, m->version, &applied, err, errlen)) {
			return false;
		}
		if (applied) {
			continue;
		}
		if (!exec_ok(conn, m->sql, message, sizeof(message))) {
			snprintf(err, errlen, "migration %s failed: %s", m->name, message);
			return false;
		}
		if (!record_applied(conn, m, err, errlen)) {
			return false;
		}
	}
	return true;
}

enum fyn_store_status fyn_migrate_connection(PGconn *conn, char *err, size_t errlen)
{
	bool ok = exec_ok(conn, "BEGIN", err, errlen)
		&& exec_ok(conn, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK_KEY ")", err, errlen)
		&& exec_ok(conn, "CREATE TABLE IF NOT EXISTS schema_migrations ("
				"version int PRIMARY KEY, name text NOT NULL, "
				"applied_at timestamptz NOT NULL DEFAULT now())", err, errlen)
		&& apply_pending(conn, err, errlen)
		&& exec_ok(conn, "COMMIT", err, errlen);
	if (!ok) {
		char ignored[64];
		exec_ok(conn, "ROLLBACK", ignored, sizeof(ignored));
		return PQstatus(conn) == CONNECTION_OK ? FYN_STORE_REFUSED : FYN_STORE_DOWN;
	}
	return FYN_STORE_OK;
}
