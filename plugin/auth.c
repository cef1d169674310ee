/*
 * auth.c: MOSQ_EVT_BASIC_AUTH: the MQTT password is a JWT.
 *
 * A client is let in only with a token that verifies under the pinned
 * algorithm and a client id the contract allows (ids appear in topics).
 * Every refusal is logged once, with the reason and never the token.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth.h"
#include "durable.h"
#include "hub.h"
#include "presence.h"
#include "session_info.h"

static int refuse(const char *client_id, const char *address, const char *reason)
{
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "fynsync: refused connection from %s (client id '%.64s'): %s.",
			address ? address : "?", client_id ? client_id : "", reason);
	return MOSQ_ERR_AUTH;
}

/* A connection reusing a connected client id takes its session over, and
 * the old connection's disconnect then leaves presence alone (it is no longer
 * the current one). Its presence is cleared here instead: the new connection
 * may belong to other restaurants (client ids are the client's choice), and
 * otherwise the old one would stay "present" in its restaurants for good. */
static void clear_taken_over_presence(struct fyn_hub *hub, const void *client, const char *client_id)
{
	struct fyn_session *previous = fyn_sessions_find_by_id(&hub->sessions, client_id);

	if (previous && previous->client != client) {
		fyn_presence_clear(previous);
	}
}

/* A CONNECT with a connected client id takes that connection's MQTT session
 * over, and with it everything the hub sends to fynlo/v1/client/{cid}/ (the
 * ACL grants %c): replies to the other connection's snapshot or resume
 * still being computed would go to the newcomer. So only the same user (sub)
 * may take a connected client id over; anyone else is refused, and cannot
 * kick other users' devices off either. */
static bool held_by_another_user(struct fyn_hub *hub, const void *client, const char *client_id,
		const char *sub)
{
	struct fyn_session *current = fyn_sessions_find_by_id(&hub->sessions, client_id);

	return current && current->client != client && strcmp(current->claims.sub, sub) != 0;
}

/* Between MOSQ_EVT_RELOAD and the next tick (see auth.h). */
static bool reload_recheck;

void fyn_auth_reload_started(void)
{
	reload_recheck = true;
}

void fyn_auth_reload_finished(void)
{
	reload_recheck = false;
}

/* mosquitto's re-check of a connected client on reload. The identity that
 * counts is the one the hub verified last (at CONNECT or by a refresh on
 * ctl/token): re-verifying the CONNECT token would drop every client that
 * refreshed once its first token ran out, revert refreshed sessions to their
 * first token's expiry, drop every client on a key rotation, and announce
 * presence again. So the session stays as it is, unless its token has
 * expired (which the tick would act on anyway). */
static int recheck_connected(struct fyn_hub *hub, const struct fyn_session *session)
{
	if (time(NULL) >= session->claims.exp + hub->tokens.leeway_s) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "fynsync: client '%s' (sub %s) dropped on reload: its token expired.",
				session->client_id, session->claims.sub);
		return MOSQ_ERR_AUTH;
	}
	return MOSQ_ERR_SUCCESS;
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
	if (reload_recheck) {
		session = fyn_sessions_find(&hub->sessions, ed->client);
		if (session) {
			return recheck_connected(hub, session);
		}
		/* No session and not a WebSocket CONNECT (the only kind mosquitto
		 * handles inside the window): an offline persistent session. It is
		 * left alone; it is not present and gets no session here, and its
		 * reconnect is a new CONNECT, verified in full. */
		if (mosquitto_client_protocol(ed->client) != mp_websockets) {
			return MOSQ_ERR_SUCCESS;
		}
	}
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
	if (held_by_another_user(hub, ed->client, client_id, claims.sub)) {
		fyn_claims_clear(&claims);
		return refuse(client_id, address, "the client id is in use by a connection of another user (sub)");
	}
	/* Anonymous clients are dropped by mosquitto on reload; a token-only
	 * MQTT 5 client takes its sub as username so it survives reloads. */
	if (!ed->username && mosquitto_set_username(ed->client, claims.sub) != MOSQ_ERR_SUCCESS) {
		fyn_claims_clear(&claims);
		return refuse(client_id, address, "out of memory");
	}
	clear_taken_over_presence(hub, ed->client, client_id);
	session = fyn_sessions_put(&hub->sessions, ed->client, client_id, &claims);
	if (!session) {
		return refuse(client_id, address, "out of memory");
	}
	fyn_presence_announce(session);
	fyn_session_info_publish(hub, session);
	fyn_durable_on_connect(hub, session, mosquitto_client_clean_session(ed->client));
	return MOSQ_ERR_SUCCESS;
}

/* mosquitto still acts for a client after its disconnect callback: it
 * publishes its will (at once, or after an MQTT 5 will delay, which the
 * plugin cannot see) and queues messages for a persistent session. Only an
 * MQTT 3.1.1 clean session is known to be over by the next tick. */
static bool mosquitto_keeps_acting(const void *client, const struct fyn_session *session)
{
	return session->persistent || mosquitto_client_protocol_version(client) == 5;
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
	fyn_durable_on_disconnect(hub, session);
	if (!fyn_session_is_current(&hub->sessions, session)) {
		fyn_sessions_remove(&hub->sessions, session);
		return MOSQ_ERR_SUCCESS;
	}
	fyn_presence_clear(session);
	fyn_session_info_clear(session);
	if (fyn_sessions_park(&hub->sessions, session, mosquitto_keeps_acting(ed->client, session)) > 0) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, "fynsync: more than %d offline sessions: forgot the identity of "
				"the one offline longest, so mosquitto queues nothing more for it and publishes no will for it. "
				"Set persistent_client_expiration in mosquitto.conf to end sessions abandoned for good.",
				FYN_SESSIONS_MAX_OFFLINE);
	}
	return MOSQ_ERR_SUCCESS;
}
