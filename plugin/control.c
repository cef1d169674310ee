/*
 * control.c: dispatching fynlo/v1/ctl/{verb} and the in-band token refresh.
 *
 * ctl/token replaces the connection's token when the new one verifies and
 * names the same sub and role; the connection then lives until the new exp.
 */
#include "control.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "envelope.h"
#include "job.h"

#define CONTROL_PREFIX "fynlo/v1/ctl/"
#define CONTROL_MAX_BYTES 16384

bool fyn_topic_is_control(const char *topic)
{
	return strncmp(topic, CONTROL_PREFIX, strlen(CONTROL_PREFIX)) == 0;
}

static void publish_to_client(const char *client_id, const char *kind, char *payload)
{
	char *topic = fyn_client_topic(client_id, kind);
	if (topic && payload) {
		mosquitto_broker_publish_copy(client_id, topic, (int)strlen(payload), payload, 1, false, NULL);
	}
	free(topic);
	free(payload);
}

void fyn_control_error(const char *client_id, const char *verb, const char *reason)
{
	json_t *doc = json_pack("{s:s, s:s}", "verb", verb, "reason", reason);
	publish_to_client(client_id, "error", doc ? json_dumps(doc, JSON_COMPACT) : NULL);
	json_decref(doc);
}

static void answer_token(const char *client_id, const char *problem)
{
	publish_to_client(client_id, "ack", problem ? fyn_ack_rejected("token", "invalid", problem)
			: strdup("{\"id\":\"token\",\"status\":\"accepted\"}"));
}

static void refresh_token(struct fyn_hub *hub, struct fyn_session *session, const json_t *request)
{
	const char *token = json_string_value(json_object_get(request, "token"));
	struct fyn_claims claims;
	char reason[256];

	if (!token) {
		answer_token(session->client_id, "field token must be a JWT string");
		return;
	}
	if (fyn_token_verify(&hub->tokens, token, session->claims.sub, time(NULL), &claims,
			reason, sizeof(reason)) != 0) {
		answer_token(session->client_id, reason);
		return;
	}
	if (claims.role != session->claims.role) {
		fyn_claims_clear(&claims);
		answer_token(session->client_id, "the new token must have the same role");
		return;
	}
	fyn_session_replace_claims(session, &claims);
	answer_token(session->client_id, NULL);
}

void fyn_control_handle(struct fyn_hub *hub, struct fyn_session *session, const char *topic,
		const void *payload, size_t payloadlen)
{
	const char *verb = topic + strlen(CONTROL_PREFIX);
	json_t *request = payloadlen <= CONTROL_MAX_BYTES
		? json_loadb(payload, payloadlen, JSON_REJECT_DUPLICATES, NULL) : NULL;

	if (!json_is_object(request)) {
		fyn_control_error(session->client_id, verb, "the request must be a JSON object of at most 16 KiB");
	} else if (strcmp(verb, "token") == 0) {
		refresh_token(hub, session, request);
	} else {
		fyn_control_error(session->client_id, verb, "unknown request; the verbs are resume, snapshot and token");
	}
	json_decref(request);
}
