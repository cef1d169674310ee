/*
 * fynsync-migrate: applies the hub's pending schema migrations to a database
 * with the very runner a broker uses when it connects (store/migrate.c: all
 * pending migrations in one transaction, under an advisory lock), and prints
 * how many it applied. tests/sql/run.sh and `./fynsync migrate` use it, so
 * the tests and the hub migrate the same way.
 *
 *   fynsync-migrate CONNINFO
 *
 * Exit status: 0 migrated (the count on stdout), 1 the database refused or
 * is unreachable (the reason on stderr), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "store.h"

/* Rows of schema_migrations (0 before the first migration), or -1 with
 * err set. The count is read on a connection of its own: the store's
 * connect already migrates. */
static long recorded_migrations(const char *conninfo, char *err, size_t errlen)
{
	PGconn *conn = PQconnectdb(conninfo);
	PGresult *res = NULL;
	long count = -1;

	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		goto out;
	}
	res = PQexec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		goto out;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		count = 0;
		goto out;
	}
	PQclear(res);
	res = PQexec(conn, "SELECT count(*) FROM schema_migrations");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		goto out;
	}
	count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
out:
	PQclear(res);
	PQfinish(conn);
	return count;
}

int main(int argc, char **argv)
{
	char err[1024] = "";
	struct fyn_store *store;
	long before;
	long after;
	enum fyn_store_status status;

	if (argc != 2) {
		fprintf(stderr, "usage: fynsync-migrate CONNINFO   (e.g. \"host=127.0.0.1 port=54329 dbname=fynsync user=fynsync\")\n");
		return 2;
	}
	before = recorded_migrations(argv[1], err, sizeof(err));
	if (before < 0) {
		fprintf(stderr, "fynsync-migrate: %s", err);
		return 1;
	}
	store = fyn_store_new(argv[1]);
	if (store == NULL) {
		fprintf(stderr, "fynsync-migrate: out of memory\n");
		return 1;
	}
	/* Connecting applies what is pending (store/migrate.c), as in the hub. */
	status = fyn_store_connect(store, err, sizeof(err));
	fyn_store_free(store);
	if (status != FYN_STORE_OK) {
		fprintf(stderr, "fynsync-migrate: %s\n", err);
		return 1;
	}
	after = recorded_migrations(argv[1], err, sizeof(err));
	if (after < 0) {
		fprintf(stderr, "fynsync-migrate: %s", err);
		return 1;
	}
	printf("%ld\n", after - before);
	return 0;
}
