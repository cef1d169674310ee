/*
 * hub_metrics.c: counting on the broker thread, the once-a-second snapshot
 * and the retained metrics (see hub_metrics.h).
 */
#include "hub_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "clock.h"
#include "hub.h"
#include "hub_alerts.h"
#include "topics.h"

#define SAMPLE_INTERVAL_MS 1000
#define PUBLISH_INTERVAL_MS 5000
#define RECONNECT_MEMORY_MS (10LL * 60 * 1000)
#define PRUNE_INTERVAL_MS (60LL * 1000)

static void choose_node_name(struct fyn_hub *hub)
{
	char host[256] = "";

	if (hub->config.node_name) {
		snprintf(hub->metrics.node, sizeof(hub->metrics.node), "%s", hub->config.node_name);
		return;
	}
	if (gethostname(host, sizeof(host) - 1) != 0) {
		host[0] = '\0';
	}
	fyn_node_name_from_host(host, hub->metrics.node);
}

int fyn_metrics_start(struct fyn_hub *hub)
{
	choose_node_name(hub);
	hub->metrics.recent_ids = json_object();
	if (!hub->metrics.recent_ids
			|| fyn_alerts_init(&hub->metrics.alerts, hub->config.alert_window_s,
				(unsigned long long)hub->config.alert_min_count) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: out of memory setting up the metrics.");
		return -1;
	}
	if (hub->config.metrics_port > 0) {
		char err[256];
		hub->metrics.http = fyn_metrics_http_start(hub->config.metrics_port, hub->metrics.node, err, sizeof(err));
		if (!hub->metrics.http) {
			mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: %s. Choose a free port with plugin_opt_metrics_port "
					"(FYNSYNC_METRICS_PORT for ./fynsync), or 0 to serve no metrics.", err);
			return -1;
		}
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "fynsync: node '%s'; metrics %s%d%s; alerts over %d s.",
			hub->metrics.node, hub->metrics.http ? "on http://*:" : "endpoint off (port ",
			hub->config.metrics_port, hub->metrics.http ? "/metrics" : ")", hub->config.alert_window_s);
	return 0;
}

void fyn_metrics_stop(struct fyn_hub *hub)
{
	fyn_metrics_http_stop(hub->metrics.http);
	hub->metrics.http = NULL;
	fyn_alerts_clear(&hub->metrics.alerts);
	json_decref(hub->metrics.recent_ids);
	hub->metrics.recent_ids = NULL;
}

void fyn_metrics_connected(struct fyn_hub *hub, const char *client_id, bool took_over)
{
	struct fyn_hub_metrics *m = &hub->metrics;

	m->connections_opened++;
	if (took_over || json_object_get(m->recent_ids, client_id)) {
		m->reconnects++;
		json_object_del(m->recent_ids, client_id);
	}
}

/* A client's own DISCONNECT (also a takeover), the hub's kick and an auth
 * failure on reload are not drops; -1 is the broker shutting down. */
static bool is_drop(int reason)
{
	return reason > 0 && reason != MOSQ_ERR_ADMINISTRATIVE_ACTION && reason != MOSQ_ERR_AUTH;
}

void fyn_metrics_disconnected(struct fyn_hub *hub, const char *client_id, int reason)
{
	struct fyn_hub_metrics *m = &hub->metrics;

	m->connections_dropped += is_drop(reason);
	json_object_set_new(m->recent_ids, client_id, json_integer(fyn_now_ms()));
}

static void forget_old_ids(struct fyn_hub_metrics *m, long long now_ms)
{
	const char *id;
	json_t *at;
	void *next;

	json_object_foreach_safe(m->recent_ids, next, id, at) {
		if (json_integer_value(at) < now_ms - RECONNECT_MEMORY_MS) {
			json_object_del(m->recent_ids, id);
		}
	}
}

void fyn_metrics_published(struct fyn_hub *hub, const struct fyn_outgoing *m)
{
	struct fyn_hub_metrics *hm = &hub->metrics;
	long long now;

	if (!fyn_topic_is_event(m->topic)) {
		return;
	}
	if (m->client_id) {
		hm->replayed_events++;   /* only replays send events to one client */
		return;
	}
	if (m->created_ms <= 0 && m->received_ms <= 0) {
		return;                  /* not an event's first copy */
	}
	now = fyn_wall_ms();
	hm->events_delivered++;
	if (m->created_ms > 0) {
		fyn_histogram_observe(&hm->event_latency, (double)(now - m->created_ms) / 1000.0);
	}
	if (m->received_ms > 0) {
		fyn_histogram_observe(&hm->delivery_latency, (double)(now - m->received_ms) / 1000.0);
	}
}

static double seconds_since(long long then_ms, long long now_ms)
{
	return then_ms > 0 && now_ms > then_ms ? (double)(now_ms - then_ms) / 1000.0 : 0;
}

