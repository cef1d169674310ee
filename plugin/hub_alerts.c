/*
 * hub_alerts.c: retained alert state and platform.alert events (see
 * hub_alerts.h).
 */
#include "hub_alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "ack.h"
#include "clock.h"
#include "hub.h"
#include "timestamp.h"

#define RETRY_MS 1000
/* Beyond this many events waiting for the store, the oldest is dropped
 * (logged): a store down for days must not grow the hub without bound. */
#define MAX_PENDING 1000

/* A version 4 UUID from the kernel's random bytes. */
static int new_uuid(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		return -1;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

json_t *fyn_alerts_document(const struct fyn_hub *hub)
{
	return json_pack("{s:s, s:I, s:O}", "node", hub->metrics.node, "at", (json_int_t)time(NULL),
			"alerts", hub->alerts.state);
}

static void publish_state(struct fyn_hub *hub)
{
	char topic[128];
	char *text = fyn_json_text(fyn_alerts_document(hub));

	if (!text) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: out of memory publishing fynlo/v1/sys/alerts.");
		return;
	}
	snprintf(topic, sizeof(topic), "fynlo/v1/sys/alerts/%s", hub->metrics.node);
	mosquitto_broker_publish_copy(NULL, "fynlo/v1/sys/alerts", (int)strlen(text), text, 1, true, NULL);
	mosquitto_broker_publish_copy(NULL, topic, (int)strlen(text), text, 1, true, NULL);
	free(text);
}

static json_t *alert_json(const char *state, double value, double threshold, const char *since)
{
	return json_pack("{s:s, s:f, s:f, s:s}", "state", state, "value", value, "threshold", threshold,
			"since", since);
}

int fyn_alerts_start(struct fyn_hub *hub)
{
	char now[FYN_TIMESTAMP_MAX];

	fyn_timestamp_now(now);
	hub->alerts.pending = json_array();
	hub->alerts.state = json_object();
	for (int k = 0; hub->alerts.state && k < FYN_ALERT_COUNT; k++) {
		if (json_object_set_new(hub->alerts.state, fyn_alert_name((enum fyn_alert_kind)k),
				alert_json("cleared", 0, fyn_alert_threshold((enum fyn_alert_kind)k), now)) != 0) {
			break;
		}
	}
	if (!hub->alerts.pending || !hub->alerts.state || json_object_size(hub->alerts.state) != FYN_ALERT_COUNT) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: out of memory setting up the alerts.");
		return -1;
	}
	publish_state(hub);
	return 0;
}

void fyn_alerts_stop(struct fyn_hub *hub)
{
	size_t left = hub->alerts.pending ? json_array_size(hub->alerts.pending) : 0;

	if (left > 0) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, "fynsync: %zu platform.alert event(s) were never stored "
				"(the store did not take them before shutdown); this log's alert lines record them.", left);
	}
	json_decref(hub->alerts.pending);
	json_decref(hub->alerts.state);
	memset(&hub->alerts, 0, sizeof(hub->alerts));
}

/* The batch element of one platform.alert event, as submit.c would build it
 * for a client: the envelope plus restaurant, created_by and client_id. */
static json_t *alert_event(const struct fyn_hub *hub, const struct fyn_alert_change *c, const char *at)
{
	char id[37], aggregate[160];
	const char *name = fyn_alert_name(c->kind);

	if (new_uuid(id) != 0) {
		return NULL;
	}
	snprintf(aggregate, sizeof(aggregate), "%s.%s", hub->metrics.node, name);
	return json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:f, s:f, s:s}, s:{s:s, s:s}, s:s, s:n,"
			" s:s, s:s, s:n}",
			"id", id, "aggregate_id", aggregate, "event_type", "platform.alert",
			"payload", "alert", name, "state", c->raised ? "raised" : "cleared", "value", c->value,
			"threshold", c->threshold, "node", hub->metrics.node,
			"metadata", "generated_by", "hub", "node", hub->metrics.node,
			"created_at", at, "correlation_id",
			"restaurant", "platform", "created_by", "hub", "client_id");
}

