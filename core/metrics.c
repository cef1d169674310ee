/*
 * metrics.c: histograms and the two texts of a metrics snapshot (see
 * metrics.h).
 */
#include "metrics.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"

const double fyn_histogram_bounds[FYN_HISTOGRAM_BOUNDS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

void fyn_histogram_observe(struct fyn_histogram *h, double seconds)
{
	size_t i = 0;

	if (!(seconds > 0)) {
		seconds = 0;
	}
	while (i < FYN_HISTOGRAM_BOUNDS && seconds > fyn_histogram_bounds[i]) {
		i++;
	}
	h->buckets[i]++;
	h->count++;
	h->sum += seconds;
}

/* ---- Prometheus text ---- */

struct text {
	char *data;
	size_t len, cap;
	bool failed;
	char labels[160];   /* node="..." with the value escaped */
};

static void add(struct text *t, const char *format, ...)
{
	va_list args;

	if (t->failed) {
		return;
	}
	for (;;) {
		int n;
		va_start(args, format);
		n = vsnprintf(t->data + t->len, t->cap - t->len, format, args);
		va_end(args);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		char *bigger = realloc(t->data, t->cap * 2 + (size_t)n);
		if (!bigger) {
			t->failed = true;
			return;
		}
		t->data = bigger;
		t->cap = t->cap * 2 + (size_t)n;
	}
}

/* The label value escaping of the text format: backslash, quote, newline. */
static void set_node_label(struct text *t, const char *node)
{
	size_t o = (size_t)snprintf(t->labels, sizeof(t->labels), "node=\"");
	for (const char *c = node; *c && o + 4 < sizeof(t->labels); c++) {
		if (*c == '\\' || *c == '"') {
			t->labels[o++] = '\\';
			t->labels[o++] = *c;
		} else if (*c == '\n') {
			t->labels[o++] = '\\';
			t->labels[o++] = 'n';
		} else {
			t->labels[o++] = *c;
		}
	}
	t->labels[o++] = '"';
	t->labels[o] = '\0';
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct text *t, const char *name, const char *help, unsigned long long value)
{
	family(t, name, "counter", help);
	add(t, "%s{%s} %llu\n", name, t->labels, value);
}

static void gauge(struct text *t, const char *name, const char *help, double value)
{
	family(t, name, "gauge", help);
	add(t, "%s{%s} %.9g\n", name, t->labels, value);
}

static void histogram(struct text *t, const char *name, const char *help, const struct fyn_histogram *h)
{
	unsigned long long cumulative = 0;

	family(t, name, "histogram", help);
	for (size_t i = 0; i < FYN_HISTOGRAM_BOUNDS; i++) {
		cumulative += h->buckets[i];
		add(t, "%s_bucket{%s,le=\"%g\"} %llu\n", name, t->labels, fyn_histogram_bounds[i], cumulative);
	}
	add(t, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, t->labels, h->count);
	add(t, "%s_sum{%s} %.9g\n", name, t->labels, h->sum);
	add(t, "%s_count{%s} %llu\n", name, t->labels, h->count);
}

/* One family, one sample per label value. */
struct labelled {
	const char *label;
	unsigned long long value;
};

static void counters_by(struct text *t, const char *name, const char *help, const char *key,
		const struct labelled *values, size_t count, const char *type)
{
	family(t, name, type, help);
	for (size_t i = 0; i < count; i++) {
		add(t, "%s{%s,%s=\"%s\"} %llu\n", name, t->labels, key, values[i].label, values[i].value);
	}
}

static void alert_families(struct text *t, const struct fyn_metrics *m)
{
	family(t, "fynsync_alert_active", "gauge", "1 while the alert is raised on this node, else 0.");
	for (int k = 0; k < FYN_ALERT_COUNT; k++) {
		add(t, "fynsync_alert_active{%s,alert=\"%s\"} %d\n", t->labels, fyn_alert_name((enum fyn_alert_kind)k),
				m->alert_raised[k] ? 1 : 0);
	}
	family(t, "fynsync_alert_value", "gauge",
			"The value compared with the alert's threshold, over the alert window (ratio or seconds).");
	for (int k = 0; k < FYN_ALERT_COUNT; k++) {
		add(t, "fynsync_alert_value{%s,alert=\"%s\"} %.9g\n", t->labels, fyn_alert_name((enum fyn_alert_kind)k),
				m->window.value[k]);
	}
	family(t, "fynsync_alert_threshold", "gauge", "The alert's threshold (ratio or seconds).");
	for (int k = 0; k < FYN_ALERT_COUNT; k++) {
		add(t, "fynsync_alert_threshold{%s,alert=\"%s\"} %g\n", t->labels, fyn_alert_name((enum fyn_alert_kind)k),
				fyn_alert_threshold((enum fyn_alert_kind)k));
	}
}

char *fyn_metrics_prometheus(const struct fyn_metrics *m, const char *node)
{
	struct text t = { .cap = 8192 };
	const struct labelled submissions[] = {
		{ "accepted", m->accepted }, { "conflict", m->conflicts },
		{ "rejected", m->rejected }, { "unavailable", m->unavailable },
	};
	const struct labelled queues[] = {
		{ "writer", m->queue_writer }, { "replays", m->queue_replays }, { "lookups", m->queue_lookups },
	};

	t.data = malloc(t.cap);
	if (!t.data) {
		return NULL;
	}
	set_node_label(&t, node);
	gauge(&t, "fynsync_connections_active", "Authenticated MQTT connections.", (double)m->connections_active);
	counter(&t, "fynsync_connections_opened_total", "Authenticated MQTT connections opened.", m->connections_opened);
	counter(&t, "fynsync_connections_dropped_total",
			"Connections lost without a DISCONNECT (network, keepalive, protocol error).", m->connections_dropped);
	counter(&t, "fynsync_reconnects_total",
			"Connections of a client id that left this node in the last 10 minutes or took over a live one.",
			m->reconnects);
	counter(&t, "fynsync_auth_failures_total", "CONNECTs refused (token, client id).", m->auth_failures);
	counter(&t, "fynsync_acl_denials_total", "Subscriptions, deliveries and submissions the ACL refused.",
			m->acl_denials);
	counters_by(&t, "fynsync_submissions_total", "Submissions answered, by answer.", "outcome",
			submissions, sizeof(submissions) / sizeof(submissions[0]), "counter");
	gauge(&t, "fynsync_store_up", "1 while PostgreSQL takes writes, else 0.", m->store_up ? 1 : 0);
	counter(&t, "fynsync_store_calls_total", "Append calls (batches) the store committed.", m->store_calls);
	histogram(&t, "fynsync_store_commit_seconds", "Duration of each append call (one transaction per batch).",
			&m->store_commit);
	gauge(&t, "fynsync_store_call_running_seconds", "How long the append call in progress has run; 0 when none.",
			m->store_call_running_s);
	counters_by(&t, "fynsync_queue_depth", "Work waiting for a hub thread, by queue.", "queue",
			queues, sizeof(queues) / sizeof(queues[0]), "gauge");
	gauge(&t, "fynsync_sync_lag_seconds", "Age of the oldest submission not yet answered; 0 when none.",
			m->sync_lag_s);
	counter(&t, "fynsync_events_delivered_total", "Confirmed events published live by this node.",
			m->events_delivered);
	histogram(&t, "fynsync_event_latency_seconds", "From an event's created_at to its publication by this node.",
			&m->event_latency);
	histogram(&t, "fynsync_delivery_latency_seconds", "From receipt of a submission to publication of its event.",
			&m->delivery_latency);
	counter(&t, "fynsync_replays_total", "Streams replayed (ctl/resume and automatic resume).", m->replays);
	counter(&t, "fynsync_replayed_events_total", "Events sent in replays.", m->replayed_events);
	counter(&t, "fynsync_snapshots_total", "Snapshot requests.", m->snapshots);
	counter(&t, "fynsync_fanout_events_total",
			"Events the follower published from the event log (other nodes' events, and own ones the writer did not).",
			m->fanout_events);
	counter(&t, "fynsync_fanout_notifications_total", "Notifications of stored events the follower received.",
			m->fanout_notifications);
	counter(&t, "fynsync_fanout_gap_polls_total",
			"Periodic head comparisons that found an event no notification had announced.", m->fanout_gap_polls);
	counter(&t, "fynsync_fanout_reconnects_total", "Reconnects of the follower to PostgreSQL.", m->fanout_reconnects);
	gauge(&t, "fynsync_fanout_lag_seconds",
			"From commit to publication on this node of the oldest event of the follower's latest page; 0 before the first.",
			m->fanout_lag_s);
	gauge(&t, "fynsync_conflict_ratio", "Submissions answered conflict, of all answered, over the alert window.",
			m->window.conflict_rate);
	gauge(&t, "fynsync_alert_window_seconds", "The alert window.", m->alert_window_s);
	alert_families(&t, m);
	if (t.failed) {
		free(t.data);
		return NULL;
	}
	return t.data;
}

/* ---- the retained JSON ---- */

static json_t *histogram_json(const struct fyn_histogram *h)
{
	return json_pack("{s:I, s:f}", "count", (json_int_t)h->count, "sum_s", h->sum);
}

static json_t *alerts_json(const struct fyn_metrics *m)
{
	json_t *out = json_object();
	for (int k = 0; out && k < FYN_ALERT_COUNT; k++) {
		if (json_object_set_new(out, fyn_alert_name((enum fyn_alert_kind)k), json_pack("{s:b, s:f, s:f}",
				"raised", m->alert_raised[k], "value", m->window.value[k],
				"threshold", fyn_alert_threshold((enum fyn_alert_kind)k))) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

char *fyn_metrics_json(const struct fyn_metrics *m, const char *node)
{
	/* The first seven keys are the contract's original set. */
	return fyn_json_text(json_pack("{s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:s,"
			" s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:f,"
			" s:{s:o, s:o, s:o, s:f}, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:f}, s:{s:i, s:f}, s:o}",
			"at", (json_int_t)m->at,
			"clients", (json_int_t)m->connections_active,
			"store_up", m->store_up,
			"queued", (json_int_t)m->queue_writer,
			"answered", (json_int_t)(m->accepted + m->conflicts + m->rejected),
			"unavailable", (json_int_t)m->unavailable,
			"batches", (json_int_t)m->store_calls,
			"node", node,
			"connections", "active", (json_int_t)m->connections_active, "opened", (json_int_t)m->connections_opened,
			"dropped", (json_int_t)m->connections_dropped, "reconnects", (json_int_t)m->reconnects,
			"auth_failures", (json_int_t)m->auth_failures,
			"acl_denials", (json_int_t)m->acl_denials,
			"submissions", "accepted", (json_int_t)m->accepted, "conflict", (json_int_t)m->conflicts,
			"rejected", (json_int_t)m->rejected, "unavailable", (json_int_t)m->unavailable,
			"queues", "writer", (json_int_t)m->queue_writer, "replays", (json_int_t)m->queue_replays,
			"lookups", (json_int_t)m->queue_lookups,
			"sync_lag_s", m->sync_lag_s,
			"latency", "event", histogram_json(&m->event_latency), "delivery", histogram_json(&m->delivery_latency),
			"store_commit", histogram_json(&m->store_commit), "store_call_running_s", m->store_call_running_s,
			"events_delivered", (json_int_t)m->events_delivered,
			"replays", "streams", (json_int_t)m->replays, "events", (json_int_t)m->replayed_events,
			"snapshots", (json_int_t)m->snapshots,
			"fanout", "events", (json_int_t)m->fanout_events, "notifications", (json_int_t)m->fanout_notifications,
			"gap_polls", (json_int_t)m->fanout_gap_polls, "reconnects", (json_int_t)m->fanout_reconnects,
			"lag_s", m->fanout_lag_s,
			"window", "seconds", m->alert_window_s, "conflict_rate", m->window.conflict_rate,
			"alerts", alerts_json(m)));
}