static void snapshot(struct fyn_hub *hub, long long now_ms, struct fyn_metrics *out)
{
	const struct fyn_hub_metrics *m = &hub->metrics;
	struct fyn_pipeline_stats stats;
	struct fyn_fanout_stats follower;

	fyn_pipeline_stats(hub->pipeline, &stats);
	fyn_fanout_stats(hub->fanout, &follower);
	memset(out, 0, sizeof(*out));
	out->at = (long long)time(NULL);
	out->connections_active = fyn_sessions_count(&hub->sessions);
	out->connections_opened = m->connections_opened;
	out->connections_dropped = m->connections_dropped;
	out->reconnects = m->reconnects;
	out->auth_failures = m->auth_failures;
	out->acl_denials = m->acl_denials;
	out->accepted = stats.accepted_jobs;
	out->conflicts = stats.conflict_jobs;
	out->rejected = stats.rejected_jobs;
	out->unavailable = stats.unavailable_jobs + m->unavailable;
	out->store_up = stats.store_up;
	out->store_calls = stats.accepted_batches;
	out->store_call_running_s = seconds_since(stats.call_started_ms, now_ms);
	out->store_commit = stats.store_commit;
	out->queue_writer = stats.queued;
	out->queue_replays = fyn_reader_pending(hub->replays);
	out->queue_lookups = fyn_reader_pending(hub->lookups);
	out->sync_lag_s = seconds_since(stats.oldest_received_ms, fyn_wall_ms());
	out->events_delivered = m->events_delivered;
	out->event_latency = m->event_latency;
	out->delivery_latency = m->delivery_latency;
	out->replays = m->replays;
	out->replayed_events = m->replayed_events;
	out->snapshots = m->snapshots;
	out->fanout_events = follower.events;
	out->fanout_notifications = follower.notifications;
	out->fanout_gap_polls = follower.gap_polls;
	out->fanout_reconnects = follower.reconnects;
	out->fanout_lag_s = follower.lag_s;
	out->alert_window_s = hub->config.alert_window_s;
}

static void evaluate_alerts(struct fyn_hub *hub, long long now_ms, struct fyn_metrics *m)
{
	struct fyn_alert_change changes[FYN_ALERT_COUNT];
	struct fyn_alert_sample s = {
		.at_ms = now_ms,
		.connections_active = m->connections_active,
		.connections_opened = m->connections_opened,
		.connections_dropped = m->connections_dropped,
		.answered = m->accepted + m->conflicts + m->rejected + m->unavailable,
		.unavailable = m->unavailable,
		.conflicts = m->conflicts,
		.delivered = m->delivery_latency.count,
		.delivery_s = m->delivery_latency.sum,
		.store_calls = m->store_commit.count,
		.store_s = m->store_commit.sum,
		.store_call_running_s = m->store_call_running_s,
	};
	size_t n = fyn_alerts_update(&hub->metrics.alerts, &s, changes);

	m->window = hub->metrics.alerts.values;
	memcpy(m->alert_raised, hub->metrics.alerts.raised, sizeof(m->alert_raised));
	if (n > 0) {
		fyn_alerts_changed(hub, changes, n);
	}
}

static void publish_retained(const char *topic, const char *text)
{
	mosquitto_broker_publish_copy(NULL, topic, (int)strlen(text), text, 0, true, NULL);
}

static void publish_metrics(struct fyn_hub *hub, const struct fyn_metrics *m)
{
	char *text = fyn_metrics_json(m, hub->metrics.node);
	char topic[128];

	if (!text) {
		return;
	}
	snprintf(topic, sizeof(topic), "fynlo/v1/sys/metrics/%s", hub->metrics.node);
	publish_retained("fynlo/v1/sys/metrics", text);
	publish_retained(topic, text);
	fyn_nodes_report(hub, text);
	free(text);
}

void fyn_metrics_tick(struct fyn_hub *hub, long long now_ms)
{
	struct fyn_hub_metrics *hm = &hub->metrics;
	struct fyn_metrics m;

	if (now_ms < hm->next_sample_ms) {
		return;
	}
	hm->next_sample_ms = now_ms + SAMPLE_INTERVAL_MS;
	snapshot(hub, now_ms, &m);
	evaluate_alerts(hub, now_ms, &m);
	if (hm->http) {
		fyn_metrics_http_update(hm->http, &m);
	}
	if (now_ms >= hm->next_publish_ms) {
		hm->next_publish_ms = now_ms + PUBLISH_INTERVAL_MS;
		publish_metrics(hub, &m);
	}
	if (now_ms >= hm->next_prune_ms) {
		hm->next_prune_ms = now_ms + PRUNE_INTERVAL_MS;
		forget_old_ids(hm, now_ms);
	}
}