void fyn_alerts_changed(struct fyn_hub *hub, const struct fyn_alert_change *changes, size_t count)
{
	char now[FYN_TIMESTAMP_MAX];

	fyn_timestamp_now(now);
	for (size_t i = 0; i < count; i++) {
		const struct fyn_alert_change *c = &changes[i];
		const char *name = fyn_alert_name(c->kind);
		const char *state = c->raised ? "raised" : "cleared";
		json_t *event = alert_event(hub, c, now);

		mosquitto_log_printf(c->raised ? MOSQ_LOG_WARNING : MOSQ_LOG_NOTICE,
				"fynsync: alert %s %s on node '%s': %.4g against a threshold of %g over %d s%s.",
				name, state, hub->metrics.node, c->value, c->threshold, hub->config.alert_window_s,
				c->raised ? " (docs/operations.md, Alerts, says what to check)" : "");
		json_object_set_new(hub->alerts.state, name, alert_json(state, c->value, c->threshold, now));
		if (json_array_size(hub->alerts.pending) >= MAX_PENDING && !hub->alerts.in_flight) {
			mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: %d platform.alert events wait for the store; the "
					"oldest is dropped unrecorded. Bring PostgreSQL back.", MAX_PENDING);
			json_array_remove(hub->alerts.pending, 0);
		}
		if (!event || json_array_append_new(hub->alerts.pending, event) != 0) {
			mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: out of memory: the platform.alert event for %s %s "
					"is not recorded.", name, state);
		}
	}
	publish_state(hub);
	fyn_alerts_tick(hub, fyn_now_ms());
}

static void submit_first(struct fyn_hub *hub, long long now_ms)
{
	json_t *first = json_array_get(hub->alerts.pending, 0);
	const char *id = json_string_value(json_object_get(first, "id"));   /* the pending list keeps it alive */
	json_t *element = id ? json_copy(first) : NULL;
	struct fyn_job *job = element ? fyn_job_new(FYN_HUB_CLIENT_ID, "hub", id, element,
			now_ms + hub->config.commit_timeout_ms) : NULL;   /* takes element, even on failure */

	if (!job) {
		hub->alerts.retry_ms = now_ms + RETRY_MS;
		return;
	}
	job->from_hub = true;
	if (fyn_pipeline_submit(hub->pipeline, job) != 0) {
		fyn_job_free(job);
		hub->alerts.retry_ms = now_ms + RETRY_MS;
		return;
	}
	hub->alerts.in_flight = true;
}

void fyn_alerts_tick(struct fyn_hub *hub, long long now_ms)
{
	if (!hub->alerts.in_flight && now_ms >= hub->alerts.retry_ms && json_array_size(hub->alerts.pending) > 0) {
		submit_first(hub, now_ms);
	}
}

void fyn_alerts_on_answer(struct fyn_hub *hub, const char *ack)
{
	json_t *doc = json_loads(ack, 0, NULL);
	const char *status = json_string_value(json_object_get(doc, "status"));
	const char *code = json_string_value(json_object_get(doc, "code"));
	const char *id = json_string_value(json_object_get(doc, "id"));
	const char *reason = json_string_value(json_object_get(doc, "reason"));
	const char *first = json_string_value(json_object_get(json_array_get(hub->alerts.pending, 0), "id"));

	hub->alerts.in_flight = false;
	if (!status || !id || !first || strcmp(id, first) != 0) {
		json_decref(doc);
		return;
	}
	if (strcmp(status, "accepted") == 0) {
		json_array_remove(hub->alerts.pending, 0);
		hub->alerts.retry_ms = 0;
	} else if (code && strcmp(code, "unavailable") == 0) {
		hub->alerts.retry_ms = fyn_now_ms() + RETRY_MS;   /* the store is down: again, same id */
	} else {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: the store refused a platform.alert event (%s: %s); "
				"it is dropped. Check the store's rules for platform.* (docs/store.md).",
				code ? code : "?", reason ? reason : "no reason given");
		json_array_remove(hub->alerts.pending, 0);
	}
	json_decref(doc);
	fyn_alerts_tick(hub, fyn_now_ms());
}
