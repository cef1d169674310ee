/*
 * auth.c: MOSQ_EVT_BASIC_AUTH: the MQTT password is a JWT.
 *
 * A client is let in only with a token that verifies under the pinned
 * algorithm and a client id the contract allows (ids appear in topics).
 * Every refusal is logged once, with the reason and never the token.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "hub.h"
#include "presence.h"

static int refuse(const char *client_id, const char *address, const char *reason)
{
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "fynsync: refused connection from %s (client id '%.64s'): %s.",
			address ? address : "?", client_id ? client_id : "", reason);
	return MOSQ_ERR_AUTH;
}

int fyn_on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct fyn_hub *hub = userdata;
	const char *client_id = mosquitto_client_id(ed->client);
	const char *address = mosquitto_client_address(ed->client);
	struct fyn_claims claims;
	struct fyn_session *session;
	char reason[256];

	(void)event;
	if (!client_id || !fyn_client_id_is_valid(client_id)) {
		return refuse(client_id, address, "client id must match [A-Za-z0-9._-]{1,64}");
	}
	if (!ed->password) {
		return refuse(client_id, address, "no token: the MQTT password must be a JWT");
	}
	if (fyn_token_verify(&hub->tokens, ed->password, ed->username, time(NULL), &claims,
			reason, sizeof(reason)) != 0) {
		return refuse(client_id, address, reason);
	}
	/* Anonymous clients are dropped by mosquitto on reload; a token-only
	 * MQTT 5 client takes its sub as username so it survives reloads. */
	if (!ed->username && mosquitto_set_username(ed->client, claims.sub) != MOSQ_ERR_SUCCESS) {
		fyn_claims_clear(&claims);
		return refuse(client_id, address, "out of memory");
	}
	session = fyn_sessions_put(&hub->sessions, ed->client, client_id, &claims);
	if (!session) {
		return refuse(client_id, address, "out of memory");
	}
	fyn_presence_announce(session);
	return MOSQ_ERR_SUCCESS;
}

int fyn_on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct fyn_hub *hub = userdata;
	struct fyn_session *session = fyn_sessions_find(&hub->sessions, ed->client);

	(void)event;
	if (!session) {
		return MOSQ_ERR_SUCCESS;
	}
	if (fyn_session_is_current(&hub->sessions, session)) {
		fyn_presence_clear(session);
	}
	fyn_sessions_remove(&hub->sessions, session);
	return MOSQ_ERR_SUCCESS;
}
