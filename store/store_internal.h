/*
 * store_internal.h: what the store's own files share and nobody else sees.
 */
#ifndef FYNSYNC_STORE_INTERNAL_H
#define FYNSYNC_STORE_INTERNAL_H

#include <libpq-fe.h>

#include "store.h"

/* Runs one SQL statement with text parameters and returns its first column
 * of its first row as a malloc'd string (NULL value -> *out NULL). */
enum fyn_store_status fyn_store_query_text(struct fyn_store *store, const char *sql,
		int nparams, const char *const *params, char **out, char *err, size_t errlen);

/* The connection of store (read.c and client_state.c run their queries on it). */
PGconn *fyn_store_connection(struct fyn_store *store);

/* Applies every pending migration on conn (migrate.c). */
enum fyn_store_status fyn_migrate_connection(PGconn *conn, char *err, size_t errlen);

#endif
