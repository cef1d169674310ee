/*
 * nodes.c: sharing metrics, alerts and presence between nodes (see nodes.h).
 */
#include "nodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "clock.h"
#include "hub.h"
#include "token.h"

/* A report not answered by then (the reader lost it) no longer blocks the next. */
#define ANSWER_TIMEOUT_MS 30000
#define PRESENCE_PREFIX "fynlo/v1/presence/"

int fyn_nodes_start(struct fyn_hub *hub)
{
	hub->presence = json_object();
	hub->nodes.remote_presence = json_object();
	if (!hub->presence || !hub->nodes.remote_presence) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: out of memory setting up presence.");
		return -1;
	}
	return 0;
}

void fyn_nodes_stop(struct fyn_hub *hub)
{
	json_decref(hub->nodes.remote_presence);
	json_decref(hub->presence);
	hub->nodes.remote_presence = NULL;
	hub->presence = NULL;
}

void fyn_nodes_report(struct fyn_hub *hub, const char *metrics)
{
	long long now = fyn_now_ms();
	struct fyn_read_request *r;

	if (hub->nodes.in_flight && now - hub->nodes.sent_ms < ANSWER_TIMEOUT_MS) {
		return;   /* the database is slow: skip a turn rather than queue reports */
	}
	r = fyn_read_request_new(FYN_READ_NODE_REPORT, FYN_NODES_CLIENT_ID, "hub", "", hub->views, 0);
	if (r) {
		/* Copies: the reader thread must share nothing the broker thread changes. */
		json_t *alerts = fyn_alerts_document(hub);
		r->report = json_pack("{s:s, s:o, s:o, s:o}", "node", hub->metrics.node,
				"metrics", json_loads(metrics, 0, NULL), "alerts", json_deep_copy(alerts),
				"presence", json_deep_copy(hub->presence));
		json_decref(alerts);
	}
	if (!r || !r->report || fyn_reader_submit(hub->lookups, r) != FYN_PUSH_OK) {
		fyn_read_request_free(r);
		return;   /* the next turn tries again */
	}
	hub->nodes.in_flight = true;
	hub->nodes.sent_ms = now;
}

static void publish_retained(const char *topic, const char *payload)
{
	mosquitto_broker_publish_copy(NULL, topic, payload ? (int)strlen(payload) : 0, payload, 1, true, NULL);
}

static void publish_document(const char *kind, const char *node, const json_t *doc)
{
	char *text = json_is_object(doc) ? json_dumps(doc, JSON_COMPACT) : NULL;

	if (text) {
		char topic[160];
		snprintf(topic, sizeof(topic), "fynlo/v1/sys/%s/%s", kind, node);
		publish_retained(topic, text);
	}
	free(text);
}

/* Adds a live node's presence to wanted, leaving out what this node holds
 * itself (its own client on that topic is the current one). */
static void collect_presence(struct fyn_hub *hub, const json_t *presence, json_t *wanted)
{
	const char *topic;
	json_t *payload;

	json_object_foreach((json_t *)presence, topic, payload) {
		if (strncmp(topic, PRESENCE_PREFIX, strlen(PRESENCE_PREFIX)) == 0 && json_is_string(payload)
				&& !json_object_get(hub->presence, topic)) {
			json_object_set(wanted, topic, payload);
		}
	}
}

/* Publishes what changed since the last answer, clears what went away. */
static void reconcile_presence(struct fyn_hub *hub, json_t *wanted)
{
	const char *topic;
	json_t *payload;

	json_object_foreach(wanted, topic, payload) {
		json_t *before = json_object_get(hub->nodes.remote_presence, topic);
		if (!before || !json_equal(before, payload)) {
			publish_retained(topic, json_string_value(payload));
		}
	}
	json_object_foreach(hub->nodes.remote_presence, topic, payload) {
		if (!json_object_get(wanted, topic) && !json_object_get(hub->presence, topic)) {
			publish_retained(topic, NULL);
		}
	}
	json_decref(hub->nodes.remote_presence);
	hub->nodes.remote_presence = wanted;
}

void fyn_nodes_on_answer(struct fyn_hub *hub, const char *answer)
{
	json_t *others = json_loads(answer, JSON_DECODE_ANY, NULL);
	json_t *wanted = json_object();
	json_t *other;
	size_t i;

	hub->nodes.in_flight = false;
	if (!json_is_array(others) || !wanted) {
		json_decref(others);   /* the store was unavailable: keep what is published */
		json_decref(wanted);
		return;
	}
	json_array_foreach(others, i, other) {
		const char *node = json_string_value(json_object_get(other, "node"));
		if (!node || !fyn_client_id_is_valid(node) || !json_is_true(json_object_get(other, "live"))) {
			continue;   /* a node that stopped reporting keeps its last metrics; its clients are gone */
		}
		publish_document("metrics", node, json_object_get(other, "metrics"));
		publish_document("alerts", node, json_object_get(other, "alerts"));
		collect_presence(hub, json_object_get(other, "presence"), wanted);
	}
	reconcile_presence(hub, wanted);
	json_decref(others);
}
