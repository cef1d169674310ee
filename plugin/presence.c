/*
 * presence.c: publishing and clearing retained presence (see presence.h).
 */
#include "presence.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "ack.h"

static void publish_presence(const char *rid, const char *client_id, const char *payload)
{
	char topic[256];
	snprintf(topic, sizeof(topic), "fynlo/v1/presence/%s/%s", rid, client_id);
	mosquitto_broker_publish_copy(NULL, topic, payload ? (int)strlen(payload) : 0, payload, 1, true, NULL);
}

/* Calls publish for every stream the session appears in. */
static void for_each_stream(const struct fyn_session *session, const char *payload)
{
	if (session->claims.restaurant_count == 0) {
		publish_presence("platform", session->client_id, payload);
	}
	for (size_t i = 0; i < session->claims.restaurant_count; i++) {
		publish_presence(session->claims.restaurants[i], session->client_id, payload);
	}
}

/* 2026-11-28T12:00:00.123Z, the timestamp form of confirmed events. */
static void format_now(char *out, size_t outlen)
{
	struct timespec now;
	struct tm utc;
	char seconds[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &utc);
	strftime(seconds, sizeof(seconds), "%Y-%m-%dT%H:%M:%S", &utc);
	snprintf(out, outlen, "%.20s.%03dZ", seconds, (int)(now.tv_nsec / 1000000));
}

void fyn_presence_announce(const struct fyn_session *session)
{
	char connected_at[40];
	char *payload;

	format_now(connected_at, sizeof(connected_at));
	payload = fyn_json_text(json_pack("{s:s, s:s, s:s, s:s}", "client_id", session->client_id,
			"role", fyn_role_name(session->claims.role), "sub", session->claims.sub,
			"connected_at", connected_at));
	if (payload) {
		for_each_stream(session, payload);
		free(payload);
	}
}

void fyn_presence_clear(const struct fyn_session *session)
{
	for_each_stream(session, NULL);
}
