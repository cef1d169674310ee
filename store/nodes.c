/*
 * nodes.c: each hub node's report of itself, shared through the database
 * (see store.h and migration 012).
 */
#include "store_internal.h"

#include <stdio.h>

enum fyn_store_status fyn_store_node_report(struct fyn_store *store, const char *node, const char *metrics_json,
		const char *alerts_json, const char *presence_json, int live_s, char **others_json,
		char *err, size_t errlen)
{
	char live[16];
	const char *params[] = { node, metrics_json, alerts_json, presence_json, live };

	snprintf(live, sizeof(live), "%d", live_s);
	return fyn_store_query_text(store, "SELECT fynsync_node_report($1, $2::jsonb, $3::jsonb, $4::jsonb, $5::int)::text",
			5, params, others_json, err, errlen);
}
