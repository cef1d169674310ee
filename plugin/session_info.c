/*
 * session_info.c: fynlo/v1/client/{cid}/session (see session_info.h).
 *
 * The payload, computed from the session and the ACL in force:
 *   {"client_id", "sub", "role", "restaurants": [...], "view",
 *    "filters": [...], "streams": {"r1": "whole" | "some", "platform": ...},
 *    "every_restaurant": bool, "exp": unix seconds, "expires_at": text}
 * A client subscribes from "filters" and resumes the "streams"; a stream
 * it reads only "some" of cannot tell a gap in seq from events it may not
 * read. "every_restaurant" (the platform owner) means it may read every
 * restaurant's events, which the platform snapshot lists.
 */
#include "session_info.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "ack.h"
#include "envelope.h"
#include "topics.h"

bool fyn_may_subscribe_events(const struct fyn_hub *hub, const struct fyn_session *session,
		const char *stream, const char *view_name, const char *rest)
{
	char filter[200];
	snprintf(filter, sizeof(filter), "fynlo/v1/ev/%s/%s/%s", stream, view_name, rest);
	return fyn_acl_check_subscription(hub->acl, &session->identity, filter).allowed;
}

static bool token_names(const struct fyn_session *session, const char *stream)
{
	if (strcmp(stream, FYN_STREAM_PLATFORM) == 0) {
		return true;
	}
	for (size_t i = 0; i < session->identity.restaurant_count; i++) {
		if (strcmp(session->identity.restaurants[i], stream) == 0) {
			return true;
		}
	}
	return false;
}

enum fyn_read_scope fyn_read_scope(const struct fyn_hub *hub, const struct fyn_session *session,
		const char *stream, const char *view_name)
{
	if (fyn_may_subscribe_events(hub, session, stream, view_name, "#")) {
		return FYN_SCOPE_WHOLE;
	}
	return token_names(session, stream) ? FYN_SCOPE_SOME : FYN_SCOPE_NONE;
}

static int append_filter(const char *filter, void *ctx)
{
	return json_array_append_new(ctx, json_string(filter));
}

/* "r1": "whole" | "some" for each stream of the token and the platform
 * stream, when the client reads anything of it. */
static json_t *streams_json(const struct fyn_hub *hub, const struct fyn_session *session,
		const char *view_name)
{
	json_t *streams = json_object();
	for (size_t i = 0; streams && i <= session->identity.restaurant_count; i++) {
		const char *stream = i < session->identity.restaurant_count
			? session->identity.restaurants[i] : FYN_STREAM_PLATFORM;
		enum fyn_read_scope scope = view_name ? fyn_read_scope(hub, session, stream, view_name) : FYN_SCOPE_NONE;
		if (scope != FYN_SCOPE_NONE
				&& json_object_set_new(streams, stream, json_string(scope == FYN_SCOPE_WHOLE ? "whole" : "some")) != 0) {
			json_decref(streams);
			return NULL;
		}
	}
	return streams;
}

static json_t *info_json(const struct fyn_hub *hub, const struct fyn_session *session)
{
	int view = fyn_acl_view_for(hub->acl, &session->identity);
	const char *view_name = view >= 0 && (size_t)view < hub->views->count ? hub->views->items[view].name : NULL;
	json_t *restaurants = json_array();
	json_t *filters = json_array();
	char expires_at[32];
	struct tm utc;
	time_t exp = session->claims.exp;

	for (size_t i = 0; restaurants && i < session->claims.restaurant_count; i++) {
		if (json_array_append_new(restaurants, json_string(session->claims.restaurants[i])) != 0) {
			json_decref(restaurants);
			restaurants = NULL;
		}
	}
	if (filters && fyn_acl_read_filters(hub->acl, &session->identity, append_filter, filters) != 0) {
		json_decref(filters);
		filters = NULL;
	}
	gmtime_r(&exp, &utc);
	strftime(expires_at, sizeof(expires_at), "%Y-%m-%dT%H:%M:%SZ", &utc);
	return json_pack("{s:s, s:s, s:s, s:o, s:s?, s:o, s:o, s:b, s:I, s:s}",
			"client_id", session->client_id, "sub", session->claims.sub,
			"role", fyn_role_name(session->claims.role), "restaurants", restaurants,
			"view", view_name, "filters", filters,
			"streams", streams_json(hub, session, view_name),
			"every_restaurant", view_name && fyn_may_subscribe_events(hub, session, "+", view_name, "#"),
			"exp", (json_int_t)exp, "expires_at", expires_at);
}

static void publish_retained(const char *client_id, const char *payload)
{
	char *topic = fyn_client_topic(client_id, "session");
	if (topic) {
		mosquitto_broker_publish_copy(NULL, topic, payload ? (int)strlen(payload) : 0, payload, 1, true, NULL);
	}
	free(topic);
}

void fyn_session_info_publish(const struct fyn_hub *hub, const struct fyn_session *session)
{
	char *payload = fyn_json_text(info_json(hub, session));

	if (!payload) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, "fynsync: out of memory telling client '%s' its session; "
				"it can still subscribe from its role's documented topics.", session->client_id);
		return;
	}
	publish_retained(session->client_id, payload);
	free(payload);
}

void fyn_session_info_clear(const struct fyn_session *session)
{
	publish_retained(session->client_id, NULL);
}

static void publish_one(struct fyn_session *session, void *arg)
{
	struct fyn_hub *hub = arg;
	if (fyn_session_is_current(&hub->sessions, session)) {
		fyn_session_info_publish(hub, session);
	}
}

void fyn_session_info_publish_all(struct fyn_hub *hub)
{
	fyn_sessions_each(&hub->sessions, publish_one, hub);
}
