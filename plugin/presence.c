/*
 * presence.c: publishing and clearing retained presence (see presence.h).
 */
#include "presence.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "ack.h"
#include "hub.h"
#include "timestamp.h"

static void publish_presence(struct fyn_hub *hub, const char *rid, const char *client_id, const char *payload)
{
	char topic[256];
	snprintf(topic, sizeof(topic), "fynlo/v1/presence/%s/%s", rid, client_id);
	mosquitto_broker_publish_copy(NULL, topic, payload ? (int)strlen(payload) : 0, payload, 1, true, NULL);
	if (payload) {
		json_object_set_new(hub->presence, topic, json_string(payload));
	} else {
		json_object_del(hub->presence, topic);
	}
}

/* Calls publish for every stream the session appears in. */
static void for_each_stream(struct fyn_hub *hub, const struct fyn_session *session, const char *payload)
{
	if (session->claims.restaurant_count == 0) {
		publish_presence(hub, "platform", session->client_id, payload);
	}
	for (size_t i = 0; i < session->claims.restaurant_count; i++) {
		publish_presence(hub, session->claims.restaurants[i], session->client_id, payload);
	}
}

void fyn_presence_announce(struct fyn_hub *hub, const struct fyn_session *session)
{
	char connected_at[FYN_TIMESTAMP_MAX];
	char *payload;

	fyn_timestamp_now(connected_at);
	payload = fyn_json_text(json_pack("{s:s, s:s, s:s, s:s}", "client_id", session->client_id,
			"role", fyn_role_name(session->claims.role), "sub", session->claims.sub,
			"connected_at", connected_at));
	if (payload) {
		for_each_stream(hub, session, payload);
		free(payload);
	}
}

void fyn_presence_clear(struct fyn_hub *hub, const struct fyn_session *session)
{
	for_each_stream(hub, session, NULL);
}
