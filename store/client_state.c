/*
 * client_state.c: durable filters and cursors of persistent clients (see
 * store.h and migration 006, which holds the set-based SQL).
 */
#include "store_internal.h"

#include <stdlib.h>

enum fyn_store_status fyn_store_client_state(struct fyn_store *store, const char *client_id,
		char **json, char *err, size_t errlen)
{
	const char *params[] = { client_id };
	return fyn_store_query_text(store, "SELECT fynsync_client_state($1)::text", 1, params, json, err, errlen);
}

enum fyn_store_status fyn_store_save_client_state(struct fyn_store *store, const char *ops_json,
		char *err, size_t errlen)
{
	const char *params[] = { ops_json };
	char *none = NULL;
	enum fyn_store_status status = fyn_store_query_text(store, "SELECT fynsync_save_client_state($1::jsonb)",
			1, params, &none, err, errlen);
	free(none);
	return status;
}
