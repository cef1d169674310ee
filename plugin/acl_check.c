/*
 * acl_check.c: MOSQ_EVT_ACL_CHECK: every subscribe, delivery and publish.
 *
 * Writes to fynlo/v1/in/ and fynlo/v1/ctl/ are always let through to the
 * hub, which answers them itself (so MQTT 3.1.1 clients hear `forbidden`
 * too); everything else is decided by the ACL file, default deny. Reads of
 * in/ and ctl/ are refused whatever the file says: the hub consumes them.
 * Deliveries are checked per message, so the decision is cached per client.
 *
 * mosquitto also asks for clients that are offline (sessions.h): the write
 * of a will, published after the disconnect, and deliveries to be queued for
 * a persistent session. Those are decided as for the client when connected,
 * from the identity it connected with and the current ACL file, uncached,
 * with two exceptions. Its reads of fynlo/v1/ev/ when the hub keeps a
 * durable cursor for it are refused: the durable replay delivers those when
 * it is back (durable.h), and mosquitto's queue must not deliver them again.
 * Its writes to in/ and ctl/ are refused: no connection is left to answer.
 * Whatever mosquitto queued is checked again, against the identity that
 * resumes the session, when a client connects with its id.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "durable.h"
#include "hub.h"
#include "topics.h"

static int verdict(bool allowed)
{
	return allowed ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
}

static bool may_read(struct fyn_hub *hub, struct fyn_session *session, const char *topic)
{
	int cached = fyn_session_cached_read(session, topic, hub->acl_generation);
	bool allowed;

	if (cached >= 0) {
		return cached;
	}
	allowed = !fyn_topic_is_hub_inbox(topic)
		&& fyn_acl_check_topic(hub->acl, &session->identity, topic, FYN_ACCESS_READ).allowed;
	fyn_session_cache_read(session, topic, allowed, hub->acl_generation);
	return allowed;
}

static int check_read(struct fyn_hub *hub, struct fyn_session *session,
		const struct mosquitto_evt_acl_check *ed)
{
	if (!may_read(hub, session, ed->topic)) {
		return MOSQ_ERR_ACL_DENIED;
	}
	fyn_durable_on_delivery(session, ed->topic, ed->payload, ed->payloadlen);
	return MOSQ_ERR_SUCCESS;
}

static int check_subscribe(struct fyn_hub *hub, struct fyn_session *session, const char *filter)
{
	if (!fyn_acl_check_subscription(hub->acl, &session->identity, filter).allowed) {
		return MOSQ_ERR_ACL_DENIED;
	}
	fyn_durable_on_subscribe(hub, session, filter);
	return MOSQ_ERR_SUCCESS;
}

static int check_offline(struct fyn_hub *hub, const struct mosquitto_evt_acl_check *ed)
{
	const char *client_id = mosquitto_client_id(ed->client);
	struct fyn_session *offline = client_id
		? fyn_sessions_find_offline(&hub->sessions, ed->client, client_id) : NULL;

	if (!offline || fyn_topic_is_hub_inbox(ed->topic)) {
		return MOSQ_ERR_ACL_DENIED;
	}
	switch (ed->access) {
	case MOSQ_ACL_READ:
		return verdict(!(offline->persistent && fyn_topic_is_event(ed->topic))
				&& fyn_acl_check_topic(hub->acl, &offline->identity, ed->topic, FYN_ACCESS_READ).allowed);
	case MOSQ_ACL_WRITE:
		return verdict(fyn_acl_check_topic(hub->acl, &offline->identity, ed->topic, FYN_ACCESS_WRITE).allowed);
	default:
		return MOSQ_ERR_ACL_DENIED;
	}
}

int fyn_on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct fyn_hub *hub = userdata;
	struct fyn_session *session = fyn_sessions_find(&hub->sessions, ed->client);

	(void)event;
	if (!session) {
		return check_offline(hub, ed);
	}
	switch (ed->access) {
	case MOSQ_ACL_READ:
		return check_read(hub, session, ed);
	case MOSQ_ACL_SUBSCRIBE:
		return check_subscribe(hub, session, ed->topic);
	case MOSQ_ACL_WRITE:
		return verdict(fyn_topic_is_hub_inbox(ed->topic)
				|| fyn_acl_check_topic(hub->acl, &session->identity, ed->topic, FYN_ACCESS_WRITE).allowed);
	case MOSQ_ACL_UNSUBSCRIBE:
		fyn_durable_on_unsubscribe(hub, session, ed->topic);
		return MOSQ_ERR_SUCCESS;
	default:
		return MOSQ_ERR_ACL_DENIED;
	}
}
