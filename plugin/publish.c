/*
 * publish.c: the one file that publishes to clients on the hub's behalf:
 * replies to one client, and the completions the writer and reader threads
 * hand over through the outbox (answers to the hub's own alert events go
 * to hub_alerts.c instead, the other nodes' reports to nodes.c; each
 * publish is counted in hub_metrics.c).
 * Broker thread only.
 */
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "ack.h"
#include "hub.h"
#include "topics.h"

void fyn_hub_send(const char *client_id, const char *kind, char *payload)
{
	char *topic = fyn_client_topic(client_id, kind);
	if (topic && payload) {
		mosquitto_broker_publish_copy(client_id, topic, (int)strlen(payload), payload, 1, false, NULL);
	}
	free(topic);
	free(payload);
}

void fyn_hub_reject(const char *client_id, const char *id, const char *code, const char *reason)
{
	fyn_hub_send(client_id, "ack", fyn_ack_rejected(id, code, reason));
}

static int mosquitto_level(enum fyn_log_level level)
{
	switch (level) {
	case FYN_LOG_NOTICE: return MOSQ_LOG_NOTICE;
	case FYN_LOG_WARNING: return MOSQ_LOG_WARNING;
	case FYN_LOG_ERR: return MOSQ_LOG_ERR;
	}
	return MOSQ_LOG_ERR;
}

/* A reply is for the user who asked: if the client id is now someone
 * else's connection (or nobody's), it is dropped. */
static bool recipient_is_current(struct fyn_hub *hub, const struct fyn_outgoing *m)
{
	const struct fyn_session *session;
	if (!m->client_id || !m->owner_sub) {
		return true;
	}
	session = fyn_sessions_find_by_id(&hub->sessions, m->client_id);
	return session && strcmp(session->claims.sub, m->owner_sub) == 0;
}

static void publish_completion(struct fyn_hub *hub, const struct fyn_completion *c)
{
	if (c->log_text) {
		mosquitto_log_printf(mosquitto_level(c->log_level), "%s", c->log_text);
	}
	for (size_t i = 0; i < c->message_count; i++) {
		const struct fyn_outgoing *m = &c->messages[i];
		if (m->client_id && strcmp(m->client_id, FYN_HUB_CLIENT_ID) == 0) {
			fyn_alerts_on_answer(hub, m->payload);   /* the answer to the hub's own event */
		} else if (m->client_id && strcmp(m->client_id, FYN_NODES_CLIENT_ID) == 0) {
			fyn_nodes_on_answer(hub, m->payload);    /* the other nodes' reports */
		} else if (recipient_is_current(hub, m)) {
			mosquitto_broker_publish_copy(m->client_id, m->topic, (int)strlen(m->payload),
					m->payload, 1, false, NULL);
			fyn_metrics_published(hub, m);
		}
	}
	if (c->after_publish) {
		c->after_publish(c->after_publish_arg);
	}
}

void fyn_hub_drain_completions(struct fyn_hub *hub)
{
	struct fyn_completion *c = fyn_outbox_take(hub->outbox);
	while (c) {
		struct fyn_completion *next = (struct fyn_completion *)c->work.next;
		publish_completion(hub, c);
		fyn_completion_free(c);
		c = next;
	}
}
